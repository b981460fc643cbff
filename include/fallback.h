/* fallback.h - the store's calls that a backing filesystem may not support,
 * each with its documented fallback (docs/BACKING.md), chosen by what
 * probe_run found (probe.h).
 *
 * Callers use these instead of the backend call of the same name wherever
 * the flag or the call may be missing; everything else goes straight to the
 * backend. */
#ifndef RAGSTORE_FALLBACK_H
#define RAGSTORE_FALLBACK_H

#include <sys/types.h>
#include <time.h>

struct backend;
struct probe;

/* renameat2 through be with flags 0, RENAME_NOREPLACE or RENAME_EXCHANGE,
 * returning 0 or -errno as renameat2(2) does.  Where p says the backing
 * filesystem lacks RENAME_NOREPLACE, the target is looked up and, if free,
 * renamed to with flags 0, both under one process-wide lock: safe because
 * ragstore is the only writer of its backing directory while mounted (the
 * store lock), and the kernel serialises operations on one user directory.
 * Where it lacks RENAME_EXCHANGE, -EINVAL, as the kernel answers for a
 * filesystem without it.  p NULL: the backend's own renameat2. */
int fallback_renameat2(struct backend *be, const struct probe *p, int olddirfd,
		       const char *oldname, int newdirfd, const char *newname,
		       unsigned flags);

/* linkat(2) of a file with flags 0, or -EPERM (what link(2) answers on a
 * filesystem without hard links) where p says the backing filesystem does
 * not make them or does not count them (sshfs reports one link for every
 * file): a store that cannot tell the last link from another would drop a
 * file's attributes and totals when one of its names is removed. */
int fallback_linkat(struct backend *be, const struct probe *p, int olddirfd,
		    const char *oldname, int newdirfd, const char *newname);

/* fchownat and utimensat of name in dirfd, not following a final symlink.
 * Where p says the backing filesystem follows symlinks for these (sshfs:
 * SFTP's setstat has no "do not follow"), a symlink is never handed to it,
 * since that would change whatever file the link points to (with plaintext
 * names, any file of the server).  The owner and times of a symlink are
 * then not kept: setting them returns 0 and changes nothing (as failing
 * would make cp -a and rsync -a fail on every tree with a symlink), and a
 * symlink shows the daemon's owner and the time it was made. */
int fallback_lchown(struct backend *be, const struct probe *p, int dirfd, const char *name,
		    uid_t uid, gid_t gid);
int fallback_lutimens(struct backend *be, const struct probe *p, int dirfd, const char *name,
		      const struct timespec tv[2]);

/* The lock that keeps a second daemon (or fsck) away from a store: flock(2)
 * of fd with op (LOCK_EX | LOCK_NB, LOCK_UN), or, where the backing
 * filesystem has no flock (the call fails with ENOSYS, EOPNOTSUPP, ENOLCK or
 * EINVAL), an fcntl write lock of the whole file description.  Decided by
 * the call itself, not by a probe, so that the daemon and fsck always take
 * the same kind of lock.  Returns 0, -EWOULDBLOCK when held elsewhere, or
 * -errno. */
int fallback_lock(struct backend *be, int fd, int op);

#endif
