/* backfile.h - small whole files in the backing store, through its backend
 * (backend.h): what fsck and the walks read and replace again and again.
 * Every function returns a length or 0, or -errno as the backend does. */
#ifndef RAGSTORE_BACKFILE_H
#define RAGSTORE_BACKFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "backend.h"

/* Read the start of the regular file name in dfd (not following a final
 * symlink, without touching its access time where allowed): up to cap
 * bytes into buf.  Returns the number read. */
ssize_t backfile_read(struct backend *be, int dfd, const char *name, void *buf, size_t cap);

/* Replace (or create) name in dfd with data, atomically: a temporary
 * ".tmp" + 16 hex digits in the same directory (the store's own hidden
 * name, which fsck removes if a crash leaves it), written, fsynced, then
 * renamed over name, and the directory fsynced. */
int backfile_replace(struct backend *be, int dfd, const char *name, const void *data,
		     size_t len, mode_t mode);

#endif
