/* backend_mem.c - an in-memory filesystem behind the backend interface, so
 * that the store's namespace and data path can be unit-tested without FUSE
 * and without a disk.  It follows Linux where the store can tell the
 * difference: error codes, link counts, sparse files whose holes really take
 * no space, O_TMPFILE, rename flags.  See backend.h for what it leaves out.
 *
 * The whole filesystem is guarded by one mutex (m->mu), taken by every
 * operation; no operation calls another public one while holding it.
 *
 * This file holds the descriptor table and its flock locks, path
 * resolution, the operations table and the backend's lifetime.  The nodes
 * and directory entries are in backend_mem_node.c, file contents in
 * backend_mem_data.c, names and directory streams in backend_mem_ns.c,
 * metadata and extended attributes in backend_mem_attr.c; what they share
 * is in backend_mem_int.h. */
#include "backend_mem_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

/* ---- descriptors ----------------------------------------------------------- */

struct mfile *mem_file_get(struct mem *m, int fd)
{
	size_t i;

	if (fd < FD_BASE)
		return NULL;
	i = (size_t)(fd - FD_BASE);
	return i < m->capfds ? m->fds[i] : NULL;
}

int mem_file_add(struct mem *m, struct mnode *n, int flags)
{
	struct mfile *f;
	size_t i;

	for (i = 0; i < m->capfds && m->fds[i]; i++)
		;
	if (i == m->capfds) {
		size_t ncap = m->capfds ? 2 * m->capfds : 64;
		struct mfile **nf = realloc(m->fds, ncap * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		memset(nf + m->capfds, 0, (ncap - m->capfds) * sizeof(*nf));
		m->fds = nf;
		m->capfds = ncap;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->node = n;
	f->flags = flags;
	n->opens++;
	m->fds[i] = f;
	return FD_BASE + (int)i;
}

static void lock_drop(struct mfile *f)
{
	if (f->lock == LOCK_EX)
		f->node->lock_ex = NULL;
	else if (f->lock == LOCK_SH)
		f->node->lock_sh--;
	f->lock = 0;
}

/* The node of a descriptor that may do I/O (not O_PATH). */
int mem_file_io(struct mem *m, int fd, struct mfile **out)
{
	struct mfile *f = mem_file_get(m, fd);

	if (!f || (f->flags & O_PATH))
		return -EBADF;
	*out = f;
	return 0;
}

/* 1 if [off, off + len) reaches past the largest file size. */
int mem_past_max(off_t off, uint64_t len)
{
	return (uint64_t)off > (uint64_t)MAX_SIZE || len > (uint64_t)(MAX_SIZE - off);
}

/* The regular file behind fd, open for writing, for a change of its
 * contents up to off + len: -EBADF for a bad descriptor, not_writable for
 * any other (Linux says EBADF to pwrite, EINVAL to ftruncate), -EFBIG past
 * the largest size.  Caller holds the lock. */
int mem_file_for_change(struct mem *m, int fd, int not_writable, off_t off, uint64_t len,
			struct mfile **f)
{
	int r = mem_file_io(m, fd, f);

	if (r == 0 && (!mem_can_write(*f) || !S_ISREG((*f)->node->mode)))
		r = not_writable;
	if (r == 0 && mem_past_max(off, len))
		r = -EFBIG;
	return r;
}

int mem_can_read(const struct mfile *f)
{
	return (f->flags & O_ACCMODE) != O_WRONLY;
}

int mem_can_write(const struct mfile *f)
{
	return (f->flags & O_ACCMODE) == O_WRONLY || (f->flags & O_ACCMODE) == O_RDWR;
}

/* ---- path resolution -------------------------------------------------------- */


static int walk(struct mem *m, struct mnode *start, const char *path, int follow, int depth,
		struct where *w);

/* Follow symlink n found in directory dir. */
static int follow_link(struct mem *m, struct mnode *dir, struct mnode *n, int depth,
		       struct where *w)
{
	if (depth >= SYMLOOP)
		return -ELOOP;
	return walk(m, dir, n->target, 1, depth + 1, w);
}

static struct mnode *child(struct mnode *dir, const char *name)
{
	long i;

	if (!strcmp(name, "."))
		return dir;
	if (!strcmp(name, ".."))
		return dir->parent;
	i = mem_node_ent_find(dir, name);
	return i < 0 ? NULL : dir->ents[i].node;
}

static int walk(struct mem *m, struct mnode *start, const char *path, int follow, int depth,
		struct where *w)
{
	struct mnode *cur = path[0] == '/' ? m->root : start;
	const char *p = path;

	if (!path[0])
		return -ENOENT;
	w->dir = cur;
	w->node = cur;
	strcpy(w->last, ".");
	for (;;) {
		const char *end;
		size_t len;
		int last, trailing;
		struct mnode *n;

		while (*p == '/')
			p++;
		if (!*p)
			return 0; /* "/" or a path of slashes: the directory itself */
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		trailing = end != NULL;
		last = !end || !end[strspn(end, "/")];
		if (!S_ISDIR(cur->mode))
			return -ENOTDIR;
		memcpy(w->last, p, len);
		w->last[len] = '\0';
		if (mem_node_is_removed(cur) && strcmp(w->last, "."))
			return -ENOENT;
		n = child(cur, w->last);
		if (last) {
			w->dir = cur;
			w->node = n;
			if (n && S_ISLNK(n->mode) && (follow || trailing))
				return follow_link(m, cur, n, depth, w);
			if (trailing && n && !S_ISDIR(n->mode))
				return -ENOTDIR;
			return 0;
		}
		if (!n)
			return -ENOENT;
		if (S_ISLNK(n->mode)) {
			struct where t;
			int r = follow_link(m, cur, n, depth, &t);

			if (r < 0)
				return r;
			if (!t.node)
				return -ENOENT;
			n = t.node;
		}
		cur = n;
		p += len;
	}
}

/* Resolve name relative to descriptor dirfd. */
int mem_at(struct mem *m, int dirfd, const char *name, int follow, struct where *w)
{
	struct mnode *start = m->root;

	if (!name)
		return -EFAULT;
	if (name[0] != '/' && dirfd != AT_FDCWD) {
		struct mfile *f = mem_file_get(m, dirfd);

		if (!f)
			return -EBADF;
		if (!S_ISDIR(f->node->mode))
			return -ENOTDIR;
		start = f->node;
	}
	return walk(m, start, name, follow, 0, w);
}

/* Resolve to an existing node. */
int mem_at_node(struct mem *m, int dirfd, const char *name, int follow, struct mnode **n)
{
	struct where w;
	int r = mem_at(m, dirfd, name, follow, &w);

	if (r == 0 && !w.node)
		r = -ENOENT;
	*n = r == 0 ? w.node : NULL;
	return r;
}

/* Resolve the place of a new entry: it must not exist yet. */
int mem_at_new(struct mem *m, int dirfd, const char *name, struct where *w)
{
	int r = mem_at(m, dirfd, name, 0, w);

	if (r < 0)
		return r;
	if (w->node)
		return -EEXIST;
	if (mem_node_is_removed(w->dir))
		return -ENOENT;
	return 0;
}

/* Run fn (if any) on the node of descriptor fd under the lock.  An O_PATH
 * descriptor serves only where any_fd is set (fstat, fstatvfs), as on
 * Linux. */
int mem_on_fd(struct backend *be, int fd, int any_fd, node_fn fn, void *arg)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	int r;

	pthread_mutex_lock(&m->mu);
	f = mem_file_get(m, fd);
	if (!f || (!any_fd && (f->flags & O_PATH)))
		r = -EBADF;
	else
		r = fn ? fn(m, f->node, arg) : 0;
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* Run fn on the node at name in dirfd under the lock. */
int mem_on_path(struct backend *be, int dirfd, const char *name, int follow, node_fn fn, void *arg)
{
	struct mem *m = mem_of(be);
	struct mnode *n;
	int r;

	pthread_mutex_lock(&m->mu);
	r = mem_at_node(m, dirfd, name, follow, &n);
	if (r == 0)
		r = fn(m, n, arg);
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* ---- operations: descriptors and their locks ------------------------------ */

int mem_close(struct backend *be, int fd)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	struct mnode *n;

	pthread_mutex_lock(&m->mu);
	f = mem_file_get(m, fd);
	if (!f) {
		pthread_mutex_unlock(&m->mu);
		return -EBADF;
	}
	m->fds[fd - FD_BASE] = NULL;
	n = f->node;
	lock_drop(f);
	free(f);
	n->opens--;
	mem_node_maybe_free(m, n);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

/* One process, so no other open file description of another daemon can
 * hold a lock: nothing ever conflicts (on a valid descriptor). */
static int mem_ofdtest(struct backend *be, int fd, int type, off_t start, off_t len)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	int r;

	pthread_mutex_lock(&m->mu);
	r = mem_file_io(m, fd, &f);
	pthread_mutex_unlock(&m->mu);
	return r < 0 ? r : 0;
}

static int mem_flock(struct backend *be, int fd, int op)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	struct mnode *n;
	int r, want = op & ~LOCK_NB;

	pthread_mutex_lock(&m->mu);
	r = mem_file_io(m, fd, &f);
	if (r < 0)
		goto out;
	n = f->node;
	if (want == LOCK_UN) {
		lock_drop(f);
	} else if (want == LOCK_EX) {
		if ((n->lock_ex && n->lock_ex != f) ||
		    n->lock_sh > (unsigned)(f->lock == LOCK_SH)) {
			r = -EWOULDBLOCK;
		} else {
			lock_drop(f);
			n->lock_ex = f;
			f->lock = LOCK_EX;
		}
	} else if (want == LOCK_SH) {
		if (n->lock_ex && n->lock_ex != f) {
			r = -EWOULDBLOCK;
		} else if (f->lock != LOCK_SH) {
			lock_drop(f);
			n->lock_sh++;
			f->lock = LOCK_SH;
		}
	} else {
		r = -EINVAL;
	}
out:
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* No record locks: a store on this backend uses flock, as on Linux. */
static int mem_setlk(struct backend *be, int fd, int type, off_t start, off_t len, int wait)
{
	return -ENOSYS;
}

/* ---- paths and lifetime -------------------------------------------------------- */

/* The absolute path of directory dir into out (PATH_MAX bytes), built from
 * the names its ancestors know it by. */
static int dir_path(const struct mnode *root, const struct mnode *dir, char *out)
{
	char tmp[PATH_MAX];
	size_t pos = sizeof(tmp) - 1;

	tmp[pos] = '\0';
	while (dir != root) {
		const struct mnode *p = dir->parent;
		const char *name = NULL;
		size_t len;

		if (!p)
			return -ENOENT;
		for (size_t i = 0; i < p->nents && !name; i++)
			if (p->ents[i].node == dir)
				name = p->ents[i].name;
		if (!name)
			return -ENOENT;
		len = strlen(name);
		if (len + 1 > pos)
			return -ENAMETOOLONG;
		pos -= len;
		memcpy(tmp + pos, name, len);
		tmp[--pos] = '/';
		dir = p;
	}
	strcpy(out, pos == sizeof(tmp) - 1 ? "/" : tmp + pos);
	return 0;
}

static char *mem_realpath(struct backend *be, const char *path)
{
	struct mem *m = mem_of(be);
	char out[PATH_MAX];
	struct where w;
	int r;

	pthread_mutex_lock(&m->mu);
	r = mem_at(m, AT_FDCWD, path, 1, &w);
	if (r == 0 && !w.node)
		r = -ENOENT;
	if (r == 0 && S_ISDIR(w.node->mode)) {
		r = dir_path(m->root, w.node, out);
	} else if (r == 0) {
		r = dir_path(m->root, w.dir, out);
		if (r == 0 && strlen(out) + strlen(w.last) + 2 > sizeof(out))
			r = -ENAMETOOLONG;
		if (r == 0) {
			if (strcmp(out, "/"))
				strcat(out, "/");
			strcat(out, w.last);
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	return strdup(out);
}

static void mem_destroy(struct backend *be)
{
	struct mem *m = mem_of(be);

	for (size_t i = 0; i < m->capfds; i++)
		free(m->fds[i]);
	free(m->fds);
	while (m->all) {
		struct mnode *n = m->all;

		m->all = n->all_next;
		mem_node_free_data(m, n);
		free(n);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static const struct backend_ops mem_ops = {
	.name = "memory",
	.openat = mem_ns_openat,
	.close = mem_close,
	.linkfd = mem_ns_linkfd,
	.fstatat = mem_attr_fstatat,
	.fstat = mem_attr_fstat,
	.fstatvfs = mem_attr_fstatvfs,
	.fs_local = mem_attr_fs_local,
	.pread = mem_data_pread,
	.pwrite = mem_data_pwrite,
	.fsync = mem_data_fsync,
	.syncfs = mem_data_syncfs,
	.ftruncate = mem_data_ftruncate,
	.fallocate = mem_data_fallocate,
	.fadvise = mem_data_fadvise,
	.flock = mem_flock,
	.setlk = mem_setlk,
	.ofdtest = mem_ofdtest,
	.mkdirat = mem_ns_mkdirat,
	.mknodat = mem_ns_mknodat,
	.symlinkat = mem_ns_symlinkat,
	.readlinkat = mem_ns_readlinkat,
	.linkat = mem_ns_linkat,
	.unlinkat = mem_ns_unlinkat,
	.renameat2 = mem_ns_renameat2,
	.fchmodat = mem_attr_fchmodat,
	.fchmod = mem_attr_fchmod,
	.fchownat = mem_attr_fchownat,
	.fchown = mem_attr_fchown,
	.utimensat = mem_attr_utimensat,
	.futimens = mem_attr_futimens,
	.fgetxattr = mem_attr_fgetxattr,
	.fsetxattr = mem_attr_fsetxattr,
	.getxattrat = mem_attr_getxattrat,
	.setxattrat = mem_attr_setxattrat,
	.fdopendir = mem_ns_fdopendir,
	.readdir = mem_ns_readdir,
	.rewinddir = mem_ns_rewinddir,
	.seekdir = mem_ns_seekdir,
	.telldir = mem_ns_telldir,
	.dirfd = mem_ns_dirfd,
	.closedir = mem_ns_closedir,
	.realpath = mem_realpath,
	.destroy = mem_destroy,
};

struct backend *backend_mem_new(void)
{
	struct mem *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->be.ops = &mem_ops;
	pthread_mutex_init(&m->mu, NULL);
	m->root = mem_node_new(m, S_IFDIR | 0755, NULL);
	if (!m->root) {
		mem_destroy(&m->be);
		return NULL;
	}
	m->root->nlink = 2;
	m->root->parent = m->root;
	return &m->be;
}

int backend_mem_set_device(struct backend *be, const char *path, dev_t dev)
{
	struct mem *m = mem_of(be);
	struct mnode *n;
	int r;

	if (be->ops != &mem_ops)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	r = mem_at_node(m, AT_FDCWD, path, 1, &n);
	if (r == 0 && !S_ISDIR(n->mode))
		r = -ENOTDIR;
	if (r == 0 && n->nents > 0)
		r = -ENOTEMPTY;
	if (r == 0)
		n->dev = dev;
	pthread_mutex_unlock(&m->mu);
	return r;
}
