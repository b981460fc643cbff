/* attrs.h - extended attributes of an inode as the user sees them: the
 * user namespace and POSIX ACLs (stored sealed by xattrs.c; ACLs are kept
 * so rsync -A and cp -a carry them, and an access ACL sets the mode bits it
 * implies, but permissions are checked by mode bits), and the virtual
 * read-only user.ragstore.* facts, of which user.ragstore.compression is
 * also a real, listed setting of a regular file.
 *
 * Return values as getxattr(2) and friends: a length or 0, or -ENODATA,
 * -ERANGE, -EEXIST, -ENOTSUP (other namespaces), -EPERM (a virtual
 * attribute that cannot be changed), -EIO, -errno. */
#ifndef RAGSTORE_ATTRS_H
#define RAGSTORE_ATTRS_H

#include <stddef.h>

#include "inode.h"
#include "store.h"

#define ATTRS_VIRTUAL "user.ragstore."

/* size 0 asks for the length only. */
int attrs_get(struct store *s, struct inode *in, const char *name, char *buf, size_t size);
int attrs_set(struct store *s, struct inode *in, const char *name, const char *value,
	      size_t size, int flags);
int attrs_list(struct store *s, struct inode *in, char *list, size_t size);
int attrs_remove(struct store *s, struct inode *in, const char *name);

#endif
