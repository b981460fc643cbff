/* backend_mem.c - an in-memory filesystem behind the backend interface, so
 * that the store's namespace and data path can be unit-tested without FUSE
 * and without a disk.  It follows Linux where the store can tell the
 * difference: error codes, link counts, sparse files whose holes really take
 * no space, O_TMPFILE, rename flags.  See backend.h for what it leaves out.
 *
 * The whole filesystem is guarded by one mutex (m->mu), taken by every
 * operation; no operation calls another public one while holding it. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Descriptors start far above any kernel descriptor, so one handed to a
 * real system call by mistake fails with EBADF instead of hitting a file. */
#define FD_BASE 1000000
#define PAGE 4096
#define MAX_SIZE ((off_t)1 << 44)    /* 16 TiB, as ext4 */
#define MAX_LINKS 65000              /* as ext4 */
#define SYMLOOP 40
#define XATTR_VALUE_MAX 65536
#define DEFAULT_DEV 0x6d656dU        /* "mem" */
#define FS_BLOCKS ((fsblkcnt_t)1 << 24)
#define FS_FILES ((fsfilcnt_t)1 << 20)

/* One 4 KiB page of a regular file; pages not held are holes. */
struct mpage {
	uint64_t index;
	uint8_t *data;
};

struct mentry {
	char *name;
	struct mnode *node;
	long seq;               /* position in listings, increasing */
};

struct mxattr {
	char *name;
	void *value;
	size_t size;
};

struct mfile;

struct mnode {
	struct mnode *all_prev, *all_next; /* every node, for destroy */
	ino_t ino;
	dev_t dev;
	mode_t mode;
	nlink_t nlink;
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	struct timespec atime, mtime, ctime;
	unsigned opens;         /* descriptors on it */
	int unnamed;            /* made by O_TMPFILE and never linked */
	struct mfile *lock_ex;  /* flock holders */
	unsigned lock_sh;
	/* Regular files: pages sorted by index. */
	uint64_t size;
	struct mpage *pages;
	size_t npages, cappages;
	/* Directories: entries sorted by seq. */
	struct mentry *ents;
	size_t nents, capents;
	long next_seq;
	struct mnode *parent;   /* NULL once removed; the root's is itself */
	/* Symlinks. */
	char *target;
	struct mxattr *xattrs;
	size_t nxattrs;
};

/* An open file description (one per descriptor: there is no dup). */
struct mfile {
	struct mnode *node;
	int flags;
	int lock;               /* 0, LOCK_SH or LOCK_EX */
};

/* A directory stream.  Positions: 0 ".", 1 "..", then an entry's seq. */
struct mdir {
	int fd;
	long pos;
	struct dirent de;
};

struct mem {
	struct backend be;      /* first: a struct backend * is a struct mem * */
	pthread_mutex_t mu;     /* guards everything below and every node */
	struct mnode *root;
	struct mnode *all;      /* list of every node */
	size_t nnodes;
	size_t pages_held;
	ino_t next_ino;
	struct mfile **fds;     /* index fd - FD_BASE */
	size_t capfds;
};

static struct mem *mem_of(struct backend *be)
{
	return (struct mem *)be;
}

static struct timespec now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t;
}

/* ---- nodes ------------------------------------------------------------ */

static struct mnode *node_new(struct mem *m, mode_t mode, const struct mnode *dir)
{
	struct mnode *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->ino = ++m->next_ino;
	n->dev = dir ? dir->dev : DEFAULT_DEV;
	n->mode = mode;
	n->uid = geteuid();
	/* The group of a setgid directory, as on ext4. */
	n->gid = dir && (dir->mode & S_ISGID) ? dir->gid : getegid();
	if (S_ISDIR(mode) && dir && (dir->mode & S_ISGID))
		n->mode |= S_ISGID;
	n->atime = n->mtime = n->ctime = now();
	n->next_seq = 2;
	n->all_next = m->all;
	if (m->all)
		m->all->all_prev = n;
	m->all = n;
	m->nnodes++;
	return n;
}

static void node_free_data(struct mem *m, struct mnode *n)
{
	for (size_t i = 0; i < n->npages; i++)
		free(n->pages[i].data);
	m->pages_held -= n->npages;
	free(n->pages);
	for (size_t i = 0; i < n->nents; i++)
		free(n->ents[i].name);
	free(n->ents);
	for (size_t i = 0; i < n->nxattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	free(n->target);
}

/* Free n once no name and no descriptor refers to it. */
static void node_maybe_free(struct mem *m, struct mnode *n)
{
	if (!n || n == m->root || n->nlink > 0 || n->opens > 0)
		return;
	if (n->all_prev)
		n->all_prev->all_next = n->all_next;
	else
		m->all = n->all_next;
	if (n->all_next)
		n->all_next->all_prev = n->all_prev;
	m->nnodes--;
	node_free_data(m, n);
	free(n);
}

static void touch_change(struct mnode *n)
{
	n->ctime = now();
}

static void touch_modify(struct mnode *n)
{
	n->mtime = n->ctime = now();
}

static int is_removed(const struct mnode *dir)
{
	return dir->parent == NULL;
}

/* ---- directory entries --------------------------------------------------- */

static long ent_find(const struct mnode *dir, const char *name)
{
	for (size_t i = 0; i < dir->nents; i++)
		if (!strcmp(dir->ents[i].name, name))
			return (long)i;
	return -1;
}

/* Add name -> n to dir (the caller counts the link). */
static int ent_add(struct mnode *dir, const char *name, struct mnode *n)
{
	char *copy;

	if (dir->nents == dir->capents) {
		size_t ncap = dir->capents ? 2 * dir->capents : 8;
		struct mentry *ne = realloc(dir->ents, ncap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		dir->ents = ne;
		dir->capents = ncap;
	}
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	dir->ents[dir->nents].name = copy;
	dir->ents[dir->nents].node = n;
	dir->ents[dir->nents].seq = dir->next_seq++;
	dir->nents++;
	touch_modify(dir);
	return 0;
}

/* Remove entry i of dir (the caller drops the link). */
static void ent_del(struct mnode *dir, size_t i)
{
	free(dir->ents[i].name);
	memmove(dir->ents + i, dir->ents + i + 1, (dir->nents - i - 1) * sizeof(dir->ents[0]));
	dir->nents--;
	touch_modify(dir);
}

/* A new name for n in dir, with the link counts of both. */
static int link_in(struct mnode *dir, const char *name, struct mnode *n)
{
	int r;

	if (!S_ISDIR(n->mode) && n->nlink >= MAX_LINKS)
		return -EMLINK;
	r = ent_add(dir, name, n);
	if (r < 0)
		return r;
	n->nlink++;
	if (S_ISDIR(n->mode)) {
		n->nlink++; /* its own "." */
		n->parent = dir;
		dir->nlink++; /* its ".." */
	}
	touch_change(n);
	return 0;
}

/* A new node of mode under the name last in the live directory dir. */
static int node_make(struct mem *m, struct mnode *dir, const char *last, mode_t mode,
		     struct mnode **out)
{
	struct mnode *n = node_new(m, mode, dir);
	int r;

	if (!n)
		return -ENOMEM;
	r = link_in(dir, last, n);
	if (r < 0) {
		node_maybe_free(m, n);
		return r;
	}
	*out = n;
	return 0;
}

/* Drop the name at entry i of dir from its node's link count; a directory
 * loses all its links (it must be empty). */
static struct mnode *unlink_in(struct mnode *dir, size_t i)
{
	struct mnode *n = dir->ents[i].node;

	ent_del(dir, i);
	if (S_ISDIR(n->mode)) {
		n->nlink = 0;
		n->parent = NULL;
		dir->nlink--;
	} else {
		n->nlink--;
	}
	touch_change(n);
	return n;
}

/* 1 if n is d or lies below d. */
static int is_within(const struct mnode *n, const struct mnode *d)
{
	for (; n; n = n->parent == n ? NULL : n->parent)
		if (n == d)
			return 1;
	return 0;
}

/* ---- descriptors ----------------------------------------------------------- */

static struct mfile *file_get(struct mem *m, int fd)
{
	size_t i;

	if (fd < FD_BASE)
		return NULL;
	i = (size_t)(fd - FD_BASE);
	return i < m->capfds ? m->fds[i] : NULL;
}

static int file_add(struct mem *m, struct mnode *n, int flags)
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
static int file_io(struct mem *m, int fd, struct mfile **out)
{
	struct mfile *f = file_get(m, fd);

	if (!f || (f->flags & O_PATH))
		return -EBADF;
	*out = f;
	return 0;
}

static int can_write(const struct mfile *f);

/* 1 if [off, off + len) reaches past the largest file size. */
static int past_max(off_t off, uint64_t len)
{
	return (uint64_t)off > (uint64_t)MAX_SIZE || len > (uint64_t)(MAX_SIZE - off);
}

/* The regular file behind fd, open for writing, for a change of its
 * contents up to off + len: -EBADF for a bad descriptor, not_writable for
 * any other (Linux says EBADF to pwrite, EINVAL to ftruncate), -EFBIG past
 * the largest size.  Caller holds the lock. */
static int file_for_change(struct mem *m, int fd, int not_writable, off_t off, uint64_t len,
			   struct mfile **f)
{
	int r = file_io(m, fd, f);

	if (r == 0 && (!can_write(*f) || !S_ISREG((*f)->node->mode)))
		r = not_writable;
	if (r == 0 && past_max(off, len))
		r = -EFBIG;
	return r;
}

static int can_read(const struct mfile *f)
{
	return (f->flags & O_ACCMODE) != O_WRONLY;
}

static int can_write(const struct mfile *f)
{
	return (f->flags & O_ACCMODE) == O_WRONLY || (f->flags & O_ACCMODE) == O_RDWR;
}

/* ---- path resolution -------------------------------------------------------- */

/* Where a path ends: the directory holding its last component, the node
 * there (NULL when absent) and the component's name. */
struct where {
	struct mnode *dir;
	struct mnode *node;
	char last[NAME_MAX + 1];
};

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
	i = ent_find(dir, name);
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
		if (is_removed(cur) && strcmp(w->last, "."))
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
static int at(struct mem *m, int dirfd, const char *name, int follow, struct where *w)
{
	struct mnode *start = m->root;

	if (!name)
		return -EFAULT;
	if (name[0] != '/' && dirfd != AT_FDCWD) {
		struct mfile *f = file_get(m, dirfd);

		if (!f)
			return -EBADF;
		if (!S_ISDIR(f->node->mode))
			return -ENOTDIR;
		start = f->node;
	}
	return walk(m, start, name, follow, 0, w);
}

/* Resolve to an existing node. */
static int at_node(struct mem *m, int dirfd, const char *name, int follow, struct mnode **n)
{
	struct where w;
	int r = at(m, dirfd, name, follow, &w);

	if (r == 0 && !w.node)
		r = -ENOENT;
	*n = r == 0 ? w.node : NULL;
	return r;
}

/* Resolve the place of a new entry: it must not exist yet. */
static int at_new(struct mem *m, int dirfd, const char *name, struct where *w)
{
	int r = at(m, dirfd, name, 0, w);

	if (r < 0)
		return r;
	if (w->node)
		return -EEXIST;
	if (is_removed(w->dir))
		return -ENOENT;
	return 0;
}

/* What an operation does to one node, under the lock. */
typedef int (*node_fn)(struct mem *m, struct mnode *n, void *arg);

/* Run fn (if any) on the node of descriptor fd under the lock.  An O_PATH
 * descriptor serves only where any_fd is set (fstat, fstatvfs), as on
 * Linux. */
static int on_fd(struct backend *be, int fd, int any_fd, node_fn fn, void *arg)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	int r;

	pthread_mutex_lock(&m->mu);
	f = file_get(m, fd);
	if (!f || (!any_fd && (f->flags & O_PATH)))
		r = -EBADF;
	else
		r = fn ? fn(m, f->node, arg) : 0;
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* Run fn on the node at name in dirfd under the lock. */
static int on_path(struct backend *be, int dirfd, const char *name, int follow, node_fn fn,
		   void *arg)
{
	struct mem *m = mem_of(be);
	struct mnode *n;
	int r;

	pthread_mutex_lock(&m->mu);
	r = at_node(m, dirfd, name, follow, &n);
	if (r == 0)
		r = fn(m, n, arg);
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* ---- file contents ------------------------------------------------------------ */

/* Index in n->pages of the first page with index >= idx. */
static size_t page_pos(const struct mnode *n, uint64_t idx)
{
	size_t lo = 0, hi = n->npages;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n->pages[mid].index < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint8_t *page_find(const struct mnode *n, uint64_t idx)
{
	size_t i = page_pos(n, idx);

	return i < n->npages && n->pages[i].index == idx ? n->pages[i].data : NULL;
}

/* The page idx of n, made (zero-filled) if it is a hole. */
static uint8_t *page_get(struct mem *m, struct mnode *n, uint64_t idx)
{
	size_t i = page_pos(n, idx);
	uint8_t *data;

	if (i < n->npages && n->pages[i].index == idx)
		return n->pages[i].data;
	if (n->npages == n->cappages) {
		size_t ncap = n->cappages ? 2 * n->cappages : 16;
		struct mpage *np = realloc(n->pages, ncap * sizeof(*np));

		if (!np)
			return NULL;
		n->pages = np;
		n->cappages = ncap;
	}
	data = calloc(1, PAGE);
	if (!data)
		return NULL;
	memmove(n->pages + i + 1, n->pages + i, (n->npages - i) * sizeof(n->pages[0]));
	n->pages[i].index = idx;
	n->pages[i].data = data;
	n->npages++;
	m->pages_held++;
	return data;
}

/* Give back the pages [first, end) of n. */
static void pages_drop(struct mem *m, struct mnode *n, uint64_t first, uint64_t end)
{
	size_t i = page_pos(n, first), j = i;

	while (j < n->npages && n->pages[j].index < end)
		free(n->pages[j++].data);
	memmove(n->pages + i, n->pages + j, (n->npages - j) * sizeof(n->pages[0]));
	n->npages -= j - i;
	m->pages_held -= j - i;
}

/* Zero [off, end) of n, dropping the whole pages in it: what a punched
 * hole is. */
static void range_zero(struct mem *m, struct mnode *n, uint64_t off, uint64_t end)
{
	uint64_t first_full = (off + PAGE - 1) / PAGE, end_full = end / PAGE;

	if (off >= end)
		return;
	for (uint64_t pos = off; pos < end;) {
		uint64_t idx = pos / PAGE, o = pos % PAGE;
		uint64_t stop = (idx + 1) * PAGE < end ? (idx + 1) * PAGE : end;
		uint8_t *p = page_find(n, idx);

		if (p && (o != 0 || stop - pos != PAGE))
			memset(p + o, 0, stop - pos);
		pos = stop;
	}
	if (end_full > first_full)
		pages_drop(m, n, first_full, end_full);
}

static void set_size(struct mem *m, struct mnode *n, uint64_t size)
{
	if (size < n->size) {
		range_zero(m, n, size, (size + PAGE - 1) / PAGE * PAGE);
		pages_drop(m, n, (size + PAGE - 1) / PAGE, UINT64_MAX);
	}
	n->size = size;
}

/* ---- operations: descriptors ----------------------------------------------- */

static int mem_open_tmpfile(struct mem *m, int dirfd, const char *name, int flags,
			    mode_t mode)
{
	struct mnode *dir, *n;
	int r, fd;

	if ((flags & O_ACCMODE) == O_RDONLY)
		return -EINVAL;
	r = at_node(m, dirfd, name, 1, &dir);
	if (r < 0)
		return r;
	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (is_removed(dir))
		return -ENOENT;
	n = node_new(m, S_IFREG | (mode & 07777), dir);
	if (!n)
		return -ENOMEM;
	n->unnamed = 1;
	fd = file_add(m, n, flags & ~O_TMPFILE);
	if (fd < 0)
		node_maybe_free(m, n);
	return fd;
}

static int mem_open_locked(struct mem *m, int dirfd, const char *name, int flags, mode_t mode)
{
	struct where w;
	struct mnode *n;
	int r, fd, acc = flags & O_ACCMODE;

	if ((flags & O_TMPFILE) == O_TMPFILE)
		return mem_open_tmpfile(m, dirfd, name, flags, mode);
	r = at(m, dirfd, name, !(flags & O_NOFOLLOW) && !((flags & O_CREAT) && (flags & O_EXCL)),
	       &w);
	if (r < 0)
		return r;
	n = w.node;
	if (flags & O_PATH) {
		if (!n)
			return -ENOENT;
		if ((flags & O_DIRECTORY) && !S_ISDIR(n->mode))
			return -ENOTDIR;
		return file_add(m, n, flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	}
	if (!n) {
		if (!(flags & O_CREAT))
			return -ENOENT;
		if (is_removed(w.dir))
			return -ENOENT;
		r = node_make(m, w.dir, w.last, S_IFREG | (mode & 07777), &n);
		if (r < 0)
			return r;
	} else if ((flags & O_CREAT) && (flags & O_EXCL)) {
		return -EEXIST;
	} else if (S_ISLNK(n->mode)) {
		return -ELOOP;
	} else if ((flags & O_DIRECTORY) && !S_ISDIR(n->mode)) {
		return -ENOTDIR;
	} else if (S_ISDIR(n->mode) && (acc != O_RDONLY || (flags & O_CREAT))) {
		return -EISDIR;
	}
	fd = file_add(m, n, flags);
	if (fd >= 0 && (flags & O_TRUNC) && S_ISREG(n->mode) && acc != O_RDONLY) {
		set_size(m, n, 0);
		touch_modify(n);
	}
	return fd;
}

static int mem_openat(struct backend *be, int dirfd, const char *name, int flags, mode_t mode)
{
	struct mem *m = mem_of(be);
	int r;

	pthread_mutex_lock(&m->mu);
	r = mem_open_locked(m, dirfd, name, flags, mode);
	pthread_mutex_unlock(&m->mu);
	return r;
}

static int mem_close(struct backend *be, int fd)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	struct mnode *n;

	pthread_mutex_lock(&m->mu);
	f = file_get(m, fd);
	if (!f) {
		pthread_mutex_unlock(&m->mu);
		return -EBADF;
	}
	m->fds[fd - FD_BASE] = NULL;
	n = f->node;
	lock_drop(f);
	free(f);
	n->opens--;
	node_maybe_free(m, n);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

/* A new name newname in newdirfd for node n (linkat and linkfd). */
static int link_node(struct mem *m, struct mnode *n, int newdirfd, const char *newname)
{
	struct where w;
	int r;

	if (S_ISDIR(n->mode))
		return -EPERM;
	r = at_new(m, newdirfd, newname, &w);
	if (r < 0)
		return r;
	if (n->dev != w.dir->dev)
		return -EXDEV;
	if (n->nlink == 0 && !n->unnamed)
		return -ENOENT;
	r = link_in(w.dir, w.last, n);
	if (r == 0)
		n->unnamed = 0;
	return r;
}

static int mem_linkfd(struct backend *be, int fd, int newdirfd, const char *newname)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	int r = -EBADF;

	pthread_mutex_lock(&m->mu);
	f = file_get(m, fd);
	if (f)
		r = link_node(m, f->node, newdirfd, newname);
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* ---- operations: metadata -------------------------------------------------- */

static void fill_stat(const struct mnode *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = n->dev;
	st->st_ino = n->ino;
	st->st_mode = n->mode;
	st->st_nlink = n->nlink;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_rdev = n->rdev;
	st->st_blksize = PAGE;
	if (S_ISREG(n->mode)) {
		st->st_size = (off_t)n->size;
		st->st_blocks = (blkcnt_t)n->npages * (PAGE / 512);
	} else if (S_ISDIR(n->mode)) {
		st->st_size = PAGE;
		st->st_blocks = PAGE / 512;
	} else if (S_ISLNK(n->mode)) {
		st->st_size = (off_t)strlen(n->target);
	}
	st->st_atim = n->atime;
	st->st_mtim = n->mtime;
	st->st_ctim = n->ctime;
}

static int op_stat(struct mem *m, struct mnode *n, void *arg)
{
	fill_stat(n, arg);
	return 0;
}

static int mem_fstatat(struct backend *be, int dirfd, const char *name, struct stat *st,
		       int flags)
{
	return on_path(be, dirfd, name, !(flags & AT_SYMLINK_NOFOLLOW), op_stat, st);
}

static int mem_fstat(struct backend *be, int fd, struct stat *st)
{
	return on_fd(be, fd, 1, op_stat, st);
}

static int op_statvfs(struct mem *m, struct mnode *n, void *arg)
{
	struct statvfs *sv = arg;

	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = sv->f_frsize = PAGE;
	sv->f_blocks = FS_BLOCKS;
	sv->f_bfree = sv->f_bavail = m->pages_held < FS_BLOCKS ? FS_BLOCKS - m->pages_held : 0;
	sv->f_files = FS_FILES;
	sv->f_ffree = sv->f_favail = m->nnodes < FS_FILES ? FS_FILES - m->nnodes : 0;
	sv->f_fsid = DEFAULT_DEV;
	sv->f_namemax = NAME_MAX;
	return 0;
}

static int mem_fstatvfs(struct backend *be, int fd, struct statvfs *sv)
{
	return on_fd(be, fd, 1, op_statvfs, sv);
}

/* Memory is as local as it gets. */
static int mem_fs_local(struct backend *be, int fd)
{
	return 1;
}

/* ---- operations: data ------------------------------------------------------- */

static ssize_t mem_pread(struct backend *be, int fd, void *buf, size_t len, off_t off)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	struct mnode *n;
	uint64_t end;
	ssize_t r;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	r = file_io(m, fd, &f);
	if (r == 0 && !can_read(f))
		r = -EBADF;
	if (r == 0 && S_ISDIR(f->node->mode))
		r = -EISDIR;
	if (r == 0 && !S_ISREG(f->node->mode))
		r = -EINVAL;
	if (r < 0)
		goto out;
	n = f->node;
	end = (uint64_t)off >= n->size ? (uint64_t)off :
	      len < n->size - (uint64_t)off ? (uint64_t)off + len : n->size;
	for (uint64_t pos = (uint64_t)off; pos < end;) {
		uint64_t idx = pos / PAGE, o = pos % PAGE;
		size_t k = PAGE - o < end - pos ? PAGE - o : end - pos;
		const uint8_t *p = page_find(n, idx);

		if (p)
			memcpy((char *)buf + (pos - (uint64_t)off), p + o, k);
		else
			memset((char *)buf + (pos - (uint64_t)off), 0, k);
		pos += k;
	}
	r = (ssize_t)(end - (uint64_t)off);
out:
	pthread_mutex_unlock(&m->mu);
	return r;
}

static ssize_t mem_pwrite(struct backend *be, int fd, const void *buf, size_t len, off_t off)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	struct mnode *n;
	ssize_t r;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	r = file_for_change(m, fd, -EBADF, off, len, &f);
	if (r < 0 || len == 0)
		goto out;
	n = f->node;
	for (uint64_t pos = (uint64_t)off; pos < (uint64_t)off + len;) {
		uint64_t idx = pos / PAGE, o = pos % PAGE;
		size_t k = PAGE - o < (uint64_t)off + len - pos ? PAGE - o
							       : (uint64_t)off + len - pos;
		uint8_t *p = page_get(m, n, idx);

		if (!p) {
			/* What was written so far stays written, as a short
			 * write of a full disk. */
			r = pos > (uint64_t)off ? (ssize_t)(pos - (uint64_t)off) : -ENOSPC;
			if (pos > n->size)
				n->size = pos;
			goto out;
		}
		memcpy(p + o, (const char *)buf + (pos - (uint64_t)off), k);
		pos += k;
	}
	if ((uint64_t)off + len > n->size)
		n->size = (uint64_t)off + len;
	touch_modify(n);
	r = (ssize_t)len;
out:
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* Everything is as durable as it will ever be: fsync, syncfs and fadvise
 * only check their descriptor. */
static int mem_fsync(struct backend *be, int fd, int datasync)
{
	return on_fd(be, fd, 0, NULL, NULL);
}

static int mem_syncfs(struct backend *be, int fd)
{
	return on_fd(be, fd, 0, NULL, NULL);
}

static int mem_fadvise(struct backend *be, int fd, off_t off, off_t len, int advice)
{
	return on_fd(be, fd, 0, NULL, NULL);
}

static int mem_ftruncate(struct backend *be, int fd, off_t len)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	int r;

	if (len < 0)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	r = file_for_change(m, fd, -EINVAL, 0, (uint64_t)len, &f);
	if (r == 0) {
		set_size(m, f->node, (uint64_t)len);
		touch_modify(f->node);
	}
	pthread_mutex_unlock(&m->mu);
	return r;
}

static int mem_fallocate(struct backend *be, int fd, int mode, off_t off, off_t len)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	struct mnode *n;
	int r;

	if (off < 0 || len <= 0)
		return -EINVAL;
	if (past_max(off, (uint64_t)len))
		return -EFBIG;
	if (mode != 0 && mode != FALLOC_FL_KEEP_SIZE &&
	    mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	pthread_mutex_lock(&m->mu);
	r = file_io(m, fd, &f);
	if (r == 0 && !can_write(f))
		r = -EBADF;
	if (r == 0 && !S_ISREG(f->node->mode))
		r = S_ISDIR(f->node->mode) ? -EISDIR : -ENODEV;
	if (r < 0)
		goto out;
	n = f->node;
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		uint64_t end = (uint64_t)off + (uint64_t)len;

		range_zero(m, n, (uint64_t)off, end < n->size ? end : n->size);
		/* Pages past the size can exist after a KEEP_SIZE allocation. */
		if (end > n->size)
			pages_drop(m, n, (n->size + PAGE - 1) / PAGE, end / PAGE);
		touch_modify(n);
		goto out;
	}
	for (uint64_t idx = (uint64_t)off / PAGE; idx * PAGE < (uint64_t)(off + len); idx++) {
		if (!page_get(m, n, idx)) {
			r = -ENOSPC;
			goto out;
		}
	}
	if (mode == 0 && (uint64_t)(off + len) > n->size) {
		n->size = (uint64_t)(off + len);
		touch_modify(n);
	}
out:
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* One process, so no other open file description of another daemon can
 * hold a lock: nothing ever conflicts (on a valid descriptor). */
static int mem_ofdtest(struct backend *be, int fd, int type, off_t start, off_t len)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	int r;

	pthread_mutex_lock(&m->mu);
	r = file_io(m, fd, &f);
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
	r = file_io(m, fd, &f);
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

/* ---- operations: names -------------------------------------------------------- */

/* Make a node of type and mode as name in dirfd. */
static int make_at(struct mem *m, int dirfd, const char *name, mode_t mode,
		   struct mnode **out)
{
	struct where w;
	int r = at_new(m, dirfd, name, &w);

	return r < 0 ? r : node_make(m, w.dir, w.last, mode, out);
}

/* No record locks: a store on this backend uses flock, as on Linux. */
static int mem_setlk(struct backend *be, int fd, int type, off_t start, off_t len, int wait)
{
	return -ENOSYS;
}

static int mem_mkdirat(struct backend *be, int dirfd, const char *name, mode_t mode)
{
	struct mem *m = mem_of(be);
	struct mnode *n;
	int r;

	pthread_mutex_lock(&m->mu);
	r = make_at(m, dirfd, name, S_IFDIR | (mode & 07777), &n);
	pthread_mutex_unlock(&m->mu);
	return r;
}

static int mem_mknodat(struct backend *be, int dirfd, const char *name, mode_t mode,
		       dev_t rdev)
{
	struct mem *m = mem_of(be);
	mode_t type = mode & S_IFMT;
	struct mnode *n;
	int r;

	if (type == 0)
		type = S_IFREG;
	if (type == S_IFDIR)
		return -EPERM;
	if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR &&
	    type != S_IFBLK)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	r = make_at(m, dirfd, name, type | (mode & 07777), &n);
	if (r == 0 && (type == S_IFCHR || type == S_IFBLK))
		n->rdev = rdev;
	pthread_mutex_unlock(&m->mu);
	return r;
}

static int mem_symlinkat(struct backend *be, const char *target, int dirfd, const char *name)
{
	struct mem *m = mem_of(be);
	struct mnode *n;
	char *copy;
	int r;

	if (!target[0])
		return -ENOENT;
	if (strlen(target) >= PATH_MAX)
		return -ENAMETOOLONG;
	copy = strdup(target);
	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&m->mu);
	r = make_at(m, dirfd, name, S_IFLNK | 0777, &n);
	if (r == 0)
		n->target = copy;
	else
		free(copy);
	pthread_mutex_unlock(&m->mu);
	return r;
}

struct link_buf {
	char *buf;
	size_t size;
};

static int op_readlink(struct mem *m, struct mnode *n, void *arg)
{
	struct link_buf *b = arg;
	size_t len;

	if (!S_ISLNK(n->mode))
		return -EINVAL;
	len = strlen(n->target) < b->size ? strlen(n->target) : b->size;
	memcpy(b->buf, n->target, len);
	return (int)len;
}

static ssize_t mem_readlinkat(struct backend *be, int dirfd, const char *name, char *buf,
			      size_t size)
{
	struct link_buf b = { buf, size };

	if (size == 0)
		return -EINVAL;
	return on_path(be, dirfd, name, 0, op_readlink, &b);
}

static int mem_linkat(struct backend *be, int olddirfd, const char *oldname, int newdirfd,
		      const char *newname, int flags)
{
	struct mem *m = mem_of(be);
	struct mnode *n;
	int r;

	if (flags & ~AT_SYMLINK_FOLLOW)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	r = at_node(m, olddirfd, oldname, (flags & AT_SYMLINK_FOLLOW) != 0, &n);
	if (r == 0)
		r = link_node(m, n, newdirfd, newname);
	pthread_mutex_unlock(&m->mu);
	return r;
}

static int mem_unlink_locked(struct mem *m, int dirfd, const char *name, int flags)
{
	int rmdir = (flags & AT_REMOVEDIR) != 0;
	struct where w;
	struct mnode *n;
	long i;
	int r;

	if (flags & ~AT_REMOVEDIR)
		return -EINVAL;
	r = at(m, dirfd, name, 0, &w);
	if (r < 0)
		return r;
	if (!strcmp(w.last, ".") || !strcmp(w.last, ".."))
		return !rmdir ? -EISDIR : !strcmp(w.last, ".") ? -EINVAL : -ENOTEMPTY;
	n = w.node;
	if (!n)
		return -ENOENT;
	if (rmdir && !S_ISDIR(n->mode))
		return -ENOTDIR;
	if (!rmdir && S_ISDIR(n->mode))
		return -EISDIR;
	if (n == m->root)
		return -EBUSY;
	if (rmdir && n->nents > 0)
		return -ENOTEMPTY;
	i = ent_find(w.dir, w.last);
	unlink_in(w.dir, (size_t)i);
	node_maybe_free(m, n);
	return 0;
}

static int mem_unlinkat(struct backend *be, int dirfd, const char *name, int flags)
{
	struct mem *m = mem_of(be);
	int r;

	pthread_mutex_lock(&m->mu);
	r = mem_unlink_locked(m, dirfd, name, flags);
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* A directory moving from odir to ndir: its ".." and both link counts. */
static void dir_moved(struct mnode *n, struct mnode *odir, struct mnode *ndir)
{
	if (!S_ISDIR(n->mode) || odir == ndir)
		return;
	odir->nlink--;
	ndir->nlink++;
	n->parent = ndir;
}

static int exchange(struct where *o, struct where *t)
{
	struct mnode *a = o->node, *b = t->node;
	long ia = ent_find(o->dir, o->last), ib = ent_find(t->dir, t->last);

	if (a == b)
		return 0;
	if ((S_ISDIR(a->mode) && is_within(t->dir, a)) ||
	    (S_ISDIR(b->mode) && is_within(o->dir, b)))
		return -EINVAL;
	o->dir->ents[ia].node = b;
	t->dir->ents[ib].node = a;
	dir_moved(a, o->dir, t->dir);
	dir_moved(b, t->dir, o->dir);
	touch_change(a);
	touch_change(b);
	touch_modify(o->dir);
	touch_modify(t->dir);
	return 0;
}

static int mem_rename_locked(struct mem *m, int olddirfd, const char *oldname, int newdirfd,
			     const char *newname, unsigned flags)
{
	struct where o, t;
	struct mnode *a, *b;
	long i;
	int r;

	if ((flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
	    ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)))
		return -EINVAL;
	r = at(m, olddirfd, oldname, 0, &o);
	if (r == 0)
		r = at(m, newdirfd, newname, 0, &t);
	if (r < 0)
		return r;
	if (!strcmp(o.last, ".") || !strcmp(o.last, "..") || !strcmp(t.last, ".") ||
	    !strcmp(t.last, ".."))
		return -EBUSY;
	a = o.node;
	b = t.node;
	if (!a)
		return -ENOENT;
	if (is_removed(t.dir))
		return -ENOENT;
	if (a->dev != t.dir->dev || (b && b->dev != o.dir->dev))
		return -EXDEV;
	if (flags & RENAME_EXCHANGE)
		return b ? exchange(&o, &t) : -ENOENT;
	if (b && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (a == b)
		return 0; /* two names of one file: nothing to do */
	if (b && S_ISDIR(a->mode) && !S_ISDIR(b->mode))
		return -ENOTDIR;
	if (b && !S_ISDIR(a->mode) && S_ISDIR(b->mode))
		return -EISDIR;
	if (b && S_ISDIR(b->mode) && b->nents > 0)
		return -ENOTEMPTY;
	if (S_ISDIR(a->mode) && is_within(t.dir, a))
		return -EINVAL;
	/* The new entry comes first, so nothing is lost if memory runs out. */
	if (b) {
		i = ent_find(t.dir, t.last);
		t.dir->ents[i].node = a;
		touch_modify(t.dir);
		if (S_ISDIR(b->mode)) {
			b->nlink = 0;
			b->parent = NULL;
			t.dir->nlink--;
		} else {
			b->nlink--;
		}
		touch_change(b);
	} else {
		r = ent_add(t.dir, t.last, a);
		if (r < 0)
			return r;
	}
	ent_del(o.dir, (size_t)ent_find(o.dir, o.last));
	dir_moved(a, o.dir, t.dir);
	touch_change(a);
	node_maybe_free(m, b);
	return 0;
}

static int mem_renameat2(struct backend *be, int olddirfd, const char *oldname, int newdirfd,
			 const char *newname, unsigned flags)
{
	struct mem *m = mem_of(be);
	int r;

	pthread_mutex_lock(&m->mu);
	r = mem_rename_locked(m, olddirfd, oldname, newdirfd, newname, flags);
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* ---- operations: attributes ------------------------------------------------ */

static void set_mode(struct mnode *n, mode_t mode)
{
	n->mode = (n->mode & S_IFMT) | (mode & 07777);
	touch_change(n);
}

/* chown(2) on n: -1 leaves an id; a non-directory loses setuid, and setgid
 * if it is group-executable (otherwise that bit marks mandatory locking). */
static void set_owner(struct mnode *n, uid_t uid, gid_t gid)
{
	if (uid != (uid_t)-1)
		n->uid = uid;
	if (gid != (gid_t)-1)
		n->gid = gid;
	if (!S_ISDIR(n->mode)) {
		n->mode &= ~(mode_t)S_ISUID;
		if (n->mode & S_IXGRP)
			n->mode &= ~(mode_t)S_ISGID;
	}
	touch_change(n);
}

static void set_time(struct timespec *t, const struct timespec *want, struct timespec when)
{
	if (!want || want->tv_nsec == UTIME_NOW)
		*t = when;
	else if (want->tv_nsec != UTIME_OMIT)
		*t = *want;
}

static int set_times(struct mnode *n, const struct timespec tv[2])
{
	struct timespec t = now();

	if (tv && ((tv[0].tv_nsec != UTIME_NOW && tv[0].tv_nsec != UTIME_OMIT &&
		    (tv[0].tv_nsec < 0 || tv[0].tv_nsec >= 1000000000L)) ||
		   (tv[1].tv_nsec != UTIME_NOW && tv[1].tv_nsec != UTIME_OMIT &&
		    (tv[1].tv_nsec < 0 || tv[1].tv_nsec >= 1000000000L))))
		return -EINVAL;
	if (tv && tv[0].tv_nsec == UTIME_OMIT && tv[1].tv_nsec == UTIME_OMIT)
		return 0;
	set_time(&n->atime, tv ? &tv[0] : NULL, t);
	set_time(&n->mtime, tv ? &tv[1] : NULL, t);
	n->ctime = t;
	return 0;
}

static int op_chmod(struct mem *m, struct mnode *n, void *arg)
{
	set_mode(n, *(const mode_t *)arg);
	return 0;
}

static int mem_fchmodat(struct backend *be, int dirfd, const char *name, mode_t mode,
			int flags)
{
	if (flags & AT_SYMLINK_NOFOLLOW)
		return -EOPNOTSUPP;
	return on_path(be, dirfd, name, 1, op_chmod, &mode);
}

static int mem_fchmod(struct backend *be, int fd, mode_t mode)
{
	return on_fd(be, fd, 0, op_chmod, &mode);
}

struct owner {
	uid_t uid;
	gid_t gid;
};

static int op_chown(struct mem *m, struct mnode *n, void *arg)
{
	const struct owner *o = arg;

	set_owner(n, o->uid, o->gid);
	return 0;
}

static int mem_fchownat(struct backend *be, int dirfd, const char *name, uid_t uid, gid_t gid,
			int flags)
{
	struct owner o = { uid, gid };

	return on_path(be, dirfd, name, !(flags & AT_SYMLINK_NOFOLLOW), op_chown, &o);
}

static int mem_fchown(struct backend *be, int fd, uid_t uid, gid_t gid)
{
	struct owner o = { uid, gid };

	return on_fd(be, fd, 0, op_chown, &o);
}

/* arg is the const struct timespec[2] of utimensat, or NULL. */
static int op_times(struct mem *m, struct mnode *n, void *arg)
{
	return set_times(n, arg);
}

static int mem_utimensat(struct backend *be, int dirfd, const char *name,
			 const struct timespec tv[2], int flags)
{
	return on_path(be, dirfd, name, !(flags & AT_SYMLINK_NOFOLLOW), op_times, (void *)tv);
}

static int mem_futimens(struct backend *be, int fd, const struct timespec tv[2])
{
	return on_fd(be, fd, 0, op_times, (void *)tv);
}

/* ---- operations: extended attributes ------------------------------------------ */

static int xattr_name_ok(const char *xname)
{
	size_t len = strlen(xname);

	if (len == 0 || len > XATTR_NAME_MAX)
		return -ERANGE;
	if (strncmp(xname, "user.", 5) && strncmp(xname, "trusted.", 8) &&
	    strncmp(xname, "security.", 9) && strncmp(xname, "system.", 7))
		return -EOPNOTSUPP;
	return 0;
}

static long xattr_find(const struct mnode *n, const char *xname)
{
	for (size_t i = 0; i < n->nxattrs; i++)
		if (!strcmp(n->xattrs[i].name, xname))
			return (long)i;
	return -1;
}

static ssize_t xattr_get(const struct mnode *n, const char *xname, void *value, size_t size)
{
	long i;
	int r = xattr_name_ok(xname);

	if (r < 0)
		return r;
	i = xattr_find(n, xname);
	if (i < 0)
		return -ENODATA;
	if (size == 0)
		return (ssize_t)n->xattrs[i].size;
	if (size < n->xattrs[i].size)
		return -ERANGE;
	memcpy(value, n->xattrs[i].value, n->xattrs[i].size);
	return (ssize_t)n->xattrs[i].size;
}

static int xattr_set(struct mnode *n, const char *xname, const void *value, size_t size,
		     int flags)
{
	long i;
	void *copy;
	int r = xattr_name_ok(xname);

	if (r < 0)
		return r;
	if (size > XATTR_VALUE_MAX)
		return -E2BIG;
	/* As on Linux, user attributes belong to files and directories. */
	if (!strncmp(xname, "user.", 5) && !S_ISREG(n->mode) && !S_ISDIR(n->mode))
		return -EPERM;
	i = xattr_find(n, xname);
	if (i >= 0 && (flags & XATTR_CREATE))
		return -EEXIST;
	if (i < 0 && (flags & XATTR_REPLACE))
		return -ENODATA;
	copy = malloc(size ? size : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, value, size);
	if (i < 0) {
		struct mxattr *nx = realloc(n->xattrs, (n->nxattrs + 1) * sizeof(*nx));
		char *name = strdup(xname);

		if (nx)
			n->xattrs = nx;
		if (!nx || !name) {
			free(name);
			free(copy);
			return -ENOMEM;
		}
		i = (long)n->nxattrs++;
		n->xattrs[i].name = name;
	} else {
		free(n->xattrs[i].value);
	}
	n->xattrs[i].value = copy;
	n->xattrs[i].size = size;
	touch_change(n);
	return 0;
}

/* One get or set of an extended attribute. */
struct xattr_req {
	const char *xname;
	void *out;          /* get */
	const void *in;     /* set */
	size_t size;
	int flags;
};

static int op_getxattr(struct mem *m, struct mnode *n, void *arg)
{
	const struct xattr_req *q = arg;

	return (int)xattr_get(n, q->xname, q->out, q->size);
}

static int op_setxattr(struct mem *m, struct mnode *n, void *arg)
{
	const struct xattr_req *q = arg;

	return xattr_set(n, q->xname, q->in, q->size, q->flags);
}

static ssize_t mem_fgetxattr(struct backend *be, int fd, const char *xname, void *value,
			     size_t size)
{
	struct xattr_req q = { .xname = xname, .out = value, .size = size };

	return on_fd(be, fd, 0, op_getxattr, &q);
}

static int mem_fsetxattr(struct backend *be, int fd, const char *xname, const void *value,
			 size_t size, int flags)
{
	struct xattr_req q = { .xname = xname, .in = value, .size = size, .flags = flags };

	return on_fd(be, fd, 0, op_setxattr, &q);
}

static ssize_t mem_getxattrat(struct backend *be, int dirfd, const char *name,
			      const char *xname, void *value, size_t size)
{
	struct xattr_req q = { .xname = xname, .out = value, .size = size };

	return on_path(be, dirfd, name, 0, op_getxattr, &q);
}

static int mem_setxattrat(struct backend *be, int dirfd, const char *name, const char *xname,
			  const void *value, size_t size, int flags)
{
	struct xattr_req q = { .xname = xname, .in = value, .size = size, .flags = flags };

	return on_path(be, dirfd, name, 0, op_setxattr, &q);
}

/* ---- operations: directory streams ---------------------------------------------- */

static int mem_fdopendir(struct backend *be, int fd, struct backend_dir **out)
{
	struct mem *m = mem_of(be);
	struct mdir *d;
	struct mfile *f;
	int r;

	pthread_mutex_lock(&m->mu);
	r = file_io(m, fd, &f);
	if (r == 0 && !S_ISDIR(f->node->mode))
		r = -ENOTDIR;
	pthread_mutex_unlock(&m->mu);
	if (r < 0)
		return r;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = fd;
	*out = (struct backend_dir *)d;
	return 0;
}

static unsigned char dtype(mode_t mode)
{
	return (unsigned char)IFTODT(mode);
}

static int mem_readdir(struct backend *be, struct backend_dir *bd, struct dirent **e)
{
	struct mem *m = mem_of(be);
	struct mdir *d = (struct mdir *)bd;
	struct mfile *f;
	struct mnode *dir, *n = NULL;
	const char *name = NULL;
	int r = 0;

	pthread_mutex_lock(&m->mu);
	f = file_get(m, d->fd);
	if (!f) {
		r = -EBADF;
		goto out;
	}
	dir = f->node;
	if (d->pos == 0) {
		name = ".";
		n = dir;
		d->pos = 1;
	} else if (d->pos == 1) {
		name = "..";
		n = dir->parent ? dir->parent : dir;
		d->pos = 2;
	} else {
		for (size_t i = 0; i < dir->nents; i++) {
			if (dir->ents[i].seq >= d->pos) {
				name = dir->ents[i].name;
				n = dir->ents[i].node;
				d->pos = dir->ents[i].seq + 1;
				break;
			}
		}
	}
	if (name) {
		d->de.d_ino = n->ino;
		d->de.d_off = d->pos;
		d->de.d_reclen = sizeof(d->de);
		d->de.d_type = dtype(n->mode);
		strcpy(d->de.d_name, name);
		*e = &d->de;
		r = 1;
	}
out:
	pthread_mutex_unlock(&m->mu);
	return r;
}

static void mem_rewinddir(struct backend *be, struct backend_dir *d)
{
	((struct mdir *)d)->pos = 0;
}

static void mem_seekdir(struct backend *be, struct backend_dir *d, long pos)
{
	((struct mdir *)d)->pos = pos < 0 ? 0 : pos;
}

static long mem_telldir(struct backend *be, struct backend_dir *d)
{
	return ((struct mdir *)d)->pos;
}

static int mem_dirfd(struct backend *be, struct backend_dir *d)
{
	return ((struct mdir *)d)->fd;
}

static void mem_closedir(struct backend *be, struct backend_dir *d)
{
	mem_close(be, ((struct mdir *)d)->fd);
	free(d);
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
	r = at(m, AT_FDCWD, path, 1, &w);
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
		node_free_data(m, n);
		free(n);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static const struct backend_ops mem_ops = {
	.name = "memory",
	.openat = mem_openat,
	.close = mem_close,
	.linkfd = mem_linkfd,
	.fstatat = mem_fstatat,
	.fstat = mem_fstat,
	.fstatvfs = mem_fstatvfs,
	.fs_local = mem_fs_local,
	.pread = mem_pread,
	.pwrite = mem_pwrite,
	.fsync = mem_fsync,
	.syncfs = mem_syncfs,
	.ftruncate = mem_ftruncate,
	.fallocate = mem_fallocate,
	.fadvise = mem_fadvise,
	.flock = mem_flock,
	.setlk = mem_setlk,
	.ofdtest = mem_ofdtest,
	.mkdirat = mem_mkdirat,
	.mknodat = mem_mknodat,
	.symlinkat = mem_symlinkat,
	.readlinkat = mem_readlinkat,
	.linkat = mem_linkat,
	.unlinkat = mem_unlinkat,
	.renameat2 = mem_renameat2,
	.fchmodat = mem_fchmodat,
	.fchmod = mem_fchmod,
	.fchownat = mem_fchownat,
	.fchown = mem_fchown,
	.utimensat = mem_utimensat,
	.futimens = mem_futimens,
	.fgetxattr = mem_fgetxattr,
	.fsetxattr = mem_fsetxattr,
	.getxattrat = mem_getxattrat,
	.setxattrat = mem_setxattrat,
	.fdopendir = mem_fdopendir,
	.readdir = mem_readdir,
	.rewinddir = mem_rewinddir,
	.seekdir = mem_seekdir,
	.telldir = mem_telldir,
	.dirfd = mem_dirfd,
	.closedir = mem_closedir,
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
	m->root = node_new(m, S_IFDIR | 0755, NULL);
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
	r = at_node(m, AT_FDCWD, path, 1, &n);
	if (r == 0 && !S_ISDIR(n->mode))
		r = -ENOTDIR;
	if (r == 0 && n->nents > 0)
		r = -ENOTEMPTY;
	if (r == 0)
		n->dev = dev;
	pthread_mutex_unlock(&m->mu);
	return r;
}
