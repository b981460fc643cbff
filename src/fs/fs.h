/* fs.h - the FUSE face of a store (the low-level API). */
#ifndef RAGSTORE_FS_H
#define RAGSTORE_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "store.h"

/* The operations; the session's user data is the struct store. */
extern const struct fuse_lowlevel_ops fs_ll_ops;

/* The session, for the notifications the operations send the kernel; set
 * before the session loop starts (and s->attr_changed with it, so that the
 * store's threads can send them too), NULL after it ends. */
void fs_set_session(struct fuse_session *se, struct store *s);

/* Release every file the kernel still has open, as its release requests
 * would (the write-behind block goes out, superseded records are
 * collected), so that totals saved afterwards are exact.  For a session
 * loop ended by a signal while files were open; call it only once the loop
 * has returned, when no request runs. */
void fs_release_open_files(struct store *s);

#endif
