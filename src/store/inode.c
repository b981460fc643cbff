/* inode.c - the inode table: identity, lookup counts, names, and the
 * bounded cache of directory descriptors.  See inode.h. */
#include "inode.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "pathmap.h"

#define BUCKETS 65536

/* One name of an object: backing entry bname in directory dir (which the
 * name keeps pinned). */
struct ilink {
	struct inode *dir;
	char *bname;
	char *uname; /* the user's name, for messages */
};

struct inode {
	/* All guarded by the table mutex. */
	dev_t dev;
	ino_t ino;
	mode_t type;
	uint64_t nlookup;       /* the kernel's references */
	unsigned pins;          /* operations in flight, names of children */
	int hashed;             /* findable by dev:ino (0 once dead) */
	struct inode *next;     /* hash chain */
	struct inode *all_prev, *all_next; /* every inode but the root, dead
					      ones too (inode_table_free) */
	struct ilink *links;    /* names known; a directory has at most one */
	unsigned nlinks, caplinks;
	int fd;                 /* directories: O_PATH descriptor, or -1 */
	unsigned fdusers;       /* users of fd; evictable at 0 */
	struct inode *lru_prev, *lru_next; /* evictable descriptors */
	int have_iv;
	uint8_t iv[NAME_IV_LEN];
	int noxattr;            /* known to have no extended attributes
				   (atomic; 0 = unknown) */
};

struct inode_table {
	struct backend *be;     /* where the descriptors are open */
	pthread_mutex_t mu;     /* guards everything here and in each inode */
	pthread_rwlock_t ns;    /* the namespace lock (inode.h) */
	struct inode *root;
	struct inode *buckets[BUCKETS];
	struct inode *all;      /* list of every inode but the root */
	struct inode *lru_head, *lru_tail; /* most recently released first */
	unsigned nfds, max_fds; /* open descriptors besides the root's */
};

static size_t bucket(dev_t dev, ino_t ino)
{
	return (size_t)(((uint64_t)ino * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)dev) % BUCKETS;
}

static void lru_del(struct inode_table *t, struct inode *in)
{
	if (in->lru_prev)
		in->lru_prev->lru_next = in->lru_next;
	else if (t->lru_head == in)
		t->lru_head = in->lru_next;
	else
		return; /* not on the list */
	if (in->lru_next)
		in->lru_next->lru_prev = in->lru_prev;
	else
		t->lru_tail = in->lru_prev;
	in->lru_prev = in->lru_next = NULL;
}

static void lru_push(struct inode_table *t, struct inode *in)
{
	in->lru_prev = NULL;
	in->lru_next = t->lru_head;
	if (t->lru_head)
		t->lru_head->lru_prev = in;
	t->lru_head = in;
	if (!t->lru_tail)
		t->lru_tail = in;
}

/* Close descriptors nobody uses, least recently used first, until the
 * table is within its bound.  Caller holds the mutex. */
static void evict(struct inode_table *t)
{
	while (t->nfds > t->max_fds && t->lru_tail) {
		struct inode *in = t->lru_tail;

		lru_del(t, in);
		backend_close(t->be, in->fd);
		in->fd = -1;
		t->nfds--;
	}
}

static void unhash(struct inode_table *t, struct inode *in)
{
	struct inode **p = &t->buckets[bucket(in->dev, in->ino)];

	if (!in->hashed)
		return;
	while (*p && *p != in)
		p = &(*p)->next;
	if (*p)
		*p = in->next;
	in->hashed = 0;
	in->next = NULL;
}

/* Free in if nothing refers to it any more, and then its parents that this
 * leaves unreferenced.  Caller holds the mutex. */
static void maybe_free(struct inode_table *t, struct inode *in)
{
	while (in && in != t->root && in->nlookup == 0 && in->pins == 0) {
		struct inode *parent = NULL;

		unhash(t, in);
		if (in->fd >= 0) {
			lru_del(t, in);
			backend_close(t->be, in->fd);
			t->nfds--;
		}
		for (unsigned i = 0; i < in->nlinks; i++) {
			struct inode *d = in->links[i].dir;

			free(in->links[i].bname);
			free(in->links[i].uname);
			d->pins--;
			/* Only one parent is followed iteratively; a file with
			 * several names releases the others recursively (one
			 * level deep: those are directories). */
			if (!parent)
				parent = d;
			else
				maybe_free(t, d);
		}
		if (in->all_prev)
			in->all_prev->all_next = in->all_next;
		else
			t->all = in->all_next;
		if (in->all_next)
			in->all_next->all_prev = in->all_prev;
		free(in->links);
		free(in);
		in = parent;
	}
}

struct inode_table *inode_table_new(struct backend *be, int rootfd, unsigned max_dirfds)
{
	struct inode_table *t = calloc(1, sizeof(*t));
	struct stat st;

	if (!t)
		return NULL;
	t->be = be;
	t->root = calloc(1, sizeof(*t->root));
	if (!t->root || backend_fstat(be, rootfd, &st) < 0) {
		free(t->root);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_rwlock_init(&t->ns, NULL);
	t->max_fds = max_dirfds ? max_dirfds : INODE_DIRFD_MAX;
	t->root->dev = st.st_dev;
	t->root->ino = st.st_ino;
	t->root->type = S_IFDIR;
	t->root->nlookup = 1;
	t->root->fd = rootfd; /* owned by the store */
	t->root->hashed = 1;
	t->buckets[bucket(st.st_dev, st.st_ino)] = t->root;
	return t;
}

void inode_table_free(struct inode_table *t)
{
	if (!t)
		return;
	/* Dead inodes too (unhashed, the kernel never forgot them): a clean
	 * unmount frees everything, so that a leak checker sees real leaks. */
	for (struct inode *in = t->all, *next; in; in = next) {
		next = in->all_next;
		if (in->fd >= 0)
			backend_close(t->be, in->fd);
		for (unsigned i = 0; i < in->nlinks; i++) {
			free(in->links[i].bname);
			free(in->links[i].uname);
		}
		free(in->links);
		free(in);
	}
	free(t->root);
	pthread_rwlock_destroy(&t->ns);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

struct inode *inode_root(struct store *s)
{
	return s->inodes->root;
}

/* Make link i the first, which inode_ref uses. */
static void link_to_front(struct inode *in, unsigned i)
{
	struct ilink l = in->links[i];

	memmove(in->links + 1, in->links, i * sizeof(l));
	in->links[0] = l;
}

/* Record that in is called bname in dir.  newest_first: shared mode, where
 * another daemon may have renamed the object since its older names were
 * seen, so the name just looked up goes first. */
static int add_link(struct inode *in, struct inode *dir, const char *bname,
		    const char *uname, int newest_first)
{
	char *copy, *ucopy;

	for (unsigned i = 0; i < in->nlinks; i++)
		if (in->links[i].dir == dir && !strcmp(in->links[i].bname, bname)) {
			if (newest_first)
				link_to_front(in, i);
			return 0;
		}
	copy = strdup(bname);
	ucopy = strdup(uname);
	if (!copy || !ucopy) {
		free(copy);
		free(ucopy);
		return -ENOMEM;
	}
	if (S_ISDIR(in->type) && in->nlinks == 1) {
		/* A directory has one name: the newest lookup is right. */
		in->links[0].dir->pins--;
		free(in->links[0].bname);
		free(in->links[0].uname);
		in->nlinks = 0;
	}
	if (in->nlinks == in->caplinks) {
		unsigned ncap = in->caplinks ? 2 * in->caplinks : 1;
		struct ilink *nl = realloc(in->links, ncap * sizeof(*nl));

		if (!nl) {
			free(copy);
			free(ucopy);
			return -ENOMEM;
		}
		in->links = nl;
		in->caplinks = ncap;
	}
	in->links[in->nlinks].dir = dir;
	in->links[in->nlinks].bname = copy;
	in->links[in->nlinks].uname = ucopy;
	in->nlinks++;
	dir->pins++;
	if (newest_first)
		link_to_front(in, in->nlinks - 1);
	return 0;
}

static struct inode *find(struct inode_table *t, dev_t dev, ino_t ino)
{
	struct inode *in = t->buckets[bucket(dev, ino)];

	while (in && (in->ino != ino || in->dev != dev))
		in = in->next;
	return in;
}

struct inode *inode_get(struct store *s, struct inode *dir, const char *bname,
			const char *uname, const struct stat *st, uint64_t nlookup)
{
	struct inode_table *t = s->inodes;
	struct inode *in;

	pthread_mutex_lock(&t->mu);
	in = find(t, st->st_dev, st->st_ino);
	if (in && in->type != (st->st_mode & S_IFMT)) {
		/* The backing inode number was reused by an object of another
		 * kind: the old entry is dead. */
		unhash(t, in);
		in = NULL;
	}
	if (!in) {
		size_t b = bucket(st->st_dev, st->st_ino);

		in = calloc(1, sizeof(*in));
		if (!in) {
			pthread_mutex_unlock(&t->mu);
			return NULL;
		}
		in->dev = st->st_dev;
		in->ino = st->st_ino;
		in->type = st->st_mode & S_IFMT;
		in->fd = -1;
		in->hashed = 1;
		in->next = t->buckets[b];
		t->buckets[b] = in;
		in->all_next = t->all;
		if (t->all)
			t->all->all_prev = in;
		t->all = in;
	}
	if (in != t->root && dir && add_link(in, dir, bname, uname, s->shared) < 0 &&
	    in->nlinks == 0) {
		maybe_free(t, in);
		pthread_mutex_unlock(&t->mu);
		return NULL;
	}
	in->nlookup += nlookup;
	if (!nlookup)
		in->pins++;
	pthread_mutex_unlock(&t->mu);
	return in;
}

struct inode *inode_find(struct store *s, dev_t dev, ino_t ino)
{
	struct inode_table *t = s->inodes;
	struct inode *in;

	pthread_mutex_lock(&t->mu);
	in = find(t, dev, ino);
	if (in)
		in->pins++;
	pthread_mutex_unlock(&t->mu);
	return in;
}

void inode_forget(struct store *s, struct inode *in, uint64_t n)
{
	struct inode_table *t = s->inodes;

	pthread_mutex_lock(&t->mu);
	in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
	maybe_free(t, in);
	pthread_mutex_unlock(&t->mu);
}

void inode_pin(struct store *s, struct inode *in)
{
	pthread_mutex_lock(&s->inodes->mu);
	in->pins++;
	pthread_mutex_unlock(&s->inodes->mu);
}

void inode_put(struct store *s, struct inode *in)
{
	struct inode_table *t = s->inodes;

	pthread_mutex_lock(&t->mu);
	in->pins--;
	maybe_free(t, in);
	pthread_mutex_unlock(&t->mu);
}

dev_t inode_dev(const struct inode *in)
{
	return in->dev;
}

ino_t inode_ino(const struct inode *in)
{
	return in->ino;
}

mode_t inode_type(const struct inode *in)
{
	return in->type;
}

/* Release one use of dir's descriptor.  Caller holds the mutex. */
static void fd_release(struct inode_table *t, struct inode *dir)
{
	if (--dir->fdusers == 0 && dir != t->root && dir->fd >= 0) {
		lru_push(t, dir);
		evict(t);
	}
}

/* Take one use of dir's open descriptor.  Caller holds the mutex. */
static int fd_take(struct inode_table *t, struct inode *dir)
{
	if (dir->fdusers++ == 0)
		lru_del(t, dir);
	return dir->fd;
}

int inode_dirfd(struct store *s, struct inode *dir)
{
	struct inode_table *t = s->inodes;
	struct inode **chain = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct inode *p, *top;
	int fd, r = 0;

	pthread_mutex_lock(&t->mu);
	if (dir->fd >= 0) {
		fd = fd_take(t, dir);
		pthread_mutex_unlock(&t->mu);
		return fd;
	}
	/* Walk up to the nearest directory whose descriptor is open,
	 * pinning the way and copying its names. */
	for (p = dir; p->fd < 0; p = p->links[0].dir) {
		if (!S_ISDIR(p->type) || p->nlinks == 0) {
			r = -ENOENT;
			break;
		}
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct inode **nc = realloc(chain, ncap * sizeof(*nc));
			char **nn = nc ? realloc(names, ncap * sizeof(*nn)) : NULL;

			if (nc)
				chain = nc;
			if (nn)
				names = nn;
			if (!nc || !nn) {
				r = -ENOMEM;
				break;
			}
			cap = ncap;
		}
		names[n] = strdup(p->links[0].bname);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		chain[n++] = p;
		p->pins++;
	}
	top = p;
	if (r == 0)
		fd_take(t, top);
	pthread_mutex_unlock(&t->mu);

	/* Open downwards, outside the mutex. */
	p = r == 0 ? top : NULL;
	fd = r == 0 ? top->fd : -1;
	for (size_t i = n; i-- > 0 && r == 0;) {
		struct inode *c = chain[i];
		struct stat st;
		int cfd = backend_openat(s->be, fd, names[i],
					 O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);

		if (cfd < 0)
			r = cfd;
		else if (backend_fstat(s->be, cfd, &st) < 0 || st.st_ino != c->ino ||
			 st.st_dev != c->dev)
			r = -ESTALE;
		pthread_mutex_lock(&t->mu);
		if (r == 0) {
			if (c->fd >= 0) {
				backend_close(s->be, cfd); /* another thread was quicker */
			} else {
				c->fd = cfd;
				t->nfds++;
			}
			fd = fd_take(t, c);
		} else if (cfd >= 0) {
			backend_close(s->be, cfd);
		}
		fd_release(t, p);
		p = c;
		pthread_mutex_unlock(&t->mu);
		if (r < 0)
			p = NULL;
	}
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < n; i++) {
		chain[i]->pins--;
		free(names[i]);
	}
	/* On failure the last descriptor taken is given back; the caller
	 * gets none. */
	if (r < 0 && p)
		fd_release(t, p);
	pthread_mutex_unlock(&t->mu);
	free(chain);
	free(names);
	return r < 0 ? r : fd;
}

void inode_dirfd_put(struct store *s, struct inode *dir)
{
	pthread_mutex_lock(&s->inodes->mu);
	fd_release(s->inodes, dir);
	pthread_mutex_unlock(&s->inodes->mu);
}

int inode_ref(struct store *s, struct inode *in, struct iref *r)
{
	struct inode_table *t = s->inodes;
	struct inode *dir;
	int fd;

	if (S_ISDIR(in->type)) {
		fd = inode_dirfd(s, in);
		if (fd < 0)
			return fd;
		r->dirfd = fd;
		r->name = ".";
		r->dir = in;
		return 0;
	}
	pthread_mutex_lock(&t->mu);
	if (in->nlinks == 0) {
		pthread_mutex_unlock(&t->mu);
		return -ENOENT;
	}
	dir = in->links[0].dir;
	if (strlen(in->links[0].bname) >= sizeof(r->buf)) {
		pthread_mutex_unlock(&t->mu);
		return -ENAMETOOLONG;
	}
	strcpy(r->buf, in->links[0].bname);
	dir->pins++;
	pthread_mutex_unlock(&t->mu);
	fd = inode_dirfd(s, dir);
	if (fd < 0) {
		inode_put(s, dir);
		return fd;
	}
	r->dirfd = fd;
	r->name = r->buf;
	r->dir = dir;
	return 0;
}

void inode_ref_put(struct store *s, struct iref *r)
{
	struct inode_table *t = s->inodes;

	pthread_mutex_lock(&t->mu);
	fd_release(t, r->dir);
	if (r->name == r->buf) {
		r->dir->pins--;
		maybe_free(t, r->dir);
	}
	pthread_mutex_unlock(&t->mu);
}

int inode_dir_iv(struct store *s, struct inode *dir, uint8_t *iv)
{
	struct inode_table *t = s->inodes;
	int fd, r;

	pthread_mutex_lock(&t->mu);
	/* Shared mode reads it every time: another daemon may have removed
	 * the directory and made a new one that got its inode number. */
	if (dir->have_iv && !s->shared) {
		memcpy(iv, dir->iv, NAME_IV_LEN);
		pthread_mutex_unlock(&t->mu);
		return 0;
	}
	pthread_mutex_unlock(&t->mu);
	fd = inode_dirfd(s, dir);
	if (fd < 0)
		return fd;
	r = pathmap_dir_iv(s, fd, ".", iv);
	inode_dirfd_put(s, dir);
	if (r < 0)
		return r;
	pthread_mutex_lock(&t->mu);
	memcpy(dir->iv, iv, NAME_IV_LEN);
	dir->have_iv = 1;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

static void del_link(struct inode *in, unsigned i)
{
	in->links[i].dir->pins--;
	free(in->links[i].bname);
	free(in->links[i].uname);
	in->links[i] = in->links[--in->nlinks];
}

static int link_index(const struct inode *in, const struct inode *dir, const char *bname)
{
	for (unsigned i = 0; i < in->nlinks; i++)
		if (in->links[i].dir == dir && !strcmp(in->links[i].bname, bname))
			return (int)i;
	return -1;
}

void inode_name_gone(struct store *s, dev_t dev, ino_t ino, struct inode *dir,
		     const char *bname)
{
	struct inode_table *t = s->inodes;
	struct inode *in;
	int i;

	pthread_mutex_lock(&t->mu);
	in = find(t, dev, ino);
	if (in && (i = link_index(in, dir, bname)) >= 0) {
		struct inode *d = in->links[i].dir;

		del_link(in, (unsigned)i);
		/* A directory, or a file whose last known name went: a new
		 * object that gets the same backing inode number must not be
		 * taken for this one. */
		if (S_ISDIR(in->type) || in->nlinks == 0)
			unhash(t, in);
		maybe_free(t, d);
		maybe_free(t, in);
	}
	pthread_mutex_unlock(&t->mu);
}

void inode_name_moved(struct store *s, dev_t dev, ino_t ino, struct inode *odir,
		      const char *obname, struct inode *ndir, const char *nbname,
		      const char *nuname)
{
	struct inode_table *t = s->inodes;
	struct inode *in;
	int i;

	pthread_mutex_lock(&t->mu);
	in = find(t, dev, ino);
	if (in && (i = link_index(in, odir, obname)) >= 0) {
		char *copy = strdup(nbname), *ucopy = strdup(nuname);

		if (copy && ucopy) {
			free(in->links[i].bname);
			free(in->links[i].uname);
			in->links[i].bname = copy;
			in->links[i].uname = ucopy;
			in->links[i].dir = ndir;
			ndir->pins++;
			odir->pins--;
			maybe_free(t, odir);
		} else {
			/* Forgetting the name is safe: the next lookup finds it. */
			struct inode *d = in->links[i].dir;

			free(copy);
			free(ucopy);
			del_link(in, (unsigned)i);
			maybe_free(t, d);
		}
	}
	pthread_mutex_unlock(&t->mu);
}

int inode_path(struct store *s, struct inode *in, char *out, size_t len)
{
	struct inode_table *t = s->inodes;
	size_t pos = len - 1;
	int r = 0;

	if (len < 2)
		return -ENAMETOOLONG;
	out[pos] = '\0';
	pthread_mutex_lock(&t->mu);
	if (in == t->root) {
		pos--;
		out[pos] = '/';
	}
	while (in != t->root && r == 0) {
		size_t n;

		if (in->nlinks == 0) {
			r = -ENOENT;
			break;
		}
		n = strlen(in->links[0].uname);
		if (n + 1 > pos) {
			r = -ENAMETOOLONG;
			break;
		}
		pos -= n;
		memcpy(out + pos, in->links[0].uname, n);
		out[--pos] = '/';
		in = in->links[0].dir;
	}
	pthread_mutex_unlock(&t->mu);
	if (r == 0)
		memmove(out, out + pos, len - pos);
	return r;
}

const struct policy *inode_policy(struct store *s, struct inode *dir, const char *name)
{
	char path[PATH_MAX];
	size_t n;

	if (inode_path(s, dir, path, sizeof(path)) < 0)
		return store_policy(s, "/");
	n = strlen(path);
	if (name && snprintf(path + n, sizeof(path) - n, "%s%s", n > 1 ? "/" : "",
			     name) >= (int)(sizeof(path) - n))
		return store_policy(s, "/");
	return store_policy(s, path);
}

void inode_set_noxattr(struct inode *in, int none)
{
	__atomic_store_n(&in->noxattr, none, __ATOMIC_RELAXED);
}

int inode_noxattr(const struct inode *in)
{
	return __atomic_load_n(&in->noxattr, __ATOMIC_RELAXED);
}

unsigned inode_dirfds_open(struct store *s)
{
	unsigned n;

	pthread_mutex_lock(&s->inodes->mu);
	n = s->inodes->nfds;
	pthread_mutex_unlock(&s->inodes->mu);
	return n;
}

void inode_ns_rdlock(struct store *s)
{
	pthread_rwlock_rdlock(&s->inodes->ns);
}

void inode_ns_wrlock(struct store *s)
{
	pthread_rwlock_wrlock(&s->inodes->ns);
}

void inode_ns_unlock(struct store *s)
{
	pthread_rwlock_unlock(&s->inodes->ns);
}
