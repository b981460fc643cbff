/* passphrase.h - obtaining the passphrase: --passfile, --extpass or the
 * terminal.  Never from an argument or the environment.  The buffer returned
 * is sodium_malloc'ed (locked); free it with passphrase_free, which wipes. */
#ifndef RAGSTORE_PASSPHRASE_H
#define RAGSTORE_PASSPHRASE_H

#include <stddef.h>

#define PASSPHRASE_MAX 1024

/* Read from file (first line), command (first line of its output), or the
 * terminal (twice when confirm is set).  Returns a NUL-terminated buffer
 * with *len set, or NULL after printing one line on stderr saying why. */
char *passphrase_get(const char *passfile, const char *extpass, const char *prompt,
		     int confirm, size_t *len);

/* Lock p's memory again in a child process: memory locks are not inherited
 * across fork, so the child's copy of a passphrase read before fork could
 * otherwise be swapped out.  NULL is a no-op.  Returns 0 or -errno (say
 * -ENOMEM above RLIMIT_MEMLOCK; the passphrase stays usable, unlocked). */
int passphrase_relock(char *p);

/* Wipe and free; NULL is a no-op. */
void passphrase_free(char *p);

#endif
