/* mountcheck.h - what `ragstore mount` checks before it asks for a
 * passphrase, so that a mount that cannot work fails at once with one line
 * naming the cause instead of libfuse's or fusermount3's generic complaint.
 * Each function returns 0 or a negative value named below, with a one-line
 * message (no "ragstore: " prefix, no newline) in err; main.c turns the
 * value into an exit code. */
#ifndef RAGSTORE_MOUNTCHECK_H
#define RAGSTORE_MOUNTCHECK_H

#include <stddef.h>

/* The mountpoint mnt: -ENOENT (or the -errno of stat) when it cannot be
 * reached, -ENOTDIR when it is no directory, -EBUSY when something is
 * mounted on it already, -ENOTEMPTY when it holds entries (whose files the
 * mount would hide) unless nonempty_ok. */
int mountcheck_mountpoint(const char *mnt, int nonempty_ok, char *err, size_t errlen);

/* /dev/fuse, opened as the kernel will let libfuse or fusermount3 open it
 * (with the caller's own rights): -ENOENT when it is missing, -EACCES when
 * it may not be opened.  Other failures are left for the mount to report
 * and return 0. */
int mountcheck_fuse_device(char *err, size_t errlen);

/* allow_other (or allow_root) asked for by a user other than root, which
 * fusermount3 refuses unless /etc/fuse.conf has a line user_allow_other:
 * -EPERM then, else 0. */
int mountcheck_allow_other(int asked, char *err, size_t errlen);

#endif
