/* pathmap.h - from a path inside the mount to its backing path.
 *
 * In a store with encrypted names every component is encrypted with the
 * per-directory value kept in that backing directory's ".diriv" file (read
 * once per directory and cached by inode).  Encoded names longer than the
 * backing filesystem allows become a ".L<hash>" entry plus a ".N<hash>" side
 * file holding the full encoded name (see docs/FORMAT.md).  In a store with
 * plaintext names the mapping is the identity. */
#ifndef RAGSTORE_PATHMAP_H
#define RAGSTORE_PATHMAP_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "names.h"
#include "store.h"

struct bpath {
	char rel[PATH_MAX];              /* relative to rootfd; "." for / */
	char parent[PATH_MAX];           /* backing parent directory */
	char leaf[NAME_ENC_CAP];         /* backing name of the last component */
	int is_long;                     /* leaf is a long-name entry */
	char side[NAME_LONG_LEN + 1];    /* its side file, in parent */
	char enc[NAME_ENC_CAP];          /* the full encoded name */
};

/* Resolve path ("/a/b").  Returns 0; -ENAMETOOLONG; -EIO when a directory
 * on the way has a missing or damaged value file. */
int pathmap_resolve(struct store *s, const char *path, struct bpath *bp);

/* Before creating an entry at bp: write its side file if it is long. */
int pathmap_side_write(struct store *s, const struct bpath *bp);
/* After removing the entry at bp (or failing to create it): drop its side
 * file if it is long and nothing is at bp any more. */
void pathmap_side_drop(struct store *s, const struct bpath *bp);

/* mkdir with its value file in place before the directory gets its name. */
int pathmap_mkdir(struct store *s, const struct bpath *bp, mode_t mode);
/* rmdir: -ENOTEMPTY unless only our own files remain; removes those. */
int pathmap_rmdir(struct store *s, const struct bpath *bp);
/* Before renaming a directory over the directory at bp: check that the
 * target holds no user entries (-ENOTEMPTY) and move it aside to a hidden
 * name (aside, len bytes).  After the rename, pathmap_replace_finish removes
 * it; if the rename fails, pathmap_replace_undo puts it back. */
int pathmap_replace_prepare(struct store *s, const struct bpath *bp, char *aside,
			    size_t len, int *prepared);
void pathmap_replace_finish(struct store *s, const char *aside);
void pathmap_replace_undo(struct store *s, const struct bpath *bp, const char *aside);

/* Directory listing: the value of the backing directory rel (for
 * pathmap_entry_name), -EIO if damaged. */
int pathmap_dir_iv(struct store *s, const char *rel, uint8_t *iv);
/* The user's name of backing entry bname in the directory open as dirfd.
 * Returns 1 with out filled (NAME_PLAIN_MAX + 1 bytes), 0 for an internal
 * file to skip, -EBADMSG for a name that does not decrypt. */
int pathmap_entry_name(struct store *s, int dirfd, const uint8_t *iv,
		       const char *bname, char *out);

/* Symlink targets: what to store for target, and back.  Identity in a
 * plaintext-name store.  Return lengths, or -ENAMETOOLONG / -EIO. */
int pathmap_link_encode(struct store *s, const char *target, char *out, size_t cap);
int pathmap_link_decode(struct store *s, const char *stored, size_t len, char *out,
			size_t cap);

/* Forget a directory's cached value (its inode is going away). */
void pathmap_forget(struct store *s, dev_t dev, ino_t ino);

#endif
