/* backend_mem_ns.c - the namespace of the memory backend: opening and
 * creating by name, links, removal and rename (with its flags), and the
 * directory streams that list the names. */
#include "backend_mem_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A directory stream.  Positions: 0 ".", 1 "..", then an entry's seq. */
struct mdir {
	int fd;
	long pos;
	struct dirent de;
};

/* ---- operations: open and linkfd -------------------------------------------- */

static int mem_open_tmpfile(struct mem *m, int dirfd, const char *name, int flags,
			    mode_t mode)
{
	struct mnode *dir, *n;
	int r, fd;

	if ((flags & O_ACCMODE) == O_RDONLY)
		return -EINVAL;
	r = mem_at_node(m, dirfd, name, 1, &dir);
	if (r < 0)
		return r;
	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (mem_node_is_removed(dir))
		return -ENOENT;
	n = mem_node_new(m, S_IFREG | (mode & 07777), dir);
	if (!n)
		return -ENOMEM;
	n->unnamed = 1;
	fd = mem_file_add(m, n, flags & ~O_TMPFILE);
	if (fd < 0)
		mem_node_maybe_free(m, n);
	return fd;
}

static int mem_open_locked(struct mem *m, int dirfd, const char *name, int flags, mode_t mode)
{
	struct where w;
	struct mnode *n;
	int r, fd, acc = flags & O_ACCMODE;

	if ((flags & O_TMPFILE) == O_TMPFILE)
		return mem_open_tmpfile(m, dirfd, name, flags, mode);
	r = mem_at(m, dirfd, name,
		   !(flags & O_NOFOLLOW) && !((flags & O_CREAT) && (flags & O_EXCL)), &w);
	if (r < 0)
		return r;
	n = w.node;
	if (flags & O_PATH) {
		if (!n)
			return -ENOENT;
		if ((flags & O_DIRECTORY) && !S_ISDIR(n->mode))
			return -ENOTDIR;
		return mem_file_add(m, n, flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	}
	if (!n) {
		if (!(flags & O_CREAT))
			return -ENOENT;
		if (mem_node_is_removed(w.dir))
			return -ENOENT;
		r = mem_node_make(m, w.dir, w.last, S_IFREG | (mode & 07777), &n);
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
	fd = mem_file_add(m, n, flags);
	if (fd >= 0 && (flags & O_TRUNC) && S_ISREG(n->mode) && acc != O_RDONLY) {
		mem_data_set_size(m, n, 0);
		mem_node_touch_modify(n);
	}
	return fd;
}

int mem_ns_openat(struct backend *be, int dirfd, const char *name, int flags, mode_t mode)
{
	struct mem *m = mem_of(be);
	int r;

	pthread_mutex_lock(&m->mu);
	r = mem_open_locked(m, dirfd, name, flags, mode);
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* A new name newname in newdirfd for node n (linkat and linkfd). */
static int link_node(struct mem *m, struct mnode *n, int newdirfd, const char *newname)
{
	struct where w;
	int r;

	if (S_ISDIR(n->mode))
		return -EPERM;
	r = mem_at_new(m, newdirfd, newname, &w);
	if (r < 0)
		return r;
	if (n->dev != w.dir->dev)
		return -EXDEV;
	if (n->nlink == 0 && !n->unnamed)
		return -ENOENT;
	r = mem_node_link_in(w.dir, w.last, n);
	if (r == 0)
		n->unnamed = 0;
	return r;
}

int mem_ns_linkfd(struct backend *be, int fd, int newdirfd, const char *newname)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	int r = -EBADF;

	pthread_mutex_lock(&m->mu);
	f = mem_file_get(m, fd);
	if (f)
		r = link_node(m, f->node, newdirfd, newname);
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* ---- operations: names -------------------------------------------------------- */

/* Make a node of type and mode as name in dirfd. */
static int make_at(struct mem *m, int dirfd, const char *name, mode_t mode,
		   struct mnode **out)
{
	struct where w;
	int r = mem_at_new(m, dirfd, name, &w);

	return r < 0 ? r : mem_node_make(m, w.dir, w.last, mode, out);
}

int mem_ns_mkdirat(struct backend *be, int dirfd, const char *name, mode_t mode)
{
	struct mem *m = mem_of(be);
	struct mnode *n;
	int r;

	pthread_mutex_lock(&m->mu);
	r = make_at(m, dirfd, name, S_IFDIR | (mode & 07777), &n);
	pthread_mutex_unlock(&m->mu);
	return r;
}

int mem_ns_mknodat(struct backend *be, int dirfd, const char *name, mode_t mode, dev_t rdev)
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

int mem_ns_symlinkat(struct backend *be, const char *target, int dirfd, const char *name)
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

ssize_t mem_ns_readlinkat(struct backend *be, int dirfd, const char *name, char *buf, size_t size)
{
	struct link_buf b = { buf, size };

	if (size == 0)
		return -EINVAL;
	return mem_on_path(be, dirfd, name, 0, op_readlink, &b);
}

int mem_ns_linkat(struct backend *be, int olddirfd, const char *oldname, int newdirfd,
		  const char *newname, int flags)
{
	struct mem *m = mem_of(be);
	struct mnode *n;
	int r;

	if (flags & ~AT_SYMLINK_FOLLOW)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	r = mem_at_node(m, olddirfd, oldname, (flags & AT_SYMLINK_FOLLOW) != 0, &n);
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
	r = mem_at(m, dirfd, name, 0, &w);
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
	i = mem_node_ent_find(w.dir, w.last);
	mem_node_unlink_in(w.dir, (size_t)i);
	mem_node_maybe_free(m, n);
	return 0;
}

int mem_ns_unlinkat(struct backend *be, int dirfd, const char *name, int flags)
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
	long ia = mem_node_ent_find(o->dir, o->last), ib = mem_node_ent_find(t->dir, t->last);

	if (a == b)
		return 0;
	if ((S_ISDIR(a->mode) && mem_node_is_within(t->dir, a)) ||
	    (S_ISDIR(b->mode) && mem_node_is_within(o->dir, b)))
		return -EINVAL;
	o->dir->ents[ia].node = b;
	t->dir->ents[ib].node = a;
	dir_moved(a, o->dir, t->dir);
	dir_moved(b, t->dir, o->dir);
	mem_node_touch_change(a);
	mem_node_touch_change(b);
	mem_node_touch_modify(o->dir);
	mem_node_touch_modify(t->dir);
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
	r = mem_at(m, olddirfd, oldname, 0, &o);
	if (r == 0)
		r = mem_at(m, newdirfd, newname, 0, &t);
	if (r < 0)
		return r;
	if (!strcmp(o.last, ".") || !strcmp(o.last, "..") || !strcmp(t.last, ".") ||
	    !strcmp(t.last, ".."))
		return -EBUSY;
	a = o.node;
	b = t.node;
	if (!a)
		return -ENOENT;
	if (mem_node_is_removed(t.dir))
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
	if (S_ISDIR(a->mode) && mem_node_is_within(t.dir, a))
		return -EINVAL;
	/* The new entry comes first, so nothing is lost if memory runs out. */
	if (b) {
		i = mem_node_ent_find(t.dir, t.last);
		t.dir->ents[i].node = a;
		mem_node_touch_modify(t.dir);
		if (S_ISDIR(b->mode)) {
			b->nlink = 0;
			b->parent = NULL;
			t.dir->nlink--;
		} else {
			b->nlink--;
		}
		mem_node_touch_change(b);
	} else {
		r = mem_node_ent_add(t.dir, t.last, a);
		if (r < 0)
			return r;
	}
	mem_node_ent_del(o.dir, (size_t)mem_node_ent_find(o.dir, o.last));
	dir_moved(a, o.dir, t.dir);
	mem_node_touch_change(a);
	mem_node_maybe_free(m, b);
	return 0;
}

int mem_ns_renameat2(struct backend *be, int olddirfd, const char *oldname, int newdirfd,
		     const char *newname, unsigned flags)
{
	struct mem *m = mem_of(be);
	int r;

	pthread_mutex_lock(&m->mu);
	r = mem_rename_locked(m, olddirfd, oldname, newdirfd, newname, flags);
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* ---- operations: directory streams ---------------------------------------------- */

int mem_ns_fdopendir(struct backend *be, int fd, struct backend_dir **out)
{
	struct mem *m = mem_of(be);
	struct mdir *d;
	struct mfile *f;
	int r;

	pthread_mutex_lock(&m->mu);
	r = mem_file_io(m, fd, &f);
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

int mem_ns_readdir(struct backend *be, struct backend_dir *bd, struct dirent **e)
{
	struct mem *m = mem_of(be);
	struct mdir *d = (struct mdir *)bd;
	struct mfile *f;
	struct mnode *dir, *n = NULL;
	const char *name = NULL;
	int r = 0;

	pthread_mutex_lock(&m->mu);
	f = mem_file_get(m, d->fd);
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

void mem_ns_rewinddir(struct backend *be, struct backend_dir *d)
{
	((struct mdir *)d)->pos = 0;
}

void mem_ns_seekdir(struct backend *be, struct backend_dir *d, long pos)
{
	((struct mdir *)d)->pos = pos < 0 ? 0 : pos;
}

long mem_ns_telldir(struct backend *be, struct backend_dir *d)
{
	return ((struct mdir *)d)->pos;
}

int mem_ns_dirfd(struct backend *be, struct backend_dir *d)
{
	return ((struct mdir *)d)->fd;
}

void mem_ns_closedir(struct backend *be, struct backend_dir *d)
{
	mem_close(be, ((struct mdir *)d)->fd);
	free(d);
}

