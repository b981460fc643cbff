/* backend.h - the store's only way to its backing storage: a small table of
 * operations in the shape of the POSIX calls the store used to make, so
 * that the storage below the store can be swapped without touching the
 * crash-safety logic above it (the idea of redis's rio.h).
 *
 * Two implementations exist: backend_posix() is the real backing directory
 * (each operation is the system call of the same name, behaviour unchanged),
 * and backend_mem_new() is an in-memory filesystem with Linux semantics for
 * unit tests that run without FUSE and without a disk.  Later backends (a
 * distributed object store, for instance) plug in here.
 *
 * Conventions, the same for every backend:
 * - Every operation returns 0 (or a length, or a descriptor >= 0) on
 *   success and -errno on failure; none sets or needs errno.
 * - Descriptors are the backend's own small integers: they mean nothing to
 *   another backend or to the kernel (the POSIX backend's happen to be
 *   kernel descriptors, which src/fs relies on for the store's root).
 *   AT_FDCWD names the backend's starting directory (the process's working
 *   directory for POSIX, the memory filesystem's root for the memory
 *   backend).  A descriptor is owned by whoever opened it and released with
 *   backend_close.
 * - Names are resolved as the *at() system calls resolve them, relative to
 *   a directory descriptor, with "." and ".." and the same flags
 *   (AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, O_NOFOLLOW, O_PATH, ...).
 * - Operations may be called from several threads at once.
 *
 * What the interface cannot say through a descriptor path on Linux
 * (/proc/self/fd/N) is an operation of its own: backend_linkfd names an
 * unnamed O_TMPFILE file, and backend_getxattrat/backend_setxattrat reach
 * the extended attributes of an entry by directory and name without
 * opening it. */
#ifndef RAGSTORE_BACKEND_H
#define RAGSTORE_BACKEND_H

#include <dirent.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

struct backend;
/* An open directory stream (like DIR), owned by the backend that made it. */
struct backend_dir;

/* The operations.  Each mirrors the system call of the same name, with the
 * backend first and -errno for failure; only differences are noted. */
struct backend_ops {
	const char *name;

	/* openat(2), O_TMPFILE included: that makes an unnamed regular file
	 * in the directory name, which backend_linkfd names later.
	 * Returns a descriptor. */
	int (*openat)(struct backend *be, int dirfd, const char *name, int flags, mode_t mode);
	int (*close)(struct backend *be, int fd);
	/* Give the file open as fd (an O_TMPFILE file, or one with names) the
	 * name newname in newdirfd; -EEXIST if taken.  On Linux this is
	 * linkat of /proc/self/fd/N with AT_SYMLINK_FOLLOW. */
	int (*linkfd)(struct backend *be, int fd, int newdirfd, const char *newname);

	int (*fstatat)(struct backend *be, int dirfd, const char *name, struct stat *st,
		       int flags);
	int (*fstat)(struct backend *be, int fd, struct stat *st);
	int (*fstatvfs)(struct backend *be, int fd, struct statvfs *sv);
	/* 1 when fd is on a local filesystem, 0 on a network or FUSE one
	 * (NFS, SMB, Ceph, GlusterFS, sshfs...), where an extra descriptor
	 * costs a round trip or changes what unlink does (NFS silly
	 * renames). */
	int (*fs_local)(struct backend *be, int fd);

	/* pread/pwrite may be short, as the system calls may; the _full
	 * helpers below loop. */
	ssize_t (*pread)(struct backend *be, int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(struct backend *be, int fd, const void *buf, size_t len, off_t off);
	/* fsync(2), or fdatasync(2) when datasync is set. */
	int (*fsync)(struct backend *be, int fd, int datasync);
	/* syncfs(2): everything of the filesystem holding fd made durable. */
	int (*syncfs)(struct backend *be, int fd);
	int (*ftruncate)(struct backend *be, int fd, off_t len);
	/* fallocate(2): mode 0, FALLOC_FL_KEEP_SIZE, and FALLOC_FL_PUNCH_HOLE |
	 * FALLOC_FL_KEEP_SIZE (the range stops taking space: st_blocks
	 * falls); -EOPNOTSUPP where the storage cannot. */
	int (*fallocate)(struct backend *be, int fd, int mode, off_t off, off_t len);
	/* posix_fadvise(2): a hint; a backend may ignore it. */
	int (*fadvise)(struct backend *be, int fd, off_t off, off_t len, int advice);
	/* flock(2).  The memory backend never blocks: a conflicting lock
	 * fails with -EWOULDBLOCK even without LOCK_NB. */
	int (*flock)(struct backend *be, int fd, int op);
	/* fcntl(2) F_OFD_SETLK, or F_OFD_SETLKW when wait is set: a record
	 * lock of the open file description, of type F_RDLCK, F_WRLCK or
	 * F_UNLCK over len bytes from start (len 0: to the end of the file and
	 * beyond).  -EAGAIN when another holds a conflicting lock; -ENOSYS
	 * where the backend has no record locks (the memory backend). */
	int (*setlk)(struct backend *be, int fd, int type, off_t start, off_t len, int wait);
	/* 1 if a lock of type on [start, start+len) would conflict with one
	 * held through another open file description (F_OFD_GETLK), 0 if
	 * not: shared mode (shared.h).  Always 0 for the memory backend. */
	int (*ofdtest)(struct backend *be, int fd, int type, off_t start, off_t len);

	int (*mkdirat)(struct backend *be, int dirfd, const char *name, mode_t mode);
	int (*mknodat)(struct backend *be, int dirfd, const char *name, mode_t mode, dev_t rdev);
	int (*symlinkat)(struct backend *be, const char *target, int dirfd, const char *name);
	/* Returns the length of the target copied into buf (no NUL added). */
	ssize_t (*readlinkat)(struct backend *be, int dirfd, const char *name, char *buf,
			      size_t size);
	int (*linkat)(struct backend *be, int olddirfd, const char *oldname, int newdirfd,
		      const char *newname, int flags);
	int (*unlinkat)(struct backend *be, int dirfd, const char *name, int flags);
	/* renameat2(2): flags 0, RENAME_NOREPLACE or RENAME_EXCHANGE. */
	int (*renameat2)(struct backend *be, int olddirfd, const char *oldname, int newdirfd,
			 const char *newname, unsigned flags);

	int (*fchmodat)(struct backend *be, int dirfd, const char *name, mode_t mode,
			int flags);
	int (*fchmod)(struct backend *be, int fd, mode_t mode);
	int (*fchownat)(struct backend *be, int dirfd, const char *name, uid_t uid, gid_t gid,
			int flags);
	int (*fchown)(struct backend *be, int fd, uid_t uid, gid_t gid);
	int (*utimensat)(struct backend *be, int dirfd, const char *name,
			 const struct timespec tv[2], int flags);
	int (*futimens)(struct backend *be, int fd, const struct timespec tv[2]);

	/* Extended attributes of the backing objects: through a descriptor
	 * open for reading or writing (not O_PATH), or of the entry name in
	 * dirfd without following a final symlink ("." for dirfd itself).
	 * get returns the value's length; size 0 asks for the length only. */
	ssize_t (*fgetxattr)(struct backend *be, int fd, const char *xname, void *value,
			     size_t size);
	int (*fsetxattr)(struct backend *be, int fd, const char *xname, const void *value,
			 size_t size, int flags);
	ssize_t (*getxattrat)(struct backend *be, int dirfd, const char *name,
			      const char *xname, void *value, size_t size);
	int (*setxattrat)(struct backend *be, int dirfd, const char *name, const char *xname,
			  const void *value, size_t size, int flags);

	/* Directory streams.  fdopendir takes over fd (a directory open for
	 * reading) on success; closedir closes it.  readdir returns 1 with
	 * *e (valid until the next call on d), 0 at the end, or -errno; "."
	 * and ".." are listed.  telldir positions are cookies for seekdir,
	 * valid while d is open.  dirfd is the stream's descriptor (for *at
	 * calls; not to be closed). */
	int (*fdopendir)(struct backend *be, int fd, struct backend_dir **d);
	int (*readdir)(struct backend *be, struct backend_dir *d, struct dirent **e);
	void (*rewinddir)(struct backend *be, struct backend_dir *d);
	void (*seekdir)(struct backend *be, struct backend_dir *d, long pos);
	long (*telldir)(struct backend *be, struct backend_dir *d);
	int (*dirfd)(struct backend *be, struct backend_dir *d);
	void (*closedir)(struct backend *be, struct backend_dir *d);

	/* The canonical absolute form of path (resolved from AT_FDCWD),
	 * malloc'ed and owned by the caller; NULL on error. */
	char *(*realpath)(struct backend *be, const char *path);

	/* Free the backend and everything in it (NULL for a backend that
	 * lives as long as the process). */
	void (*destroy)(struct backend *be);
};

/* A backend is its operations, followed (in the implementation's own
 * struct, which begins with this one) by its state. */
struct backend {
	const struct backend_ops *ops;
};

/* The real backing directory.  A static object: never freed. */
struct backend *backend_posix(void);

/* A fresh, empty in-memory filesystem (its root is the only directory,
 * owned by the caller's euid and egid, mode 0755).  Like Linux: inodes with
 * hard links and link counts, directories, sparse regular files (a hole
 * takes no space; st_blocks counts 4 KiB pages actually held), symlinks,
 * FIFOs and device nodes, modes, owners and nanosecond times, extended
 * attributes, O_TMPFILE, flock, and the errors of the system calls.  It
 * checks no permissions (as if run by root) and applies no umask (as the
 * daemon runs with umask 0).  One device unless backend_mem_set_device
 * says otherwise.  Free with backend_free.  NULL on allocation failure. */
struct backend *backend_mem_new(void);

/* Make the directory path of memory backend be the root of device dev:
 * everything created below it is on dev, and link or rename across a device
 * boundary fails with -EXDEV.  The directory must be empty.  Returns 0 or
 * -errno. */
int backend_mem_set_device(struct backend *be, const char *path, dev_t dev);

/* Free a backend made by backend_*_new.  NULL and static backends are
 * no-ops. */
void backend_free(struct backend *be);

/* Read up to len bytes at off, retrying short reads and EINTR.  Returns the
 * bytes read (fewer only at end of file) or -errno. */
ssize_t backend_pread_full(struct backend *be, int fd, void *buf, size_t len, off_t off);
/* Write all len bytes at off.  Returns 0 or -errno (-EIO if the storage
 * accepts nothing). */
int backend_pwrite_full(struct backend *be, int fd, const void *buf, size_t len, off_t off);
/* opendir of name in dirfd (flags: extra open flags, e.g. O_NOFOLLOW):
 * 0 with *d, or -errno; no descriptor is left open on failure.  Close with
 * backend_closedir. */
int backend_opendirat(struct backend *be, int dirfd, const char *name, int flags,
		      struct backend_dir **d);
/* backend_readdir without "." and "..": 1 with *e, 0 at the end, or
 * -errno. */
int backend_readdir_names(struct backend *be, struct backend_dir *d, struct dirent **e);
/* Open rel in dirfd read-only without following a final symlink and, where
 * allowed, without touching its access time (O_NOATIME needs ownership or
 * CAP_FOWNER; refused with -EPERM, it opens without).  Returns the
 * descriptor or -errno. */
int backend_open_noatime(struct backend *be, int dirfd, const char *rel);

/* Calls through the table, so call sites read like the system calls. */
static inline int backend_openat(struct backend *be, int dirfd, const char *name, int flags,
				 mode_t mode)
{
	return be->ops->openat(be, dirfd, name, flags, mode);
}

static inline int backend_close(struct backend *be, int fd)
{
	return be->ops->close(be, fd);
}

static inline int backend_linkfd(struct backend *be, int fd, int newdirfd, const char *newname)
{
	return be->ops->linkfd(be, fd, newdirfd, newname);
}

static inline int backend_fstatat(struct backend *be, int dirfd, const char *name,
				  struct stat *st, int flags)
{
	return be->ops->fstatat(be, dirfd, name, st, flags);
}

static inline int backend_fstat(struct backend *be, int fd, struct stat *st)
{
	return be->ops->fstat(be, fd, st);
}

static inline int backend_fstatvfs(struct backend *be, int fd, struct statvfs *sv)
{
	return be->ops->fstatvfs(be, fd, sv);
}

static inline int backend_fs_local(struct backend *be, int fd)
{
	return be->ops->fs_local(be, fd);
}

static inline ssize_t backend_pread(struct backend *be, int fd, void *buf, size_t len,
				    off_t off)
{
	return be->ops->pread(be, fd, buf, len, off);
}

static inline ssize_t backend_pwrite(struct backend *be, int fd, const void *buf, size_t len,
				     off_t off)
{
	return be->ops->pwrite(be, fd, buf, len, off);
}

static inline int backend_fsync(struct backend *be, int fd, int datasync)
{
	return be->ops->fsync(be, fd, datasync);
}

static inline int backend_syncfs(struct backend *be, int fd)
{
	return be->ops->syncfs(be, fd);
}

static inline int backend_ftruncate(struct backend *be, int fd, off_t len)
{
	return be->ops->ftruncate(be, fd, len);
}

static inline int backend_fallocate(struct backend *be, int fd, int mode, off_t off,
				    off_t len)
{
	return be->ops->fallocate(be, fd, mode, off, len);
}

static inline int backend_fadvise(struct backend *be, int fd, off_t off, off_t len,
				  int advice)
{
	return be->ops->fadvise(be, fd, off, len, advice);
}

static inline int backend_flock(struct backend *be, int fd, int op)
{
	return be->ops->flock(be, fd, op);
}

static inline int backend_setlk(struct backend *be, int fd, int type, off_t start, off_t len,
				int wait)
{
	return be->ops->setlk(be, fd, type, start, len, wait);
}

static inline int backend_ofdtest(struct backend *be, int fd, int type, off_t start, off_t len)
{
	return be->ops->ofdtest(be, fd, type, start, len);
}

static inline int backend_mkdirat(struct backend *be, int dirfd, const char *name,
				  mode_t mode)
{
	return be->ops->mkdirat(be, dirfd, name, mode);
}

static inline int backend_mknodat(struct backend *be, int dirfd, const char *name,
				  mode_t mode, dev_t rdev)
{
	return be->ops->mknodat(be, dirfd, name, mode, rdev);
}

static inline int backend_symlinkat(struct backend *be, const char *target, int dirfd,
				    const char *name)
{
	return be->ops->symlinkat(be, target, dirfd, name);
}

static inline ssize_t backend_readlinkat(struct backend *be, int dirfd, const char *name,
					 char *buf, size_t size)
{
	return be->ops->readlinkat(be, dirfd, name, buf, size);
}

static inline int backend_linkat(struct backend *be, int olddirfd, const char *oldname,
				 int newdirfd, const char *newname, int flags)
{
	return be->ops->linkat(be, olddirfd, oldname, newdirfd, newname, flags);
}

static inline int backend_unlinkat(struct backend *be, int dirfd, const char *name, int flags)
{
	return be->ops->unlinkat(be, dirfd, name, flags);
}

static inline int backend_renameat2(struct backend *be, int olddirfd, const char *oldname,
				    int newdirfd, const char *newname, unsigned flags)
{
	return be->ops->renameat2(be, olddirfd, oldname, newdirfd, newname, flags);
}

static inline int backend_fchmodat(struct backend *be, int dirfd, const char *name,
				   mode_t mode, int flags)
{
	return be->ops->fchmodat(be, dirfd, name, mode, flags);
}

static inline int backend_fchmod(struct backend *be, int fd, mode_t mode)
{
	return be->ops->fchmod(be, fd, mode);
}

static inline int backend_fchownat(struct backend *be, int dirfd, const char *name, uid_t uid,
				   gid_t gid, int flags)
{
	return be->ops->fchownat(be, dirfd, name, uid, gid, flags);
}

static inline int backend_fchown(struct backend *be, int fd, uid_t uid, gid_t gid)
{
	return be->ops->fchown(be, fd, uid, gid);
}

static inline int backend_utimensat(struct backend *be, int dirfd, const char *name,
				    const struct timespec tv[2], int flags)
{
	return be->ops->utimensat(be, dirfd, name, tv, flags);
}

static inline int backend_futimens(struct backend *be, int fd, const struct timespec tv[2])
{
	return be->ops->futimens(be, fd, tv);
}

static inline ssize_t backend_fgetxattr(struct backend *be, int fd, const char *xname,
					void *value, size_t size)
{
	return be->ops->fgetxattr(be, fd, xname, value, size);
}

static inline int backend_fsetxattr(struct backend *be, int fd, const char *xname,
				    const void *value, size_t size, int flags)
{
	return be->ops->fsetxattr(be, fd, xname, value, size, flags);
}

static inline ssize_t backend_getxattrat(struct backend *be, int dirfd, const char *name,
					 const char *xname, void *value, size_t size)
{
	return be->ops->getxattrat(be, dirfd, name, xname, value, size);
}

static inline int backend_setxattrat(struct backend *be, int dirfd, const char *name,
				     const char *xname, const void *value, size_t size,
				     int flags)
{
	return be->ops->setxattrat(be, dirfd, name, xname, value, size, flags);
}

static inline int backend_fdopendir(struct backend *be, int fd, struct backend_dir **d)
{
	return be->ops->fdopendir(be, fd, d);
}

static inline int backend_readdir(struct backend *be, struct backend_dir *d,
				  struct dirent **e)
{
	return be->ops->readdir(be, d, e);
}

static inline void backend_rewinddir(struct backend *be, struct backend_dir *d)
{
	be->ops->rewinddir(be, d);
}

static inline void backend_seekdir(struct backend *be, struct backend_dir *d, long pos)
{
	be->ops->seekdir(be, d, pos);
}

static inline long backend_telldir(struct backend *be, struct backend_dir *d)
{
	return be->ops->telldir(be, d);
}

static inline int backend_dirfd(struct backend *be, struct backend_dir *d)
{
	return be->ops->dirfd(be, d);
}

static inline void backend_closedir(struct backend *be, struct backend_dir *d)
{
	be->ops->closedir(be, d);
}

static inline char *backend_realpath(struct backend *be, const char *path)
{
	return be->ops->realpath(be, path);
}

#endif
