/* v2io.c - the data path of v2 (packed) files: read, write, truncate,
 * punch, SEEK_DATA/HOLE, verify, and the commit and sync points.
 *
 * Memory is the truth while a file is open: writes seal records into the
 * data area and update the in-memory index; the header (size, index) goes
 * to disk only at a commit: close (flush), fsync, release, or a metadata
 * change.  Rules that keep every block old-or-new after a crash and leave
 * no older authenticated copy behind (docs/FORMAT.md, "v2 write rules"):
 *
 *  R1  A header never points at a record that is not yet durable while it
 *      replaces a header that is: before such a header is written, when it
 *      supersedes a durable record or carries a new index blob, fdatasync.
 *  R2  Space a header that can still win after a crash refers to is never
 *      overwritten: superseded extents wait in `pending' until the next
 *      sync point, and only `free' extents are reused.
 *  R3  The slot of the durable header is never overwritten before another
 *      header is durable; after a sync point the other slot is zeroed, so
 *      at rest exactly one authenticated header exists.
 *
 * A file created by this mount has no durable content until its first
 * fsync (durable_slot -1): its header is rewritten in place and superseded
 * space is reused at once, as a crash may lose such a file's unsynced data
 * anyway (as on ext4).  A sync point (fsync, and the last close of a file
 * that had durable content) is: fdatasync, the slot becomes durable, the
 * other slot is zeroed, pending extents become free. */
#include "ofile_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "pool.h"
#include "stats.h"
#include "util.h"

#define V2_COMMITTED 1 /* referenced by a header written to disk */
#define V2_DURABLE 2   /* referenced by the durable header */
/* How late a commit may come after the last write and still leave the
 * mtime the backing file got from that write (10 ms: below what tools
 * show). */
#define MTIME_SLACK_NS 10000000LL
/* Largest run of consecutive records one read fetches with one pread. */
#define SPAN_MAX (1024 * 1024)

static int tag_zero(const uint8_t *t)
{
	for (int i = 0; i < CRYPTO_TAG_LEN; i++)
		if (t[i])
			return 0;
	return 1;
}

/* ---- extent lists (sorted by offset, merged) ---- */

static void list_add(struct v2list *l, uint64_t off, uint64_t len)
{
	uint32_t i = 0;

	if (len == 0)
		return;
	while (i < l->n && l->v[i].off < off)
		i++;
	if (i > 0 && l->v[i - 1].off + l->v[i - 1].len == off) {
		l->v[i - 1].len += len;
		if (i < l->n && off + len == l->v[i].off) {
			l->v[i - 1].len += l->v[i].len;
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
			l->n--;
		}
		return;
	}
	if (i < l->n && off + len == l->v[i].off) {
		l->v[i].off = off;
		l->v[i].len += len;
		return;
	}
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? 2 * l->cap : 16;
		struct v2ext *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return; /* the space leaks until the next open */
		l->v = v;
		l->cap = cap;
	}
	memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(l->v[0]));
	l->v[i].off = off;
	l->v[i].len = len;
	l->n++;
}

/* First fit.  Returns 0 and *off, or -ENOSPC when nothing fits. */
static int list_take(struct v2list *l, uint64_t len, uint64_t *off)
{
	for (uint32_t i = 0; i < l->n; i++) {
		if (l->v[i].len < len)
			continue;
		*off = l->v[i].off;
		l->v[i].off += len;
		l->v[i].len -= len;
		if (l->v[i].len == 0) {
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
			l->n--;
		}
		return 0;
	}
	return -ENOSPC;
}

/* ---- space ---- */

static int ext_alloc(struct v2state *v, uint64_t len, uint64_t *off)
{
	if (list_take(&v->free, len, off) == 0)
		return 0;
	if (v->data_end + len > FH2_OFF_MAX)
		return -EFBIG;
	*off = v->data_end;
	v->data_end += len;
	if (v->data_end > v->blen)
		v->blen = v->data_end;
	return 0;
}

/* Forget free space at or past the data end (it is cut off). */
static void free_clip(struct v2state *v)
{
	while (v->free.n && v->free.v[v->free.n - 1].off >= v->data_end)
		v->free.n--;
	if (v->free.n && v->free.v[v->free.n - 1].off + v->free.v[v->free.n - 1].len > v->data_end)
		v->free.v[v->free.n - 1].len = v->data_end - v->free.v[v->free.n - 1].off;
}

/* Space that held a record (or index) with the given V2_* state. */
static void ext_release(struct v2state *v, uint64_t off, uint64_t len, uint8_t state)
{
	/* Space no header on disk names, or that only the header of a file
	 * without durable content names (a crash may cost that file its
	 * unsynced data anyway), is free at once. */
	if (!(state & V2_COMMITTED) || v->durable_slot < 0) {
		list_add(&v->free, off, len);
		return;
	}
	list_add(&v->pending, off, len);
	if (state & V2_DURABLE)
		v->need_sync = 1;
}

/* ---- the in-memory index ---- */

/* Index of the entry of block b, or -(insertion point) - 1. */
static long ent_find(const struct v2state *v, uint64_t b)
{
	long lo = 0, hi = (long)v->n - 1;

	while (lo <= hi) {
		long mid = (lo + hi) / 2;

		if (v->ents[mid].block == b)
			return mid;
		if (v->ents[mid].block < b)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

static void ent_release(struct v2state *v, const struct fh2_ent *e)
{
	ext_release(v, e->off, fh2_rec_len(e->stored), e->state);
}

static int ent_set(struct v2state *v, const struct fh2_ent *e)
{
	long i = ent_find(v, e->block);

	v->ix_dirty = 1;
	/* A block that had durable content (data or a hole) gets a record
	 * that the next header names before it is durable itself: R1. */
	if (v->durable_slot >= 0 && e->block * v->bs < v->durable_size)
		v->need_sync = 1;
	if (i >= 0) {
		ent_release(v, &v->ents[i]);
		v->ents[i] = *e;
		return 0;
	}
	i = -i - 1;
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? 2 * v->cap : 16;
		struct fh2_ent *n = realloc(v->ents, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		v->ents = n;
		v->cap = cap;
	}
	memmove(&v->ents[i + 1], &v->ents[i], (v->n - (uint32_t)i) * sizeof(v->ents[0]));
	v->ents[i] = *e;
	v->n++;
	return 0;
}

/* Remove the entries of blocks [start, end): they become holes. */
static void ent_drop(struct v2state *v, uint64_t start, uint64_t end)
{
	long i = ent_find(v, start);
	uint32_t a, b;

	a = (uint32_t)(i >= 0 ? i : -i - 1);
	for (b = a; b < v->n && v->ents[b].block < end; b++)
		ent_release(v, &v->ents[b]);
	if (b == a)
		return;
	memmove(&v->ents[a], &v->ents[b], (v->n - b) * sizeof(v->ents[0]));
	v->n -= b - a;
	v->dirty = 1;
	v->ix_dirty = 1;
}

/* ---- blocks ---- */

static void integrity_error(struct store *s, struct ofile *f, uint64_t b, const char *cause)
{
	log_msg(LOG_LVL_ERROR, "%s (inode %lu) block %llu: integrity check failed (%s)",
		f->path ? f->path : "?", (unsigned long)f->ino, (unsigned long long)b, cause);
	stats_error(s->stats, 1, f->path, (int64_t)b, cause);
}

/* Open the record of entry e, read into rec (fh2_rec_len(e->stored) bytes
 * of which n arrived), into out.  Returns the plain length or -EIO. */
static ssize_t rec_decode(struct store *s, struct ofile *f, const struct fh2_ent *e,
			  const uint8_t *rec, ssize_t n, uint8_t *out, uint8_t *scratch)
{
	ssize_t r;

	if (n < (ssize_t)fh2_rec_len(e->stored)) {
		integrity_error(s, f, e->block, "record cut short");
		return -EIO;
	}
	r = fh2_rec_open(s->key, f->hdr.file_id, e, rec, f->hdr.block_size, out, scratch);
	if (r < 0) {
		integrity_error(s, f, e->block, "record does not authenticate");
		return -EIO;
	}
	return r;
}

/* Block b into out: its plain length (the rest reads as zeros), 0 for a
 * hole, or -errno. */
static ssize_t block_load(struct store *s, struct ofile *f, uint64_t b, uint8_t *out,
			  struct iobufs *io)
{
	struct v2state *v = f->v2;
	const struct fh2_ent *e;
	long i;
	ssize_t n;

	if (f->wb_dirty && b == f->wb_block) {
		memcpy(out, f->wb, f->wb_len);
		return f->wb_len;
	}
	i = ent_find(v, b);
	if (i < 0)
		return 0;
	e = &v->ents[i];
	n = backend_pread_full(f->be, f->fd, io->rec, fh2_rec_len(e->stored), (off_t)e->off);
	if (n < 0) {
		stats_error(s->stats, 0, f->path, (int64_t)b, strerror((int)-n));
		return n;
	}
	return rec_decode(s, f, e, io->rec, n, out, io->scratch);
}

/* Seal plain[0..len) as block b's new record and put it in the index; an
 * all-zero block becomes a hole instead. */
static int block_store(struct store *s, struct ofile *f, uint64_t b, const uint8_t *plain,
		       uint32_t len, struct iobufs *io)
{
	struct v2state *v = f->v2;
	struct fh2_ent e;
	ssize_t n;
	int r;

	v->dirty = 1;
	if (is_zero(plain, len)) {
		ent_drop(v, b, b + 1);
		return 0;
	}
	n = fh2_rec_seal(s->key, f->hdr.file_id, &f->hdr.codec, b, plain, len,
			 f->hdr.block_size, io->rec, &e);
	if (n < 0)
		return (int)n;
	if (v->durable_slot < 0) {
		/* No durable content: a record that fits where the block's
		 * last one was goes there, so rewrites (a truncate, the
		 * last block growing) do not spread the file. */
		long i = ent_find(v, b);

		if (i >= 0 && fh2_rec_len(v->ents[i].stored) >= (uint64_t)n) {
			uint64_t old = fh2_rec_len(v->ents[i].stored);

			e.off = v->ents[i].off;
			r = backend_pwrite_full(f->be, f->fd, io->rec, (size_t)n, (off_t)e.off);
			if (r < 0) {
				stats_error(s->stats, 0, f->path, (int64_t)b, strerror(-r));
				return r;
			}
			e.state = 0;
			v->ents[i] = e;
			v->ix_dirty = 1;
			list_add(&v->free, e.off + (uint64_t)n, old - (uint64_t)n);
			return 0;
		}
	}
	r = ext_alloc(v, (uint64_t)n, &e.off);
	if (r < 0)
		return r;
	r = backend_pwrite_full(f->be, f->fd, io->rec, (size_t)n, (off_t)e.off);
	if (r < 0) {
		list_add(&v->free, e.off, (uint64_t)n); /* referenced by nothing */
		stats_error(s->stats, 0, f->path, (int64_t)b, strerror(-r));
		return r;
	}
	e.state = 0;
	r = ent_set(v, &e);
	if (r < 0)
		list_add(&v->free, e.off, (uint64_t)n);
	return r;
}

/* Plain length block b has inside size. */
static uint32_t block_len(uint64_t size, uint32_t bs, uint64_t b)
{
	uint64_t start = b * bs;

	if (start >= size)
		return 0;
	return size - start < bs ? (uint32_t)(size - start) : bs;
}

/* Store the write-behind block. */
static int wb_out(struct store *s, struct ofile *f, struct iobufs *io)
{
	int r;

	if (!f->wb_dirty)
		return 0;
	r = block_store(s, f, f->wb_block, f->wb, f->wb_len, io);
	if (r == 0)
		f->wb_dirty = 0;
	return r;
}

/* Make block b the write-behind block, loaded with its content. */
static int wb_take(struct store *s, struct ofile *f, uint64_t b, struct iobufs *io)
{
	uint32_t bs = f->hdr.block_size, len = block_len(f->hdr.size, bs, b);
	ssize_t have;
	int r;

	if (f->wb_dirty && f->wb_block == b)
		return 0;
	r = wb_out(s, f, io);
	if (r < 0)
		return r;
	if (!f->wb) {
		f->wb = malloc(bs);
		if (!f->wb)
			return -ENOMEM;
	}
	have = block_load(s, f, b, f->wb, io);
	if (have < 0)
		return (int)have;
	if ((uint32_t)have < len)
		memset(f->wb + have, 0, len - (size_t)have);
	f->wb_block = b;
	f->wb_len = len > (uint32_t)have ? len : (uint32_t)have;
	f->wb_dirty = 1;
	return 0;
}

/* ---- reading ---- */

struct spanbuf {
	uint8_t *p;
	size_t cap;
};

static pthread_key_t span_key;
static pthread_once_t span_once = PTHREAD_ONCE_INIT;

static void span_free(void *p)
{
	struct spanbuf *b = p;

	free(b->p);
	free(b);
}

static void span_key_init(void)
{
	pthread_key_create(&span_key, span_free);
}

static uint8_t *span_get(size_t need)
{
	struct spanbuf *b;

	pthread_once(&span_once, span_key_init);
	b = pthread_getspecific(span_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		pthread_setspecific(span_key, b);
	}
	if (b->cap < need) {
		free(b->p);
		b->p = malloc(need);
		b->cap = b->p ? need : 0;
	}
	return b->p;
}

/* Entries i..*j (inclusive) of consecutive blocks up to last whose records
 * lie back to back: one pread fetches them all. */
static size_t span_end(const struct ofile *f, uint32_t i, uint64_t last, uint32_t *j)
{
	const struct v2state *v = f->v2;
	size_t len = fh2_rec_len(v->ents[i].stored);

	*j = i;
	while (*j + 1 < v->n) {
		const struct fh2_ent *a = &v->ents[*j], *b = &v->ents[*j + 1];

		if (b->block != a->block + 1 || b->block > last ||
		    b->off != a->off + fh2_rec_len(a->stored) ||
		    len + fh2_rec_len(b->stored) > SPAN_MAX ||
		    (f->wb_dirty && b->block == f->wb_block))
			break;
		len += fh2_rec_len(b->stored);
		(*j)++;
	}
	return len;
}

/* The records of one span, opened in parallel, each into its part of the
 * caller's buffer. */
struct span_job {
	struct store *s;
	struct ofile *f;
	const uint8_t *span;    /* the records as read */
	ssize_t n;              /* bytes read into span */
	uint64_t span_off;      /* backing offset of span[0] */
	const struct fh2_ent *e; /* entry of the first record */
	char *dst;              /* where byte pos of the file goes */
	uint64_t pos, end;      /* the request's part covered by this span */
	int err;                /* first error (atomic) */
};

static void span_decode(void *arg, size_t k)
{
	struct span_job *sj = arg;
	struct ofile *f = sj->f;
	const struct fh2_ent *e = &sj->e[k];
	uint32_t bs = f->hdr.block_size;
	uint64_t bstart = e->block * bs;
	uint64_t from = bstart > sj->pos ? bstart : sj->pos;
	uint64_t to = bstart + bs < sj->end ? bstart + bs : sj->end;
	size_t at = (size_t)(e->off - sj->span_off);
	struct iobufs *io = bufs_get(bs);
	char *dst = sj->dst + (from - sj->pos);
	ssize_t have;

	if (!io) {
		__atomic_store_n(&sj->err, -ENOMEM, __ATOMIC_RELAXED);
		return;
	}
	/* A whole block is opened straight into the caller's buffer. */
	uint8_t *out = from == bstart && to == bstart + bs ? (uint8_t *)dst : io->plain;

	have = rec_decode(sj->s, f, e, sj->span + at, sj->n > (ssize_t)at ? sj->n - (ssize_t)at : 0,
			  out, io->scratch);
	if (have < 0) {
		__atomic_store_n(&sj->err, (int)have, __ATOMIC_RELAXED);
		return;
	}
	if (out != io->plain) {
		memset(out + have, 0, bs - (size_t)have);
		return;
	}
	if ((uint64_t)have < to - bstart)
		memset(io->plain + have, 0, (size_t)(to - bstart) - (size_t)have);
	memcpy(dst, io->plain + (from - bstart), (size_t)(to - from));
}

ssize_t v2io_read(struct store *s, struct ofile *f, char *buf, size_t len, off_t off)
{
	struct v2state *v = f->v2;
	struct iobufs *io;
	uint32_t bs;
	uint64_t pos = (uint64_t)off, end;
	size_t done = 0;
	ssize_t r = 0;

	pthread_rwlock_rdlock(&f->lock);
	bs = f->hdr.block_size;
	io = bufs_get(bs);
	if (!io) {
		r = -ENOMEM;
		goto out;
	}
	if (pos >= f->hdr.size)
		goto out;
	end = f->hdr.size - pos < len ? f->hdr.size : pos + len;
	while (pos < end && r >= 0) {
		uint64_t b = pos / bs, last = (end - 1) / bs;
		long i = ent_find(v, b);
		uint32_t j;
		uint8_t *span;
		size_t slen;
		ssize_t n;

		if (i < 0 || (f->wb_dirty && b == f->wb_block)) {
			/* A hole or the write-behind block. */
			uint32_t o = (uint32_t)(pos % bs);
			size_t take = bs - o < end - pos ? bs - o : (size_t)(end - pos);
			ssize_t have = block_load(s, f, b, io->plain, io);

			if (have < 0) {
				r = have;
				break;
			}
			if ((size_t)have < o + take)
				memset(io->plain + have, 0, o + take - (size_t)have);
			memcpy(buf + done, io->plain + o, take);
			done += take;
			pos += take;
			continue;
		}
		slen = span_end(f, (uint32_t)i, last, &j);
		span = span_get(slen);
		if (!span) {
			r = -ENOMEM;
			break;
		}
		n = backend_pread_full(f->be, f->fd, span, slen, (off_t)v->ents[i].off);
		if (n < 0) {
			stats_error(s->stats, 0, f->path, (int64_t)b, strerror((int)-n));
			r = n;
			break;
		}
		{
			struct span_job sj = { s, f, span, n, v->ents[i].off, &v->ents[i], buf + done,
					       pos, end, 0 };
			size_t cnt = j - (uint32_t)i + 1;

			/* Blocks past the end of the request are not decoded. */
			while (cnt > 1 && v->ents[i + (long)cnt - 1].block * bs >= end)
				cnt--;
			pool_run(cnt > 1 ? s->pool : NULL, cnt, span_decode, &sj);
			if (sj.err) {
				r = sj.err;
				break;
			}
			{
				uint64_t stop = (v->ents[i].block + cnt) * bs;

				stop = stop < end ? stop : end;
				done += (size_t)(stop - pos);
				pos = stop;
			}
		}
	}
out:
	pthread_rwlock_unlock(&f->lock);
	/* No short read on error (see ofile_read). */
	return r < 0 ? r : (ssize_t)done;
}

/* ---- writing ---- */

/* Whole blocks of one write, sealed in parallel (pool.h) into slots of the
 * thread's span buffer, then packed back to back and written with one
 * pwrite into one extent. */
#define BATCH_MAX 64

struct batch {
	struct store *s;
	struct ofile *f;
	const char *src;      /* first byte of block first */
	uint64_t first;
	size_t slot;          /* bytes per record slot in buf */
	uint8_t *buf;
	struct fh2_ent e[BATCH_MAX];
	ssize_t len[BATCH_MAX]; /* record length, 0 for an all-zero block, -errno */
};

static void batch_seal(void *arg, size_t i)
{
	struct batch *t = arg;
	uint32_t bs = t->f->hdr.block_size;
	const uint8_t *plain = (const uint8_t *)t->src + i * bs;

	if (is_zero(plain, bs)) {
		t->len[i] = 0;
		return;
	}
	t->len[i] = fh2_rec_seal(t->s->key, t->f->hdr.file_id, &t->f->hdr.codec, t->first + i,
				 plain, bs, bs, t->buf + i * t->slot, &t->e[i]);
}

static uint8_t *span_get(size_t need);

/* Store n (<= BATCH_MAX) whole blocks from src as blocks first.. */
static int batch_store(struct store *s, struct ofile *f, uint64_t first, const char *src,
		       size_t n)
{
	struct v2state *v = f->v2;
	uint32_t bs = f->hdr.block_size;
	struct batch *t = malloc(sizeof(*t));
	uint64_t total = 0, off = 0, at = 0;
	int r = 0;

	if (!t)
		return -ENOMEM;
	t->s = s;
	t->f = f;
	t->src = src;
	t->first = first;
	t->slot = fh2_rec_len(bs) + CRYPTO_TAG_LEN;
	t->buf = span_get(n * t->slot);
	if (!t->buf) {
		free(t);
		return -ENOMEM;
	}
	pool_run(s->pool, n, batch_seal, t);
	for (size_t i = 0; i < n && r == 0; i++) {
		if (t->len[i] < 0)
			r = (int)t->len[i];
		total += t->len[i] > 0 ? (uint64_t)t->len[i] : 0;
	}
	if (r == 0 && total)
		r = ext_alloc(v, total, &off);
	if (r == 0 && total) {
		for (size_t i = 0; i < n; i++) {
			if (t->len[i] <= 0)
				continue;
			memmove(t->buf + at, t->buf + i * t->slot, (size_t)t->len[i]);
			t->e[i].off = off + at;
			t->e[i].state = 0;
			at += (uint64_t)t->len[i];
		}
		r = backend_pwrite_full(f->be, f->fd, t->buf, total, (off_t)off);
		if (r < 0) {
			list_add(&v->free, off, total); /* referenced by nothing */
			stats_error(s->stats, 0, f->path, (int64_t)first, strerror(-r));
		}
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		if (t->len[i] == 0)
			ent_drop(v, first + i, first + i + 1);
		else
			r = ent_set(v, &t->e[i]);
	}
	v->dirty = 1;
	free(t);
	return r;
}

ssize_t v2io_write(struct store *s, struct ofile *f, const char *buf, size_t len, off_t off)
{
	struct iobufs *io;
	uint64_t pos = (uint64_t)off;
	uint32_t bs;
	size_t done = 0;
	int r = 0;

	pthread_rwlock_wrlock(&f->lock);
	bs = f->hdr.block_size;
	io = bufs_get(bs);
	if (!io) {
		r = -ENOMEM;
		goto out;
	}
	while (done < len) {
		uint64_t b = pos / bs;
		uint32_t o = (uint32_t)(pos % bs);
		size_t n = bs - o < len - done ? bs - o : len - done;

		if (n == bs) {
			/* Whole blocks: sealed straight from the caller's
			 * buffer, several at once. */
			size_t k = (len - done) / bs;

			if (k > BATCH_MAX)
				k = BATCH_MAX;
			n = k * bs;
			if (f->wb_dirty && f->wb_block >= b && f->wb_block < b + k)
				f->wb_dirty = 0;
			r = batch_store(s, f, b, buf + done, k);
		} else {
			r = wb_take(s, f, b, io);
			if (r == 0) {
				if (o > f->wb_len)
					memset(f->wb + f->wb_len, 0, o - f->wb_len);
				memcpy(f->wb + o, buf + done, n);
				if (o + n > f->wb_len)
					f->wb_len = o + (uint32_t)n;
				f->v2->dirty = 1;
			}
		}
		if (r < 0)
			break;
		done += n;
		pos += n;
		if (pos > f->hdr.size)
			f->hdr.size = pos;
	}
	if (done) {
		clock_gettime(CLOCK_REALTIME, &f->wb_mtime);
		f->v2->mtime_keep = 0;
	}
	__atomic_store_n(&f->size, f->hdr.size, __ATOMIC_RELAXED);
out:
	pthread_rwlock_unlock(&f->lock);
	return done > 0 ? (ssize_t)done : r;
}

/* Cut the file to size (content lock held exclusive). */
static int truncate_locked(struct store *s, struct ofile *f, uint64_t size, struct iobufs *io)
{
	struct v2state *v = f->v2;
	uint32_t bs = f->hdr.block_size;
	uint64_t nblk = ofile_nblocks(size, bs);
	int r = 0;

	if (size < f->hdr.size) {
		if (f->wb_dirty && f->wb_block >= nblk)
			f->wb_dirty = 0;
		ent_drop(v, nblk, UINT64_MAX);
		if (size % bs) {
			uint64_t b = size / bs;
			uint32_t keep = (uint32_t)(size % bs);
			long i = ent_find(v, b);

			if (f->wb_dirty && f->wb_block == b) {
				if (f->wb_len > keep)
					f->wb_len = keep;
			} else if (i >= 0 && v->ents[i].plain > keep) {
				/* Bytes past the new end must not come back
				 * when the file grows again. */
				ssize_t have = block_load(s, f, b, io->plain, io);

				r = have < 0 ? (int)have : block_store(s, f, b, io->plain, keep, io);
			}
		}
	}
	if (r == 0) {
		f->hdr.size = size;
		v->dirty = 1;
		__atomic_store_n(&f->size, size, __ATOMIC_RELAXED);
	}
	return r;
}

int v2io_truncate(struct store *s, struct ofile *f, uint64_t size)
{
	struct iobufs *io;
	int r;

	pthread_rwlock_wrlock(&f->lock);
	io = bufs_get(f->hdr.block_size);
	r = io ? truncate_locked(s, f, size, io) : -ENOMEM;
	pthread_rwlock_unlock(&f->lock);
	return r;
}

int v2io_punch(struct store *s, struct ofile *f, uint64_t off, uint64_t len)
{
	uint32_t bs = f->hdr.block_size;
	uint64_t end, first_full, end_full;
	struct iobufs *io;
	int r = 0;

	pthread_rwlock_wrlock(&f->lock);
	io = bufs_get(bs);
	end = off + len > f->hdr.size ? f->hdr.size : off + len;
	if (!io || off >= end)
		goto out;
	first_full = (off + bs - 1) / bs;
	end_full = end / bs;
	/* Partial blocks at either end: zeros written into them. */
	for (uint64_t b = off / bs; b <= (end - 1) / bs && r == 0; b++) {
		uint64_t bstart = b * bs;
		uint64_t zs = off > bstart ? off : bstart, ze = end < bstart + bs ? end : bstart + bs;

		if (b >= first_full && b < end_full)
			continue;
		r = wb_take(s, f, b, io);
		if (r == 0 && zs - bstart < f->wb_len)
			memset(f->wb + (zs - bstart), 0,
			       (ze - bstart < f->wb_len ? ze - bstart : f->wb_len) - (zs - bstart));
	}
	if (r == 0 && end_full > first_full) {
		if (f->wb_dirty && f->wb_block >= first_full && f->wb_block < end_full)
			f->wb_dirty = 0;
		ent_drop(f->v2, first_full, end_full);
	}
	f->v2->dirty = 1;
out:
	pthread_rwlock_unlock(&f->lock);
	return io ? r : -ENOMEM;
}

off_t v2io_lseek(struct ofile *f, off_t off, int whence)
{
	struct v2state *v = f->v2;
	uint32_t bs;
	uint64_t size, b;
	long i;

	pthread_rwlock_rdlock(&f->lock);
	size = f->hdr.size;
	bs = f->hdr.block_size;
	if (off < 0 || (uint64_t)off >= size) {
		pthread_rwlock_unlock(&f->lock);
		return -ENXIO;
	}
	b = (uint64_t)off / bs;
	i = ent_find(v, b);
	if (i < 0)
		i = -i - 1;
	for (;; b++) {
		int data;

		while ((uint32_t)i < v->n && v->ents[i].block < b)
			i++;
		data = ((uint32_t)i < v->n && v->ents[i].block == b) ||
		       (f->wb_dirty && f->wb_block == b);
		if (b * bs >= size || data == (whence == SEEK_DATA))
			break;
		/* Skip straight to the next entry when looking for data. */
		if (whence == SEEK_DATA && (uint32_t)i < v->n && v->ents[i].block > b + 1 &&
		    !(f->wb_dirty && f->wb_block > b && f->wb_block < v->ents[i].block))
			b = v->ents[i].block - 1;
	}
	pthread_rwlock_unlock(&f->lock);
	if (b * bs >= size)
		return whence == SEEK_HOLE ? (off_t)size : -ENXIO;
	return (off_t)(b * bs > (uint64_t)off ? b * bs : (uint64_t)off);
}

/* ---- commit and sync points ---- */

static void mark_all(struct v2state *v, uint8_t bit)
{
	for (uint32_t i = 0; i < v->n; i++)
		v->ents[i].state |= bit;
	v->ix_state |= bit;
}

/* Write the index blob for the current entries (files of more than
 * FH2_INLINE_ENTS blocks) into fresh space; x gets its place. */
static int index_write(struct store *s, struct ofile *f, struct fh2_extra *x)
{
	struct v2state *v = f->v2;
	uint64_t len = fh2_ix_len(v->n);
	uint8_t *blob = malloc(len + CRYPTO_TAG_LEN);
	int r;

	if (!blob)
		return -ENOMEM;
	r = fh2_ix_seal(s->key, f->hdr.file_id, v->ents, v->n, blob, x->ix_tag);
	if (r == 0)
		r = ext_alloc(v, len, &x->ix_off);
	if (r == 0) {
		r = backend_pwrite_full(f->be, f->fd, blob, len, (off_t)x->ix_off);
		if (r < 0)
			list_add(&v->free, x->ix_off, len);
	}
	free(blob);
	x->ix_len = (uint32_t)len;
	return r;
}

/* Give back free space at the end of the data area (only for a file with
 * no durable content: nothing older can refer to it). */
static void trim_tail(struct v2state *v)
{
	while (v->free.n && v->free.v[v->free.n - 1].off + v->free.v[v->free.n - 1].len ==
				    v->data_end) {
		v->data_end = v->free.v[v->free.n - 1].off;
		v->free.n--;
	}
}

static void account_size(struct store *s, struct ofile *f, uint8_t old_algo)
{
	uint64_t old = f->csize;

	if (!f->counted)
		return;
	if (old_algo != f->hdr.codec.algo) {
		stats_file_delta(s->stats, old_algo, -1, -(int64_t)old, -(int64_t)f->stored);
		stats_file_delta(s->stats, f->hdr.codec.algo, 1, (int64_t)f->hdr.size,
				 (int64_t)f->stored);
	} else {
		stats_file_delta(s->stats, f->hdr.codec.algo, 0,
				 (int64_t)f->hdr.size - (int64_t)old, 0);
	}
}

/* Write the in-memory header (gen + 1) to disk. */
static int header_write(struct store *s, struct ofile *f)
{
	struct v2state *v = f->v2;
	struct fh2_extra x = v->disk;
	uint8_t slot[FH2_SLOT];
	int target, r = 0, new_ix = 0;
	uint64_t gen = f->hdr.gen + 1;
	struct file_header h;

	if (v->n > FH2_INLINE_ENTS && (v->ix_dirty || v->disk.nents <= FH2_INLINE_ENTS)) {
		r = index_write(s, f, &x);
		if (r < 0)
			return r;
		new_ix = 1;
	} else if (v->n <= FH2_INLINE_ENTS) {
		x.ix_off = 0;
		x.ix_len = 0;
		memset(x.ix_tag, 0, sizeof(x.ix_tag));
	}
	/* The index blob the header on disk names is superseded. */
	if (v->disk.nents > FH2_INLINE_ENTS && (new_ix || v->n <= FH2_INLINE_ENTS)) {
		ext_release(v, v->disk.ix_off, v->disk.ix_len, v->ix_state);
		v->ix_state = 0;
		v->disk.nents = 0;
	}
	if (v->durable_slot < 0)
		trim_tail(v);
	/* R1 */
	if (v->durable_slot >= 0 && (v->need_sync || new_ix)) {
		r = backend_fsync(f->be, f->fd, 1);
		if (r < 0)
			goto fail;
		v->need_sync = 0;
	}
	x.nents = v->n;
	x.data_end = v->data_end;
	memcpy(x.xattr_mac, v->xmac, CRYPTO_TAG_LEN);
	memcpy(x.xattr_next, v->xnext, CRYPTO_TAG_LEN);
	h = f->hdr;
	h.gen = gen;
	h.nholes = 0;
	r = fh2_seal(s->key, &h, &x, v->ents, slot);
	if (r < 0)
		goto fail;
	target = v->durable_slot < 0 ? v->disk_slot : 1 - v->durable_slot;
	r = backend_pwrite_full(f->be, f->fd, slot, sizeof(slot), (off_t)target * FH2_SLOT);
	if (r < 0)
		goto fail;
	if (target != v->disk_slot)
		v->other_valid = 1;
	v->disk_slot = target;
	f->hdr.gen = gen;
	/* A header not yet durable may be lost in a crash: the hint then
	 * names the durable one, except for a file without durable content,
	 * whose unsynced data a crash may cost anyway. */
	v->hint_gen = v->durable_slot < 0 ? gen : v->durable_gen;
	v->disk = x;
	v->ix_dirty = 0;
	mark_all(v, V2_COMMITTED);
	v->dirty = 0;
	/* Always after the header: it carries the generation (ofile.c). */
	ofile_hint_update(f);
	account_size(s, f, v->disk_algo);
	__atomic_store_n(&f->csize, h.size, __ATOMIC_RELAXED);
	v->disk_flags = h.flags;
	v->disk_algo = h.codec.algo;
	if (v->durable_slot < 0 && v->blen > v->data_end &&
	    backend_ftruncate(f->be, f->fd, (off_t)v->data_end) == 0)
		v->blen = v->data_end;
	if (v->data_end > v->blen)
		v->blen = v->data_end;
	return 0;
fail:
	if (new_ix)
		list_add(&v->free, x.ix_off, x.ix_len);
	log_msg(LOG_LVL_ERROR, "%s (inode %lu): header write failed: %s",
		f->path ? f->path : "?", (unsigned long)f->ino, strerror(-r));
	return r;
}

/* The backing file's mtime is the file's: the time of the last write, or
 * what utimens set, not the time of a later commit. */
static void mtime_restore(struct ofile *f)
{
	struct timespec now, tv[2] = { { .tv_nsec = UTIME_OMIT }, f->wb_mtime };

	clock_gettime(CLOCK_REALTIME, &now);
	if (f->v2->mtime_keep || (now.tv_sec - f->wb_mtime.tv_sec) * 1000000000LL +
					     (now.tv_nsec - f->wb_mtime.tv_nsec) >
				     MTIME_SLACK_NS)
		backend_futimens(f->be, f->fd, tv);
}

/* After the fdatasync of a sync point: the header on disk is durable.
 * Returns 1 if it wrote (zeroed the older slot). */
static int sync_done(struct ofile *f)
{
	struct v2state *v = f->v2;
	int wrote = 0;

	v->durable_slot = v->disk_slot;
	v->durable_gen = f->hdr.gen;
	v->durable_size = f->csize;
	mark_all(v, V2_DURABLE);
	if (v->hint_gen != v->durable_gen) {
		v->hint_gen = v->durable_gen;
		ofile_hint_update(f);
	}
	for (uint32_t i = 0; i < v->pending.n; i++)
		list_add(&v->free, v->pending.v[i].off, v->pending.v[i].len);
	v->pending.n = 0;
	v->need_sync = 0;
	if (v->other_valid) {
		uint8_t zero[FH2_SLOT];

		memset(zero, 0, sizeof(zero));
		if (backend_pwrite_full(f->be, f->fd, zero, sizeof(zero),
					(off_t)(1 - v->disk_slot) * FH2_SLOT) == 0)
			v->other_valid = 0;
		wrote = 1;
	}
	return wrote;
}

/* Commit (content lock held exclusive).  sync: then make it a sync point
 * (datasync: fdatasync rather than fsync). */
static int commit_locked(struct store *s, struct ofile *f, int sync, int datasync)
{
	struct v2state *v = f->v2;
	struct iobufs *io = bufs_get(f->hdr.block_size);
	int r, wrote = 0;

	if (!io)
		return -ENOMEM;
	r = wb_out(s, f, io);
	if (r == 0 && v->dirty) {
		r = header_write(s, f);
		wrote = r == 0;
	}
	if (r == 0 && sync) {
		r = backend_fsync(f->be, f->fd, datasync);
		if (r == 0)
			wrote |= sync_done(f);
	}
	if (wrote)
		mtime_restore(f);
	return r;
}

/* A sync point is due at the last close when an older authenticated header
 * is still on disk: it must not outlive the close (R3). */
static int close_due(const struct v2state *v)
{
	return v->durable_slot >= 0 && (v->other_valid || v->disk_slot != v->durable_slot);
}

/* Bytes the records and the index take. */
static uint64_t live_bytes(const struct v2state *v)
{
	uint64_t n = v->disk.nents > FH2_INLINE_ENTS ? v->disk.ix_len : 0;

	for (uint32_t i = 0; i < v->n; i++)
		n += fh2_rec_len(v->ents[i].stored);
	return n;
}

/* qsort_r order of entry indexes: record offset, highest first. */
static int by_offset_desc(const void *a, const void *b, void *arg)
{
	const struct v2state *v = arg;
	uint64_t x = v->ents[*(const uint32_t *)a].off, y = v->ents[*(const uint32_t *)b].off;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Right after a sync point: cut what lies past the last record.  The
 * durable header still names the old data end (and maybe an index blob
 * near it), so one more header, durable, comes before the cut.  The index
 * blob is written anew below the records' end when a free extent there
 * holds it; a new blob never lands on the old one, which the durable
 * header names (R2). */
static int cut_tail(struct store *s, struct ofile *f)
{
	struct v2state *v = f->v2;
	uint64_t top = FH2_DATA_START, ix_end = 0, off;
	int r;

	for (uint32_t k = 0; k < v->n; k++)
		if (v->ents[k].off + fh2_rec_len(v->ents[k].stored) > top)
			top = v->ents[k].off + fh2_rec_len(v->ents[k].stored);
	if (v->disk.nents > FH2_INLINE_ENTS)
		ix_end = v->disk.ix_off + v->disk.ix_len;
	if (ix_end > top) {
		uint64_t len = fh2_ix_len(v->n);

		int fits = list_take(&v->free, len, &off) == 0;

		if (fits)
			list_add(&v->free, off, len); /* only looked */
		if (fits && off + len <= top)
			v->ix_dirty = 1; /* header_write takes that extent */
		else
			top = ix_end;
	}
	if (((top + 4095) & ~4095ULL) >= ((v->data_end + 4095) & ~4095ULL))
		return 0;
	v->data_end = top;
	free_clip(v);
	v->dirty = 1;
	r = commit_locked(s, f, 1, 1);
	/* The old blob, past the new end, came back as free space. */
	free_clip(v);
	if (r == 0 && backend_ftruncate(f->be, f->fd, (off_t)v->data_end) == 0) {
		v->blen = v->data_end;
		mtime_restore(f);
	}
	return r;
}

/* Right after a sync point, with every unreferenced extent free: move the
 * records nearest the end into free space lower down (records do not
 * depend on their offset), then make that a new durable header with a
 * smaller data end, and cut the file.  What the durable header refers to
 * is never overwritten (moved-from space goes to pending, R2), and the cut
 * waits until the new header is durable.  Done at the last close when the
 * file would occupy fewer 4 KiB blocks and at least an eighth of its data
 * area would come back. */
static int compact(struct store *s, struct ofile *f)
{
	struct v2state *v = f->v2;
	uint64_t live = live_bytes(v), end = v->data_end;
	struct iobufs *io = bufs_get(f->hdr.block_size);
	uint32_t *order;
	uint64_t ix_len, ix_res = 0;
	int moved = 0, r = 0;

	/* Worth it when the file would occupy fewer 4 KiB blocks and at
	 * least an eighth of its data area comes back. */
	if (!io || ((end + 4095) & ~4095ULL) <= ((FH2_DATA_START + live + 4095) & ~4095ULL) ||
	    end - FH2_DATA_START - live < (end - FH2_DATA_START) / 8)
		return 0;
	/* From the last record down, each into the lowest free extent below
	 * it that fits; one that fits nowhere stays. */
	order = malloc((v->n ? v->n : 1) * sizeof(*order));
	if (!order)
		return 0;
	for (uint32_t k = 0; k < v->n; k++)
		order[k] = k;
	qsort_r(order, v->n, sizeof(*order), by_offset_desc, v);
	/* Room for the index blob the next header writes is kept low first,
	 * or it would land past the moved records. */
	ix_len = v->n > FH2_INLINE_ENTS ? fh2_ix_len(v->n) : 0;
	if (ix_len && list_take(&v->free, ix_len, &ix_res) < 0)
		ix_len = 0;
	for (uint32_t k = 0; k < v->n; k++) {
		struct fh2_ent *e = &v->ents[order[k]];
		uint64_t len = fh2_rec_len(e->stored), to;
		ssize_t n;

		if (list_take(&v->free, len, &to) < 0)
			continue;
		if (to > e->off) {
			list_add(&v->free, to, len);
			continue;
		}
		n = backend_pread_full(f->be, f->fd, io->rec, len, (off_t)e->off);
		r = n == (ssize_t)len ? backend_pwrite_full(f->be, f->fd, io->rec, len, (off_t)to)
				      : -EIO;
		if (r < 0) {
			list_add(&v->free, to, len);
			break;
		}
		ext_release(v, e->off, len, e->state);
		e->off = to;
		e->state = 0;
		v->ix_dirty = 1;
		moved = 1;
	}
	free(order);
	if (ix_len)
		list_add(&v->free, ix_res, ix_len);
	if (moved) {
		/* R1: the moved records durable before a header names them. */
		v->dirty = 1;
		v->need_sync = 1;
		r = commit_locked(s, f, 1, 1);
		if (r < 0)
			return r;
	}
	return cut_tail(s, f);
}

int v2io_commit(struct store *s, struct ofile *f, int last)
{
	int r;

	r = commit_locked(s, f, 0, 1);
	if (r == 0 && last && close_due(f->v2)) {
		r = commit_locked(s, f, 1, 1);
		if (r == 0)
			r = compact(s, f);
	}
	return r;
}

int v2io_fsync(struct store *s, struct ofile *f, int datasync)
{
	int r;

	pthread_rwlock_wrlock(&f->lock);
	r = commit_locked(s, f, 1, datasync);
	pthread_rwlock_unlock(&f->lock);
	return r;
}

int v2io_futimens(struct store *s, struct ofile *f, const struct timespec tv[2])
{
	struct stat st;
	int r = commit_locked(s, f, 0, 1);

	if (r == 0)
		r = backend_futimens(f->be, f->fd, tv);
	if (r == 0 && backend_fstat(f->be, f->fd, &st) == 0) {
		f->wb_mtime = st.st_mtim;
		f->v2->mtime_keep = 1;
	}
	return r;
}

int v2io_xattr_bind(struct store *s, struct ofile *f, const uint8_t *cur, const uint8_t *next,
		    int sync)
{
	memcpy(f->v2->xmac, cur, CRYPTO_TAG_LEN);
	memcpy(f->v2->xnext, next, CRYPTO_TAG_LEN);
	f->v2->dirty = 1;
	return commit_locked(s, f, sync, 1);
}

int v2io_xattr_check(struct ofile *f, const uint8_t *tag)
{
	return memcmp(tag, f->v2->xmac, CRYPTO_TAG_LEN) == 0 ||
	       (!tag_zero(f->v2->xnext) && memcmp(tag, f->v2->xnext, CRYPTO_TAG_LEN) == 0)
		       ? 0
		       : -EIO;
}

int v2io_pending(struct ofile *f)
{
	return f->wb_dirty || f->v2->dirty || close_due(f->v2);
}

/* ---- verify ---- */

int v2io_verify(struct store *s, struct ofile *f, void (*bad)(void *arg, uint64_t block),
		void *arg)
{
	int nbad = 0;

	for (uint32_t k = 0;; k++) {
		struct iobufs *io;
		uint64_t b;
		ssize_t r;

		pthread_rwlock_rdlock(&f->lock);
		if (k >= f->v2->n) {
			pthread_rwlock_unlock(&f->lock);
			break;
		}
		b = f->v2->ents[k].block;
		io = bufs_get(f->hdr.block_size);
		r = -ENOMEM;
		if (io) {
			/* The record on disk, not the write-behind copy. */
			const struct fh2_ent *e = &f->v2->ents[k];
			ssize_t n = backend_pread_full(f->be, f->fd, io->rec,
						       fh2_rec_len(e->stored), (off_t)e->off);

			r = n < 0 ? n : rec_decode(s, f, e, io->rec, n, io->plain, io->scratch);
		}
		pthread_rwlock_unlock(&f->lock);
		if (r == -ENOMEM)
			return -ENOMEM;
		if (r < 0) {
			nbad++;
			if (bad)
				bad(arg, b);
		}
	}
	return nbad;
}

/* ---- open and create ---- */

static int ext_cmp(const void *a, const void *b)
{
	const struct v2ext *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Space in the data area that the header does not refer to goes to list. */
static int gaps_to(struct v2state *v, struct v2list *list)
{
	uint32_t n = v->n + (v->disk.nents > FH2_INLINE_ENTS);
	struct v2ext *used = malloc((n ? n : 1) * sizeof(*used));
	uint64_t at = FH2_DATA_START;

	if (!used)
		return -ENOMEM;
	for (uint32_t i = 0; i < v->n; i++) {
		used[i].off = v->ents[i].off;
		used[i].len = fh2_rec_len(v->ents[i].stored);
	}
	if (n > v->n) {
		used[v->n].off = v->disk.ix_off;
		used[v->n].len = v->disk.ix_len;
	}
	qsort(used, n, sizeof(*used), ext_cmp);
	for (uint32_t i = 0; i < n; i++) {
		if (used[i].off < at) {
			free(used);
			return -EBADMSG; /* overlapping records */
		}
		list_add(list, at, used[i].off - at);
		at = used[i].off + used[i].len;
	}
	list_add(list, at, v->data_end - at);
	free(used);
	return 0;
}

static void state_free(struct v2state *v)
{
	if (!v)
		return;
	free(v->ents);
	free(v->free.v);
	free(v->pending.v);
	free(v);
}

void v2io_free(struct ofile *f)
{
	state_free(f->v2);
	f->v2 = NULL;
}

/* The index of header h (extra fields x, ninl inline entries already in
 * v->ents) read from its blob when it is not inline. */
static int index_load(struct store *s, struct ofile *f, struct v2state *v,
		      const struct file_header *h, const struct fh2_extra *x)
{
	uint8_t *blob, *scratch;
	ssize_t n;
	int r;

	blob = malloc(x->ix_len);
	scratch = malloc(x->ix_len + CRYPTO_TAG_LEN);
	if (!blob || !scratch) {
		free(blob);
		free(scratch);
		return -ENOMEM;
	}
	n = backend_pread_full(f->be, f->fd, blob, x->ix_len, (off_t)x->ix_off);
	r = n < 0 ? (int)n : n < (ssize_t)x->ix_len ? -EBADMSG
		   : fh2_ix_open(s->key, h, x, blob, x->ix_len, v->ents, scratch);
	free(blob);
	free(scratch);
	return r;
}

int v2io_load(struct store *s, struct ofile *f, const uint8_t *area, uint64_t blen)
{
	struct file_header h[2];
	struct fh2_extra x[2];
	struct fh2_ent inl[2][FH2_INLINE_ENTS];
	uint32_t ninl[2];
	int ok[2], best = -1, r;
	struct v2state *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		ok[i] = fh2_open(s->key, area + i * FH2_SLOT, &h[i], &x[i], inl[i], &ninl[i]) == 0;
		if (ok[i] && (best < 0 || h[i].gen > h[best].gen))
			best = i;
	}
	/* A backing file shorter than the data end (cut, or a crash that
	 * kept a header but not the records appended before it) is no
	 * reason to refuse the file: each record past the end fails when it
	 * is read, the others still serve. */
	r = best < 0 ? -EBADMSG : 0;
	if (r == 0) {
		v->cap = x[best].nents ? x[best].nents : 1;
		v->ents = calloc(v->cap, sizeof(*v->ents));
		r = v->ents ? 0 : -ENOMEM;
	}
	if (r == 0) {
		v->n = x[best].nents;
		if (ninl[best] == x[best].nents)
			memcpy(v->ents, inl[best], v->n * sizeof(*v->ents));
		else
			r = index_load(s, f, v, &h[best], &x[best]);
	}
	if (r == 0) {
		v->disk = x[best];
		memcpy(v->xmac, x[best].xattr_mac, CRYPTO_TAG_LEN);
		memcpy(v->xnext, x[best].xattr_next, CRYPTO_TAG_LEN);
		v->data_end = x[best].data_end;
		v->disk_slot = v->durable_slot = best;
		v->durable_gen = v->hint_gen = h[best].gen;
		v->durable_size = h[best].size;
		v->bs = h[best].block_size;
		v->other_valid = ok[1 - best];
		v->blen = blen;
		mark_all(v, V2_COMMITTED | V2_DURABLE);
		/* After a crash both slots may verify: what the older one
		 * refers to stays untouched until a sync point. */
		r = gaps_to(v, v->other_valid ? &v->pending : &v->free);
		if (v->other_valid && blen > v->data_end) {
			list_add(&v->pending, v->data_end, blen - v->data_end);
			v->data_end = blen;
		}
	}
	if (r < 0) {
		state_free(v);
		return r == -ENOMEM ? r : -EIO;
	}
	f->hdr = h[best];
	v->disk_flags = h[best].flags;
	v->disk_algo = h[best].codec.algo;
	f->v2 = v;
	return 0;
}

int v2io_header_new(struct store *s, const struct codec_spec *codec, struct file_header *h,
		    uint8_t *area)
{
	struct fh2_extra x;
	struct fh2_ent none[1];
	uint32_t ninl;

	memset(h, 0, sizeof(*h));
	memset(&x, 0, sizeof(x));
	h->gen = 1;
	crypto_random(h->file_id, FH_ID_LEN);
	h->block_size = s->desc.block_size;
	h->codec = *codec;
	x.data_end = FH2_DATA_START;
	memset(area, 0, FH2_DATA_START);
	if (fh2_seal(s->key, h, &x, none, area) < 0)
		return -EIO;
	/* What a later open will read: decoded from the very bytes written. */
	return fh2_open(s->key, area, h, &x, none, &ninl) == 0 ? 0 : -EIO;
}

int v2io_attach_new(struct ofile *f)
{
	struct v2state *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->data_end = FH2_DATA_START;
	v->disk.data_end = FH2_DATA_START;
	v->durable_slot = -1;
	v->bs = f->hdr.block_size;
	v->hint_gen = f->hdr.gen;
	v->blen = FH2_DATA_START;
	v->disk_flags = f->hdr.flags;
	v->disk_algo = f->hdr.codec.algo;
	f->v2 = v;
	return 0;
}

int v2io_peek(const uint8_t *area, uint64_t *size, uint8_t *algo)
{
	uint64_t gen[2], sz[2];
	int best = -1;

	for (int i = 0; i < 2; i++)
		if (fh2_peek(area + i * FH2_SLOT, &gen[i], &sz[i]) == 0 &&
		    (best < 0 || gen[i] > gen[best]))
			best = i;
	if (best < 0)
		return -EBADMSG;
	*size = sz[best];
	*algo = area[best * FH2_SLOT + 36];
	return 0;
}

/* ---- repair (fsck) ---- */

int v2io_drop_blocks(struct store *s, struct ofile *f, const uint64_t *blocks, size_t n)
{
	int r;

	if (!f->v2)
		return -EINVAL;
	pthread_rwlock_wrlock(&f->lock);
	for (size_t i = 0; i < n; i++)
		ent_drop(f->v2, blocks[i], blocks[i] + 1);
	/* A sync point: the header without those entries is durable before
	 * the older slot is zeroed, and nothing refers to their space. */
	r = commit_locked(s, f, 1, 1);
	pthread_rwlock_unlock(&f->lock);
	return r;
}
