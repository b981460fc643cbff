/* ll_xattr.c - the FUSE extended-attribute operations, answered by the
 * store's attribute layer (attrs.h); /.ragstore has none. */
#include "ll_int.h"

#include <errno.h>
#include <stdlib.h>

#include "attrs.h"

/* Extended attributes: a length query (size 0) is answered with
 * fuse_reply_xattr, a value with fuse_reply_buf. */
static void reply_xattr(fuse_req_t req, const char *buf, size_t size, int r)
{
	if (r < 0)
		reply_err(req, r);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
}

void ll_xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	char *buf = size ? malloc(size) : NULL;
	int r;

	if (is_vnode(ino)) {
		reply_err(req, -ENODATA);
		free(buf);
		return;
	}
	r = size && !buf ? -ENOMEM : attrs_get(s, inode_of(s, ino), name, buf, size);
	op_done(s, STATS_OP_XATTR, t0, r == -ENODATA || r == -EOPNOTSUPP ? 0 : r);
	reply_xattr(req, buf, size, r);
	free(buf);
}

void ll_xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	char *buf = size ? malloc(size) : NULL;
	int r;

	if (is_vnode(ino)) {
		reply_xattr(req, buf, size, 0);
		free(buf);
		return;
	}
	r = size && !buf ? -ENOMEM : attrs_list(s, inode_of(s, ino), buf, size);
	op_done(s, STATS_OP_XATTR, t0, r);
	reply_xattr(req, buf, size, r);
	free(buf);
}

void ll_xattr_set(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		  size_t size, int flags)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	int r = is_vnode(ino) ? -EPERM : attrs_set(s, inode_of(s, ino), name, value, size, flags);

	op_done(s, STATS_OP_XATTR, t0, r);
	reply_err(req, r);
}

void ll_xattr_remove(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	int r = is_vnode(ino) ? -EPERM : attrs_remove(s, inode_of(s, ino), name);

	op_done(s, STATS_OP_XATTR, t0, r);
	reply_err(req, r);
}

