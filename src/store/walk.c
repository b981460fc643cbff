/* walk.c - the walk of the user's tree shared by the scrub, the totals
 * rebuild and fsck (see walk.h). */
#include "walk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backfile.h"
#include "fileheader.h"
#include "ofile.h"
#include "ofile_int.h"
#include "pathmap.h"
#include "stats.h"

/* ---- inode set: each hard-linked file is reported unseen once --------- */

struct inoset {
	struct ino_key { dev_t dev; ino_t ino; int used; } *slot;
	size_t cap, n; /* cap is 0 or a power of two */
};

static size_t inoset_hash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ull) ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static int inoset_grow(struct inoset *set)
{
	size_t ncap = set->cap ? 2 * set->cap : 256;
	struct ino_key *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (size_t k = 0; k < set->cap; k++) {
		size_t i;

		if (!set->slot[k].used)
			continue;
		i = inoset_hash(set->slot[k].dev, set->slot[k].ino, ncap);
		while (ns[i].used)
			i = (i + 1) & (ncap - 1);
		ns[i] = set->slot[k];
	}
	free(set->slot);
	set->slot = ns;
	set->cap = ncap;
	return 0;
}

/* 1 if (dev, ino) was already there, 0 if added now, -ENOMEM. */
static int inoset_add(struct inoset *set, dev_t dev, ino_t ino)
{
	size_t i;

	if (2 * (set->n + 1) > set->cap && inoset_grow(set) < 0)
		return -ENOMEM;
	i = inoset_hash(dev, ino, set->cap);
	while (set->slot[i].used) {
		if (set->slot[i].dev == dev && set->slot[i].ino == ino)
			return 1;
		i = (i + 1) & (set->cap - 1);
	}
	set->slot[i].dev = dev;
	set->slot[i].ino = ino;
	set->slot[i].used = 1;
	set->n++;
	return 0;
}

/* ---- listing one directory ---------------------------------------------- */

struct walk {
	struct store *s;
	const struct walk_ops *ops;
	struct inoset seen;
};

struct dent {
	char *bname;  /* backing name */
	char *name;   /* the user's name, or NULL */
	int type;     /* enum walk_type */
};

static void dents_free(struct dent *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].bname);
		free(d[i].name);
	}
	free(d);
}

static int stopping(const struct walk *w)
{
	return w->ops->stop && __atomic_load_n(w->ops->stop, __ATOMIC_RELAXED);
}

void walk_path(char *out, size_t cap, const char *dir, const char *name)
{
	snprintf(out, cap, "%s/%s", strcmp(dir, "/") ? dir : "", name);
}

/* Add one backing entry of the directory open as dfd to the list. */
static int list_add(struct walk *w, int dfd, const uint8_t *iv, const char *bname,
		    struct dent **d, size_t *n, size_t *cap)
{
	char name[NAME_PLAIN_MAX + 1];
	int k = pathmap_entry_name(w->s, dfd, iv, bname, name);
	int type = k > 0 ? WALK_NAMED : k == 0 ? WALK_INTERNAL : WALK_BADNAME;

	if (type == WALK_INTERNAL && !w->ops->internal)
		return 0;
	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 64;
		struct dent *nd = realloc(*d, ncap * sizeof(*nd));

		if (!nd)
			return -ENOMEM;
		*d = nd;
		*cap = ncap;
	}
	(*d)[*n].type = type;
	(*d)[*n].bname = strdup(bname);
	(*d)[*n].name = type == WALK_NAMED ? strdup(name) : NULL;
	(*n)++;
	if (!(*d)[*n - 1].bname || (type == WALK_NAMED && !(*d)[*n - 1].name))
		return -ENOMEM;
	return 0;
}

/* The entries of the backing directory open as dfd, whose value is iv. */
static int list_dir(struct walk *w, int dfd, const uint8_t *iv, struct dent **out,
		    size_t *count)
{
	struct backend *be = w->s->be;
	struct backend_dir *dir;
	struct dent *d = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int r = backend_opendirat(be, dfd, ".", O_NOFOLLOW, &dir);

	if (r < 0)
		return r;
	while ((r = backend_readdir(be, dir, &e)) == 1) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		r = list_add(w, backend_dirfd(be, dir), iv, e->d_name, &d, &n, &cap);
		if (r < 0)
			break;
	}
	backend_closedir(be, dir);
	if (r < 0) {
		dents_free(d, n);
		return r;
	}
	*out = d;
	*count = n;
	return 0;
}

static int dir_value(struct walk *w, int dfd, const char *path, uint8_t *iv)
{
	memset(iv, 0, NAME_IV_LEN);
	if (w->ops->dir_iv)
		return w->ops->dir_iv(w->ops->arg, dfd, path, iv);
	return w->s->names ? pathmap_dir_iv(w->s, dfd, ".", iv) : 0;
}

static int failed(struct walk *w, const char *path, int r)
{
	if (r == -ECANCELED || !w->ops->error)
		return r;
	return w->ops->error(w->ops->arg, path, r);
}

/* ---- the walk ----------------------------------------------------------- */

static int walk_dir(struct walk *w, int pdir, const char *bname, const char *path);

/* One entry of the directory dfd: report it, then descend if asked. */
static int walk_entry(struct walk *w, int dfd, const uint8_t *iv, int iv_unknown,
		      const struct dent *d, const char *dir, char *path)
{
	struct walk_entry e;
	int r;

	memset(&e, 0, sizeof(e));
	if (d->type == WALK_NAMED) {
		walk_path(path, PATH_MAX, dir, d->name);
	} else {
		char q[NAME_ENC_CAP + 2];

		snprintf(q, sizeof(q), "%s%s", d->type == WALK_BADNAME ? "?" : "", d->bname);
		walk_path(path, PATH_MAX, dir, q);
	}
	r = backend_fstatat(w->s->be, dfd, d->bname, &e.st, AT_SYMLINK_NOFOLLOW);
	if (r == -ENOENT)
		return 0; /* removed meanwhile */
	if (r < 0)
		return failed(w, path, r);
	if (S_ISREG(e.st.st_mode) && e.st.st_nlink > 1 && d->type != WALK_INTERNAL) {
		r = inoset_add(&w->seen, e.st.st_dev, e.st.st_ino);
		if (r < 0)
			return r;
		e.seen = r;
	}
	e.type = d->type;
	e.dfd = dfd;
	e.bname = d->bname;
	e.name = d->name;
	e.dir = dir;
	e.path = path;
	e.iv = iv;
	e.iv_unknown = iv_unknown;
	r = w->ops->entry(w->ops->arg, &e);
	if (r != 0)
		return r > 0 ? 0 : r;
	if (!S_ISDIR(e.st.st_mode) || d->type == WALK_INTERNAL ||
	    (d->type == WALK_BADNAME && !w->ops->descend_bad))
		return 0;
	return walk_dir(w, dfd, d->bname, path);
}

/* Walk the backing directory bname of pdir ("." for pdir itself), whose
 * user path is path. */
static int walk_dir(struct walk *w, int pdir, const char *bname, const char *path)
{
	struct backend *be = w->s->be;
	uint8_t iv[NAME_IV_LEN];
	struct dent *d = NULL;
	size_t n = 0;
	char *cpath = NULL;
	int dfd, r, iv_unknown;

	dfd = backend_openat(be, pdir, bname, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : failed(w, path, dfd);
	r = dir_value(w, dfd, path, iv);
	iv_unknown = r > 0;
	if (r >= 0)
		r = list_dir(w, dfd, iv, &d, &n);
	if (r < 0) {
		r = failed(w, path, r);
		goto out;
	}
	cpath = malloc(PATH_MAX);
	if (!cpath) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		if (stopping(w))
			r = -ECANCELED;
		else
			r = walk_entry(w, dfd, iv, iv_unknown, &d[i], path, cpath);
	}
	if (r == 0 && w->ops->dir_done)
		r = w->ops->dir_done(w->ops->arg, dfd, path);
out:
	dents_free(d, n);
	free(cpath);
	backend_close(be, dfd);
	return r;
}

int walk_tree(struct store *s, const struct walk_ops *ops)
{
	struct walk w = { .s = s, .ops = ops };
	int r = walk_dir(&w, s->rootfd, ".", "/");

	free(w.seen.slot);
	return r;
}

/* ---- the totals walk ---------------------------------------------------- */

struct totals_walk {
	struct store *s;
	struct stats *walked; /* where to add */
};

/* A regular file for the totals: its logical size as stat on the mount
 * shows it, its compression setting from the header, its allocation. */
static int totals_file(struct totals_walk *t, int dfd, const char *rel, const struct stat *st)
{
	uint8_t buf[FH_AREA], algo;
	uint64_t size, packed;
	ssize_t n;

	memset(buf, 0, sizeof(buf));
	n = backfile_read(t->s->be, dfd, rel, buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? 0 : (int)n; /* removed meanwhile */
	/* A v2 header is no v1 header: its algorithm is elsewhere. */
	if (v2open_peek(buf, &size, &algo) < 0)
		algo = fh_peek_algo(buf);
	/* A packed file stores its record in the directory's pack. */
	packed = st->st_size ? 0 : ofile_packed_stored(t->s, dfd, rel, &algo);
	stats_file_delta(t->walked, algo, 1, (int64_t)ofile_stat_size(t->s, dfd, rel, st),
			 (int64_t)st->st_blocks * 512 + (int64_t)packed);
	return 0;
}

/* Names that do not decode are not the user's: they do not count.  A
 * totals walk that misses something would give wrong figures, so any
 * failure stops it (no error callback). */
static int totals_entry(void *arg, const struct walk_entry *e)
{
	struct totals_walk *t = arg;

	if (e->type != WALK_NAMED)
		return 1;
	if (S_ISDIR(e->st.st_mode))
		stats_dir_delta(t->walked, 1);
	else if (S_ISREG(e->st.st_mode) && !e->seen)
		return totals_file(t, e->dfd, e->bname, &e->st);
	return 0;
}

int walk_totals(struct store *s, struct stats *walked, const int *stop)
{
	struct totals_walk t = { .s = s, .walked = walked };
	struct walk_ops ops = { .entry = totals_entry, .arg = &t, .stop = stop };

	return walk_tree(s, &ops);
}
