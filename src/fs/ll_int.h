/* ll_int.h - what the files of the FUSE low-level operations share
 * (ll_ops.c, ll_dir.c, ll_xattr.c): node ids, the small helpers every
 * handler uses, and the one place where -errno becomes an error reply. */
#ifndef RAGSTORE_LL_INT_H
#define RAGSTORE_LL_INT_H

#include "fs.h"

#include <stdint.h>
#include <time.h>

#include "handle.h"
#include "inode.h"
#include "stats.h"
#include "vdir.h"

#define FS_TIMEOUT 3600.0
/* Shared mode (docs/SHARED.md): other daemons change the store behind
 * this kernel's back, so nothing is cached past the request: every path
 * walk looks names up again, every stat and every open fetches the
 * attributes, and open drops the cached pages (close-to-open). */
#define FS_TIMEOUT_SHARED 0.0

static inline double fs_timeout(const struct store *s)
{
	return s->shared ? FS_TIMEOUT_SHARED : FS_TIMEOUT;
}
#define FS_VNODE_DIR 2 /* then FS_VNODE_DIR + 1 + kind for each file */
#define FS_VNODE_END (FS_VNODE_DIR + 1 + VDIR_COUNT)

/* The session, for notifications (fs_set_session). */
extern struct fuse_session *fs_session;

static inline struct store *store_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline int is_vnode(fuse_ino_t ino)
{
	return ino >= FS_VNODE_DIR && ino < FS_VNODE_END;
}

/* The virtual kind of a node id (VDIR_DIR or a file kind). */
static inline int vkind(fuse_ino_t ino)
{
	return ino == FS_VNODE_DIR ? VDIR_DIR : (int)(ino - FS_VNODE_DIR - 1);
}

static inline struct inode *inode_of(struct store *s, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? inode_root(s) : (struct inode *)(uintptr_t)ino;
}

static inline fuse_ino_t node_of(struct store *s, struct inode *in)
{
	return in == inode_root(s) ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)in;
}

/* The open file of a regular file's fi (setattr passes NULL without one). */
static inline struct ofile *file_of(const struct fuse_file_info *fi)
{
	return fi ? handle_of(fi)->f : NULL;
}

static inline uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* Count and time an operation; r is its result (0, a length, or -errno). */
static inline void op_done(struct store *s, enum stats_op op, uint64_t t0, int r)
{
	stats_op(s->stats, op, now_ns() - t0, r < 0 ? r : 0);
}

/* The one place where -errno becomes an error reply. */
static inline void reply_err(fuse_req_t req, int r)
{
	fuse_reply_err(req, r < 0 ? -r : 0);
}


/* The reply of a new entry's attributes and timeouts (ll_ops.c). */
void ll_fill_entry(struct store *s, struct fuse_entry_param *e, struct inode *in,
		   const struct stat *st);
/* Reply to an open or opendir: r < 0 is the error (ll_ops.c). */
void ll_reply_open(fuse_req_t req, struct fuse_file_info *fi, int r);

/* Directories (ll_dir.c). */
void ll_dir_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ll_dir_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void ll_dir_readplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void ll_dir_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ll_dir_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* Extended attributes (ll_xattr.c). */
void ll_xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void ll_xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size);
void ll_xattr_set(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		  size_t size, int flags);
void ll_xattr_remove(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
