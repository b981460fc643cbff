/* xattrs.h - user extended attributes, stored encrypted.
 *
 * All attributes of one object (a regular file, or a directory) are kept
 * together as one sealed blob in BACKING/xattrs/<object id>: for a file the
 * id is its file id (shared by hard links, unchanged by renames), for a
 * directory the value in its .diriv (or, in a store with plaintext names, a
 * random id kept in the backing directory's "user.ragstore.id" attribute).
 * The blob is sealed with the content key and the object id as associated
 * data, so a blob moved to another object fails to open (EIO).  Values of up
 * to 64 KiB work whatever the backing filesystem's own xattr limits are.
 *
 * Functions return 0 or a length, or -errno as getxattr(2) and friends do:
 * -ENODATA, -EEXIST, -ERANGE, -E2BIG, -ENOTSUP (not a file or directory),
 * -EIO (a blob that does not authenticate).  The object is rel, relative to
 * the backing directory open as dirfd, a descriptor of s->be ("." for that
 * directory itself). */
#ifndef RAGSTORE_XATTRS_H
#define RAGSTORE_XATTRS_H

#include <stddef.h>
#include <sys/types.h>

#include "store.h"

#define XATTRS_DIR "xattrs"

int xattrs_set(struct store *s, int dirfd, const char *rel, const char *name,
	       const char *value, size_t size, int flags);
ssize_t xattrs_get(struct store *s, int dirfd, const char *rel, const char *name,
		   char *value, size_t size);
/* Names, NUL-separated, as listxattr(2). */
ssize_t xattrs_list(struct store *s, int dirfd, const char *rel, char *list, size_t size);
int xattrs_remove(struct store *s, int dirfd, const char *rel, const char *name);

/* 1 if rel is a regular file whose size hint says it has no attributes
 * (no blob to read, list or drop), else 0.  No decryption. */
int xattrs_hint_none(struct store *s, int dirfd, const char *rel);

/* Removing an object: note its id first (0, or -errno if it has none),
 * then, once the removal succeeded, drop its attributes. */
#define XATTRS_ID_LEN 17
int xattrs_object_id(struct store *s, int dirfd, const char *rel, uint8_t *id);
void xattrs_forget(struct store *s, const uint8_t *id);

#endif
