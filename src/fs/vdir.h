/* vdir.h - the hidden /.ragstore directory: stats, health, metrics, config,
 * errors (read-only snapshots taken at open) and control (write-only).
 * Not listed in the root directory, reachable by path. */
#ifndef RAGSTORE_VDIR_H
#define RAGSTORE_VDIR_H

#include "fs.h"

#define VDIR_NAME ".ragstore"

/* Handles of virtual files are tagged in fi->fh with this bit, so the
 * operations that get no path (read, write, release) can tell them from
 * regular open files. */
#define VDIR_FH_TAG ((uint64_t)1)

static inline int vdir_is_handle(const struct fuse_file_info *fi)
{
	return fi && (fi->fh & VDIR_FH_TAG);
}

/* 1 if path is /.ragstore or lies below it. */
int vdir_match(const char *path);

/* The operations on it (path-based ones are only called when vdir_match).
 * Creating, removing, renaming or changing anything there fails with EPERM
 * in ops.c before these are reached. */
int vdir_getattr(const char *path, struct stat *st);
/* The same for an open handle (fstat, where no path is given). */
int vdir_fgetattr(struct fuse_file_info *fi, struct stat *st);
int vdir_readdir(const char *path, void *buf, fuse_fill_dir_t filler);
int vdir_open(const char *path, struct fuse_file_info *fi);
int vdir_read(struct fuse_file_info *fi, char *buf, size_t size, off_t off);
int vdir_write(struct fuse_file_info *fi, const char *buf, size_t size, off_t off);
int vdir_truncate(const char *path); /* allowed on control only (O_TRUNC) */
int vdir_release(struct fuse_file_info *fi);

/* Called once the filesystem is mounted (load persisted totals, start a
 * rebuild of untrusted ones in the background) and at unmount (stop
 * background work, save totals).  Return 0 or -errno. */
int vdir_start(struct store *s);
void vdir_stop(struct store *s);

#endif
