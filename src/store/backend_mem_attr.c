/* backend_mem_attr.c - the metadata of the memory backend: stat and
 * statvfs, mode, owner and times, and extended attributes. */
#include "backend_mem_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

/* ---- operations: metadata -------------------------------------------------- */

static void fill_stat(const struct mnode *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = n->dev;
	st->st_ino = n->ino;
	st->st_mode = n->mode;
	st->st_nlink = n->nlink;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_rdev = n->rdev;
	st->st_blksize = PAGE;
	if (S_ISREG(n->mode)) {
		st->st_size = (off_t)n->size;
		st->st_blocks = (blkcnt_t)n->npages * (PAGE / 512);
	} else if (S_ISDIR(n->mode)) {
		st->st_size = PAGE;
		st->st_blocks = PAGE / 512;
	} else if (S_ISLNK(n->mode)) {
		st->st_size = (off_t)strlen(n->target);
	}
	st->st_atim = n->atime;
	st->st_mtim = n->mtime;
	st->st_ctim = n->ctime;
}

static int op_stat(struct mem *m, struct mnode *n, void *arg)
{
	fill_stat(n, arg);
	return 0;
}

int mem_attr_fstatat(struct backend *be, int dirfd, const char *name, struct stat *st, int flags)
{
	return mem_on_path(be, dirfd, name, !(flags & AT_SYMLINK_NOFOLLOW), op_stat, st);
}

int mem_attr_fstat(struct backend *be, int fd, struct stat *st)
{
	return mem_on_fd(be, fd, 1, op_stat, st);
}

static int op_statvfs(struct mem *m, struct mnode *n, void *arg)
{
	struct statvfs *sv = arg;

	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = sv->f_frsize = PAGE;
	sv->f_blocks = FS_BLOCKS;
	sv->f_bfree = sv->f_bavail = m->pages_held < FS_BLOCKS ? FS_BLOCKS - m->pages_held : 0;
	sv->f_files = FS_FILES;
	sv->f_ffree = sv->f_favail = m->nnodes < FS_FILES ? FS_FILES - m->nnodes : 0;
	sv->f_fsid = DEFAULT_DEV;
	sv->f_namemax = NAME_MAX;
	return 0;
}

int mem_attr_fstatvfs(struct backend *be, int fd, struct statvfs *sv)
{
	return mem_on_fd(be, fd, 1, op_statvfs, sv);
}

/* Memory is as local as it gets. */
int mem_attr_fs_local(struct backend *be, int fd)
{
	return 1;
}

/* ---- operations: attributes ------------------------------------------------ */

static void set_mode(struct mnode *n, mode_t mode)
{
	n->mode = (n->mode & S_IFMT) | (mode & 07777);
	mem_node_touch_change(n);
}

/* chown(2) on n: -1 leaves an id; a non-directory loses setuid, and setgid
 * if it is group-executable (otherwise that bit marks mandatory locking). */
static void set_owner(struct mnode *n, uid_t uid, gid_t gid)
{
	if (uid != (uid_t)-1)
		n->uid = uid;
	if (gid != (gid_t)-1)
		n->gid = gid;
	if (!S_ISDIR(n->mode)) {
		n->mode &= ~(mode_t)S_ISUID;
		if (n->mode & S_IXGRP)
			n->mode &= ~(mode_t)S_ISGID;
	}
	mem_node_touch_change(n);
}

static void set_time(struct timespec *t, const struct timespec *want, struct timespec when)
{
	if (!want || want->tv_nsec == UTIME_NOW)
		*t = when;
	else if (want->tv_nsec != UTIME_OMIT)
		*t = *want;
}

static int set_times(struct mnode *n, const struct timespec tv[2])
{
	struct timespec t = mem_now();

	if (tv && ((tv[0].tv_nsec != UTIME_NOW && tv[0].tv_nsec != UTIME_OMIT &&
		    (tv[0].tv_nsec < 0 || tv[0].tv_nsec >= 1000000000L)) ||
		   (tv[1].tv_nsec != UTIME_NOW && tv[1].tv_nsec != UTIME_OMIT &&
		    (tv[1].tv_nsec < 0 || tv[1].tv_nsec >= 1000000000L))))
		return -EINVAL;
	if (tv && tv[0].tv_nsec == UTIME_OMIT && tv[1].tv_nsec == UTIME_OMIT)
		return 0;
	set_time(&n->atime, tv ? &tv[0] : NULL, t);
	set_time(&n->mtime, tv ? &tv[1] : NULL, t);
	n->ctime = t;
	return 0;
}

static int op_chmod(struct mem *m, struct mnode *n, void *arg)
{
	set_mode(n, *(const mode_t *)arg);
	return 0;
}

int mem_attr_fchmodat(struct backend *be, int dirfd, const char *name, mode_t mode, int flags)
{
	if (flags & AT_SYMLINK_NOFOLLOW)
		return -EOPNOTSUPP;
	return mem_on_path(be, dirfd, name, 1, op_chmod, &mode);
}

int mem_attr_fchmod(struct backend *be, int fd, mode_t mode)
{
	return mem_on_fd(be, fd, 0, op_chmod, &mode);
}

struct owner {
	uid_t uid;
	gid_t gid;
};

static int op_chown(struct mem *m, struct mnode *n, void *arg)
{
	const struct owner *o = arg;

	set_owner(n, o->uid, o->gid);
	return 0;
}

int mem_attr_fchownat(struct backend *be, int dirfd, const char *name, uid_t uid, gid_t gid,
		      int flags)
{
	struct owner o = { uid, gid };

	return mem_on_path(be, dirfd, name, !(flags & AT_SYMLINK_NOFOLLOW), op_chown, &o);
}

int mem_attr_fchown(struct backend *be, int fd, uid_t uid, gid_t gid)
{
	struct owner o = { uid, gid };

	return mem_on_fd(be, fd, 0, op_chown, &o);
}

/* arg is the const struct timespec[2] of utimensat, or NULL. */
static int op_times(struct mem *m, struct mnode *n, void *arg)
{
	return set_times(n, arg);
}

int mem_attr_utimensat(struct backend *be, int dirfd, const char *name, const struct timespec tv[2],
		       int flags)
{
	return mem_on_path(be, dirfd, name, !(flags & AT_SYMLINK_NOFOLLOW), op_times, (void *)tv);
}

int mem_attr_futimens(struct backend *be, int fd, const struct timespec tv[2])
{
	return mem_on_fd(be, fd, 0, op_times, (void *)tv);
}

/* ---- operations: extended attributes ------------------------------------------ */

static int xattr_name_ok(const char *xname)
{
	size_t len = strlen(xname);

	if (len == 0 || len > XATTR_NAME_MAX)
		return -ERANGE;
	if (strncmp(xname, "user.", 5) && strncmp(xname, "trusted.", 8) &&
	    strncmp(xname, "security.", 9) && strncmp(xname, "system.", 7))
		return -EOPNOTSUPP;
	return 0;
}

static long xattr_find(const struct mnode *n, const char *xname)
{
	for (size_t i = 0; i < n->nxattrs; i++)
		if (!strcmp(n->xattrs[i].name, xname))
			return (long)i;
	return -1;
}

static ssize_t xattr_get(const struct mnode *n, const char *xname, void *value, size_t size)
{
	long i;
	int r = xattr_name_ok(xname);

	if (r < 0)
		return r;
	i = xattr_find(n, xname);
	if (i < 0)
		return -ENODATA;
	if (size == 0)
		return (ssize_t)n->xattrs[i].size;
	if (size < n->xattrs[i].size)
		return -ERANGE;
	memcpy(value, n->xattrs[i].value, n->xattrs[i].size);
	return (ssize_t)n->xattrs[i].size;
}

static int xattr_set(struct mnode *n, const char *xname, const void *value, size_t size,
		     int flags)
{
	long i;
	void *copy;
	int r = xattr_name_ok(xname);

	if (r < 0)
		return r;
	if (size > XATTR_VALUE_MAX)
		return -E2BIG;
	/* As on Linux, user attributes belong to files and directories. */
	if (!strncmp(xname, "user.", 5) && !S_ISREG(n->mode) && !S_ISDIR(n->mode))
		return -EPERM;
	i = xattr_find(n, xname);
	if (i >= 0 && (flags & XATTR_CREATE))
		return -EEXIST;
	if (i < 0 && (flags & XATTR_REPLACE))
		return -ENODATA;
	copy = malloc(size ? size : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, value, size);
	if (i < 0) {
		struct mxattr *nx = realloc(n->xattrs, (n->nxattrs + 1) * sizeof(*nx));
		char *name = strdup(xname);

		if (nx)
			n->xattrs = nx;
		if (!nx || !name) {
			free(name);
			free(copy);
			return -ENOMEM;
		}
		i = (long)n->nxattrs++;
		n->xattrs[i].name = name;
	} else {
		free(n->xattrs[i].value);
	}
	n->xattrs[i].value = copy;
	n->xattrs[i].size = size;
	mem_node_touch_change(n);
	return 0;
}

/* One get or set of an extended attribute. */
struct xattr_req {
	const char *xname;
	void *out;          /* get */
	const void *in;     /* set */
	size_t size;
	int flags;
};

static int op_getxattr(struct mem *m, struct mnode *n, void *arg)
{
	const struct xattr_req *q = arg;

	return (int)xattr_get(n, q->xname, q->out, q->size);
}

static int op_setxattr(struct mem *m, struct mnode *n, void *arg)
{
	const struct xattr_req *q = arg;

	return xattr_set(n, q->xname, q->in, q->size, q->flags);
}

ssize_t mem_attr_fgetxattr(struct backend *be, int fd, const char *xname, void *value, size_t size)
{
	struct xattr_req q = { .xname = xname, .out = value, .size = size };

	return mem_on_fd(be, fd, 0, op_getxattr, &q);
}

int mem_attr_fsetxattr(struct backend *be, int fd, const char *xname, const void *value,
		       size_t size, int flags)
{
	struct xattr_req q = { .xname = xname, .in = value, .size = size, .flags = flags };

	return mem_on_fd(be, fd, 0, op_setxattr, &q);
}

ssize_t mem_attr_getxattrat(struct backend *be, int dirfd, const char *name, const char *xname,
			    void *value, size_t size)
{
	struct xattr_req q = { .xname = xname, .out = value, .size = size };

	return mem_on_path(be, dirfd, name, 0, op_getxattr, &q);
}

int mem_attr_setxattrat(struct backend *be, int dirfd, const char *name, const char *xname,
			const void *value, size_t size, int flags)
{
	struct xattr_req q = { .xname = xname, .in = value, .size = size, .flags = flags };

	return mem_on_path(be, dirfd, name, 0, op_setxattr, &q);
}

