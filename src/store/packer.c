/* packer.c - moving small files into their directory's pack, in batches
 * on a thread of its own.  See packer.h; the per-file steps are
 * ofile_pack_out and ofile_pack_switch (ofile_pack.c). */
#include "packer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backend.h"
#include "inode.h"
#include "log.h"
#include "names.h"
#include "ofile_int.h"
#include "store.h"

static void packer_note_self(struct packer *p, dev_t dev, ino_t ino);

#define BATCH 128
#define GATHER_NS 20000000L /* wait this long for more notes */
/* A pack is looked at for dead space when it reaches GC_MIN bytes and
 * twice its length at the last look; compacted when dead space is more
 * than what is live and at least GC_DEAD bytes. */
#define GC_MIN 65536
#define GC_DEAD 32768
#define SEEN_MAX 64

struct note {
	dev_t dev;
	ino_t ino;
};

struct packer {
	struct store *s;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv, idle;
	struct note q[PACKER_MAX];
	unsigned head, n;
	int busy, stop;
	unsigned long long packed, compacted;
	/* Packs looked at (packer thread only): their length then. */
	struct seen {
		dev_t dev;
		ino_t ino;
		uint64_t len;
	} seen[SEEN_MAX];
	unsigned nseen;
};

/* One file of a batch, and the pack of one directory. */
struct job {
	struct inode *in;
	struct iref ref;
	struct ofile *f;
	struct ofile_pk *pk;
	int dir;
	int switched;
};

struct pack {
	dev_t dev;
	ino_t ino;
	int fd, bad;
	uint8_t iv[NAME_IV_LEN];
	uint64_t end;
	int wrote;
	struct inode *dir;      /* pinned when the pack is to be looked at */
};

struct batch {
	struct job jobs[BATCH];
	struct pack packs[BATCH];
	unsigned nj, np;
};

/* The pack of the directory open as dirfd (the file's name in it is
 * name), opened once per batch.  Its index, or -1. */
static struct seen *seen_of(struct packer *p, dev_t dev, ino_t ino)
{
	struct seen *e;

	for (unsigned i = 0; i < p->nseen; i++)
		if (p->seen[i].dev == dev && p->seen[i].ino == ino)
			return &p->seen[i];
	e = &p->seen[p->nseen < SEEN_MAX ? p->nseen++ : (unsigned)(ino % SEEN_MAX)];
	e->dev = dev;
	e->ino = ino;
	e->len = 0;
	return e;
}

static int pack_of(struct store *s, struct batch *b, int dirfd, const char *name,
		   struct inode *dir)
{
	struct stat st;
	struct pack *p;

	if (backend_fstat(s->be, dirfd, &st) < 0)
		return -1;
	for (unsigned i = 0; i < b->np; i++)
		if (b->packs[i].dev == st.st_dev && b->packs[i].ino == st.st_ino)
			return b->packs[i].bad ? -1 : (int)i;
	p = &b->packs[b->np++];
	memset(p, 0, sizeof(*p));
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	p->fd = ofile_pack_dir_open(s, dirfd, name, O_RDWR, p->iv);
	if (p->fd >= 0 && backend_fstat(s->be, p->fd, &st) == 0) {
		struct seen *e = seen_of(s->packer, p->dev, p->ino);

		/* Records go after the last byte in use. */
		p->end = (uint64_t)st.st_size > PACK_START ? (uint64_t)st.st_size : PACK_START;
		if (p->end >= GC_MIN && p->end >= 2 * e->len) {
			p->dir = dir;
			inode_pin(s, dir);
		}
		return (int)(p - b->packs);
	}
	if (p->fd >= 0)
		backend_close(s->be, p->fd);
	p->fd = -1;
	p->bad = 1;
	return -1;
}

/* Step one for the file of note n: its record appended to its pack.  The
 * job keeps the file locked until step two. */
static void prepare(struct store *s, struct batch *b, const struct note *n)
{
	struct job *j = &b->jobs[b->nj];
	struct stat st;
	ssize_t len;

	memset(j, 0, sizeof(*j));
	/* Closed twice since the last batch: one job (the packer holds the
	 * content lock of each job's file until step two). */
	for (unsigned i = 0; i < b->nj; i++)
		if (b->jobs[i].f->dev == n->dev && b->jobs[i].f->ino == n->ino)
			return;
	j->in = inode_find(s, n->dev, n->ino);
	if (!j->in)
		return;
	if (!S_ISREG(inode_type(j->in)) || inode_ref(s, j->in, &j->ref) < 0)
		goto put;
	/* The times before the open, whose header read may move the atime
	 * (relatime): packing is no access of the user's. */
	if (backend_fstatat(s->be, j->ref.dirfd, j->ref.name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    ofile_open_for(s, j->ref.dirfd, j->ref.name, NULL, 0, &j->f) < 0)
		goto ref;
	pthread_rwlock_wrlock(&j->f->lock);
	/* Opened by someone else meanwhile: its last close notes it again. */
	if (__atomic_load_n(&j->f->refs, __ATOMIC_RELAXED) != 1 || !j->f->v2)
		goto release;
	j->dir = pack_of(s, b, j->ref.dirfd, j->ref.name, j->ref.dir);
	if (j->dir < 0)
		goto release;
	len = ofile_pack_out(s, j->f, b->packs[j->dir].fd, b->packs[j->dir].iv,
			     b->packs[j->dir].end, &j->pk);
	if (len < 0 || !j->pk)
		goto release;
	j->pk->times[0] = st.st_atim;
	j->pk->times[1] = st.st_mtim;
	b->packs[j->dir].end += (uint64_t)len;
	b->packs[j->dir].wrote |= len > 0;
	b->nj++;
	return;
release:
	pthread_rwlock_unlock(&j->f->lock);
	ofile_release(s, j->f);
ref:
	inode_ref_put(s, &j->ref);
put:
	inode_put(s, j->in);
}

/* Names of the packed files of the directory open as dirfd, and the bytes
 * their records take.  -errno. */
struct live {
	char **names;
	unsigned n, cap;
	uint64_t bytes;
};

static int live_scan(struct store *s, int dirfd, struct live *l)
{
	struct backend_dir *d;
	struct dirent *e;
	int r = backend_opendirat(s->be, dirfd, ".", 0, &d);

	if (r < 0)
		return r;
	while ((r = backend_readdir_names(s->be, d, &e)) == 1) {
		uint8_t v[PACK_HINT_LEN + 1];
		struct pack_ref pr;

		/* The store's own files: the value, side files, temporaries. */
		if (e->d_name[0] == '.' && e->d_name[1] != 'L')
			continue;
		if (backend_getxattrat(s->be, dirfd, e->d_name, HINT_XATTR, v, sizeof(v)) !=
			    PACK_HINT_LEN ||
		    pack_ref_decode(v, PACK_HINT_LEN, &pr) < 0)
			continue;
		if (l->n == l->cap) {
			char **nn = realloc(l->names, (l->cap * 2 + 16) * sizeof(*nn));

			if (!nn) {
				r = -ENOMEM;
				break;
			}
			l->names = nn;
			l->cap = l->cap * 2 + 16;
		}
		if (!(l->names[l->n] = strdup(e->d_name))) {
			r = -ENOMEM;
			break;
		}
		l->n++;
		l->bytes += pr.has_rec ? fh2_rec_len(pr.e.stored) : 0;
	}
	backend_closedir(s->be, d);
	return r;
}

/* Dead space of pack p (records no file names any more) given back when it
 * outweighs what is live: every packed file of the directory is unpacked
 * (each made durable with its own content), the hints made durable
 * (syncfs), and only then the pack cut back to its value.  The files are
 * noted again, so the next batch packs them afresh from offset PACK_START.
 * A failure leaves the pack as it is. */
static void compact(struct packer *pk, struct pack *p)
{
	struct store *s = pk->s;
	struct live l = { 0 };
	struct note *again = NULL;
	unsigned nagain = 0;
	int dirfd = inode_dirfd(s, p->dir), r;
	struct stat st;

	if (dirfd < 0)
		return;
	r = live_scan(s, dirfd, &l);
	seen_of(pk, p->dev, p->ino)->len = p->end;
	if (r < 0 || p->end - PACK_START - l.bytes < GC_DEAD || p->end - PACK_START - l.bytes < l.bytes)
		goto out;
	again = calloc(l.n + 1, sizeof(*again));
	for (unsigned i = 0; r == 0 && again && i < l.n; i++) {
		if (backend_fstatat(s->be, dirfd, l.names[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
			again[nagain].dev = st.st_dev;
			again[nagain++].ino = st.st_ino;
		}
		r = ofile_unpack_at(s, dirfd, l.names[i]);
	}
	if (!again || r < 0 || backend_syncfs(s->be, dirfd) < 0) {
		log_msg(LOG_LVL_WARN, "compacting a directory pack failed; it stays as it is");
		goto out;
	}
	/* No open is reading a record from it meanwhile. */
	ofile_packing_excl(s, 1);
	r = backend_ftruncate(s->be, p->fd, PACK_START);
	ofile_packing_excl(s, 0);
	if (r == 0 && backend_fsync(s->be, p->fd, 1) == 0) {
		seen_of(pk, p->dev, p->ino)->len = PACK_START;
		pk->compacted++;
	}
	for (unsigned i = 0; i < nagain; i++)
		packer_note_self(pk, again[i].dev, again[i].ino);
out:
	for (unsigned i = 0; i < l.n; i++)
		free(l.names[i]);
	free(l.names);
	free(again);
	inode_dirfd_put(s, p->dir);
}

static void run_batch(struct packer *p, const struct note *notes, unsigned k)
{
	struct store *s = p->s;
	struct batch *b = calloc(1, sizeof(*b));

	/* Older releases cannot read packed files: the store says so first
	 * (version 3, docs/FORMAT.md). */
	if (!b || store_upgrade(s) < 0) {
		free(b);
		return;
	}
	inode_ns_rdlock(s);
	for (unsigned i = 0; i < k; i++)
		prepare(s, b, &notes[i]);
	/* Every record durable before any hint names it. */
	for (unsigned i = 0; i < b->np; i++)
		if (!b->packs[i].bad && b->packs[i].wrote &&
		    backend_fsync(s->be, b->packs[i].fd, 1) < 0) {
			log_msg(LOG_LVL_WARN, "packing small files: a directory pack cannot be "
				"synced; the files stay as they are");
			b->packs[i].bad = 1;
		}
	for (unsigned i = 0; i < b->nj; i++) {
		struct job *j = &b->jobs[i];

		if (b->packs[j->dir].bad) {
			j->f->pk = j->pk; /* only to free it */
			ofile_pack_free(j->f);
		} else if (ofile_pack_switch_alone(s, j->f, j->pk) == 0) {
			p->packed++;
			j->switched = 1;
		}
		pthread_rwlock_unlock(&j->f->lock);
		ofile_release(s, j->f);
		/* Its st_blocks went down: the kernel asks again. */
		if (j->switched && s->attr_changed)
			s->attr_changed(s, j->in);
		inode_ref_put(s, &j->ref);
		inode_put(s, j->in);
	}
	/* With no file of the batch locked any more. */
	for (unsigned i = 0; i < b->np; i++)
		if (b->packs[i].dir) {
			if (!b->packs[i].bad)
				compact(p, &b->packs[i]);
			inode_put(s, b->packs[i].dir);
		}
	for (unsigned i = 0; i < b->np; i++)
		if (b->packs[i].fd >= 0)
			backend_close(s->be, b->packs[i].fd);
	inode_ns_unlock(s);
	free(b);
}

static void *packer_main(void *arg)
{
	struct packer *p = arg;
	struct note notes[BATCH];

	pthread_mutex_lock(&p->mu);
	for (;;) {
		unsigned k;

		while (!p->n && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->n)
			break;
		if (!p->stop && p->n < BATCH) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += GATHER_NS;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
		for (k = 0; k < BATCH && p->n; k++) {
			notes[k] = p->q[p->head];
			p->head = (p->head + 1) % PACKER_MAX;
			p->n--;
		}
		p->busy = 1;
		pthread_mutex_unlock(&p->mu);
		run_batch(p, notes, k);
		pthread_mutex_lock(&p->mu);
		p->busy = 0;
		if (!p->n)
			pthread_cond_broadcast(&p->idle);
	}
	pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int packer_start(struct store *s)
{
	struct packer *p;

	if (s->packer || !s->names || s->shared || !s->probe.user_xattr ||
	    !backend_fs_local(s->be, s->rootfd))
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return 0;
	p->s = s;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_cond_init(&p->idle, NULL);
	if (pthread_create(&p->th, NULL, packer_main, p) != 0) {
		free(p);
		return 0;
	}
	s->packer = p;
	return 1;
}

static void packer_note_self(struct packer *p, dev_t dev, ino_t ino)
{
	pthread_mutex_lock(&p->mu);
	if (p->n < PACKER_MAX) {
		p->q[(p->head + p->n) % PACKER_MAX] = (struct note){ dev, ino };
		p->n++;
	}
	pthread_mutex_unlock(&p->mu);
}

void packer_note(struct packer *p, dev_t dev, ino_t ino)
{
	if (!p || pthread_equal(pthread_self(), p->th))
		return;
	pthread_mutex_lock(&p->mu);
	if (p->n < PACKER_MAX && !p->stop) {
		p->q[(p->head + p->n) % PACKER_MAX] = (struct note){ dev, ino };
		p->n++;
		if (p->n == 1 || p->n >= BATCH)
			pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

void packer_drain(struct packer *p)
{
	if (!p || pthread_equal(pthread_self(), p->th))
		return;
	pthread_mutex_lock(&p->mu);
	pthread_cond_signal(&p->cv);
	while (p->n || p->busy)
		pthread_cond_wait(&p->idle, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void packer_free(struct packer *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_cond_destroy(&p->idle);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

unsigned long long packer_packed(const struct packer *p)
{
	return p ? __atomic_load_n(&p->packed, __ATOMIC_RELAXED) : 0;
}

unsigned long long packer_compacted(const struct packer *p)
{
	return p ? __atomic_load_n(&p->compacted, __ATOMIC_RELAXED) : 0;
}
