/* handle.h - the open regular files as the kernel holds them: fi->fh of a
 * regular file points to a struct fs_handle.  All handles are on one list,
 * so that a stop by signal, which ends the session loop while files are
 * still open (no release will come for them), can release them before the
 * totals are saved (fs_release_open_files in fs.h). */
#ifndef RAGSTORE_FS_HANDLE_H
#define RAGSTORE_FS_HANDLE_H

#include "fs.h"

struct ofile;

struct fs_handle {
	struct ofile *f;
	int lockfd;                    /* shared mode: the handle's own backing
					  descriptor for flock (shared.h), -1
					  until the first flock */
	struct fs_handle *prev, *next; /* guarded by the list's mutex */
};

/* A handle for f on the list; NULL on allocation failure. */
struct fs_handle *handle_new(struct ofile *f);
/* Take h off the list, close its flock descriptor (dropping its lock) and
 * free it; returns its file, for ofile_release. */
struct ofile *handle_drop(struct store *s, struct fs_handle *h);
/* The handle of a regular file's fi. */
struct fs_handle *handle_of(const struct fuse_file_info *fi);

#endif
