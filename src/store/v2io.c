/* v2io.c - the data path of v2 (packed) files: read, write, truncate,
 * punch, SEEK_DATA/HOLE and verify, on the in-memory map (v2map.c); memory
 * is the truth while a file is open, and v2commit.c puts it on disk.  The
 * whole blocks of a write are sealed, and the records of a read span
 * opened, in parallel on the store's worker pool (pool.h). */
#include "v2_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "bcache.h"
#include "log.h"
#include "pool.h"
#include "stats.h"
#include "util.h"

/* Largest run of consecutive records one read fetches with one pread. */
#define SPAN_MAX (1024 * 1024)

/* ---- blocks ---- */

void v2io_integrity_error(struct store *s, struct ofile *f, uint64_t b, const char *cause)
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
		v2io_integrity_error(s, f, e->block, "record cut short");
		return -EIO;
	}
	r = fh2rec_open(s->key, f->hdr.file_id, e, rec, f->hdr.block_size, out, scratch);
	if (r < 0) {
		v2io_integrity_error(s, f, e->block, "record does not authenticate");
		return -EIO;
	}
	return r;
}

static void cache_key(const struct ofile *f, const struct fh2_ent *e, struct bcache_key *k)
{
	memcpy(k->id, f->hdr.file_id, FH_ID_LEN);
	k->block = e->block;
	memcpy(k->tag, e->tag, CRYPTO_TAG_LEN);
}

/* Block b into out: its plain length (the rest reads as zeros), 0 for a
 * hole, or -errno.  Goes through the block cache. */
static ssize_t block_load(struct store *s, struct ofile *f, uint64_t b, uint8_t *out,
			  struct iobufs *io)
{
	struct v2state *v = f->v2;
	const struct fh2_ent *e;
	struct bcache_key k;
	long i;
	ssize_t n;

	if (f->wb_dirty && b == f->wb_block) {
		int r = v2chunk_fill(s, f, out);

		return r < 0 ? r : (ssize_t)f->wb_len;
	}
	i = v2map_find(v, b);
	if (i < 0)
		return 0;
	e = &v->ents[i];
	cache_key(f, e, &k);
	if (bcache_get(s->bcache, &k, 0, e->plain, out))
		return e->plain;
	n = backend_pread_full(f->be, f->fd, io->rec, fh2_rec_len(e->stored), (off_t)e->off);
	if (n < 0) {
		stats_error(s->stats, 0, f->path, (int64_t)b, strerror((int)-n));
		return n;
	}
	n = rec_decode(s, f, e, io->rec, n, out, io->scratch);
	if (n > 0)
		bcache_put(s->bcache, &k, out, (uint32_t)n);
	return n;
}

int v2io_place(struct store *s, struct ofile *f, struct fh2_ent *e, const uint8_t *rec,
	       size_t n)
{
	struct v2state *v = f->v2;
	int r;

	v->dirty = 1;
	if (v->durable_slot < 0) {
		/* No durable content: a record that fits where the block's
		 * last one was goes there, so rewrites (a truncate, the
		 * last block growing) do not spread the file. */
		long i = v2map_find(v, e->block);

		if (i >= 0 && fh2_rec_len(v->ents[i].stored) >= (uint64_t)n) {
			uint64_t old = fh2_rec_len(v->ents[i].stored);

			e->off = v->ents[i].off;
			r = backend_pwrite_full(f->be, f->fd, rec, n, (off_t)e->off);
			if (r < 0) {
				stats_error(s->stats, 0, f->path, (int64_t)e->block, strerror(-r));
				return r;
			}
			e->state = 0;
			v->ents[i] = *e;
			v->ix_dirty = 1;
			v2map_list_add(&v->free, e->off + (uint64_t)n, old - (uint64_t)n);
			return 0;
		}
	}
	r = v2map_alloc(v, (uint64_t)n, &e->off);
	if (r < 0)
		return r;
	r = backend_pwrite_full(f->be, f->fd, rec, n, (off_t)e->off);
	if (r < 0) {
		v2map_list_add(&v->free, e->off, (uint64_t)n); /* referenced by nothing */
		stats_error(s->stats, 0, f->path, (int64_t)e->block, strerror(-r));
		return r;
	}
	e->state = 0;
	r = v2map_set(v, e);
	if (r < 0)
		v2map_list_add(&v->free, e->off, (uint64_t)n);
	return r;
}

/* Seal plain[0..len) as block b's new record and put it in the index; an
 * all-zero block becomes a hole instead. */
static int block_store(struct store *s, struct ofile *f, uint64_t b, const uint8_t *plain,
		       uint32_t len, struct iobufs *io, int cache)
{
	struct fh2_ent e;
	ssize_t n;

	f->v2->dirty = 1;
	if (is_zero(plain, len)) {
		v2map_drop(f->v2, b, b + 1);
		return 0;
	}
	n = fh2rec_seal(s->key, f->hdr.file_id, &f->hdr.codec, b, plain, len,
			f->hdr.block_size, io->rec, &e);
	if (n < 0)
		return (int)n;
	if (cache && e.algo != FH2_ALGO_CHUNKED) {
		/* A block rewritten in place (read, modified, written):
		 * likely to be taken again. */
		struct bcache_key k;

		cache_key(f, &e, &k);
		bcache_put(s->bcache, &k, plain, len);
	}
	return v2io_place(s, f, &e, io->rec, (size_t)n);
}

int v2io_recompress(struct store *s, struct ofile *f, uint64_t b)
{
	struct iobufs *io;
	ssize_t have = 0;
	long i;
	int r;

	r = ofile_lock(s, f, 1);
	io = bufs_get(f->hdr.block_size);
	i = v2map_find(f->v2, b);
	if (r < 0)
		have = r;
	else if (!io)
		have = -ENOMEM;
	else if (i >= 0 && !(f->wb_dirty && f->wb_block == b))
		have = block_load(s, f, b, io->plain, io);
	r = have <= 0 ? (int)have : block_store(s, f, b, io->plain, (uint32_t)have, io, 0);
	ofile_unlock(s, f);
	return r < 0 ? r : have > 0;
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
int v2io_wb_out(struct store *s, struct ofile *f, struct iobufs *io)
{
	int r;

	if (!f->wb_dirty)
		return 0;
	r = v2chunk_out(s, f, io);
	if (r == 0)
		r = block_store(s, f, f->wb_block, f->wb, f->wb_len, io, f->v2->wb_rmw);
	else if (r > 0)
		r = 0;
	if (r == 0)
		f->wb_dirty = 0;
	return r;
}

/* Make block b the write-behind block, loaded with its content. */
static int wb_take(struct store *s, struct ofile *f, uint64_t b, struct iobufs *io)
{
	uint32_t bs = f->hdr.block_size, len = block_len(f->hdr.size, bs, b);
	ssize_t have;
	long i;
	int r;

	if (f->wb_dirty && f->wb_block == b)
		return 0;
	r = v2io_wb_out(s, f, io);
	if (r < 0)
		return r;
	if (!f->wb) {
		f->wb = malloc(bs);
		if (!f->wb)
			return -ENOMEM;
	}
	f->v2->lz.on = 0;
	i = v2map_find(f->v2, b);
	if (i >= 0 && f->v2->ents[i].algo == FH2_ALGO_CHUNKED) {
		/* Chunks are opened as writes need them. */
		r = v2chunk_take(s, f, &f->v2->ents[i]);
		have = r < 0 ? r : (ssize_t)f->v2->ents[i].plain;
	} else {
		have = block_load(s, f, b, f->wb, io);
		if (have >= 0 && (uint32_t)have < len)
			memset(f->wb + have, 0, len - (size_t)have);
	}
	if (have < 0)
		return (int)have;
	f->v2->wb_rmw = have > 0;
	f->wb_block = b;
	f->wb_len = len > (uint32_t)have ? len : (uint32_t)have;
	f->wb_dirty = 1;
	/* A short last chunk that grows changes. */
	return v2chunk_prepare(s, f, (uint32_t)have, f->wb_len - (uint32_t)have);
}

/* ---- reading ---- */

/* The thread's buffer for a span of records (fileio.c bufs_span). */
static uint8_t *span_get(uint32_t bs, size_t need)
{
	struct iobufs *io = bufs_get(bs);

	return io ? bufs_span(io, need) : NULL;
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

/* The request [pos, end) covers only part of the data of e's block. */
static int part_of(const struct ofile *f, const struct fh2_ent *e, uint64_t pos, uint64_t end)
{
	uint64_t bstart = e->block * f->hdr.block_size;

	return pos > bstart || end < bstart + e->plain;
}

ssize_t v2io_read(struct store *s, struct ofile *f, char *buf, size_t len, off_t off)
{
	struct v2state *v;
	struct iobufs *io;
	uint32_t bs;
	uint64_t pos = (uint64_t)off, end;
	size_t done = 0;
	ssize_t r = ofile_lock(s, f, 0);

	v = f->v2; /* after the lock: shared mode may have loaded it anew */
	bs = f->hdr.block_size;
	io = bufs_get(bs);
	if (r < 0)
		goto out;
	if (!io) {
		r = -ENOMEM;
		goto out;
	}
	if (pos >= f->hdr.size)
		goto out;
	end = f->hdr.size - pos < len ? f->hdr.size : pos + len;
	while (pos < end && r >= 0) {
		uint64_t b = pos / bs, last = (end - 1) / bs;
		long i = v2map_find(v, b);
		uint32_t j;
		uint8_t *span;
		size_t slen;
		ssize_t n;

		if (i < 0 || (f->wb_dirty && b == f->wb_block) ||
		    (v->ents[i].algo != FH2_ALGO_CHUNKED && part_of(f, &v->ents[i], pos, end))) {
			/* A hole, the write-behind block, or part of a whole
			 * record's data (through the block cache). */
			uint32_t o = (uint32_t)(pos % bs);
			size_t take = bs - o < end - pos ? bs - o : (size_t)(end - pos);
			ssize_t have = block_load(s, f, b, io->plain, io);

			if (have < 0) {
				r = have;
				break;
			}
			bufs_copy_out(buf + done, io->plain, (size_t)have, o, take);
			done += take;
			pos += take;
			continue;
		}
		if (v->ents[i].algo == FH2_ALGO_CHUNKED) {
			/* Part of a chunked block: only the chunks needed. */
			uint64_t bstart = b * bs;
			uint32_t from = (uint32_t)(pos - bstart);
			uint32_t to = end - bstart < bs ? (uint32_t)(end - bstart) : bs;

			if (part_of(f, &v->ents[i], pos, end)) {
				r = v2chunk_read(s, f, &v->ents[i], from, to, buf + done, io);
				done += to - from;
				pos += to - from;
				continue;
			}
		}
		slen = span_end(f, (uint32_t)i, last, &j);
		span = span_get(bs, slen);
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
	ofile_unlock(s, f);
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
	t->len[i] = fh2rec_seal(t->s->key, t->f->hdr.file_id, &t->f->hdr.codec, t->first + i,
				 plain, bs, bs, t->buf + i * t->slot, &t->e[i]);
}


/* Store n (<= BATCH_MAX) whole blocks from src as blocks first.. */
static int batch_store(struct store *s, struct ofile *f, uint64_t first, const char *src,
		       size_t n)
{
	struct v2state *v = f->v2;
	uint32_t bs = f->hdr.block_size;
	struct batch tb; /* about 3 KiB: on the stack, no allocation per write */
	struct batch *t = &tb;
	uint64_t total = 0, off = 0, at = 0;
	int r = 0;

	t->s = s;
	t->f = f;
	t->src = src;
	t->first = first;
	t->slot = fh2rec_max(bs);
	t->buf = span_get(bs, n * t->slot);
	if (!t->buf)
		return -ENOMEM;
	pool_run(s->pool, n, batch_seal, t);
	for (size_t i = 0; i < n && r == 0; i++) {
		if (t->len[i] < 0)
			r = (int)t->len[i];
		total += t->len[i] > 0 ? (uint64_t)t->len[i] : 0;
	}
	if (r == 0 && total)
		r = v2map_alloc(v, total, &off);
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
			v2map_list_add(&v->free, off, total); /* referenced by nothing */
			stats_error(s->stats, 0, f->path, (int64_t)first, strerror(-r));
		}
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		if (t->len[i] == 0)
			v2map_drop(v, first + i, first + i + 1);
		else
			r = v2map_set(v, &t->e[i]);
	}
	v->dirty = 1;
	return r;
}

ssize_t v2io_write(struct store *s, struct ofile *f, const char *buf, size_t len, off_t off)
{
	struct iobufs *io;
	uint64_t pos = (uint64_t)off;
	uint32_t bs;
	size_t done = 0;
	int r = ofile_lock(s, f, 1);

	bs = f->hdr.block_size;
	io = bufs_get(bs);
	if (r < 0)
		goto out;
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
			if (r == 0)
				r = o > f->wb_len ? v2chunk_prepare(s, f, f->wb_len, o + (uint32_t)n - f->wb_len)
						  : v2chunk_prepare(s, f, o, (uint32_t)n);
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
	ofile_unlock(s, f);
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
		/* The cut block first: if it cannot be cut (a damaged
		 * record), nothing has changed. */
		if (size % bs) {
			uint64_t b = size / bs;
			uint32_t keep = (uint32_t)(size % bs);
			long i = v2map_find(v, b);

			if (f->wb_dirty && f->wb_block == b) {
				if (f->wb_len > keep) {
					r = v2chunk_prepare(s, f, keep, f->wb_len - keep);
					if (r == 0)
						f->wb_len = keep;
				}
			} else if (i >= 0 && v->ents[i].plain > keep) {
				/* Bytes past the new end must not come back
				 * when the file grows again. */
				ssize_t have = block_load(s, f, b, io->plain, io);

				r = have < 0 ? (int)have : block_store(s, f, b, io->plain, keep, io, 0);
			}
		}
		if (r == 0) {
			if (f->wb_dirty && f->wb_block >= nblk)
				f->wb_dirty = 0;
			v2map_drop(v, nblk, UINT64_MAX);
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

	r = ofile_lock(s, f, 1);
	io = bufs_get(f->hdr.block_size);
	if (r == 0)
		r = io ? truncate_locked(s, f, size, io) : -ENOMEM;
	ofile_unlock(s, f);
	return r;
}

int v2io_punch(struct store *s, struct ofile *f, uint64_t off, uint64_t len)
{
	uint32_t bs = f->hdr.block_size;
	uint64_t end, first_full, end_full;
	struct iobufs *io;
	int r = ofile_lock(s, f, 1);

	io = bufs_get(bs);
	end = off + len > f->hdr.size ? f->hdr.size : off + len;
	if (r < 0 || !io || off >= end)
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
			r = v2chunk_prepare(s, f, (uint32_t)(zs - bstart),
					    (uint32_t)((ze - bstart < f->wb_len ? ze - bstart : f->wb_len) -
						       (zs - bstart)));
		if (r == 0 && zs - bstart < f->wb_len)
			memset(f->wb + (zs - bstart), 0,
			       (ze - bstart < f->wb_len ? ze - bstart : f->wb_len) - (zs - bstart));
	}
	if (r == 0 && end_full > first_full) {
		if (f->wb_dirty && f->wb_block >= first_full && f->wb_block < end_full)
			f->wb_dirty = 0;
		v2map_drop(f->v2, first_full, end_full);
	}
	f->v2->dirty = 1;
out:
	ofile_unlock(s, f);
	return io ? r : -ENOMEM;
}

off_t v2io_lseek(struct store *s, struct ofile *f, off_t off, int whence)
{
	struct v2state *v;
	uint32_t bs;
	uint64_t size, b;
	long i;
	int r = ofile_lock(s, f, 0);

	v = f->v2;
	size = f->hdr.size;
	bs = f->hdr.block_size;
	if (r < 0) {
		ofile_unlock(s, f);
		return r;
	}
	if (off < 0 || (uint64_t)off >= size) {
		ofile_unlock(s, f);
		return -ENXIO;
	}
	b = (uint64_t)off / bs;
	i = v2map_find(v, b);
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
	ofile_unlock(s, f);
	if (b * bs >= size)
		return whence == SEEK_HOLE ? (off_t)size : -ENXIO;
	return (off_t)(b * bs > (uint64_t)off ? b * bs : (uint64_t)off);
}

/* ---- verify ---- */

int v2io_verify_one(struct store *s, struct ofile *f, uint64_t k, uint64_t *block)
{
	struct iobufs *io;
	const struct fh2_ent *e;
	ssize_t n;

	if (k >= f->v2->n)
		return 1;
	e = &f->v2->ents[k];
	*block = e->block;
	io = bufs_get(f->hdr.block_size);
	if (!io)
		return -ENOMEM;
	/* The record on disk, not the write-behind copy. */
	n = backend_pread_full(f->be, f->fd, io->rec, fh2_rec_len(e->stored), (off_t)e->off);
	n = n < 0 ? n : rec_decode(s, f, e, io->rec, n, io->plain, io->scratch);
	return n < 0 ? (int)n : 0;
}
