/* test_v2chunk.c - the chunked records of format v2 files (fh2rec.h,
 * src/store/v2chunk.c) through the ofile API, on a memory-backend store
 * with 64 KiB blocks, once without compression and once with lz4 (which
 * must fall back to chunked records for random data):
 *
 *  1. a randomized model test at chunk scale: writes of random, text and
 *     zero bytes at 4 KiB-aligned and unaligned offsets, 1 byte to 3
 *     blocks, over chunked blocks, past the end and inside a short last
 *     chunk; truncates into a chunk or a block and growing again; punches;
 *     flushes, fsyncs and reopens; after every operation random reads
 *     (1 byte .. 200 KiB, which go through v2chunk_read, the write-behind
 *     block and whole records) and the whole file, against a byte array;
 *  2. layout: random blocks are chunked records; a 4 KiB write re-seals
 *     only the chunks it touches and copies the others' ciphertext; a
 *     4 KiB read fetches one chunk and the tag table; a block rewritten
 *     with text is compressed (lz4);
 *  3. tampering: a flipped chunk byte, an older chunk or record put back,
 *     a flipped tag-table byte, a file cut inside a record, and partial
 *     writes into such blocks;
 *  4. edge cases: zeros written over a chunked block with a zero chunk
 *     make a hole; a truncate that fails on a damaged chunk (of the
 *     write-behind block or not) changes nothing.
 *
 * The header slots are parsed without the key (v2image.h; the layout is in
 * fh2.c, the chunked record's in fh2rec.c): the test looks at where records
 * are and which bytes changed, never at what they say. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fh2.h"
#include "fh2rec.h"
#include "memstore.h"
#include "ofile.h"
#include "store.h"
#include "unit.h"
#include "util.h"
#include "v2image.h"

#define BS 65536               /* the block size of the stores here */
#define CH FH2_CHUNK           /* 4096 */
#define NCH (BS / CH)          /* chunks of a full block */
#define MAXB 10                /* model files grow up to this many blocks */
#define MAXLEN (MAXB * BS)
#define PAD (MAXLEN + 4 * BS)  /* content buffers: zeros past the content */
#define READ_MAX (200 * 1024)
#define SEEDS 8                /* model runs per codec */
#define STEPS 600              /* operations per run */
#define TAGS (NCH * CRYPTO_TAG_LEN) /* tag table of a full block */

static uint8_t rbuf[PAD], wbuf[PAD];

/* ---- helpers ---- */

/* 1 if len bytes at off of f read as want does (want holds the whole
 * content, size bytes, zeros past it). */
static int read_ok(struct store *s, struct ofile *f, const uint8_t *want, size_t size,
		   size_t off, size_t len)
{
	size_t expect = off >= size ? 0 : (size - off < len ? size - off : len);
	ssize_t n = ofile_read(s, f, (char *)rbuf, len, (off_t)off);

	if (n == (ssize_t)expect && memcmp(rbuf, want + off, expect) == 0)
		return 1;
	fprintf(stderr, "read %zu at %zu (size %zu): got %zd, want %zu%s\n", len, off, size, n,
		expect, n == (ssize_t)expect ? ", other bytes" : "");
	return 0;
}

/* ---- chunks of a record in the backing file ---- */

/* Where chunk j of the record of e starts (its nonce), in the file. */
static uint64_t chunk_pos(const struct rent *e, uint32_t j)
{
	return e->off + fh2rec_chunk_at(e->plain, j);
}

static size_t chunk_len(const struct rent *e, uint32_t j)
{
	return CRYPTO_NONCE_LEN + fh2rec_chunk_plain(e->plain, j);
}

/* ---- 1. the randomized model test ---- */

struct mfile {
	struct model mo;  /* mo.m: PAD bytes */
	unsigned chunked; /* chunked records seen at rest */
	unsigned blobs;   /* times at rest with an index blob */
};

/* At rest (closed, or right after fsync): the backing length is the data
 * end, the size is the model's; count the chunked records. */
static void model_at_rest(struct model *mo, const struct image *im, const char *what)
{
	struct mfile *mf = (struct mfile *)mo; /* its first member */
	struct rent e[FH2_INLINE_ENTS];
	struct slot sl;
	int n;

	if (!im->b)
		return;
	sl = slot_get(im, newest(im));
	CHECK_EQ(sl.size, mo->len);
	CHECK_EQ(sl.data_end, im->len);
	n = ents_of(im, e);
	mf->blobs += n < 0;
	for (int i = 0; i < n; i++) {
		mf->chunked += e[i].algo == FH2_ALGO_CHUNKED;
		if (e[i].algo == FH2_ALGO_CHUNKED)
			CHECK(e[i].plain > CH && e[i].stored == fh2rec_chunked_stored(e[i].plain));
	}
}

/* An offset to write at, given the file's length. */
static size_t pick_off(size_t len)
{
	switch (below(8)) {
	case 0: return CH * below(len / CH + 2);                 /* chunk-aligned */
	case 1: return below(len + 1);                           /* anywhere */
	case 2: return len;                                      /* append */
	case 3: return len + 1 + below(2 * BS);                  /* past the end */
	case 4: return len - len % CH + below(CH);               /* in the last chunk */
	case 5: return BS * below(len / BS + 2);                 /* block-aligned */
	case 6: return CH * below(len / CH + 1) + 1 + below(CH - 1); /* in a chunk */
	default: return len > CH ? len - 1 - below(CH) : 0;      /* across the end */
	}
}

static size_t pick_len(void)
{
	switch (below(7)) {
	case 0: return 1 + below(64);
	case 1: return 1 + below(CH);
	case 2: return CH;
	case 3: return CH * (1 + below(3));
	case 4: return CH * (1 + below(3 * NCH));
	case 5: return BS * (1 + below(3));
	default: return 1 + below(3 * BS);
	}
}

/* Random reads of the file, each against the model. */
static int model_reads(struct store *s, struct model *mo, char *what, size_t wlen)
{
	for (int k = 0; k < 3; k++) {
		size_t off, n;

		switch (below(4)) {
		case 0: off = CH * below(mo->len / CH + 1); break;
		case 1: off = below(mo->len + 1); break;
		case 2: off = mo->len > CH ? mo->len - below(CH) : 0; break;
		default: off = BS * below(mo->len / BS + 1) + below(2) * (CH - 1); break;
		}
		switch (below(5)) {
		case 0: n = 1 + below(16); break;
		case 1: n = 1 + below(CH); break;
		case 2: n = CH * (1 + below(3)); break;
		case 3: n = BS; break;
		default: n = 1 + below(READ_MAX); break;
		}
		if (!read_ok(s, mo->f, mo->m, mo->len, off, n)) {
			snprintf(what + strlen(what), wlen - strlen(what), ", then read %zu at %zu", n,
				 off);
			return 0;
		}
	}
	return 1;
}

/* One random operation on mo, described into what; 0 if it failed. */
static int model_step(struct store *s, struct model *mo, char *what, size_t wlen)
{
	unsigned op = (unsigned)below(100), before = unit_failed;
	size_t off, n, len = mo->len;

	if (op < 42) {
		int kind = below(10) < 6 ? DATA_RANDOM : below(4) ? DATA_TEXT : DATA_ZERO;

		n = pick_len();
		off = pick_off(len);
		model_write(s, mo, off, n, kind, what, wlen);
	} else if (op < 52) {
		size_t grow = below(2) ? below(2 * BS) : 0;

		switch (below(4)) {
		case 0: n = CH * below(len / CH + 1) + 1 + below(CH - 1); break; /* in a chunk */
		case 1: n = CH * below(len / CH + 1); break;
		case 2: n = below(len + 1); break;
		default: n = len + below(2 * BS); break;
		}
		if (n > MAXLEN)
			n = MAXLEN;
		if (n + grow > MAXLEN)
			grow = MAXLEN - n;
		model_truncate(s, mo, n, what, wlen);
		if (grow) {
			/* The bytes past the cut read as zeros. */
			snprintf(what + strlen(what), wlen - strlen(what), ", then to %zu", n + grow);
			CHECK_EQ(ofile_truncate(s, mo->f, n + grow), 0);
			mo->len = n + grow;
			CHECK(read_ok(s, mo->f, mo->m, mo->len, n > CH ? n - CH : 0, 2 * CH));
		}
	} else if (op < 60) {
		off = below(len + 1);
		n = 1 + below(2 * BS);
		if (below(3) == 0) {
			off -= off % CH;
			n = CH * (1 + below(NCH));
		}
		model_punch(s, mo, off, n, what, wlen);
	} else if (op < 70) {
		snprintf(what, wlen, "flush");
		CHECK_EQ(ofile_flush(s, mo->f), 0);
	} else if (op < 74) {
		model_flush_other(s, mo, what, wlen);
	} else if (op < 81) {
		model_fsync(s, mo, what, wlen);
	} else if (op < 89) {
		if (!model_reopen(s, mo, what, wlen))
			return 0;
	} else if (op < 93) {
		snprintf(what, wlen, "verify (size %zu)", len);
		CHECK_EQ(ofile_verify(s, mo->f, NULL, NULL), 0);
	} else {
		snprintf(what, wlen, "reads only (size %zu)", len);
	}
	if (unit_failed != before)
		return 0;
	return model_reads(s, mo, what, wlen) && same(s, mo->f, mo->m, mo->len);
}

static void test_model(struct store *s, uint64_t seed, unsigned ops, unsigned *chunked,
		       unsigned *blobs)
{
	char name[32], what[192];
	struct mfile mf = { { name, NULL, calloc(1, PAD), 0, MAXLEN, model_at_rest }, 0, 0 };
	struct ofile *f;

	snprintf(name, sizeof(name), "model%llu", (unsigned long long)seed);
	rng = seed * 0x9e3779b97f4a7c15ULL;
	mf.mo.f = create(s, name);
	/* Start from random blocks, so that there are chunked records to
	 * write into from the first step on. */
	mf.mo.len = (size_t)(1 + below(4)) * BS + below(BS);
	fill(mf.mo.m, mf.mo.len, DATA_RANDOM);
	if (mf.mo.f && mf.mo.m)
		CHECK_EQ(ofile_write(s, mf.mo.f, (char *)mf.mo.m, mf.mo.len, 0), mf.mo.len);
	for (unsigned i = 0; i < ops && mf.mo.f && mf.mo.m; i++) {
		if (model_step(s, &mf.mo, what, sizeof(what)))
			continue;
		CHECK(!"model: content differs");
		fprintf(stderr, "chunk model seed %llu, codec %d: op %u failed: %s\n",
			(unsigned long long)seed, s->desc.codec.algo, i, what);
		break;
	}
	done(s, mf.mo.f);
	f = reopen(s, NULL, name);
	CHECK(f && same(s, f, mf.mo.m, mf.mo.len));
	done(s, f);
	*chunked += mf.chunked;
	*blobs += mf.blobs;
	backend_unlinkat(s->be, s->rootfd, name, 0);
	free(mf.mo.m);
}

/* ---- 2. layout ---- */

/* The bytes of the backing file read by the store, while counting. */
static struct {
	const struct backend_ops *mem_ops;
	struct backend_ops hooked;
	int on;
	uint64_t bytes;
} rd;

static ssize_t hook_pread(struct backend *be, int fd, void *buf, size_t len, off_t off)
{
	ssize_t r = rd.mem_ops->pread(be, fd, buf, len, off);

	if (rd.on && r > 0)
		__atomic_add_fetch(&rd.bytes, (uint64_t)r, __ATOMIC_RELAXED);
	return r;
}

/* Backing bytes a read of len at off costs (it must succeed). */
static uint64_t read_cost(struct store *s, struct ofile *f, const uint8_t *want, size_t size,
			  size_t off, size_t len)
{
	rd.bytes = 0;
	rd.on = 1;
	CHECK(read_ok(s, f, want, size, off, len));
	rd.on = 0;
	return rd.bytes;
}

/* In record e of image cur against e0 of image old (the same block): 1 if
 * chunk j (nonce, ciphertext and its tag in the table) is byte for byte
 * the old one. */
static int chunk_kept(const struct image *old, const struct rent *e0, const struct image *cur,
		      const struct rent *e, uint32_t j)
{
	return memcmp(old->b + chunk_pos(e0, j), cur->b + chunk_pos(e, j), chunk_len(e, j)) == 0 &&
	       memcmp(old->b + e0->off + (size_t)j * CRYPTO_TAG_LEN,
		      cur->b + e->off + (size_t)j * CRYPTO_TAG_LEN, CRYPTO_TAG_LEN) == 0;
}

/* Block b of name is a chunked record in which exactly the chunks in the
 * mask changed were sealed anew, the others copied from image old; old
 * becomes the current image. */
static void check_resealed(struct store *s, const char *name, struct image *old, uint64_t b,
			   uint64_t changed, const char *what)
{
	unsigned before = unit_failed;
	struct image cur = { 0 };
	struct rent e0, e;

	image_of(s, name, &cur);
	if (ent_of(old, b, &e0) == 0 && ent_of(&cur, b, &e) == 0) {
		CHECK_EQ(e.algo, FH2_ALGO_CHUNKED);
		CHECK_EQ(e.stored, fh2rec_chunked_stored(e.plain));
		for (uint32_t j = 0; e.algo == FH2_ALGO_CHUNKED && j < fh2rec_nchunks(e.plain); j++)
			if (changed >> j & 1)
				CHECK(!chunk_kept(old, &e0, &cur, &e, j));
			else
				CHECK(chunk_kept(old, &e0, &cur, &e, j));
	}
	image_free(old);
	*old = cur;
	context(before, what);
}

static void test_layout(struct store *s)
{
	const size_t len = 4 * BS + 5000;
	uint8_t *d = calloc(1, PAD);
	struct image im = { 0 }, im2 = { 0 };
	struct rent e[FH2_INLINE_ENTS], e1;
	struct ofile *f = create(s, "layout");
	int lz4 = s->desc.codec.algo == CODEC_LZ4;
	uint64_t cost;

	if (!d || !f)
		goto out;
	/* Four random blocks and 5000 bytes (two chunks, the second short). */
	fill(d, len, DATA_RANDOM);
	CHECK_EQ(ofile_write(s, f, (char *)d, len, 0), len);
	done(s, f);
	image_of(s, "layout", &im);
	CHECK_EQ(ents_of(&im, e), 5);
	for (int i = 0; i < 5 && ents_of(&im, e) == 5; i++) {
		CHECK_EQ(e[i].block, i);
		CHECK_EQ(e[i].algo, FH2_ALGO_CHUNKED);
		CHECK_EQ(e[i].plain, i < 4 ? BS : 5000);
		CHECK_EQ(e[i].stored, fh2rec_chunked_stored(e[i].plain));
		CHECK_EQ(fh2_rec_len(e[i].stored), e[i].plain + fh2rec_nchunks(e[i].plain) *
							  (CRYPTO_TAG_LEN + CRYPTO_NONCE_LEN));
	}

	/* A 4 KiB read costs its chunk and the tag table, not the block. */
	f = reopen(s, NULL, "layout");
	if (!f)
		goto out;
	rd.mem_ops = s->be->ops;
	rd.hooked = *rd.mem_ops;
	rd.hooked.pread = hook_pread;
	s->be->ops = &rd.hooked;
	cost = read_cost(s, f, d, len, 2 * BS + 9 * CH, CH);
	CHECK(cost >= CH && cost <= TAGS + CRYPTO_NONCE_LEN + CH);
	cost = read_cost(s, f, d, len, BS + 11 * CH + 100, CH); /* two chunks */
	CHECK(cost >= CH && cost <= TAGS + 2 * (CRYPTO_NONCE_LEN + CH));
	cost = read_cost(s, f, d, len, 3 * BS + 5, 10); /* near the table */
	CHECK(cost <= TAGS + 3 * (CRYPTO_NONCE_LEN + CH));
	cost = read_cost(s, f, d, len, 2 * BS, BS); /* a whole block: all of it */
	CHECK(cost >= BS);
	s->be->ops = rd.mem_ops;

	/* 4 KiB writes into block 1: an aligned one (chunk 3), an unaligned
	 * one (chunks 7 and 8), one byte (chunk 15).  Only those chunks are
	 * sealed anew; the others keep their ciphertext. */
	fill(wbuf, CH, DATA_RANDOM);
	CHECK_EQ(ofile_write(s, f, (char *)wbuf, CH, BS + 3 * CH), CH);
	memcpy(d + BS + 3 * CH, wbuf, CH);
	fill(wbuf, CH, DATA_RANDOM);
	CHECK_EQ(ofile_write(s, f, (char *)wbuf, CH, BS + 7 * CH + 1234), CH);
	memcpy(d + BS + 7 * CH + 1234, wbuf, CH);
	CHECK_EQ(ofile_write(s, f, "!", 1, 2 * BS - 1), 1);
	d[2 * BS - 1] = '!';
	CHECK(read_ok(s, f, d, len, BS + 3 * CH - 10, 3 * CH)); /* the write-behind block */
	CHECK(read_ok(s, f, d, len, BS, BS));
	done(s, f);
	check_resealed(s, "layout", &im, 1, 1 << 3 | 1 << 7 | 1 << 8 | 1 << 15, "4 KiB writes");
	/* The short last chunk grows: chunk 1 of block 4 sealed again. */
	f = reopen(s, NULL, "layout");
	fill(wbuf, 100, DATA_RANDOM);
	CHECK_EQ(ofile_write(s, f, (char *)wbuf, 100, (off_t)len), 100);
	memcpy(d + len, wbuf, 100);
	CHECK_EQ(ofile_fsync(s, f, 1), 0);
	check_resealed(s, "layout", &im, 4, 1 << 1, "the last chunk grown");
	if (ent_of(&im, 4, &e1) == 0)
		CHECK_EQ(e1.plain, 5100);
	/* Random data over the whole of block 2 in 4 KiB writes: every chunk
	 * sealed anew, still chunked. */
	for (uint32_t j = 0; f && j < NCH; j++) {
		fill(wbuf, CH, DATA_RANDOM);
		CHECK_EQ(ofile_write(s, f, (char *)wbuf, CH, 2 * BS + j * CH), CH);
		memcpy(d + 2 * BS + j * CH, wbuf, CH);
	}
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	check_resealed(s, "layout", &im, 2, (1 << NCH) - 1, "block 2 rewritten in chunks");

	/* Text over block 1 in one write, over block 2 in sixteen 4 KiB
	 * writes, over all but chunk 0 of block 3: lz4 compresses the first
	 * two; the third keeps its unchanged chunk, so it stays chunked. */
	fill(d + BS, BS, DATA_TEXT);
	CHECK_EQ(ofile_write(s, f, (char *)d + BS, BS, BS), BS);
	fill(d + 2 * BS, BS, DATA_TEXT);
	for (uint32_t j = 0; f && j < NCH; j++)
		CHECK_EQ(ofile_write(s, f, (char *)d + 2 * BS + j * CH, CH, 2 * BS + j * CH), CH);
	fill(d + 3 * BS + CH, BS - CH, DATA_TEXT);
	CHECK_EQ(ofile_write(s, f, (char *)d + 3 * BS + CH, BS - CH, 3 * BS + CH), BS - CH);
	done(s, f);
	image_of(s, "layout", &im2);
	for (uint64_t b = 1; b <= 2; b++)
		if (ent_of(&im2, b, &e1) == 0)
			CHECK_EQ(e1.algo, lz4 ? CODEC_LZ4 : FH2_ALGO_CHUNKED);
	check_resealed(s, "layout", &im, 3, 0xfffe, "block 3 but chunk 0 rewritten with text");
	f = reopen(s, NULL, "layout");
	CHECK(f && same(s, f, d, len + 100));
	/* A write into a compressed block keeps it whole. */
	CHECK_EQ(ofile_write(s, f, "xyz", 3, BS + 5000), 3);
	memcpy(d + BS + 5000, "xyz", 3);
	done(s, f);
	image_free(&im2);
	image_of(s, "layout", &im2);
	if (ent_of(&im2, 1, &e1) == 0)
		CHECK_EQ(e1.algo, lz4 ? CODEC_LZ4 : FH2_ALGO_CHUNKED);
	f = reopen(s, NULL, "layout");
	CHECK(f && same(s, f, d, len + 100));
	/* A cut inside chunk 1 of block 4 (not the write-behind block): the
	 * block is sealed again with 4100 bytes, two chunks. */
	CHECK_EQ(ofile_truncate(s, f, 4 * BS + 4100), 0);
	memset(d + 4 * BS + 4100, 0, BS - 4100);
	CHECK_EQ(ofile_truncate(s, f, 5 * BS + 3000), 0);
	CHECK(read_ok(s, f, d, 5 * BS + 3000, 4 * BS + 4000, 2 * CH));
	/* A block of at most one chunk is a whole record. */
	fill(d + 5 * BS, 3000, DATA_RANDOM);
	CHECK_EQ(ofile_write(s, f, (char *)d + 5 * BS, 3000, 5 * BS), 3000);
	CHECK(same(s, f, d, 5 * BS + 3000));
	done(s, f);
	image_free(&im2);
	image_of(s, "layout", &im2);
	if (ent_of(&im2, 5, &e1) == 0)
		CHECK(e1.algo == CODEC_NONE && e1.plain == 3000 && e1.stored == 3000);
	if (ent_of(&im2, 4, &e1) == 0)
		CHECK(e1.algo == FH2_ALGO_CHUNKED && e1.plain == 4100 &&
		      e1.stored == fh2rec_chunked_stored(4100));
	f = reopen(s, NULL, "layout");
	CHECK(f && same(s, f, d, 5 * BS + 3000));
	/* The write-behind block, taken from a chunked record with only
	 * chunk 5 opened, cut to exactly one chunk: chunk 0, never opened,
	 * is opened for a whole record of 4096 bytes. */
	CHECK_EQ(ofile_write(s, f, "five", 4, 3 * BS + 5 * CH + 7), 4);
	CHECK_EQ(ofile_truncate(s, f, 3 * BS + CH), 0);
	CHECK_EQ(ofile_truncate(s, f, 3 * BS + 3 * CH), 0);
	memset(d + 3 * BS + CH, 0, 5 * BS);
	CHECK(read_ok(s, f, d, 3 * BS + 3 * CH, 3 * BS, 3 * CH));
	CHECK_EQ(ofile_flush(s, f), 0);
	CHECK(same(s, f, d, 3 * BS + 3 * CH));
	done(s, f);
	image_free(&im2);
	image_of(s, "layout", &im2);
	if (ent_of(&im2, 3, &e1) == 0)
		CHECK(e1.algo == CODEC_NONE && e1.plain == CH && e1.stored == CH); /* random */
	f = reopen(s, NULL, "layout");
	CHECK(f && same(s, f, d, 3 * BS + 3 * CH));
	done(s, f);
out:
	backend_unlinkat(s->be, s->rootfd, "layout", 0);
	image_free(&im);
	image_free(&im2);
	free(d);
}

/* ---- 3. tampering ---- */

static void put(struct store *s, int fd, const void *p, size_t n, uint64_t off)
{
	CHECK_EQ(backend_pwrite_full(s->be, fd, p, n, (off_t)off), 0);
}

/* A tamper file (tamper_new) of 4 chunked records; their entries in e[]. */
static struct ofile *tamper_file(struct store *s, const char *name, uint8_t *d, struct rent *e)
{
	struct ofile *f = tamper_new(s, name, d);
	struct image im = { 0 };

	if (!f)
		return NULL;
	/* Errors are counted once per path, block and cause in a while. */
	ofile_set_path(f, name);
	image_take(s, ofile_fd(f), &im);
	CHECK_EQ(ents_of(&im, e), 4);
	for (uint32_t i = 0; i < 4; i++)
		CHECK(e[i].block == i && e[i].algo == FH2_ALGO_CHUNKED && e[i].plain == BS);
	image_free(&im);
	return f;
}

/* Read chunk j of block b alone: as in d, or EIO. */
static void check_chunk(struct store *s, struct ofile *f, const uint8_t *d, uint64_t b,
			uint32_t j, int bad)
{
	size_t off = (size_t)b * BS + (size_t)j * CH;
	ssize_t n = ofile_read(s, f, (char *)rbuf, CH, (off_t)off);

	if (bad) {
		CHECK_EQ(n, -EIO);
		CHECK_EQ(ofile_read(s, f, (char *)rbuf, 1, (off_t)off + 77), -EIO);
	} else {
		CHECK(n == CH && memcmp(rbuf, d + off, CH) == 0);
	}
}

/* Integrity errors counted since *last (which moves on). */
static uint64_t new_errors(struct store *s, uint64_t *last)
{
	uint64_t now = memstore_stats(s).integrity_errors, d = now - *last;

	*last = now;
	return d;
}

/* Chunk j of block b was just damaged: it reads EIO, and the store counts
 * an integrity error since *errs (which moves on). */
static void check_damaged(struct store *s, struct ofile *f, const uint8_t *d, uint64_t b,
			  uint32_t j, uint64_t *errs)
{
	check_chunk(s, f, d, b, j, 1);
	CHECK(new_errors(s, errs) >= 1);
}

/* What the tampering cases share. */
struct tamper {
	uint8_t *d;                     /* 4 * BS bytes: what the file holds */
	uint8_t *old;                   /* room for a record: fh2rec_max(BS) */
	struct rent e[FH2_INLINE_ENTS]; /* the file's entries, undamaged */
	uint64_t errs;                  /* integrity errors counted so far */
};

/* One case: f is a new tamper file, open; the case damages it, checks what
 * reads, writes and verify make of it and returns it (or a handle opened
 * anew, or NULL). */
typedef struct ofile *tamper_fn(struct store *s, struct tamper *t, struct ofile *f);

/* Run the case fn on a new tamper file name; its failed checks are named
 * what. */
static void tamper_case(struct store *s, struct tamper *t, const char *name, tamper_fn *fn,
			const char *what)
{
	unsigned before = unit_failed;
	struct ofile *f = tamper_file(s, name, t->d, t->e);

	if (f) {
		done(s, fn(s, t, f));
		new_errors(s, &t->errs);
	}
	context(before, what);
}

/* A flipped ciphertext byte in chunk 3 of block 1.  The tag table
 * still matches the entry, so the other chunks of block 1 open, and
 * only a read that needs chunk 3 fails (it never returns its bytes). */
static struct ofile *tamper_flipped_chunk(struct store *s, struct tamper *t, struct ofile *f)
{
	uint8_t *d = t->d;
	const struct rent *e = t->e;
	struct rent e2;
	struct image im = { 0 };
	int fd = ofile_fd(f);

	flip(s, fd, chunk_pos(&e[1], 3) + CRYPTO_NONCE_LEN + 1000);
	check_damaged(s, f, d, 1, 3, &t->errs);
	check_chunk(s, f, d, 1, 2, 0);
	check_chunk(s, f, d, 1, 4, 0);
	check_chunk(s, f, d, 1, 15, 0);
	CHECK_EQ(ofile_read(s, f, (char *)rbuf, 2 * CH, BS + 2 * CH + 1), -EIO);
	check_blocks(s, f, d, 1 << 1);
	/* A write into part of chunk 3 needs its old bytes: EIO. */
	CHECK_EQ(ofile_write(s, f, "x", 1, BS + 3 * CH + 5), -EIO);
	CHECK_EQ(ofile_flush(s, f), 0);
	check_blocks(s, f, d, 1 << 1);
	/* A write into chunk 5 copies chunk 3's ciphertext as it is:
	 * chunk 3 still fails, chunk 5 has the new bytes. */
	CHECK_EQ(ofile_write(s, f, "y", 1, BS + 5 * CH + 5), 1);
	d[BS + 5 * CH + 5] = 'y';
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	check_chunk(s, f, d, 1, 3, 1);
	check_chunk(s, f, d, 1, 5, 0);
	f = reopen(s, f, "flipped-chunk");
	check_chunk(s, f, d, 1, 3, 1);
	check_chunk(s, f, d, 1, 5, 0);
	check_blocks(s, f, d, 1 << 1);
	/* A flipped nonce byte of chunk 0 of block 2, too. */
	image_take(s, ofile_fd(f), &im);
	if (ent_of(&im, 2, &e2) == 0)
		flip(s, ofile_fd(f), chunk_pos(&e2, 0) + 5);
	check_chunk(s, f, d, 2, 0, 1);
	check_chunk(s, f, d, 2, 1, 0);
	check_blocks(s, f, d, 1 << 1 | 1 << 2);
	/* Writing the whole of chunk 3 needs none of its old bytes: the
	 * block is whole again. */
	fill(d + BS + 3 * CH, CH, DATA_RANDOM);
	CHECK_EQ(ofile_write(s, f, (char *)d + BS + 3 * CH, CH, BS + 3 * CH), CH);
	CHECK_EQ(ofile_flush(s, f), 0);
	check_chunk(s, f, d, 1, 3, 0);
	check_blocks(s, f, d, 1 << 2);
	image_free(&im);
	return f;
}

/* An older copy of chunk 4 of block 2 put back into the record that
 * replaced it, then the whole older record: both fail. */
static struct ofile *tamper_older_chunk(struct store *s, struct tamper *t, struct ofile *f)
{
	uint8_t *d = t->d;
	const struct rent *e = t->e;
	struct rent e2;
	struct image im = { 0 };
	int fd = ofile_fd(f);

	CHECK_EQ(backend_pread_full(s->be, fd, t->old, fh2_rec_len(e[2].stored),
				    (off_t)e[2].off), fh2_rec_len(e[2].stored));
	fill(d + 2 * BS + 4 * CH, CH, DATA_RANDOM);
	CHECK_EQ(ofile_write(s, f, (char *)d + 2 * BS + 4 * CH, CH, 2 * BS + 4 * CH), CH);
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	image_take(s, fd, &im);
	if (ent_of(&im, 2, &e2) == 0) {
		CHECK(memcmp(e2.tag, e[2].tag, CRYPTO_TAG_LEN) != 0);
		put(s, fd, t->old + fh2rec_chunk_at(BS, 4), CRYPTO_NONCE_LEN + CH,
		    chunk_pos(&e2, 4));
		check_damaged(s, f, d, 2, 4, &t->errs);
		check_chunk(s, f, d, 2, 3, 0);
		check_chunk(s, f, d, 2, 12, 0);
		check_blocks(s, f, d, 1 << 2);
		/* Its old tag with it: the table no longer matches. */
		put(s, fd, t->old + 4 * CRYPTO_TAG_LEN, CRYPTO_TAG_LEN,
		    e2.off + 4 * CRYPTO_TAG_LEN);
		check_chunk(s, f, d, 2, 4, 1);
		check_chunk(s, f, d, 2, 12, 1);
		/* The whole older record: authentic, but older than the
		 * entry's tag. */
		put(s, fd, t->old, fh2_rec_len(e[2].stored), e2.off);
		check_chunk(s, f, d, 2, 4, 1);
		check_chunk(s, f, d, 2, 0, 1);
		check_blocks(s, f, d, 1 << 2);
		CHECK_EQ(ofile_write(s, f, "z", 1, 2 * BS + 9 * CH + 1), -EIO);
	}
	image_free(&im);
	return f;
}

/* A flipped byte of the tag table of block 0 (chunk 6's tag): no
 * chunk of block 0 opens, and no partial write into it; the other
 * blocks are intact; a whole-block write replaces it. */
static struct ofile *tamper_flipped_table(struct store *s, struct tamper *t, struct ofile *f)
{
	uint8_t *d = t->d;
	const struct rent *e = t->e;
	int fd = ofile_fd(f);

	flip(s, fd, e[0].off + 6 * CRYPTO_TAG_LEN + 3);
	check_damaged(s, f, d, 0, 6, &t->errs);
	check_chunk(s, f, d, 0, 0, 1);
	check_chunk(s, f, d, 0, 15, 1);
	check_chunk(s, f, d, 1, 6, 0);
	check_blocks(s, f, d, 1 << 0);
	CHECK_EQ(ofile_write(s, f, "w", 1, 9 * CH), -EIO);
	CHECK_EQ(ofile_write(s, f, (char *)d, CH, 0), -EIO); /* the rest is needed */
	CHECK_EQ(ofile_write(s, f, "w", 1, 3 * BS + 9), 1);
	d[3 * BS + 9] = 'w';
	CHECK_EQ(ofile_flush(s, f), 0);
	check_blocks(s, f, d, 1 << 0);
	fill(d, BS, DATA_RANDOM);
	CHECK_EQ(ofile_write(s, f, (char *)d, BS, 0), BS);
	f = reopen(s, f, "flipped-table");
	check_blocks(s, f, d, 0);
	return f;
}

/* Cut inside the last chunk of the last record: the chunks before
 * the cut still open, the cut one reads EIO, and so does a partial
 * write into that block (it needs the whole record). */
static struct ofile *tamper_cut(struct store *s, struct tamper *t, struct ofile *f)
{
	uint8_t *d = t->d;
	const struct rent *e = t->e;
	uint32_t last = 0;
	int fd = ofile_fd(f);

	for (uint32_t i = 1; i < 4; i++)
		last = e[i].off > e[last].off ? i : last;
	CHECK_EQ(backend_ftruncate(s->be, fd, (off_t)(chunk_pos(&e[last], NCH - 1) + 100)), 0);
	check_damaged(s, f, d, last, NCH - 1, &t->errs);
	check_chunk(s, f, d, last, 0, 0);
	check_chunk(s, f, d, last, NCH - 2, 0);
	check_blocks(s, f, d, 1ULL << last);
	CHECK_EQ(ofile_write(s, f, "c", 1, (off_t)last * BS + 1), -EIO);
	return f;
}

static void test_tamper(struct store *s)
{
	struct tamper t = { calloc(1, 4 * BS), malloc(fh2rec_max(BS)), { { 0 } },
			    memstore_stats(s).integrity_errors };

	if (t.d && t.old) {
		printf("test_v2chunk: the integrity errors logged are expected\n");
		tamper_case(s, &t, "flipped-chunk", tamper_flipped_chunk, "a flipped chunk byte");
		tamper_case(s, &t, "older-chunk", tamper_older_chunk, "an older chunk");
		tamper_case(s, &t, "flipped-table", tamper_flipped_table, "a flipped tag-table byte");
		tamper_case(s, &t, "cut", tamper_cut, "a file cut inside a chunk");
	}
	free(t.old);
	free(t.d);
}

/* ---- 4. edge cases ---- */

/* A block of random data whose chunk 0 is zeros, then zeros written over
 * chunks 1-15 by 4 KiB writes: the block is all zeros, and an all-zero
 * block takes no data space (SPEC section 3): it becomes a hole, as it
 * does when it is written whole, even though chunk 0 was never changed. */
static void test_zero_block(struct store *s)
{
	unsigned before = unit_failed;
	struct ofile *f = create(s, "zeroed");
	struct image im = { 0 };
	struct rent e[FH2_INLINE_ENTS];

	memset(wbuf, 0, BS);
	fill(wbuf + CH, BS - CH, DATA_RANDOM);
	CHECK_EQ(ofile_write(s, f, (char *)wbuf, BS, 0), BS);
	f = reopen(s, f, "zeroed");
	memset(wbuf, 0, BS);
	for (uint32_t j = 1; f && j < NCH; j++)
		CHECK_EQ(ofile_write(s, f, (char *)wbuf, CH, j * CH), CH);
	CHECK(f && same(s, f, wbuf, BS));
	done(s, f);
	image_of(s, "zeroed", &im);
	CHECK_EQ(ents_of(&im, e), 0);
	CHECK_EQ(im.len, FH2_DATA_START);
	image_free(&im);
	backend_unlinkat(s->be, s->rootfd, "zeroed", 0);
	context(before, "an all-zero block written in chunks over a zero chunk");
}

/* A truncate into a damaged chunk of block 0 fails (it needs that chunk's
 * bytes to seal the cut block) and must leave the file as it was: its
 * size, block 1 past the cut, and, when block 0 is the write-behind block
 * (wb), an earlier acknowledged write into another chunk of it, which is
 * stored at the close and reads back after it. */
static void test_failed_truncate(struct store *s, int wb)
{
	unsigned before = unit_failed;
	uint8_t *d = calloc(1, 2 * BS);
	struct image im = { 0 };
	struct rent e;
	struct ofile *f = create(s, "failed-cut");
	char what[96];

	if (!d || !f)
		goto out;
	fill(d, 2 * BS, DATA_RANDOM);
	CHECK_EQ(ofile_write(s, f, (char *)d, 2 * BS, 0), 2 * BS);
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	f = reopen(s, f, "failed-cut");
	if (!f)
		goto out;
	ofile_set_path(f, wb ? "failed-cut-wb" : "failed-cut");
	image_take(s, ofile_fd(f), &im);
	if (ent_of(&im, 0, &e) == 0)
		flip(s, ofile_fd(f), chunk_pos(&e, 5) + CRYPTO_NONCE_LEN + 10);
	if (wb) {
		memset(d + 10 * CH + 7, 'A', 100);
		CHECK_EQ(ofile_write(s, f, (char *)d + 10 * CH + 7, 100, 10 * CH + 7), 100);
	}
	CHECK_EQ(ofile_truncate(s, f, 5 * CH + 100), -EIO);
	CHECK_EQ(ofile_size(f), 2 * BS);
	CHECK(read_ok(s, f, d, 2 * BS, BS, BS));
	CHECK_EQ(ofile_release(s, f), 0);
	f = reopen(s, NULL, "failed-cut");
	if (!f)
		goto out;
	CHECK_EQ(ofile_size(f), 2 * BS);
	check_chunk(s, f, d, 0, 10, 0);
	check_chunk(s, f, d, 0, 9, 0);
	check_chunk(s, f, d, 0, 5, 1);
	CHECK(read_ok(s, f, d, 2 * BS, BS, BS));
	done(s, f);
out:
	backend_unlinkat(s->be, s->rootfd, "failed-cut", 0);
	image_free(&im);
	free(d);
	snprintf(what, sizeof(what), "a truncate that fails on a damaged chunk%s",
		 wb ? " of the write-behind block" : "");
	context(before, what);
}

int main(void)
{
	if (crypto_init() < 0)
		return 1;
	for (int c = 0; c < 2; c++) {
		struct store *s = memstore_open_bs(1, c ? CODEC_LZ4 : CODEC_NONE, BS);
		unsigned chunked = 0, blobs = 0, before = unit_failed;

		CHECK(s != NULL);
		if (!s)
			break;
		CHECK_EQ(s->desc.block_size, BS);
		for (uint64_t seed = 1; seed <= SEEDS; seed++)
			test_model(s, seed + 100 * (uint64_t)c, STEPS, &chunked, &blobs);
		/* The model went through chunked records many times, in files
		 * with their index in the slot and in a blob. */
		printf("test_v2chunk: codec %d: %u chunked records and %u index blobs seen at rest\n",
		       s->desc.codec.algo, chunked, blobs);
		CHECK(chunked >= 100 && blobs >= 5);
		context(before, c ? "model, lz4" : "model, none");
		test_layout(s);
		test_tamper(s);
		test_zero_block(s);
		test_failed_truncate(s, 0);
		test_failed_truncate(s, 1);
		store_close(s);
	}
	return unit_done();
}
