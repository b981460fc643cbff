/* ll_dir.c - the FUSE directory operations: opendir, readdir and
 * readdirplus (one reply buffer filled from the store's listing, or the
 * fixed listing of /.ragstore), releasedir and fsyncdir. */
#include "ll_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ns.h"

void ll_dir_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	struct ns_dir *d = NULL;
	int r;

	if (is_vnode(ino)) {
		fi->fh = 0;
		ll_reply_open(req, fi, ino == FS_VNODE_DIR ? 0 : -ENOTDIR);
		return;
	}
	r = ns_opendir(s, inode_of(s, ino), &d);
	op_done(s, STATS_OP_READDIR, t0, r);
	fi->fh = (uintptr_t)d;
	if (r == 0 && fuse_reply_open(req, fi) != 0)
		ns_releasedir(s, d);
	else if (r < 0)
		reply_err(req, r);
}

/* A reply buffer being filled with directory entries. */
struct dirbuf {
	fuse_req_t req;
	struct store *s;
	char *p;
	size_t size, len;
	int plus;
};

static int dirbuf_fill(void *arg, const char *name, const struct stat *st, struct inode *in,
		       off_t next)
{
	struct dirbuf *b = arg;
	size_t need;

	if (b->plus) {
		struct fuse_entry_param e;

		if (in) {
			ll_fill_entry(b->s, &e, in, st);
		} else {
			memset(&e, 0, sizeof(e)); /* "." and "..": no entry */
			e.attr.st_ino = st->st_ino;
			e.attr.st_mode = st->st_mode;
		}
		need = fuse_add_direntry_plus(b->req, b->p + b->len, b->size - b->len, name, &e,
					      next);
	} else {
		need = fuse_add_direntry(b->req, b->p + b->len, b->size - b->len, name, st, next);
	}
	if (need > b->size - b->len)
		return 1;
	b->len += need;
	return 0;
}

/* The listing of /.ragstore: ".", ".." and the files, by position. */
static void vdir_list(struct dirbuf *b, off_t off)
{
	for (off_t i = off; i < 2 + VDIR_COUNT; i++) {
		struct stat st;

		memset(&st, 0, sizeof(st));
		if (i < 2) {
			st.st_mode = S_IFDIR;
		} else {
			vdir_getattr(b->s, (int)(i - 2), &st);
		}
		if (dirbuf_fill(b, i == 0 ? "." : i == 1 ? ".." : vdir_entry_name((int)(i - 2)),
				&st, NULL, i + 1))
			break;
	}
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi, int plus)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	struct dirbuf b = { .req = req, .s = s, .size = size, .plus = plus };
	int r = 0;

	b.p = malloc(size ? size : 1);
	if (!b.p) {
		reply_err(req, -ENOMEM);
		return;
	}
	if (ino == FS_VNODE_DIR)
		vdir_list(&b, off);
	else
		r = ns_readdir(s, (struct ns_dir *)(uintptr_t)fi->fh, off, plus, dirbuf_fill, &b);
	op_done(s, STATS_OP_READDIR, t0, r);
	/* Entries already in the buffer were looked up: send them. */
	if (r < 0 && b.len == 0)
		reply_err(req, r);
	else
		fuse_reply_buf(req, b.p, b.len);
	free(b.p);
}

void ll_dir_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 0);
}

void ll_dir_readplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 1);
}

void ll_dir_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!is_vnode(ino))
		ns_releasedir(store_of(req), (struct ns_dir *)(uintptr_t)fi->fh);
	reply_err(req, 0);
}

void ll_dir_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	int r = is_vnode(ino) ? 0 : ns_fsyncdir(s, (struct ns_dir *)(uintptr_t)fi->fh, datasync);

	op_done(s, STATS_OP_FSYNC, t0, r);
	reply_err(req, r);
}

