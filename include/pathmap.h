/* pathmap.h - from a name inside the mount to its backing name.
 *
 * In a store with encrypted names every component is encrypted with the
 * per-directory value kept in that backing directory's ".diriv" file (read
 * once per directory and cached by inode).  Encoded names longer than the
 * backing filesystem allows become a ".L<hash>" entry plus a ".N<hash>" side
 * file holding the full encoded name (see docs/FORMAT.md).  In a store with
 * plaintext names the mapping is the identity.  Everything works relative
 * to directory descriptors, so no whole backing path is ever built. */
#ifndef RAGSTORE_PATHMAP_H
#define RAGSTORE_PATHMAP_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "names.h"
#include "store.h"

/* A user name as it is stored in one backing directory. */
struct bname {
	char leaf[NAME_ENC_CAP];         /* backing entry name */
	int is_long;                     /* leaf is a long-name entry */
	char side[NAME_LONG_LEN + 1];    /* its side file, beside it */
	char enc[NAME_ENC_CAP];          /* the full encoded name */
};

/* The backing name of the user's name (one component, no '/') in a
 * directory whose value is iv (unused with plaintext names).  Returns 0,
 * -ENAMETOOLONG, or -EINVAL for "." and "..". */
int pathmap_encode(struct store *s, const uint8_t *iv, const char *name,
		   struct bname *bn);

/* Every function below works in the backing directory open as dirfd, a
 * descriptor of the store's backend s->be (an O_PATH one is enough). */

/* Before creating an entry bn: write its side file if it is long. */
int pathmap_side_write(struct store *s, int dirfd, const struct bname *bn);
/* After removing the entry bn (or failing to create it): drop its side
 * file if it is long and nothing is at bn any more. */
void pathmap_side_drop(struct store *s, int dirfd, const struct bname *bn);

/* mkdir with its value file in place before the directory gets its name. */
int pathmap_mkdir(struct store *s, int dirfd, const struct bname *bn, mode_t mode);
/* rmdir: -ENOTEMPTY unless only our own files remain; removes those. */
int pathmap_rmdir(struct store *s, int dirfd, const struct bname *bn);
/* Before renaming a directory over the directory bn: check that the target
 * holds no user entries (-ENOTEMPTY) and move it aside to a hidden name
 * (aside, len bytes, in the same directory).  After the rename,
 * pathmap_replace_finish removes it; if the rename fails,
 * pathmap_replace_undo puts it back. */
int pathmap_replace_prepare(struct store *s, int dirfd, const struct bname *bn,
			    char *aside, size_t len, int *prepared);
void pathmap_replace_finish(struct store *s, int dirfd, const char *aside);
void pathmap_replace_undo(struct store *s, int dirfd, const struct bname *bn,
			  const char *aside);

/* The value of the backing directory name in dirfd (a relative path; "."
 * for dirfd itself), for pathmap_encode and pathmap_entry_name.  Cached by
 * inode.  -ENOTDIR, -EIO if missing or damaged, or -errno. */
int pathmap_dir_iv(struct store *s, int dirfd, const char *name, uint8_t *iv);
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
