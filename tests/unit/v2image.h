/* v2image.h - what the unit tests of format v2 files (test_v2io.c,
 * test_v2chunk.c) share: a seeded random generator and the test data it
 * makes; opening and comparing files through the ofile API; the operations
 * of the randomized model tests, each applied to a file and to its model;
 * and the backing file read raw, its header slots and inline index entries
 * parsed without the key (the layout is in fh2.c).  The tests look at where
 * records are and which bytes changed, never at what they say.  Included by
 * one test translation unit each, like unit.h, so the generator's state can
 * live here as a static. */
#ifndef RAGSTORE_V2IMAGE_H
#define RAGSTORE_V2IMAGE_H

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "fh2.h"
#include "ofile.h"
#include "store.h"
#include "unit.h"
#include "util.h"

#define HINT_XATTR "user.ragstore.h"
#define HINT_LEN 19            /* size, flags, algorithm, generation */
#define ENTS_AT 128            /* inline entries of a slot (fh2.c) */

/* ---- random test data ---- */

/* The generator's state: a test seeds it (never 0) to repeat a run. */
static uint64_t rng = 1;

static inline uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

/* A number in [0, n); 0 when n is 0. */
static inline uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

enum { DATA_RANDOM, DATA_TEXT, DATA_ZERO };

/* Incompressible, compressible or all-zero bytes. */
static inline void fill(uint8_t *p, size_t len, int kind)
{
	static const char words[] = "the quick brown fox jumps over the lazy dog; ";
	size_t at = below(sizeof(words) - 1);

	for (size_t i = 0; i < len; i++)
		p[i] = kind == DATA_ZERO ? 0
		       : kind == DATA_TEXT ? (uint8_t)words[(at + i) % (sizeof(words) - 1)]
					   : (uint8_t)rnd();
}

/* Name what was being checked if a check failed since before; 1 if none
 * did. */
static inline int context(unsigned before, const char *what)
{
	if (unit_failed != before)
		fprintf(stderr, "    (in: %s)\n", what);
	return unit_failed == before;
}

/* ---- files through the ofile API (plaintext names, in the root) ---- */

/* A new file name, open; NULL (with a failed check) if it could not be
 * made.  Release with ofile_release or done. */
static inline struct ofile *create(struct store *s, const char *name)
{
	struct ofile_layout lay = { s->desc.codec, 0 };
	struct ofile *f = NULL;

	CHECK_EQ(ofile_create(s, s->rootfd, name, 0600, (uid_t)-1, (gid_t)-1, &lay, 1, &f), 0);
	return f;
}

/* Release f (if any) and open name again; NULL (with a failed check) if it
 * does not open. */
static inline struct ofile *reopen(struct store *s, struct ofile *f, const char *name)
{
	struct ofile *g = NULL;

	if (f)
		CHECK_EQ(ofile_release(s, f), 0);
	CHECK_EQ(ofile_open(s, s->rootfd, name, &g), 0);
	return g;
}

/* Release f, if any. */
static inline void done(struct store *s, struct ofile *f)
{
	if (f)
		CHECK_EQ(ofile_release(s, f), 0);
}

/* 1 if f holds exactly want[0..len) (a read of a block more returns len
 * bytes); else 0, printing the first difference. */
static inline int same(struct store *s, struct ofile *f, const uint8_t *want, size_t len)
{
	size_t room = len + s->desc.block_size, i = 0;
	uint8_t *got = malloc(room);
	ssize_t n;
	int ok;

	if (!got) {
		CHECK(!"same: out of memory");
		return 0;
	}
	n = ofile_read(s, f, (char *)got, room, 0);
	ok = n == (ssize_t)len && ofile_size(f) == len && memcmp(got, want, len) == 0;
	if (!ok) {
		while (n > 0 && i < (size_t)n && i < len && got[i] == want[i])
			i++;
		fprintf(stderr, "same: read %zd of %zu bytes, size %llu, first difference at %zu\n",
			n, len, (unsigned long long)ofile_size(f), i);
	}
	free(got);
	return ok;
}

/* ---- the backing file, raw ---- */

struct image {
	uint8_t *b;   /* len bytes, then FH2_DATA_START zeros (whole slots) */
	size_t len;
	uint8_t hint[HINT_LEN + 8];
	ssize_t hlen; /* < 0: no hint attribute */
};

/* Free im's bytes; it is then empty, with no hint.  An image that is all
 * zeros ({ 0 }) may be freed. */
static inline void image_free(struct image *im)
{
	free(im->b);
	memset(im, 0, sizeof(*im));
	im->hlen = -1;
}

/* Bytes and hint attribute of the backing file open as fd (of s->be) into
 * im, whose old bytes are freed. */
static inline void image_take(struct store *s, int fd, struct image *im)
{
	struct stat st;

	image_free(im);
	CHECK_EQ(backend_fstat(s->be, fd, &st), 0);
	im->len = (size_t)st.st_size;
	im->b = calloc(1, im->len + FH2_DATA_START);
	CHECK(im->b && backend_pread_full(s->be, fd, im->b, im->len, 0) == (ssize_t)im->len);
	im->hlen = backend_fgetxattr(s->be, fd, HINT_XATTR, im->hint, sizeof(im->hint));
}

/* The same for the backing file name in the root of s. */
static inline void image_of(struct store *s, const char *name, struct image *im)
{
	int fd = backend_openat(s->be, s->rootfd, name, O_RDONLY, 0);

	CHECK(fd >= 0);
	if (fd >= 0) {
		image_take(s, fd, im);
		backend_close(s->be, fd);
	}
}

/* A header slot's fields that the tests look at. */
struct slot {
	int v2;
	uint64_t gen, size, data_end;
	uint32_t nents;
};

/* Slot i (0 or 1) of im; v2 is 0 if im is too short for it or it is not
 * a v2 slot (then the other fields mean nothing). */
static inline struct slot slot_get(const struct image *im, int i)
{
	const uint8_t *p = im->b + i * FH2_SLOT;
	struct slot sl;

	sl.v2 = im->len >= (size_t)(i + 1) * FH2_SLOT && fh2_is_v2(p);
	sl.gen = util_get_le64(p + 8);
	sl.size = util_get_le64(p + 40);
	sl.data_end = util_get_le64(p + 48);
	sl.nents = util_get_le32(p + 56);
	return sl;
}

/* The slot with the higher generation (0 or 1); 0 if neither is v2. */
static inline int newest(const struct image *im)
{
	struct slot a = slot_get(im, 0), b = slot_get(im, 1);

	return b.v2 && (!a.v2 || b.gen > a.gen);
}

/* An index entry as it is on disk. */
struct rent {
	uint64_t block, off;
	uint32_t stored, plain;
	uint8_t algo;
	uint8_t tag[CRYPTO_TAG_LEN];
};

/* The inline entries of the newest slot into e (room for FH2_INLINE_ENTS);
 * their number, or -1 when the index is a sealed blob. */
static inline int ents_of(const struct image *im, struct rent *e)
{
	const uint8_t *p = im->b + newest(im) * FH2_SLOT;
	uint32_t n = util_get_le32(p + 56), ninline = util_get_le32(p + 60);

	if (n != ninline || n > FH2_INLINE_ENTS)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *q = p + ENTS_AT + FH2_ENT_LEN * i;
		uint64_t w = util_get_le64(q + 8);

		e[i].block = util_get_le64(q);
		e[i].off = w & FH2_OFF_MAX;
		e[i].algo = (uint8_t)(w >> 48);
		e[i].stored = util_get_le32(q + 16);
		e[i].plain = util_get_le32(q + 20);
		memcpy(e[i].tag, q + 24, CRYPTO_TAG_LEN);
	}
	return (int)n;
}

/* Block b's entry of im into *e; 0, or -1 (with a failed check) if none. */
static inline int ent_of(const struct image *im, uint64_t b, struct rent *e)
{
	struct rent all[FH2_INLINE_ENTS];
	int n = ents_of(im, all);

	for (int i = 0; i < n; i++)
		if (all[i].block == b) {
			*e = all[i];
			return 0;
		}
	CHECK(!"no inline entry for the block");
	return -1;
}

/* ---- a file and its model ---- */

/* A file under test and the content it must hold. */
struct model {
	const char *name; /* in the root of the store */
	struct ofile *f;  /* open, or NULL */
	uint8_t *m;       /* the content: max bytes and more, zeros past len */
	size_t len;
	size_t max;       /* no write goes past max bytes */
	/* What the test checks of the backing file at rest (right after
	 * fsync, after the last close), given its image; what names the
	 * operation.  NULL: nothing. */
	void (*at_rest)(struct model *mo, const struct image *im, const char *what);
};

/* n bytes of kind (fill) written at off, to the file and the model; off
 * and n cut so that the write ends at or below mo->max.  Described into
 * what. */
static inline void model_write(struct store *s, struct model *mo, size_t off, size_t n,
			       int kind, char *what, size_t wlen)
{
	if (off >= mo->max)
		off = below(mo->max);
	if (off + n > mo->max)
		n = mo->max - off;
	snprintf(what, wlen, "write %zu at %zu (size %zu), kind %d", n, off, mo->len, kind);
	fill(mo->m + off, n, kind);
	CHECK_EQ(ofile_write(s, mo->f, (char *)mo->m + off, n, (off_t)off), n);
	if (off + n > mo->len)
		mo->len = off + n;
}

/* The file and the model cut or grown to n bytes (n <= mo->max); described
 * into what. */
static inline void model_truncate(struct store *s, struct model *mo, size_t n, char *what,
				  size_t wlen)
{
	snprintf(what, wlen, "truncate %zu to %zu", mo->len, n);
	CHECK_EQ(ofile_truncate(s, mo->f, n), 0);
	if (n < mo->len)
		memset(mo->m + n, 0, mo->len - n);
	mo->len = n;
}

/* A hole punched in the file and the model, n bytes at off (the size stays);
 * described into what. */
static inline void model_punch(struct store *s, struct model *mo, size_t off, size_t n,
			       char *what, size_t wlen)
{
	snprintf(what, wlen, "punch %zu at %zu (size %zu)", n, off, mo->len);
	CHECK_EQ(ofile_fallocate(s, mo->f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 (off_t)off, (off_t)n), 0);
	if (off < mo->len)
		memset(mo->m + off, 0, (off + n < mo->len ? off + n : mo->len) - off);
}

/* The close of a second handle of the file: a commit, no sync point (the
 * file has one open-file entry, so the handle is the same ofile). */
static inline void model_flush_other(struct store *s, struct model *mo, char *what, size_t wlen)
{
	struct ofile *g = NULL;

	snprintf(what, wlen, "flush of a second handle");
	CHECK_EQ(ofile_open(s, s->rootfd, mo->name, &g), 0);
	CHECK(g == mo->f);
	CHECK_EQ(ofile_flush(s, g), 0);
	CHECK_EQ(ofile_release(s, g), 0);
}

/* fsync or fdatasync (at random) of the file, which is then at rest;
 * described into what. */
static inline void model_fsync(struct store *s, struct model *mo, char *what, size_t wlen)
{
	snprintf(what, wlen, "fsync (size %zu)", mo->len);
	CHECK_EQ(ofile_fsync(s, mo->f, (int)below(2)), 0);
	if (mo->at_rest) {
		struct image im = { 0 };

		image_take(s, ofile_fd(mo->f), &im);
		mo->at_rest(mo, &im, what);
		image_free(&im);
	}
}

/* The file's last close (it is then at rest) and an open again; described
 * into what.  0 (with a failed check) if it did not open: mo->f is NULL. */
static inline int model_reopen(struct store *s, struct model *mo, char *what, size_t wlen)
{
	snprintf(what, wlen, "close and reopen (size %zu)", mo->len);
	CHECK_EQ(ofile_release(s, mo->f), 0);
	if (mo->at_rest) {
		struct image im = { 0 };

		image_of(s, mo->name, &im);
		mo->at_rest(mo, &im, what);
		image_free(&im);
	}
	mo->f = reopen(s, NULL, mo->name);
	return mo->f != NULL;
}

/* ---- tampering ---- */

/* Flip a bit of the byte at off of the backing file open as fd. */
static inline void flip(struct store *s, int fd, uint64_t off)
{
	uint8_t c;

	CHECK_EQ(backend_pread(s->be, fd, &c, 1, (off_t)off), 1);
	c ^= 0x20;
	CHECK_EQ(backend_pwrite(s->be, fd, &c, 1, (off_t)off), 1);
}

/* An ofile_verify callback: block's bit set in the uint64_t mask at arg. */
static inline void bad_block(void *arg, uint64_t block)
{
	*(uint64_t *)arg |= 1ULL << block;
}

/* A tamper file: a new file name of 4 blocks of random data (into d, room
 * for 4 blocks), durable, then opened again; NULL (with a failed check) if
 * it did not open. */
static inline struct ofile *tamper_new(struct store *s, const char *name, uint8_t *d)
{
	size_t len = 4 * (size_t)s->desc.block_size;
	struct ofile *f = create(s, name);

	fill(d, len, DATA_RANDOM);
	CHECK_EQ(ofile_write(s, f, (char *)d, len, 0), len);
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	return reopen(s, f, name);
}

/* The 4 blocks of a tamper file f, each read alone: as in d, or EIO for those in the
 * mask bad; the whole file in one read: as in d, or EIO if any is bad; and
 * ofile_verify reports exactly those. */
static inline void check_blocks(struct store *s, struct ofile *f, const uint8_t *d, uint64_t bad)
{
	size_t bs = s->desc.block_size;
	uint8_t *got = malloc(4 * bs);
	uint64_t seen = 0;

	if (!got) {
		CHECK(!"check_blocks: out of memory");
		return;
	}
	for (uint64_t b = 0; b < 4; b++) {
		ssize_t n = ofile_read(s, f, (char *)got, bs, (off_t)(b * bs));

		if (bad >> b & 1)
			CHECK_EQ(n, -EIO);
		else
			CHECK(n == (ssize_t)bs && memcmp(got, d + b * bs, bs) == 0);
	}
	if (bad) {
		CHECK_EQ(ofile_read(s, f, (char *)got, 4 * bs, 0), -EIO);
	} else {
		CHECK(ofile_read(s, f, (char *)got, 4 * bs, 0) == (ssize_t)(4 * bs) &&
		      memcmp(got, d, 4 * bs) == 0);
	}
	CHECK_EQ(ofile_verify(s, f, bad_block, &seen), __builtin_popcountll(bad));
	CHECK_EQ(seen, bad);
	free(got);
}

#endif
