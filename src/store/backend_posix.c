/* backend_posix.c - the backend of a real backing directory: each operation
 * is the system call of the same name, with -errno for failure.  See
 * backend.h. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The result of a system call in the backend convention. */
static int ret(int r)
{
	return r < 0 ? -errno : r;
}

static ssize_t sret(ssize_t r)
{
	return r < 0 ? -errno : r;
}

/* The path under /proc/self/fd that reaches name in dirfd (or fd itself
 * when name is NULL) without an open of its own. */
static int proc_path(int dirfd, const char *name, char *out, size_t len)
{
	int n;

	if (name && (dirfd == AT_FDCWD || name[0] == '/'))
		n = snprintf(out, len, "%s", name);
	else if (name)
		n = snprintf(out, len, "/proc/self/fd/%d/%s", dirfd, name);
	else
		n = snprintf(out, len, "/proc/self/fd/%d", dirfd);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int px_openat(struct backend *be, int dirfd, const char *name, int flags,
			mode_t mode)
{
	return ret(openat(dirfd, name, flags, mode));
}

static int px_close(struct backend *be, int fd)
{
	return ret(close(fd));
}

static int px_linkfd(struct backend *be, int fd, int newdirfd, const char *newname)
{
	char proc[64];
	int r = proc_path(fd, NULL, proc, sizeof(proc));

	return r < 0 ? r : ret(linkat(AT_FDCWD, proc, newdirfd, newname, AT_SYMLINK_FOLLOW));
}

static int px_fstatat(struct backend *be, int dirfd, const char *name, struct stat *st,
			 int flags)
{
	return ret(fstatat(dirfd, name, st, flags));
}

static int px_fstat(struct backend *be, int fd, struct stat *st)
{
	return ret(fstat(fd, st));
}

static int px_fstatvfs(struct backend *be, int fd, struct statvfs *sv)
{
	return ret(fstatvfs(fd, sv));
}

static int px_fs_local(struct backend *be, int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) != 0)
		return 0;
	switch ((unsigned long)sf.f_type) {
	case 0x65735546UL: /* FUSE: GlusterFS, sshfs, ... */
	case 0x6969UL:     /* NFS */
	case 0xff534d42UL: /* CIFS */
	case 0xfe534d42UL: /* SMB2 */
	case 0x517bUL:     /* SMB */
	case 0x00c36400UL: /* Ceph */
	case 0x5346414fUL: /* AFS */
	case 0x6b414653UL: /* kAFS */
	case 0x01021997UL: /* 9p */
	case 0x47504653UL: /* GPFS */
	case 0x0bd00bd0UL: /* Lustre */
		return 0;
	default:
		return 1;
	}
}

static ssize_t px_pread(struct backend *be, int fd, void *buf, size_t len, off_t off)
{
	return sret(pread(fd, buf, len, off));
}

static ssize_t px_pwrite(struct backend *be, int fd, const void *buf, size_t len, off_t off)
{
	return sret(pwrite(fd, buf, len, off));
}

static int px_fsync(struct backend *be, int fd, int datasync)
{
	return ret(datasync ? fdatasync(fd) : fsync(fd));
}

static int px_syncfs(struct backend *be, int fd)
{
	return ret(syncfs(fd));
}

static int px_ftruncate(struct backend *be, int fd, off_t len)
{
	return ret(ftruncate(fd, len));
}

static int px_fallocate(struct backend *be, int fd, int mode, off_t off, off_t len)
{
	return ret(fallocate(fd, mode, off, len));
}

static int px_fadvise(struct backend *be, int fd, off_t off, off_t len, int advice)
{
	return -posix_fadvise(fd, off, len, advice); /* returns the error itself */
}

static int px_flock(struct backend *be, int fd, int op)
{
	return ret(flock(fd, op));
}

static int px_setlk(struct backend *be, int fd, int type, off_t start, off_t len, int wait)
{
	struct flock fl = { .l_type = (short)type, .l_whence = SEEK_SET, .l_start = start,
			    .l_len = len };

	int r;

	/* A wait interrupted by a signal is not a failure to lock. */
	do
		r = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
	while (r < 0 && errno == EINTR && wait);
	return ret(r);
}

static int px_ofdtest(struct backend *be, int fd, int type, off_t start, off_t len)
{
	struct flock fl = { .l_type = (short)type, .l_whence = SEEK_SET, .l_start = start,
			    .l_len = len };

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

static int px_mkdirat(struct backend *be, int dirfd, const char *name, mode_t mode)
{
	return ret(mkdirat(dirfd, name, mode));
}

static int px_mknodat(struct backend *be, int dirfd, const char *name, mode_t mode,
			 dev_t rdev)
{
	return ret(mknodat(dirfd, name, mode, rdev));
}

static int px_symlinkat(struct backend *be, const char *target, int dirfd,
			   const char *name)
{
	return ret(symlinkat(target, dirfd, name));
}

static ssize_t px_readlinkat(struct backend *be, int dirfd, const char *name, char *buf,
				size_t size)
{
	return sret(readlinkat(dirfd, name, buf, size));
}

static int px_linkat(struct backend *be, int olddirfd, const char *oldname, int newdirfd,
			const char *newname, int flags)
{
	return ret(linkat(olddirfd, oldname, newdirfd, newname, flags));
}

static int px_unlinkat(struct backend *be, int dirfd, const char *name, int flags)
{
	return ret(unlinkat(dirfd, name, flags));
}

static int px_renameat2(struct backend *be, int olddirfd, const char *oldname,
			   int newdirfd, const char *newname, unsigned flags)
{
	return ret(renameat2(olddirfd, oldname, newdirfd, newname, flags));
}

static int px_fchmodat(struct backend *be, int dirfd, const char *name, mode_t mode,
			  int flags)
{
	return ret(fchmodat(dirfd, name, mode, flags));
}

static int px_fchmod(struct backend *be, int fd, mode_t mode)
{
	return ret(fchmod(fd, mode));
}

static int px_fchownat(struct backend *be, int dirfd, const char *name, uid_t uid,
			  gid_t gid, int flags)
{
	return ret(fchownat(dirfd, name, uid, gid, flags));
}

static int px_fchown(struct backend *be, int fd, uid_t uid, gid_t gid)
{
	return ret(fchown(fd, uid, gid));
}

static int px_utimensat(struct backend *be, int dirfd, const char *name,
			   const struct timespec tv[2], int flags)
{
	return ret(utimensat(dirfd, name, tv, flags));
}

static int px_futimens(struct backend *be, int fd, const struct timespec tv[2])
{
	return ret(futimens(fd, tv));
}

static ssize_t px_fgetxattr(struct backend *be, int fd, const char *xname, void *value,
			       size_t size)
{
	return sret(fgetxattr(fd, xname, value, size));
}

static int px_fsetxattr(struct backend *be, int fd, const char *xname, const void *value,
			   size_t size, int flags)
{
	return ret(fsetxattr(fd, xname, value, size, flags));
}

/* getxattrat(2) and setxattrat(2) (Linux 6.13) reach an attribute of a
 * name relative to a directory descriptor in one short path walk; older
 * kernels (ENOSYS, remembered) get the descriptor's /proc path instead,
 * since fgetxattr refuses the O_PATH descriptors a directory cache holds.
 * The numbers are the same on every architecture (the unified table);
 * Debian 12's headers predate them. */
#define SYS_SETXATTRAT 463
#define SYS_GETXATTRAT 464

struct xattr_at_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

static int no_xattrat;

/* getxattrat or setxattrat (nr) of name in dirfd: the call's result, or
 * -ENOSYS (remembered) where the kernel lacks it. */
static long xattrat(long nr, int dirfd, const char *name, const char *xname, const void *value,
		    size_t size, int flags)
{
	struct xattr_at_args a = { (uintptr_t)value, (uint32_t)size, (uint32_t)flags };
	long n;

	if (__atomic_load_n(&no_xattrat, __ATOMIC_RELAXED))
		return -ENOSYS;
	n = syscall(nr, dirfd, name ? name : "", AT_SYMLINK_NOFOLLOW | (name ? 0 : AT_EMPTY_PATH),
		    xname, &a, sizeof(a));
	if (n < 0 && errno == ENOSYS)
		__atomic_store_n(&no_xattrat, 1, __ATOMIC_RELAXED);
	return n < 0 ? -errno : n;
}

static ssize_t px_getxattrat(struct backend *be, int dirfd, const char *name,
				const char *xname, void *value, size_t size)
{
	char path[PATH_MAX];
	long n = xattrat(SYS_GETXATTRAT, dirfd, name, xname, value, size, 0);
	int r;

	if (n != -ENOSYS)
		return (ssize_t)n;
	r = proc_path(dirfd, name, path, sizeof(path));
	return r < 0 ? r : sret(lgetxattr(path, xname, value, size));
}

static int px_setxattrat(struct backend *be, int dirfd, const char *name,
			    const char *xname, const void *value, size_t size, int flags)
{
	char path[PATH_MAX];
	long n = xattrat(SYS_SETXATTRAT, dirfd, name, xname, value, size, flags);
	int r;

	if (n != -ENOSYS)
		return n < 0 ? (int)n : 0;
	r = proc_path(dirfd, name, path, sizeof(path));
	return r < 0 ? r : ret(lsetxattr(path, xname, value, size, flags));
}

/* A struct backend_dir of this backend is a DIR. */
static int px_fdopendir(struct backend *be, int fd, struct backend_dir **d)
{
	DIR *dir = fdopendir(fd);

	if (!dir)
		return -errno;
	*d = (struct backend_dir *)dir;
	return 0;
}

static int px_readdir(struct backend *be, struct backend_dir *d, struct dirent **e)
{
	errno = 0;
	*e = readdir((DIR *)d);
	if (*e)
		return 1;
	return errno ? -errno : 0;
}

static void px_rewinddir(struct backend *be, struct backend_dir *d)
{
	rewinddir((DIR *)d);
}

static void px_seekdir(struct backend *be, struct backend_dir *d, long pos)
{
	seekdir((DIR *)d, pos);
}

static long px_telldir(struct backend *be, struct backend_dir *d)
{
	return telldir((DIR *)d);
}

static int px_dirfd(struct backend *be, struct backend_dir *d)
{
	return dirfd((DIR *)d);
}

static void px_closedir(struct backend *be, struct backend_dir *d)
{
	closedir((DIR *)d);
}

static char *px_realpath(struct backend *be, const char *path)
{
	return realpath(path, NULL);
}

static const struct backend_ops posix_ops = {
	.name = "posix",
	.openat = px_openat,
	.close = px_close,
	.linkfd = px_linkfd,
	.fstatat = px_fstatat,
	.fstat = px_fstat,
	.fstatvfs = px_fstatvfs,
	.fs_local = px_fs_local,
	.pread = px_pread,
	.pwrite = px_pwrite,
	.fsync = px_fsync,
	.syncfs = px_syncfs,
	.ftruncate = px_ftruncate,
	.fallocate = px_fallocate,
	.fadvise = px_fadvise,
	.flock = px_flock,
	.setlk = px_setlk,
	.ofdtest = px_ofdtest,
	.mkdirat = px_mkdirat,
	.mknodat = px_mknodat,
	.symlinkat = px_symlinkat,
	.readlinkat = px_readlinkat,
	.linkat = px_linkat,
	.unlinkat = px_unlinkat,
	.renameat2 = px_renameat2,
	.fchmodat = px_fchmodat,
	.fchmod = px_fchmod,
	.fchownat = px_fchownat,
	.fchown = px_fchown,
	.utimensat = px_utimensat,
	.futimens = px_futimens,
	.fgetxattr = px_fgetxattr,
	.fsetxattr = px_fsetxattr,
	.getxattrat = px_getxattrat,
	.setxattrat = px_setxattrat,
	.fdopendir = px_fdopendir,
	.readdir = px_readdir,
	.rewinddir = px_rewinddir,
	.seekdir = px_seekdir,
	.telldir = px_telldir,
	.dirfd = px_dirfd,
	.closedir = px_closedir,
	.realpath = px_realpath,
	.destroy = NULL,
};

static struct backend posix_backend = { &posix_ops };

struct backend *backend_posix(void)
{
	return &posix_backend;
}
