/* v2chunk.c - chunk-granular I/O on the chunked records of v2 files
 * (fh2rec.h: a raw block sealed in 4 KiB chunks).  A read of part of such a
 * block opens only the chunks it covers; the write-behind block taken from
 * one (struct v2lazy) opens only the chunks a write does not cover whole,
 * and goes out as a record in which only the changed chunks are sealed
 * again and the others' ciphertext is copied.  So 4 KiB random I/O on
 * incompressible data costs 4 KiB of cryptography, not a whole block.
 * Caller holds the content lock (exclusive where wb changes). */
#include "v2_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "stats.h"

static int bit(const uint64_t *m, uint32_t j)
{
	return (int)(m[j / 64] >> (j % 64) & 1);
}

static void bit_set(uint64_t *m, uint32_t j)
{
	m[j / 64] |= 1ULL << (j % 64);
}

/* Read len bytes of the record of e from offset at; 0 or -errno. */
static int rec_pread(struct store *s, struct ofile *f, const struct fh2_ent *e, uint8_t *buf,
		     size_t len, uint64_t at)
{
	ssize_t n = backend_pread_full(f->be, f->fd, buf, len, (off_t)(e->off + at));

	if (n < 0) {
		stats_error(s->stats, 0, f->path, (int64_t)e->block, strerror((int)-n));
		return (int)n;
	}
	if ((size_t)n < len) {
		v2io_integrity_error(s, f, e->block, "record cut short");
		return -EIO;
	}
	return 0;
}

int v2chunk_read(struct store *s, struct ofile *f, const struct fh2_ent *e, uint32_t from,
		 uint32_t to, char *dst, struct iobufs *io)
{
	uint32_t stop = to < e->plain ? to : e->plain, c0, c1;
	size_t tlen = (size_t)fh2rec_nchunks(e->plain) * CRYPTO_TAG_LEN;
	uint64_t a, z;
	uint8_t *tags, *base;
	int r;

	if (from >= stop) {
		memset(dst, 0, to - from);
		return 0;
	}
	c0 = from / FH2_CHUNK;
	c1 = (stop - 1) / FH2_CHUNK;
	a = fh2rec_chunk_at(e->plain, c0);
	z = fh2rec_chunk_at(e->plain, c1) + CRYPTO_NONCE_LEN + fh2rec_chunk_plain(e->plain, c1);
	if (a <= tlen + 2 * (CRYPTO_NONCE_LEN + FH2_CHUNK)) {
		/* Near the table: one pread from the record's start. */
		r = rec_pread(s, f, e, io->rec, (size_t)z, 0);
		tags = io->rec;
		base = io->rec;
	} else {
		r = rec_pread(s, f, e, io->scratch, tlen, 0);
		if (r == 0)
			r = rec_pread(s, f, e, io->rec, (size_t)(z - a), a);
		tags = io->scratch;
		base = io->rec - a; /* chunk j at base + fh2rec_chunk_at(j) */
	}
	if (r < 0)
		return r;
	if (fh2rec_tags_check(f->hdr.file_id, e, tags) < 0) {
		v2io_integrity_error(s, f, e->block, "record does not authenticate");
		return -EIO;
	}
	for (uint32_t j = c0; j <= c1; j++) {
		uint32_t cs = j * FH2_CHUNK, ce = cs + fh2rec_chunk_plain(e->plain, j);
		uint32_t lo = cs > from ? cs : from, hi = ce < stop ? ce : stop;
		int whole = lo == cs && hi == ce;
		uint8_t *out = whole ? (uint8_t *)dst + (cs - from) : io->plain;

		if (fh2rec_chunk_open(s->key, f->hdr.file_id, e, tags, j,
				      base + fh2rec_chunk_at(e->plain, j), out) < 0) {
			v2io_integrity_error(s, f, e->block, "record does not authenticate");
			return -EIO;
		}
		if (!whole)
			memcpy(dst + (lo - from), io->plain + (lo - cs), hi - lo);
	}
	if (stop < to)
		memset(dst + (stop - from), 0, to - stop);
	return 0;
}

/* ---- the write-behind block ---- */

/* Open chunk j of the base record into out (+ j chunks). */
static int old_open(struct store *s, struct ofile *f, uint32_t j, uint8_t *out)
{
	struct v2lazy *z = &f->v2->lz;

	if (fh2rec_chunk_open(s->key, f->hdr.file_id, &z->base, z->old, j,
			      z->old + fh2rec_chunk_at(z->base.plain, j), out) < 0) {
		v2io_integrity_error(s, f, z->base.block, "record does not authenticate");
		return -EIO;
	}
	return 0;
}

int v2chunk_take(struct store *s, struct ofile *f, const struct fh2_ent *e)
{
	struct v2lazy *z = &f->v2->lz;
	size_t len = fh2_rec_len(e->stored);
	uint32_t n = fh2rec_nchunks(e->plain);
	int r;

	z->on = 0;
	if (z->cap < len) {
		uint8_t *p = realloc(z->old, len);

		if (!p)
			return -ENOMEM;
		z->old = p;
		z->cap = len;
	}
	r = rec_pread(s, f, e, z->old, len, 0);
	if (r < 0)
		return r;
	if (fh2rec_tags_check(f->hdr.file_id, e, z->old) < 0) {
		v2io_integrity_error(s, f, e->block, "record does not authenticate");
		return -EIO;
	}
	z->base = *e;
	memset(z->have, 0, sizeof(z->have));
	memset(z->mod, 0, sizeof(z->mod));
	for (uint32_t j = n; j < V2_CHUNK_WORDS * 64; j++)
		bit_set(z->have, j);
	memset(f->wb + e->plain, 0, f->hdr.block_size - e->plain);
	z->on = 1;
	return 0;
}

int v2chunk_prepare(struct store *s, struct ofile *f, uint32_t o, uint32_t n)
{
	struct v2lazy *z = &f->v2->lz;

	if (!z->on || n == 0)
		return 0;
	for (uint32_t j = o / FH2_CHUNK; j <= (o + n - 1) / FH2_CHUNK; j++) {
		if (!bit(z->have, j)) {
			uint32_t cs = j * FH2_CHUNK, ce = cs + fh2rec_chunk_plain(z->base.plain, j);
			int r = o <= cs && o + n >= ce ? 0 : old_open(s, f, j, f->wb + cs);

			if (r < 0)
				return r;
			bit_set(z->have, j);
		}
		bit_set(z->mod, j);
	}
	return 0;
}

int v2chunk_fill(struct store *s, struct ofile *f, uint8_t *out)
{
	struct v2lazy *z = &f->v2->lz;

	memcpy(out, f->wb, f->wb_len);
	if (!z->on)
		return 0;
	for (uint32_t j = 0; j < fh2rec_nchunks(z->base.plain); j++)
		if (!bit(z->have, j) && old_open(s, f, j, out + (size_t)j * FH2_CHUNK) < 0)
			return -EIO;
	return 0;
}

/* Chunk j of the block as it is now (len bytes) is the base's, unchanged. */
static int reusable(const struct v2lazy *z, uint32_t len, uint32_t j)
{
	return j < fh2rec_nchunks(z->base.plain) && !bit(z->mod, j) &&
	       fh2rec_chunk_plain(z->base.plain, j) == fh2rec_chunk_plain(len, j);
}

/* How many chunks of wb (len bytes) changed; *zero: all of them hold
 * only zeros. */
static uint32_t changed(const struct v2lazy *z, const uint8_t *wb, uint32_t len, int *zero)
{
	uint32_t n = 0;

	*zero = 1;
	for (uint32_t j = 0; j < fh2rec_nchunks(len); j++)
		if (bit(z->mod, j)) {
			n++;
			if (!is_zero(wb + (size_t)j * FH2_CHUNK, fh2rec_chunk_plain(len, j)))
				*zero = 0;
		}
	return n;
}

int v2chunk_out(struct store *s, struct ofile *f, struct iobufs *io)
{
	struct v2lazy *z = &f->v2->lz;
	uint32_t len = f->wb_len, n = fh2rec_nchunks(len), reuse = 0, mod;
	struct fh2_ent e;
	uint8_t *rec = io->rec;
	int zero;

	if (!z->on)
		return 0;
	mod = changed(z, f->wb, len, &zero);
	if (mod == 0 && len == z->base.plain) {
		/* Taken and not changed (a write that failed): the block's
		 * record is still the base. */
		z->on = 0;
		return 1;
	}
	for (uint32_t j = 0; j < n && len > FH2_CHUNK; j++)
		reuse += (uint32_t)reusable(z, len, j);
	if (reuse && zero)
		reuse = 0; /* zeros written: the block may have become a hole */
	if (!reuse) {
		/* Nothing to copy: wb becomes whole for block_store, which
		 * gives compression its chance (and makes zeros a hole). */
		for (uint32_t j = 0; j < fh2rec_nchunks(z->base.plain); j++)
			if (!bit(z->have, j) && (size_t)j * FH2_CHUNK < len) {
				if (old_open(s, f, j, f->wb + (size_t)j * FH2_CHUNK) < 0)
					return -EIO;
				bit_set(z->have, j);
			}
		z->on = 0;
		return 0;
	}
	memset(&e, 0, sizeof(e));
	e.block = f->wb_block;
	e.algo = FH2_ALGO_CHUNKED;
	e.plain = len;
	e.stored = fh2rec_chunked_stored(len);
	/* In order: chunk j's seal writes its tag over the start of j+1. */
	for (uint32_t j = 0; j < n; j++) {
		uint8_t *c = rec + fh2rec_chunk_at(len, j);

		if (reusable(z, len, j)) {
			memcpy(c, z->old + fh2rec_chunk_at(z->base.plain, j),
			       CRYPTO_NONCE_LEN + fh2rec_chunk_plain(len, j));
			memcpy(rec + (size_t)j * CRYPTO_TAG_LEN, z->old + (size_t)j * CRYPTO_TAG_LEN,
			       CRYPTO_TAG_LEN);
			continue;
		}
		if (!bit(z->have, j)) {
			if (old_open(s, f, j, f->wb + (size_t)j * FH2_CHUNK) < 0)
				return -EIO;
			bit_set(z->have, j);
		}
		if (fh2rec_chunk_seal(s->key, f->hdr.file_id, &e, j, f->wb + (size_t)j * FH2_CHUNK, c,
				      rec) < 0)
			return -EIO;
	}
	fh2rec_tags_sum(f->hdr.file_id, &e, rec);
	{
		int r = v2io_place(s, f, &e, rec, fh2_rec_len(e.stored));

		return r < 0 ? r : 1;
	}
}
