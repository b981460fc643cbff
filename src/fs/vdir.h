/* vdir.h - the hidden /.ragstore directory: stats, health, metrics, config,
 * errors, cleanup (read-only snapshots taken at open) and control
 * (write-only).
 * Not listed in the root directory, reachable by name.  Knows nothing of
 * FUSE: the FUSE layer gives these objects reserved inode numbers.
 *
 * A virtual object is named by its kind: VDIR_DIR for the directory, or
 * 0 .. VDIR_COUNT-1 for its files. */
#ifndef RAGSTORE_VDIR_H
#define RAGSTORE_VDIR_H

#include <sys/stat.h>
#include <sys/types.h>

#include "store.h"

struct inode;

#define VDIR_NAME ".ragstore"
#define VDIR_DIR (-1)
#define VDIR_COUNT 7

/* Inode numbers far above anything a backing filesystem hands out, so
 * tools that compare st_ino never mistake ours for a user file. */
#define VDIR_INO_BASE ((ino_t)0x7fffffffffff0000ull)

struct vdir_handle;

/* Who to tell of each name cleanup removes (retention.h); set by the FUSE
 * layer, which drops the kernel's entry. */
typedef void (*vdir_gone_fn)(void *arg, struct inode *dir, const char *name);
void vdir_set_gone(vdir_gone_fn gone, void *arg);

/* The kind of the file called name in /.ragstore, or -ENOENT. */
int vdir_lookup(const char *name);
/* The name of a file kind (NULL for others), for listings. */
const char *vdir_entry_name(int kind);

int vdir_getattr(struct store *s, int kind, struct stat *st);
/* Open (rendering the snapshot now); -EISDIR, -EACCES, -ENOENT. */
int vdir_open(struct store *s, int kind, int flags, struct vdir_handle **h);
int vdir_read(struct vdir_handle *h, char *buf, size_t size, off_t off);
int vdir_write(struct store *s, struct vdir_handle *h, const char *buf, size_t size);
/* Truncation is allowed on control only (O_TRUNC from a shell redirect). */
int vdir_truncate(int kind);
void vdir_release(struct vdir_handle *h);

/* Called once the filesystem is mounted (load persisted totals, start a
 * rebuild of untrusted ones in the background) and at unmount (stop
 * background work, save totals).  Return 0 or -errno. */
int vdir_start(struct store *s);
void vdir_stop(struct store *s);

#endif
