/* ll_ops.c - the FUSE low-level operations (directories in ll_dir.c,
 * extended attributes in ll_xattr.c): translate each request into a
 * call of the store's namespace (ns.h), attribute (attrs.h) or data
 * (ofile.h) functions, and the result into one reply.
 *
 * Node ids: FUSE_ROOT_ID is the store's root inode; FS_VNODE_DIR and the
 * ids after it are /.ragstore and its files; every other id is the address
 * of a struct inode, which stays valid until the kernel forgets it.
 *
 * Caching (every timeout is safe because this daemon is the only writer of
 * the backing tree while mounted: the store lock refuses a second mount):
 * names and attributes of real objects are cached by the kernel for
 * FS_TIMEOUT seconds.  Every change made through the mount updates or
 * invalidates the kernel's copy itself (replies carry new attributes; the
 * kernel drops what a write, unlink, link or rename changes), and the one
 * change ragstore makes behind the kernel's back, the release of superseded
 * records at the last close (which lowers st_blocks), is announced with
 * fuse_lowlevel_notify_inval_inode.  File contents stay cached across opens
 * (keep_cache) for the same reason.  /.ragstore is never cached.
 *
 * In shared mode (-o shared, docs/SHARED.md) other daemons write the
 * backing tree too: names and attributes are not cached at all
 * (FS_TIMEOUT_SHARED), contents are dropped at each open, and flock is
 * forwarded to the backing files (fs_flock). */
#include "ll_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "attrs.h"
#include "handle.h"
#include "inode.h"
#include "ns.h"
#include "ofile.h"
#include "shared.h"
#include "stats.h"
#include "vdir.h"
#include "wire.h"

struct fuse_session *fs_session;

/* Whether the caller of req is in group g through a supplementary group. */
static int caller_in_group(void *arg, gid_t g)
{
	gid_t few[64], *list = few;
	int n = fuse_req_getgroups(arg, 64, few), found = 0;

	if (n > 64 && (list = malloc((size_t)n * sizeof(*list))) != NULL)
		n = fuse_req_getgroups(arg, n, list);
	for (int i = 0; i < n && list; i++)
		found |= list[i] == g;
	if (list != few)
		free(list);
	return found;
}

/* The kernel left clearing the set-ID bits of ino to the daemon (wire.h):
 * clear them (st, when given, gets the new attributes; otherwise the
 * kernel's cached mode is dropped). */
static int kill_suidgid(fuse_req_t req, fuse_ino_t ino, struct ofile *f, struct stat *st)
{
	struct store *s = store_of(req);
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct ns_caller who = { c->uid, c->gid, caller_in_group, req };
	int r = ns_kill_suidgid(s, inode_of(s, ino), f, &who, st);

	if (r > 0 && !st && fs_session)
		fuse_lowlevel_notify_inval_inode(fs_session, ino, -1, 0);
	return r < 0 ? r : 0;
}

void ll_fill_entry(struct store *s, struct fuse_entry_param *e, struct inode *in,
		   const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->ino = node_of(s, in);
	e->attr = *st;
	e->attr_timeout = fs_timeout(s);
	e->entry_timeout = fs_timeout(s);
}

/* Reply with a new entry (lookup, mknod, mkdir, symlink, link). */
static void reply_entry(fuse_req_t req, struct store *s, struct inode *in,
			const struct stat *st, int r)
{
	struct fuse_entry_param e;

	if (r < 0) {
		reply_err(req, r);
		return;
	}
	ll_fill_entry(s, &e, in, st);
	if (fuse_reply_entry(req, &e) != 0)
		inode_forget(s, in, 1); /* the kernel never got it */
}

static void reply_vnode(fuse_req_t req, struct store *s, fuse_ino_t ino)
{
	struct fuse_entry_param e;
	int r;

	memset(&e, 0, sizeof(e));
	r = vdir_getattr(s, vkind(ino), &e.attr);
	if (r < 0) {
		reply_err(req, r);
		return;
	}
	e.ino = ino;
	fuse_reply_entry(req, &e);
}

/* A name cleanup removed behind the kernel's back: drop its entry. */
static void entry_gone(void *arg, struct inode *dir, const char *name)
{
	if (fs_session)
		fuse_lowlevel_notify_inval_entry(fs_session, node_of(arg, dir), name,
						 strlen(name));
}

static void fs_init(void *data, struct fuse_conn_info *conn)
{
	struct store *s = data;

	vdir_set_gone(entry_gone, data);
	/* flock is forwarded to the backing files only in shared mode, where
	 * other daemons must see it; otherwise the kernel keeps it, as
	 * before. */
	if (!s->shared)
		conn->want &= ~(unsigned)FUSE_CAP_FLOCK_LOCKS;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* No write-back cache (docs/CORE.md, "Kernel caching"): the daemon
	 * must see each write to refuse it (EFBIG, ENOSPC) and to flush it
	 * at SIGTERM. */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	/* Requests are read through wire.c, which a spliced read would miss. */
	conn->want &= ~(unsigned)FUSE_CAP_SPLICE_READ;
	conn->max_write = 1024 * 1024;
	conn->max_readahead = 1024 * 1024;
	conn->time_gran = 1;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	struct inode *in = NULL;
	struct stat st;
	int r;

	if (parent == FUSE_ROOT_ID && !strcmp(name, VDIR_NAME)) {
		reply_vnode(req, s, FS_VNODE_DIR);
		return;
	}
	if (parent == FS_VNODE_DIR) {
		r = vdir_lookup(name);
		if (r < 0)
			reply_err(req, r);
		else
			reply_vnode(req, s, FS_VNODE_DIR + 1 + (fuse_ino_t)r);
		return;
	}
	r = ns_lookup(s, inode_of(s, parent), name, &in, &st);
	/* A missing name is an answer, not a failure of the filesystem. */
	op_done(s, STATS_OP_GETATTR, t0, r == -ENOENT ? 0 : r);
	if (r == -ENOENT) {
		/* Cache the negative entry: only we create names (unless
		 * shared). */
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs_timeout(s);
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry(req, s, in, &st, r);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct store *s = store_of(req);

	if (ino != FUSE_ROOT_ID && !is_vnode(ino))
		inode_forget(s, inode_of(s, ino), nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *list)
{
	struct store *s = store_of(req);

	for (size_t i = 0; i < count; i++)
		if (list[i].ino != FUSE_ROOT_ID && !is_vnode(list[i].ino))
			inode_forget(s, inode_of(s, list[i].ino), list[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	struct stat st;
	int r;

	(void)fi;
	if (is_vnode(ino)) {
		r = vdir_getattr(s, vkind(ino), &st);
		if (r < 0)
			reply_err(req, r);
		else
			fuse_reply_attr(req, &st, 0);
		return;
	}
	r = ns_getattr(s, inode_of(s, ino), &st);
	op_done(s, STATS_OP_GETATTR, t0, r);
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_attr(req, &st, fs_timeout(s));
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	struct stat st;
	int what = 0, r;

	if (is_vnode(ino)) {
		/* Only the O_TRUNC of a shell redirect into control. */
		r = to_set == FUSE_SET_ATTR_SIZE ? vdir_truncate(vkind(ino)) : -EPERM;
		if (r == 0)
			r = vdir_getattr(s, vkind(ino), &st);
		if (r < 0)
			reply_err(req, r);
		else
			fuse_reply_attr(req, &st, 0);
		return;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		what |= NS_SET_MODE;
	if (to_set & FUSE_SET_ATTR_UID)
		what |= NS_SET_UID;
	if (to_set & FUSE_SET_ATTR_GID)
		what |= NS_SET_GID;
	if (to_set & FUSE_SET_ATTR_SIZE)
		what |= NS_SET_SIZE;
	if (to_set & FUSE_SET_ATTR_ATIME)
		what |= (to_set & FUSE_SET_ATTR_ATIME_NOW) ? NS_SET_ATIME_NOW : NS_SET_ATIME;
	if (to_set & FUSE_SET_ATTR_MTIME)
		what |= (to_set & FUSE_SET_ATTR_MTIME_NOW) ? NS_SET_MTIME_NOW : NS_SET_MTIME;
	/* Before a chown, as the kernel judges the group the file had. */
	r = wire_kill_suidgid() ? kill_suidgid(req, ino, file_of(fi), &st) : 0;
	if (r == 0)
		r = ns_setattr(s, inode_of(s, ino), file_of(fi), attr, what, &st);
	op_done(s, (what & NS_SET_SIZE) ? STATS_OP_TRUNCATE : STATS_OP_OTHER, t0, r);
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_attr(req, &st, fs_timeout(s));
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	char *buf = malloc(PATH_MAX + 1);
	int r = buf ? ns_readlink(s, inode_of(s, ino), buf, PATH_MAX + 1) : -ENOMEM;

	op_done(s, STATS_OP_OTHER, t0, r);
	if (r < 0) {
		reply_err(req, r);
	} else {
		buf[r] = '\0';
		fuse_reply_readlink(req, buf);
	}
	free(buf);
}

/* Nothing can be made in, or moved into or out of, /.ragstore, and its
 * name at the root is taken. */
static int reserved(fuse_ino_t parent, const char *name)
{
	return is_vnode(parent) || (parent == FUSE_ROOT_ID && !strcmp(name, VDIR_NAME));
}

/* What mknod, mkdir and symlink make, and with what. */
struct making {
	enum stats_op op;
	mode_t mode;
	dev_t rdev;
	const char *target;
};

/* mknod, mkdir and symlink: a new object named name in parent, owned by
 * the caller, handed to the kernel as a new entry. */
static void make_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
		       const struct making *m)
{
	struct store *s = store_of(req);
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct inode *dir = inode_of(s, parent), *in = NULL;
	uint64_t t0 = now_ns();
	struct stat st;
	int r;

	if (reserved(parent, name))
		r = -EPERM;
	else if (m->op == STATS_OP_MKDIR)
		r = ns_mkdir(s, dir, name, m->mode, c->uid, c->gid, &in, &st);
	else if (m->op == STATS_OP_SYMLINK)
		r = ns_symlink(s, dir, name, m->target, c->uid, c->gid, &in, &st);
	else
		r = ns_mknod(s, dir, name, m->mode, m->rdev, c->uid, c->gid, &in, &st);
	op_done(s, m->op, t0, r);
	reply_entry(req, s, in, &st, r);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	struct making m = { .op = STATS_OP_CREATE, .mode = mode, .rdev = rdev };

	make_entry(req, parent, name, &m);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct making m = { .op = STATS_OP_MKDIR, .mode = mode };

	make_entry(req, parent, name, &m);
}

static void fs_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	struct making m = { .op = STATS_OP_SYMLINK, .target = target };

	make_entry(req, parent, name, &m);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	struct stat st;
	int r = is_vnode(ino) || reserved(newparent, newname) ? -EPERM
		: ns_link(s, inode_of(s, ino), inode_of(s, newparent), newname, &st);

	op_done(s, STATS_OP_LINK, t0, r);
	reply_entry(req, s, inode_of(s, ino), &st, r);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	int r = reserved(parent, name) ? -EPERM : ns_unlink(s, inode_of(s, parent), name);

	op_done(s, STATS_OP_UNLINK, t0, r);
	reply_err(req, r);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	int r = reserved(parent, name) ? -EPERM : ns_rmdir(s, inode_of(s, parent), name);

	op_done(s, STATS_OP_RMDIR, t0, r);
	reply_err(req, r);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	int r = reserved(parent, name) || reserved(newparent, newname) ? -EPERM
		: ns_rename(s, inode_of(s, parent), name, inode_of(s, newparent), newname, flags);

	op_done(s, STATS_OP_RENAME, t0, r);
	reply_err(req, r);
}

/* Data of real files stays cached across opens (see the top of this
 * file); virtual files are rendered at open and read past their size. */
void ll_reply_open(fuse_req_t req, struct fuse_file_info *fi, int r)
{
	if (r < 0) {
		reply_err(req, r);
		return;
	}
	fuse_reply_open(req, fi);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	int r;

	if (is_vnode(ino)) {
		struct vdir_handle *h = NULL;

		r = vdir_open(s, vkind(ino), fi->flags, &h);
		fi->fh = (uintptr_t)h;
		fi->direct_io = 1;
		fi->keep_cache = 0;
		ll_reply_open(req, fi, r);
		return;
	}
	{
		struct ofile *f = NULL;
		struct fs_handle *h = NULL;

		r = ns_open(s, inode_of(s, ino), fi->flags, &f);
		if (r == 0 && wire_kill_suidgid() && (r = kill_suidgid(req, ino, f, NULL)) < 0)
			ofile_release(s, f);
		op_done(s, STATS_OP_OPEN, t0, r);
		/* The kernel took its size from a hint that proved wrong (after
		 * a crash, or a copy without xattrs): make it ask again. */
		if (r == 0 && ofile_hint_fixed(f) && fs_session)
			fuse_lowlevel_notify_inval_inode(fs_session, ino, -1, 0);
		if (r == 0 && !(h = handle_new(f))) {
			ofile_release(s, f);
			r = -ENOMEM;
		}
		fi->fh = (uintptr_t)h;
		fi->keep_cache = !s->shared;
		if (r == 0 && fuse_reply_open(req, fi) != 0)
			ofile_release(s, handle_drop(s, h)); /* interrupted: no release will come */
		else if (r < 0)
			reply_err(req, r);
	}
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	const struct fuse_ctx *c = fuse_req_ctx(req);
	uint64_t t0 = now_ns();
	struct fuse_entry_param e;
	struct inode *in = NULL;
	struct ofile *f = NULL;
	struct fs_handle *h;
	struct stat st;
	int r = reserved(parent, name) ? -EPERM
		: ns_create(s, inode_of(s, parent), name, mode, fi->flags, c->uid, c->gid, &in,
			    &st, &f);

	op_done(s, STATS_OP_CREATE, t0, r);
	if (r < 0) {
		reply_err(req, r);
		return;
	}
	h = handle_new(f);
	if (!h) {
		/* The file exists now; the caller sees the failure and may
		 * open it again. */
		ofile_release(s, f);
		inode_forget(s, in, 1);
		reply_err(req, -ENOMEM);
		return;
	}
	ll_fill_entry(s, &e, in, &st);
	fi->fh = (uintptr_t)h;
	fi->keep_cache = !s->shared;
	if (fuse_reply_create(req, &e, fi) != 0) {
		ofile_release(s, handle_drop(s, h));
		inode_forget(s, in, 1);
	}
}

/* Each worker thread reads into its own buffer, kept between requests and
 * grown to the largest read (max_read, 1 MiB), so the read path does not
 * allocate.  Freed when the thread ends. */
static pthread_key_t readbuf_key;
static pthread_once_t readbuf_once = PTHREAD_ONCE_INIT;

struct readbuf {
	size_t cap;
	char *p;
};

static void readbuf_free(void *v)
{
	struct readbuf *b = v;

	free(b->p);
	free(b);
}

static void readbuf_init(void)
{
	pthread_key_create(&readbuf_key, readbuf_free);
}

static char *read_buffer(size_t size)
{
	struct readbuf *b;

	pthread_once(&readbuf_once, readbuf_init);
	b = pthread_getspecific(readbuf_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || pthread_setspecific(readbuf_key, b) != 0) {
			free(b);
			return NULL;
		}
	}
	if (b->cap < size || !b->p) {
		char *p = realloc(b->p, size ? size : 1);

		if (!p)
			return NULL;
		b->p = p;
		b->cap = size ? size : 1;
	}
	return b->p;
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	char *buf = read_buffer(size);
	ssize_t n;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	if (is_vnode(ino)) {
		n = vdir_read((struct vdir_handle *)(uintptr_t)fi->fh, buf, size, off);
	} else {
		n = ofile_read(s, file_of(fi), buf, size, off);
		op_done(s, STATS_OP_READ, t0, (int)(n < 0 ? n : 0));
		if (n > 0)
			stats_bytes_read(s->stats, (uint64_t)n);
	}
	if (n < 0)
		reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	ssize_t n;

	if (is_vnode(ino)) {
		n = vdir_write(s, (struct vdir_handle *)(uintptr_t)fi->fh, buf, size);
	} else {
		n = wire_kill_suidgid() ? kill_suidgid(req, ino, file_of(fi), NULL) : 0;
		if (n == 0)
			n = ofile_write(s, file_of(fi), buf, size, off);
		op_done(s, STATS_OP_WRITE, t0, (int)(n < 0 ? n : 0));
		if (n > 0)
			stats_bytes_written(s->stats, (uint64_t)n);
	}
	if (n < 0)
		reply_err(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	int r, pending;

	/* Closing hands the data to the backing filesystem (SPEC section 4):
	 * the write-behind block goes out now, and its error to close(). */
	if (is_vnode(ino)) {
		reply_err(req, 0);
		return;
	}
	pending = ofile_changes_pending(file_of(fi));
	r = ofile_flush(s, file_of(fi));
	op_done(s, STATS_OP_FSYNC, t0, r);
	/* Writing the buffered block and releasing old records changed
	 * st_blocks: the kernel must ask again (before close returns).  A
	 * close that changed nothing (every read-only open) needs no word. */
	if (pending && fs_session)
		fuse_lowlevel_notify_inval_inode(fs_session, ino, -1, 0);
	reply_err(req, r);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	int r, pending;

	if (is_vnode(ino)) {
		vdir_release((struct vdir_handle *)(uintptr_t)fi->fh);
		wire_release_done();
		reply_err(req, 0);
		return;
	}
	pending = ofile_changes_pending(file_of(fi));
	r = ofile_release(s, handle_drop(s, handle_of(fi)));
	wire_release_done();
	reply_err(req, r);
	/* The last release may have freed superseded records: st_blocks
	 * went down behind the kernel's back. */
	if (pending && fs_session)
		fuse_lowlevel_notify_inval_inode(fs_session, ino, -1, 0);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	int r = is_vnode(ino) ? 0 : ofile_fsync(s, file_of(fi), datasync);

	op_done(s, STATS_OP_FSYNC, t0, r);
	reply_err(req, r);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int r;

	(void)ino;
	wire_releases_wait(); /* the releases of files closed before it */
	r = ns_statfs(store_of(req), &sv);
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_statfs(req, &sv);
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct store *s = store_of(req);
	uint64_t t0 = now_ns();
	int r = is_vnode(ino) ? -EPERM : 0;

	/* A FALLOCATE carries no flag for the set-ID bits (wire.h), and the
	 * kernel leaves them to the daemon once it agreed to KILLPRIV_V2: an
	 * unprivileged caller (uid 0 counts as privileged) clears them, as
	 * ext4's fallocate does. */
	if (r == 0 && wire_killpriv() && fuse_req_ctx(req)->uid != 0)
		r = kill_suidgid(req, ino, file_of(fi), NULL);
	if (r == 0)
		r = ofile_fallocate(s, file_of(fi), mode, off, len);
	op_done(s, STATS_OP_WRITE, t0, r);
	reply_err(req, r);
}

static void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	off_t r = is_vnode(ino) ? -EINVAL : ofile_lseek(store_of(req), file_of(fi), off, whence);

	if (r < 0)
		reply_err(req, (int)r);
	else
		fuse_reply_lseek(req, r);
}

/* flock(2): shared mode only (fs_init), see shared.h. */
static void fs_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	struct store *s = store_of(req);

	if (is_vnode(ino) || !s->shared) {
		reply_err(req, -EOPNOTSUPP);
		return;
	}
	reply_err(req, shared_flock(s, inode_of(s, ino), &handle_of(fi)->lockfd, op));
}

static void attr_changed(struct store *s, struct inode *in)
{
	struct fuse_session *se = __atomic_load_n(&fs_session, __ATOMIC_ACQUIRE);

	if (se)
		fuse_lowlevel_notify_inval_inode(se, node_of(s, in), -1, 0);
}

void fs_set_session(struct fuse_session *se, struct store *s)
{
	__atomic_store_n(&fs_session, se, __ATOMIC_RELEASE);
	s->attr_changed = se ? attr_changed : NULL;
}

const struct fuse_lowlevel_ops fs_ll_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.symlink = fs_symlink,
	.rename = fs_rename,
	.link = fs_link,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.opendir = ll_dir_open,
	.readdir = ll_dir_read,
	.readdirplus = ll_dir_readplus,
	.releasedir = ll_dir_release,
	.fsyncdir = ll_dir_fsync,
	.statfs = fs_statfs,
	.setxattr = ll_xattr_set,
	.getxattr = ll_xattr_get,
	.listxattr = ll_xattr_list,
	.removexattr = ll_xattr_remove,
	.create = fs_create,
	.fallocate = fs_fallocate,
	.lseek = fs_lseek,
	.flock = fs_flock,
};
