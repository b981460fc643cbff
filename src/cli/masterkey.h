/* masterkey.h - the master key outside the store: the one printout at
 * `init`, the key file `init --masterkey-file F` writes, and the key file
 * `mount` and `passwd --masterkey-file F` read (keyfile.h is its text).
 * Every buffer that holds the key is sodium_malloc'ed (guarded, locked) and
 * wiped when freed.  Functions that fail print one line on stderr. */
#ifndef RAGSTORE_MASTERKEY_H
#define RAGSTORE_MASTERKEY_H

#include <stdio.h>

#include "keyfile.h"

/* A zeroed key file struct in locked memory, or NULL (after one line). */
struct keyfile *masterkey_alloc(void);
/* Wipe and free; NULL is a no-op. */
void masterkey_free(struct keyfile *k);
/* Lock k's memory again in a forked child (locks are not inherited).
 * NULL is a no-op.  Returns 0 or -errno (k stays usable, unlocked). */
int masterkey_relock(struct keyfile *k);

/* Create path for a key file: O_EXCL|O_NOFOLLOW, mode 0600, refusing one
 * that exists.  Returns the descriptor, or -1 after one line. */
int masterkey_create(const char *path);
/* Write k's text to fd (from masterkey_create), fsync and close it; on
 * failure the file is removed.  Returns 0 or -1 after one line. */
int masterkey_write(int fd, const char *path, const struct keyfile *k);
/* The one printout of k on out, between two warnings. */
void masterkey_print(FILE *out, const struct keyfile *k);

/* Read and check the key file at path (a regular file of at most a few
 * KiB).  Returns a key in locked memory, or NULL after one line: missing,
 * unreadable, malformed, or a typo (keyfile_decode). */
struct keyfile *masterkey_read(const char *path);

#endif
