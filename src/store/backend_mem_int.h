/* backend_mem_int.h - what the files of the memory backend share
 * (backend_mem.c, backend_mem_node.c, backend_mem_data.c, backend_mem_ns.c,
 * backend_mem_attr.c): its nodes, descriptors and the one lock over them, and
 * the functions the files call in each other.  Not for use outside
 * src/store.
 *
 * The functions here that take a struct mem *, a struct mnode * or a struct
 * mfile * expect the caller to hold m->mu (mem_past_max needs no lock); those
 * that take a struct backend * (the operations, mem_on_fd, mem_on_path,
 * mem_close) take it themselves. */
#ifndef RAGSTORE_BACKEND_MEM_INT_H
#define RAGSTORE_BACKEND_MEM_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#include "backend.h"

/* Descriptors start far above any kernel descriptor, so one handed to a
 * real system call by mistake fails with EBADF instead of hitting a file. */
#define FD_BASE 1000000
#define PAGE 4096
#define MAX_SIZE ((off_t)1 << 44)    /* 16 TiB, as ext4 */
#define MAX_LINKS 65000              /* as ext4 */
#define SYMLOOP 40
#define XATTR_VALUE_MAX 65536
#define DEFAULT_DEV 0x6d656dU        /* "mem" */
#define FS_BLOCKS ((fsblkcnt_t)1 << 24)
#define FS_FILES ((fsfilcnt_t)1 << 20)

/* One 4 KiB page of a regular file; pages not held are holes. */
struct mpage {
	uint64_t index;
	uint8_t *data;
};

struct mentry {
	char *name;
	struct mnode *node;
	long seq;               /* position in listings, increasing */
};

struct mxattr {
	char *name;
	void *value;
	size_t size;
};

struct mfile;

struct mnode {
	struct mnode *all_prev, *all_next; /* every node, for destroy */
	ino_t ino;
	dev_t dev;
	mode_t mode;
	nlink_t nlink;
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	struct timespec atime, mtime, ctime;
	unsigned opens;         /* descriptors on it */
	int unnamed;            /* made by O_TMPFILE and never linked */
	struct mfile *lock_ex;  /* flock holders */
	unsigned lock_sh;
	/* Regular files: pages sorted by index. */
	uint64_t size;
	struct mpage *pages;
	size_t npages, cappages;
	/* Directories: entries sorted by seq. */
	struct mentry *ents;
	size_t nents, capents;
	long next_seq;
	struct mnode *parent;   /* NULL once removed; the root's is itself */
	/* Symlinks. */
	char *target;
	struct mxattr *xattrs;
	size_t nxattrs;
};

/* An open file description (one per descriptor: there is no dup). */
struct mfile {
	struct mnode *node;
	int flags;
	int lock;               /* 0, LOCK_SH or LOCK_EX */
};

struct mem {
	struct backend be;      /* first: a struct backend * is a struct mem * */
	pthread_mutex_t mu;     /* guards everything below and every node */
	struct mnode *root;
	struct mnode *all;      /* list of every node */
	size_t nnodes;
	size_t pages_held;
	ino_t next_ino;
	struct mfile **fds;     /* index fd - FD_BASE */
	size_t capfds;
};

static inline struct mem *mem_of(struct backend *be)
{
	return (struct mem *)be;
}

static inline struct timespec mem_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t;
}

/* Where a path ends: the directory holding its last component, the node
 * there (NULL when absent) and the component's name. */
struct where {
	struct mnode *dir;
	struct mnode *node;
	char last[NAME_MAX + 1];
};

/* What an operation does to one node, under the lock. */
typedef int (*node_fn)(struct mem *m, struct mnode *n, void *arg);

/* ---- backend_mem.c: descriptors, path resolution, lifetime --------------- */

struct mfile *mem_file_get(struct mem *m, int fd);
/* A new descriptor on n: FD_BASE or above, or -ENOMEM. */
int mem_file_add(struct mem *m, struct mnode *n, int flags);
int mem_file_io(struct mem *m, int fd, struct mfile **out);
int mem_past_max(off_t off, uint64_t len);
int mem_file_for_change(struct mem *m, int fd, int not_writable, off_t off, uint64_t len,
			struct mfile **f);
int mem_can_read(const struct mfile *f);
int mem_can_write(const struct mfile *f);
/* Resolve name relative to dirfd into *w: 0 or -errno (w->node NULL when
 * the last component does not exist). */
int mem_at(struct mem *m, int dirfd, const char *name, int follow, struct where *w);
int mem_at_node(struct mem *m, int dirfd, const char *name, int follow, struct mnode **n);
int mem_at_new(struct mem *m, int dirfd, const char *name, struct where *w);
/* These two take m->mu themselves and return what fn returns. */
int mem_on_fd(struct backend *be, int fd, int any_fd, node_fn fn, void *arg);
int mem_on_path(struct backend *be, int dirfd, const char *name, int follow, node_fn fn, void *arg);
/* close(2); takes m->mu. */
int mem_close(struct backend *be, int fd);

/* ---- backend_mem_node.c: nodes and directory entries --------------------- */

/* A new node with no name and no link, or NULL when memory runs out. */
struct mnode *mem_node_new(struct mem *m, mode_t mode, const struct mnode *dir);
void mem_node_free_data(struct mem *m, struct mnode *n);
void mem_node_maybe_free(struct mem *m, struct mnode *n);
void mem_node_touch_change(struct mnode *n);
void mem_node_touch_modify(struct mnode *n);
int mem_node_is_removed(const struct mnode *dir);
/* The index of name in dir's entries, or -1. */
long mem_node_ent_find(const struct mnode *dir, const char *name);
int mem_node_ent_add(struct mnode *dir, const char *name, struct mnode *n);
void mem_node_ent_del(struct mnode *dir, size_t i);
int mem_node_link_in(struct mnode *dir, const char *name, struct mnode *n);
int mem_node_make(struct mem *m, struct mnode *dir, const char *last, mode_t mode,
		  struct mnode **out);
struct mnode *mem_node_unlink_in(struct mnode *dir, size_t i);
int mem_node_is_within(const struct mnode *n, const struct mnode *d);

/* ---- backend_mem_data.c: file contents ----------------------------------- */

/* Set the size of regular file n, giving back the pages past it. */
void mem_data_set_size(struct mem *m, struct mnode *n, uint64_t size);
ssize_t mem_data_pread(struct backend *be, int fd, void *buf, size_t len, off_t off);
ssize_t mem_data_pwrite(struct backend *be, int fd, const void *buf, size_t len, off_t off);
int mem_data_fsync(struct backend *be, int fd, int datasync);
int mem_data_syncfs(struct backend *be, int fd);
int mem_data_fadvise(struct backend *be, int fd, off_t off, off_t len, int advice);
int mem_data_ftruncate(struct backend *be, int fd, off_t len);
int mem_data_fallocate(struct backend *be, int fd, int mode, off_t off, off_t len);

/* ---- backend_mem_ns.c: names and directory streams ----------------------- */

int mem_ns_openat(struct backend *be, int dirfd, const char *name, int flags, mode_t mode);
int mem_ns_linkfd(struct backend *be, int fd, int newdirfd, const char *newname);
int mem_ns_mkdirat(struct backend *be, int dirfd, const char *name, mode_t mode);
int mem_ns_mknodat(struct backend *be, int dirfd, const char *name, mode_t mode, dev_t rdev);
int mem_ns_symlinkat(struct backend *be, const char *target, int dirfd, const char *name);
ssize_t mem_ns_readlinkat(struct backend *be, int dirfd, const char *name, char *buf, size_t size);
int mem_ns_linkat(struct backend *be, int olddirfd, const char *oldname, int newdirfd,
		  const char *newname, int flags);
int mem_ns_unlinkat(struct backend *be, int dirfd, const char *name, int flags);
int mem_ns_renameat2(struct backend *be, int olddirfd, const char *oldname, int newdirfd,
		     const char *newname, unsigned flags);
int mem_ns_fdopendir(struct backend *be, int fd, struct backend_dir **out);
int mem_ns_readdir(struct backend *be, struct backend_dir *bd, struct dirent **e);
void mem_ns_rewinddir(struct backend *be, struct backend_dir *d);
void mem_ns_seekdir(struct backend *be, struct backend_dir *d, long pos);
long mem_ns_telldir(struct backend *be, struct backend_dir *d);
int mem_ns_dirfd(struct backend *be, struct backend_dir *d);
void mem_ns_closedir(struct backend *be, struct backend_dir *d);

/* ---- backend_mem_attr.c: metadata and extended attributes ---------------- */

int mem_attr_fstatat(struct backend *be, int dirfd, const char *name, struct stat *st, int flags);
int mem_attr_fstat(struct backend *be, int fd, struct stat *st);
int mem_attr_fstatvfs(struct backend *be, int fd, struct statvfs *sv);
int mem_attr_fs_local(struct backend *be, int fd);
int mem_attr_fchmodat(struct backend *be, int dirfd, const char *name, mode_t mode, int flags);
int mem_attr_fchmod(struct backend *be, int fd, mode_t mode);
int mem_attr_fchownat(struct backend *be, int dirfd, const char *name, uid_t uid, gid_t gid,
		      int flags);
int mem_attr_fchown(struct backend *be, int fd, uid_t uid, gid_t gid);
int mem_attr_utimensat(struct backend *be, int dirfd, const char *name, const struct timespec tv[2],
		       int flags);
int mem_attr_futimens(struct backend *be, int fd, const struct timespec tv[2]);
ssize_t mem_attr_fgetxattr(struct backend *be, int fd, const char *xname, void *value, size_t size);
int mem_attr_fsetxattr(struct backend *be, int fd, const char *xname, const void *value,
		       size_t size, int flags);
ssize_t mem_attr_getxattrat(struct backend *be, int dirfd, const char *name, const char *xname,
			    void *value, size_t size);
int mem_attr_setxattrat(struct backend *be, int dirfd, const char *name, const char *xname,
			const void *value, size_t size, int flags);

#endif
