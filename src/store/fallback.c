/* fallback.c - calls with a fallback for backing filesystems that lack them
 * (see fallback.h, docs/BACKING.md). */
#include "fallback.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "backend.h"
#include "probe.h"

/* Every checked rename of the process, one at a time. */
static pthread_mutex_t noreplace_mu = PTHREAD_MUTEX_INITIALIZER;

static int checked_rename(struct backend *be, int olddirfd, const char *oldname, int newdirfd,
			  const char *newname)
{
	struct stat st;
	int r;

	pthread_mutex_lock(&noreplace_mu);
	r = backend_fstatat(be, newdirfd, newname, &st, AT_SYMLINK_NOFOLLOW);
	if (r == 0)
		r = -EEXIST;
	else if (r == -ENOENT)
		r = backend_renameat2(be, olddirfd, oldname, newdirfd, newname, 0);
	pthread_mutex_unlock(&noreplace_mu);
	return r;
}

int fallback_renameat2(struct backend *be, const struct probe *p, int olddirfd,
		       const char *oldname, int newdirfd, const char *newname,
		       unsigned flags)
{
	if (p && (flags & RENAME_NOREPLACE) && !p->rename_noreplace)
		return checked_rename(be, olddirfd, oldname, newdirfd, newname);
	if (p && (flags & RENAME_EXCHANGE) && !p->rename_exchange)
		return -EINVAL;
	return backend_renameat2(be, olddirfd, oldname, newdirfd, newname, flags);
}

int fallback_linkat(struct backend *be, const struct probe *p, int olddirfd,
		    const char *oldname, int newdirfd, const char *newname)
{
	if (p && !p->hardlink)
		return -EPERM;
	return backend_linkat(be, olddirfd, oldname, newdirfd, newname, 0);
}

/* 1 (with *st) if name is a symlink that p says must not be handed to the
 * backing filesystem's attribute calls; 0 if it may be; or -errno. */
static int link_unsafe(struct backend *be, const struct probe *p, int dirfd, const char *name,
		       struct stat *st)
{
	int r;

	if (!p || p->symlink_attrs)
		return 0;
	r = backend_fstatat(be, dirfd, name, st, AT_SYMLINK_NOFOLLOW);
	return r < 0 ? r : S_ISLNK(st->st_mode);
}

int fallback_lchown(struct backend *be, const struct probe *p, int dirfd, const char *name,
		    uid_t uid, gid_t gid)
{
	struct stat st;
	int r = link_unsafe(be, p, dirfd, name, &st);

	if (r)
		return r < 0 ? r : 0;
	return backend_fchownat(be, dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
}

int fallback_lutimens(struct backend *be, const struct probe *p, int dirfd, const char *name,
		      const struct timespec tv[2])
{
	struct stat st;
	int r = link_unsafe(be, p, dirfd, name, &st);

	if (r)
		return r < 0 ? r : 0;
	return backend_utimensat(be, dirfd, name, tv, AT_SYMLINK_NOFOLLOW);
}

static int unsupported(int r)
{
	return r == -ENOSYS || r == -EOPNOTSUPP || r == -ENOLCK || r == -EINVAL;
}

int fallback_lock(struct backend *be, int fd, int op)
{
	int r = backend_flock(be, fd, op);

	if (!unsupported(r))
		return r;
	r = backend_setlk(be, fd, (op & ~LOCK_NB) == LOCK_UN ? F_UNLCK
				  : (op & ~LOCK_NB) == LOCK_SH ? F_RDLCK : F_WRLCK, 0, 0,
			  !(op & LOCK_NB));
	return r == -EAGAIN || r == -EACCES ? -EWOULDBLOCK : r;
}
