/* mountinfo.h - where a running store lives: the absolute path of its
 * backing directory, and the mount point and options of its mount, found
 * through /proc (the daemon left its starting directory when it went to
 * the background, so the paths it was given may be relative to nothing).
 * No FUSE here. */
#ifndef RAGSTORE_MOUNTINFO_H
#define RAGSTORE_MOUNTINFO_H

#include <stddef.h>

#include "store.h"

/* The absolute path of BACKING into out (len bytes), from where
 * s->rootfd (BACKING/root) points now.  Returns 0, -ENOENT when the kernel
 * cannot name it (BACKING was deleted), -ENAMETOOLONG when out is too
 * small, or another -errno. */
int mountinfo_backing(const struct store *s, char *out, size_t len);

/* The mount point (into mnt, mlen bytes) and, unless opts is NULL, the
 * mount and superblock options joined by a comma (into opts, olen bytes)
 * of the fuse.ragstore mount whose source is the backing directory of s,
 * from /proc/self/mountinfo with its octal escapes undone.  Returns 0, or
 * -ENOENT when there is no such mount or a buffer is too small (the
 * buffers may then hold anything). */
int mountinfo_mount(const struct store *s, char *mnt, size_t mlen, char *opts, size_t olen);

#endif
