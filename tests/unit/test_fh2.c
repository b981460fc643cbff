/* test_fh2.c - format v2 (fh2.c) for every cipher: header slots and index
 * blobs round trip at every block size and entry count, every flipped byte
 * is caught, block records round trip with every codec and refuse to open
 * when tampered, moved or rolled back (chunked raw records chunk by chunk
 * too), and entry lists that fh2_seal
 * encodes but the code could never have written are refused by fh2_open. */
#include <errno.h>
#include <string.h>

#include "fh2.h"
#include "fh2rec.h"
#include "testkeys.h"
#include "unit.h"
#include "util.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MAXBS (1u << 20)
#define MAXENTS 1000

static uint8_t plain[MAXBS], out[MAXBS], scratch[MAXBS + 64];
/* Room for the largest record: a chunked 1 MiB block. */
#define MAXREC (MAXBS + (MAXBS / FH2_CHUNK) * FH2_CHUNK_OVERHEAD + 64)
static uint8_t rec[MAXREC], rec2[MAXREC];
static uint8_t blob[MAXENTS * FH2_ENT_LEN + 64];
static struct fh2_ent ents[MAXENTS], got[MAXENTS];
static const uint8_t id_a[FH_ID_LEN] = "file-id-aaaaaaa";
static const uint8_t id_b[FH_ID_LEN] = "file-id-bbbbbbb";
static const uint32_t block_sizes[] = { 4096, 65536, 1048576 };

/* ---- headers and index blobs ---------------------------------------- */

/* A valid file of n entries at block size bs into h, x and ents.  Entry i
 * is block i + i/3, so every fourth block is a hole; with n even two holes
 * follow the last entry.  The size ends bs/3 short of a whole block.  Odd
 * entries claim to be zstd records of about half a block.  Records lie
 * back to back from FH2_DATA_START, then the index blob (n >
 * FH2_INLINE_ENTS); data_end leaves 2 blocks of slack so that each bad
 * entry of test_bad_entries breaks exactly one rule. */
static void make_file(struct file_header *h, struct fh2_extra *x, uint32_t n, uint32_t bs)
{
	uint64_t nblk = 2, off = FH2_DATA_START;

	if (n)
		nblk = (n - 1) + (n - 1) / 3 + 1 + (n % 2 ? 0 : 2);
	memset(h, 0, sizeof(*h));
	memset(x, 0, sizeof(*x));
	h->gen = 1000 + n;
	memcpy(h->file_id, id_a, FH_ID_LEN);
	h->block_size = bs;
	h->codec.algo = CODEC_ZSTD;
	h->codec.level = 3;
	h->flags = FH_FLAG_CODEC_SET | FH_FLAG_XATTRS;
	h->size = nblk * bs - bs / 3;
	for (uint32_t i = 0; i < n; i++) {
		struct fh2_ent *e = &ents[i];
		uint64_t left;

		memset(e, 0, sizeof(*e));
		e->block = i + i / 3;
		left = h->size - e->block * bs;
		e->plain = left < bs ? (uint32_t)left : bs;
		e->algo = i % 2 ? CODEC_ZSTD : CODEC_NONE;
		e->stored = i % 2 ? e->plain / 2 + i % 100 : e->plain;
		e->off = off;
		for (int j = 0; j < CRYPTO_TAG_LEN; j++)
			e->tag[j] = (uint8_t)(i * 31 + j);
		off += fh2_rec_len(e->stored);
	}
	x->nents = n;
	if (n > FH2_INLINE_ENTS) {
		x->ix_off = off;
		x->ix_len = (uint32_t)fh2_ix_len(n);
		off += x->ix_len;
	}
	x->data_end = off + 2 * (uint64_t)bs;
	for (int j = 0; j < CRYPTO_TAG_LEN; j++)
		x->xattr_mac[j] = (uint8_t)(0xa0 + j);
}

/* Seal the index blob (into blob, its tag into x) if any, then the slot. */
static int seal_file(const struct crypto_key *k, const struct file_header *h,
		     struct fh2_extra *x, uint8_t *slot)
{
	if (x->nents > FH2_INLINE_ENTS &&
	    fh2_ix_seal(k, h->file_id, ents, x->nents, blob, x->ix_tag) < 0)
		return -EIO;
	return fh2_seal(k, h, x, ents, slot);
}

/* Open the slot, then the index blob if any, entries into got. */
static int open_file(const struct crypto_key *k, const uint8_t *slot,
		     struct file_header *h, struct fh2_extra *x)
{
	uint32_t ninl = 12345;
	int r = fh2_open(k, slot, h, x, got, &ninl);

	if (r < 0)
		return r;
	if (x->nents <= FH2_INLINE_ENTS)
		return ninl == x->nents ? 0 : -EPROTO;
	if (ninl != 0)
		return -EPROTO;
	return fh2_ix_open(k, h, x, blob, fh2_ix_len(x->nents), got, scratch);
}

static int ents_equal(const struct fh2_ent *a, const struct fh2_ent *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (a[i].block != b[i].block || a[i].off != b[i].off ||
		    a[i].stored != b[i].stored || a[i].plain != b[i].plain ||
		    a[i].algo != b[i].algo || a[i].state != 0 ||
		    memcmp(a[i].tag, b[i].tag, CRYPTO_TAG_LEN) != 0)
			return 0;
	return 1;
}

/* Every field of (g, y, got) equals (h, x, ents). */
static void check_same(const struct file_header *g, const struct fh2_extra *y,
		       const struct file_header *h, const struct fh2_extra *x)
{
	CHECK_EQ(g->gen, h->gen);
	CHECK(memcmp(g->file_id, h->file_id, FH_ID_LEN) == 0);
	CHECK_EQ(g->block_size, h->block_size);
	CHECK_EQ(g->codec.algo, h->codec.algo);
	CHECK_EQ(g->codec.level, h->codec.level);
	CHECK_EQ(g->flags, h->flags);
	CHECK_EQ(g->size, h->size);
	CHECK_EQ(g->nholes, 0);
	CHECK_EQ(y->data_end, x->data_end);
	CHECK_EQ(y->nents, x->nents);
	CHECK_EQ(y->ix_off, x->ix_off);
	CHECK_EQ(y->ix_len, x->ix_len);
	CHECK(memcmp(y->ix_tag, x->ix_tag, CRYPTO_TAG_LEN) == 0);
	CHECK(memcmp(y->xattr_mac, x->xattr_mac, CRYPTO_TAG_LEN) == 0);
	CHECK(ents_equal(got, ents, x->nents));
}

static void test_header_roundtrip(int cipher)
{
	static const uint32_t counts[] = { 0, 1, FH2_INLINE_ENTS, FH2_INLINE_ENTS + 1, MAXENTS };
	struct crypto_key *k = key_for(cipher, 1), *other = key_for(cipher, 2);
	static struct file_header h, g;
	struct fh2_extra x, y;
	uint8_t slot[FH2_SLOT];
	uint64_t gen, size;

	for (size_t b = 0; b < COUNT(block_sizes); b++) {
		for (size_t c = 0; c < COUNT(counts); c++) {
			make_file(&h, &x, counts[c], block_sizes[b]);
			CHECK_EQ(seal_file(k, &h, &x, slot), 0);
			memset(got, 0xee, sizeof(got));
			CHECK_EQ(open_file(k, slot, &g, &y), 0);
			check_same(&g, &y, &h, &x);
			CHECK(fh2_is_v2(slot));
			CHECK_EQ(fh2_peek(slot, &gen, &size), 0);
			CHECK_EQ(gen, h.gen);
			CHECK_EQ(size, h.size);
			if (cipher != CIPHER_NONE)
				CHECK_EQ(open_file(other, slot, &g, &y), -EBADMSG);
		}
	}
	crypto_key_free(k);
	crypto_key_free(other);
}

static void test_header_tamper(int cipher)
{
	struct crypto_key *k = key_for(cipher, 3);
	static struct file_header h, g;
	struct fh2_extra x, y;
	uint8_t slot[FH2_SLOT];
	uint32_t ninl, len;

	/* Every bit 0 and bit 7 of the slot (body, nonce, tag). */
	make_file(&h, &x, FH2_INLINE_ENTS, 65536);
	CHECK_EQ(seal_file(k, &h, &x, slot), 0);
	for (int i = 0; i < FH2_SLOT; i++) {
		for (int m = 0x01; m <= 0x80; m <<= 7) {
			slot[i] ^= (uint8_t)m;
			CHECK_EQ(fh2_open(k, slot, &g, &y, got, &ninl), -EBADMSG);
			slot[i] ^= (uint8_t)m;
		}
	}
	CHECK_EQ(open_file(k, slot, &g, &y), 0);
	memset(slot, 0, sizeof(slot));
	CHECK_EQ(fh2_open(k, slot, &g, &y, got, &ninl), -ENOENT);

	/* Every byte of an index blob; a blob against the wrong header. */
	make_file(&h, &x, FH2_INLINE_ENTS + 1, 4096);
	CHECK_EQ(seal_file(k, &h, &x, slot), 0);
	CHECK_EQ(fh2_open(k, slot, &g, &y, got, &ninl), 0);
	len = y.ix_len;
	for (uint32_t i = 0; i < len; i++) {
		blob[i] ^= 0x01;
		CHECK_EQ(fh2_ix_open(k, &g, &y, blob, len, got, scratch), -EBADMSG);
		blob[i] ^= 0x01;
	}
	CHECK_EQ(fh2_ix_open(k, &g, &y, blob, len, got, scratch), 0);
	CHECK_EQ(fh2_ix_open(k, &g, &y, blob, len - 1, got, scratch), -EBADMSG);
	y.ix_tag[5] ^= 0x10;
	CHECK_EQ(fh2_ix_open(k, &g, &y, blob, len, got, scratch), -EBADMSG);
	y.ix_tag[5] ^= 0x10;
	y.nents--; /* one entry fewer, blob cut to match */
	CHECK_EQ(fh2_ix_open(k, &g, &y, blob, fh2_ix_len(y.nents), got, scratch), -EBADMSG);
	y.nents += 2;
	CHECK_EQ(fh2_ix_open(k, &g, &y, blob, fh2_ix_len(y.nents), got, scratch), -EBADMSG);
	y.nents--;
	memcpy(g.file_id, id_b, FH_ID_LEN);
	CHECK_EQ(fh2_ix_open(k, &g, &y, blob, len, got, scratch), -EBADMSG);

	/* Headers fh2_seal must refuse. */
	make_file(&h, &x, 1, 4096);
	h.nholes = 1;
	CHECK(fh2_seal(k, &h, &x, ents, slot) < 0);
	h.nholes = 0;
	h.gen = 0;
	CHECK(fh2_seal(k, &h, &x, ents, slot) < 0);
	h.gen = 1;
	x.data_end = FH2_DATA_START - 1;
	CHECK(fh2_seal(k, &h, &x, ents, slot) < 0);
	x.data_end = FH2_OFF_MAX + 1;
	CHECK(fh2_seal(k, &h, &x, ents, slot) < 0);
	x.data_end = FH2_DATA_START;
	CHECK_EQ(fh2_seal(k, &h, &x, ents, slot), 0);
	crypto_key_free(k);
}

/* Bad entry lists and index fields, each breaking one rule.  Returns 0 when
 * the case does not apply to this file (index fields of an inline one). */
enum { BAD_UNSORTED, BAD_DUPLICATE, BAD_BEYOND_SIZE, BAD_PLAIN_LEFT, BAD_PLAIN_BS,
       BAD_PLAIN_0, BAD_STORED_0, BAD_STORED_BS, BAD_RAW_LEN, BAD_ALGO, BAD_STATE,
       BAD_OFF_LOW, BAD_OFF_END, BAD_NENTS, BAD_IX_LEN, BAD_IX_OFF, BAD_IX_END, BAD_COUNT };

static int make_bad(int bad, struct file_header *h, struct fh2_extra *x)
{
	uint32_t bs = h->block_size, last = x->nents - 1;
	uint64_t nblk = (h->size + bs - 1) / bs;
	struct fh2_ent *e = ents, *l = &ents[last];

	if (bad >= BAD_IX_LEN && !x->ix_len)
		return 0;
	switch (bad) {
	case BAD_UNSORTED: e[0].block = 1; e[1].block = 0; break;
	case BAD_DUPLICATE: e[1].block = e[0].block; break;
	case BAD_BEYOND_SIZE:
		l->block = nblk;
		l->plain = l->stored = 1;
		break;
	case BAD_PLAIN_LEFT: /* the partial last block, one byte too long */
		l->block = nblk - 1;
		l->plain = (uint32_t)(h->size - l->block * bs) + 1;
		if (l->algo == CODEC_NONE)
			l->stored = l->plain;
		break;
	case BAD_PLAIN_BS: e[0].plain = e[0].stored = bs + 1; break;
	case BAD_PLAIN_0: e[1].plain = 0; break;
	case BAD_STORED_0: e[1].stored = 0; break;
	case BAD_STORED_BS: e[1].stored = bs + 1; break;
	case BAD_RAW_LEN: e[0].stored = e[0].plain - 1; break;
	case BAD_ALGO: e[1].algo = CODEC_ZSTD + 1; break;
	case BAD_STATE: e[0].off |= 1ULL << 56; break; /* the bits of state */
	case BAD_OFF_LOW: e[0].off = FH2_DATA_START - 1; break;
	case BAD_OFF_END: l->off = x->data_end - fh2_rec_len(l->stored) + 1; break;
	case BAD_NENTS: h->size = (uint64_t)(x->nents - 2) * bs; break;
	case BAD_IX_LEN: x->ix_len--; break;
	case BAD_IX_OFF: x->ix_off = FH2_DATA_START - 1; break;
	case BAD_IX_END: x->ix_off = x->data_end - x->ix_len + 1; break;
	}
	return 1;
}

static void test_bad_entries(int cipher)
{
	static const uint32_t counts[] = { 3, FH2_INLINE_ENTS + 3 };
	struct crypto_key *k = key_for(cipher, 4);
	static struct file_header h, g;
	struct fh2_extra x, y;
	uint8_t slot[FH2_SLOT];
	uint32_t ninl;
	int r;

	for (size_t c = 0; c < COUNT(counts); c++) {
		for (int bad = 0; bad < BAD_COUNT; bad++) {
			make_file(&h, &x, counts[c], 65536);
			if (!make_bad(bad, &h, &x))
				continue;
			CHECK_EQ(seal_file(k, &h, &x, slot), 0);
			/* A bad header field: the slot alone is refused. */
			if (bad >= BAD_NENTS)
				r = fh2_open(k, slot, &g, &y, got, &ninl);
			else
				r = open_file(k, slot, &g, &y);
			if (r != -EBADMSG)
				fprintf(stderr, "bad case %d, %u entries:\n", bad, counts[c]);
			CHECK_EQ(r, -EBADMSG);
		}
	}
	crypto_key_free(k);
}

/* Authentic but malformed slots: a field patched (at its offset in the
 * layout of fh2.c) and the slot's AEAD redone as fh2_seal does it. */
#define BODY (FH2_SLOT - CRYPTO_NONCE_LEN - CRYPTO_TAG_LEN) /* AD of the slot */
static void test_malformed_slot(int cipher)
{
	static const struct { uint32_t ents, at, width; uint64_t val; } cases[] = {
		{ 3, 0, 0, 0 },                     /* control: opens */
		{ 3, 8, 8, 0 },                     /* generation 0 */
		{ 3, 32, 4, 1000 },                 /* block size */
		{ 3, 36, 1, CODEC_ZSTD + 1 },       /* header algorithm */
		{ 3, 38, 1, 0x80 },                 /* unknown flag */
		{ 3, 40, 8, FH2_OFF_MAX * 64 + 1 }, /* size */
		{ 3, 48, 8, FH2_DATA_START - 1 },   /* data end */
		{ 3, 48, 8, FH2_OFF_MAX + 1 },
		{ 3, 60, 4, 2 },                    /* inline entries != entries */
		{ 3, 64, 8, 4096 },                 /* index offset of an inline file */
		{ 3, 72, 4, 64 },                   /* index length of an inline file */
		{ 3, 76, 4, 1 },                    /* reserved */
		{ FH2_INLINE_ENTS + 1, 60, 4, 1 },  /* inline entries with an index */
		{ 3, 448, 1, 2 },                   /* usage: unknown form */
		{ 3, 449, 1, 1 },                   /* no usage, yet a main algorithm */
		{ 3, 452, 1, 1 },                   /* padding */
		{ 3, 471, 1, 1 },
		{ 3, 448, 2, 0x0401 },              /* main algorithm unknown */
		{ 3, 448, 3, 0x0a0001 },            /* zlib level 10 */
		{ 3, 448, 4, 0x14000001 },          /* zstd level 20 */
	};
	struct crypto_key *k = key_for(cipher, 9);
	static struct file_header h, g;
	struct fh2_extra x, y;
	uint8_t slot[FH2_SLOT], tag[CRYPTO_TAG_LEN], empty = 0;
	uint32_t ninl;

	for (size_t c = 0; c < COUNT(cases); c++) {
		make_file(&h, &x, cases[c].ents, 65536);
		CHECK_EQ(seal_file(k, &h, &x, slot), 0);
		for (uint32_t i = 0; i < cases[c].width; i++)
			slot[cases[c].at + i] = (uint8_t)(cases[c].val >> (8 * i));
		CHECK_EQ(crypto_seal(k, tag, &empty, 0, slot, BODY, slot + BODY), 0);
		memcpy(slot + BODY + CRYPTO_NONCE_LEN, tag, CRYPTO_TAG_LEN);
		CHECK_EQ(fh2_open(k, slot, &g, &y, got, &ninl), c ? -EBADMSG : 0);
	}
	crypto_key_free(k);
}

static void test_peek(int cipher)
{
	struct crypto_key *k = key_for(cipher, 5);
	static struct file_header h, g;
	struct fh2_extra x, y;
	uint8_t slot[FH2_SLOT], v1[FH_SLOT_SIZE];
	uint64_t gen = 0, size = 0;
	uint32_t ninl;

	make_file(&h, &x, 1, 4096);
	CHECK_EQ(seal_file(k, &h, &x, slot), 0);
	CHECK(fh2_is_v2(slot));
	CHECK_EQ(fh2_peek(slot, &gen, &size), 0);
	CHECK_EQ(gen, 1001);
	CHECK_EQ(size, 4096 - 4096 / 3); /* one partial block */
	CHECK_EQ(fh_seal(k, &h, v1), 0);
	CHECK(!fh2_is_v2(v1));
	CHECK_EQ(fh2_peek(v1, &gen, &size), -EBADMSG);
	CHECK_EQ(fh2_open(k, v1, &g, &y, got, &ninl), -EBADMSG);
	memset(slot, 0, sizeof(slot));
	CHECK(!fh2_is_v2(slot));
	CHECK_EQ(fh2_peek(slot, &gen, &size), -ENOENT);
	crypto_key_free(k);
}

/* The usage summary (bytes 448-451): what fh2_usage_of makes of the
 * entries round trips; headers without it (older releases) count under
 * their setting and take its level for its algorithm. */
static void test_usage(int cipher)
{
	struct crypto_key *k = key_for(cipher, 11);
	static struct file_header h, g;
	struct fh2_extra x, y;
	uint8_t slot[FH2_SLOT];
	uint64_t blocks[4] = { 0, 2, 0, 5 }, stored[4] = { 0, 100, 0, 100 };

	/* The rule: most stored bytes, the lower id on a tie, none without. */
	CHECK_EQ(fh2_main_algo(blocks, stored), CODEC_LZ4);
	stored[3] = 101;
	CHECK_EQ(fh2_main_algo(blocks, stored), CODEC_ZSTD);
	memset(blocks, 0, sizeof(blocks));
	CHECK_EQ(fh2_main_algo(blocks, stored), CODEC_NONE);
	for (uint32_t n = 0; n <= FH2_INLINE_ENTS + 1; n++) {
		/* Even entries raw (whole blocks), odd ones zstd:19 (half). */
		make_file(&h, &x, n, 65536);
		for (uint32_t i = 0; i < n; i++)
			ents[i].level = ents[i].algo == CODEC_ZSTD ? 19 : 0;
		fh2_usage_of(ents, n, &x);
		CHECK_EQ(x.usage, 1);
		CHECK_EQ(x.main_algo, CODEC_NONE);
		CHECK_EQ(x.level[CODEC_ZSTD], n > 1 ? 19 : 0);
		CHECK_EQ(x.level[CODEC_ZLIB], 0);
		CHECK_EQ(seal_file(k, &h, &x, slot), 0);
		CHECK_EQ(open_file(k, slot, &g, &y), 0);
		CHECK_EQ(y.usage, 1);
		CHECK_EQ(y.main_algo, CODEC_NONE);
		CHECK_EQ(y.level[CODEC_ZSTD], x.level[CODEC_ZSTD]);
		CHECK_EQ(fh2_acct_algo(&g, &y), CODEC_NONE);
		CHECK_EQ(fh2_peek_acct_algo(slot), CODEC_NONE);
		fh2_levels_apply(&g, &y, got, n);
		for (uint32_t i = 0; i < n; i++)
			CHECK_EQ(got[i].level, ents[i].level);
	}
	/* Mostly zstd, at two levels: main zstd, level not known. */
	make_file(&h, &x, 4, 65536);
	ents[0].algo = ents[2].algo = CODEC_ZSTD;
	ents[0].stored = ents[2].stored = 1000;
	for (int i = 0; i < 4; i++)
		ents[i].level = i == 3 ? 3 : 19;
	fh2_usage_of(ents, 4, &x);
	CHECK_EQ(x.main_algo, CODEC_ZSTD);
	CHECK_EQ(x.level[CODEC_ZSTD], FH2_LEVEL_UNKNOWN);
	CHECK_EQ(seal_file(k, &h, &x, slot), 0);
	CHECK_EQ(open_file(k, slot, &g, &y), 0);
	CHECK_EQ(fh2_peek_acct_algo(slot), CODEC_ZSTD);
	fh2_levels_apply(&g, &y, got, 4);
	CHECK_EQ(got[1].level, FH2_LEVEL_UNKNOWN);
	/* A header of an older release: no summary, the setting (zstd:3)
	 * counts, and its records are taken to be zstd:3. */
	make_file(&h, &x, 3, 65536);
	CHECK_EQ(seal_file(k, &h, &x, slot), 0);
	for (int i = 448; i < 472; i++)
		CHECK_EQ(slot[i], 0);
	CHECK_EQ(open_file(k, slot, &g, &y), 0);
	CHECK_EQ(y.usage, 0);
	CHECK_EQ(fh2_acct_algo(&g, &y), CODEC_ZSTD);
	CHECK_EQ(fh2_peek_acct_algo(slot), CODEC_ZSTD);
	fh2_levels_apply(&g, &y, got, 3);
	CHECK_EQ(got[0].level, 0);
	CHECK_EQ(got[1].level, 3);
	g.codec.algo = CODEC_ZLIB;
	fh2_levels_apply(&g, &y, got, 3);
	CHECK_EQ(got[1].level, FH2_LEVEL_UNKNOWN);
	crypto_key_free(k);
}

/* ---- block records -------------------------------------------------- */

/* Block contents: compressible text (a version byte mixed in) or random. */
static void fill_block(int rnd, uint8_t version, uint32_t len)
{
	if (rnd) {
		crypto_random(plain, len);
	} else {
		fill_text(plain, len);
		plain[len / 2] ^= version;
	}
}

static void test_record_roundtrip(int cipher)
{
	static const char *const specs[] = { "none", "lz4", "zlib", "zstd:1" };
	struct crypto_key *k = key_for(cipher, 6);

	for (size_t b = 0; b < COUNT(block_sizes); b++) {
		uint32_t bs = block_sizes[b];
		const uint32_t lens[] = { 1, 100, 3000, bs - 1, bs };

		for (size_t s = 0; s < COUNT(specs); s++) {
			struct codec_spec spec;

			CHECK_EQ(codec_parse(specs[s], &spec), 0);
			for (size_t l = 0; l < COUNT(lens); l++) {
				for (int rnd = 0; rnd < 2; rnd++) {
					struct fh2_ent e;
					ssize_t n;

					fill_block(rnd, 0, lens[l]);
					memset(&e, 0xee, sizeof(e));
					n = fh2rec_seal(k, id_a, &spec, 7, plain, lens[l], bs, rec, &e);
					CHECK_EQ(n, fh2_rec_len(e.stored));
					CHECK_EQ(e.block, 7);
					CHECK_EQ(e.plain, lens[l]);
					CHECK(fh2rec_ent_ok(&e, bs));
					if ((rnd || spec.algo == CODEC_NONE) && lens[l] > FH2_CHUNK) {
						/* Raw and more than a chunk: chunked. */
						CHECK_EQ(e.algo, FH2_ALGO_CHUNKED);
						CHECK_EQ(e.stored, fh2rec_chunked_stored(lens[l]));
					} else if (rnd || spec.algo == CODEC_NONE) {
						CHECK_EQ(e.algo, CODEC_NONE);
						CHECK_EQ(e.stored, e.plain);
					} else if (lens[l] >= 3000) {
						CHECK_EQ(e.algo, spec.algo);
						CHECK(e.stored < e.plain);
					}
					memset(out, 0xee, lens[l]);
					CHECK_EQ(fh2rec_open(k, id_a, &e, rec, bs, out, scratch), lens[l]);
					CHECK(memcmp(out, plain, lens[l]) == 0);
				}
			}
		}
	}
	/* A one-block file of at most FH2_SMALL_MAX stored bytes fits 4 KiB;
	 * a text block of 4 KiB compresses to that.  No empty block, none
	 * beyond the block size. */
	CHECK_EQ(FH2_DATA_START + fh2_rec_len(FH2_SMALL_MAX), 4096);
	{
		struct codec_spec spec = { CODEC_LZ4, 0 };
		struct fh2_ent e;

		CHECK_EQ(fh2rec_seal(k, id_a, &spec, 0, plain, 0, 4096, rec, &e), -EINVAL);
		CHECK_EQ(fh2rec_seal(k, id_a, &spec, 0, plain, 4097, 4096, rec, &e), -EINVAL);
		fill_block(0, 0, 4096);
		CHECK(fh2rec_seal(k, id_a, &spec, 0, plain, 4096, 4096, rec, &e) > 0);
		CHECK(e.stored <= FH2_SMALL_MAX);
	}
	crypto_key_free(k);
}

/* Record r must not open with entry f under file id id. */
static void check_refused(const struct crypto_key *k, const uint8_t *id,
			  const struct fh2_ent *f, const uint8_t *r, uint32_t bs)
{
	CHECK_EQ(fh2rec_open(k, id, f, r, bs, out, scratch), -EBADMSG);
}

static void test_record_tamper(int cipher)
{
	struct crypto_key *k = key_for(cipher, 7), *other = key_for(cipher, 8);
	struct codec_spec spec = { CODEC_ZSTD, 1 };
	const uint32_t len = 3000;

	for (size_t b = 0; b < COUNT(block_sizes); b++) {
		uint32_t bs = block_sizes[b];

		for (int rnd = 0; rnd < 2; rnd++) {
			struct fh2_ent e, e2, f;
			ssize_t n;

			fill_block(rnd, 1, len);
			n = fh2rec_seal(k, id_a, &spec, 5, plain, len, bs, rec, &e);
			CHECK(n > 0);
			CHECK_EQ(e.algo, rnd ? CODEC_NONE : CODEC_ZSTD);
			/* Every byte of the nonce and the ciphertext. */
			for (ssize_t i = 0; i < n; i++) {
				rec[i] ^= 0x01;
				check_refused(k, id_a, &e, rec, bs);
				rec[i] ^= 0x01;
			}
			CHECK_EQ(fh2rec_open(k, id_a, &e, rec, bs, out, scratch), len);
			/* The entry altered, the record moved to another block or
			 * file, or opened with another key. */
			f = e; f.tag[0] ^= 1; check_refused(k, id_a, &f, rec, bs);
			f = e; f.tag[15] ^= 0x80; check_refused(k, id_a, &f, rec, bs);
			f = e; f.block = 6; check_refused(k, id_a, &f, rec, bs);
			f = e; f.block = 4; check_refused(k, id_a, &f, rec, bs);
			check_refused(k, id_b, &e, rec, bs);
			f = e; f.plain--; check_refused(k, id_a, &f, rec, bs);
			f = e; f.plain++; check_refused(k, id_a, &f, rec, bs);
			f = e; f.stored--; check_refused(k, id_a, &f, rec, bs);
			f = e; f.stored++; check_refused(k, id_a, &f, rec, bs);
			f = e; f.algo = rnd ? CODEC_LZ4 : CODEC_NONE;
			check_refused(k, id_a, &f, rec, bs);
			f = e; f.algo = CODEC_ZLIB; check_refused(k, id_a, &f, rec, bs);
			if (cipher != CIPHER_NONE)
				check_refused(other, id_a, &e, rec, bs);
			/* Rolled back: the older record of the same block does not
			 * open with the newer entry, nor the reverse. */
			fill_block(rnd, 2, len);
			n = fh2rec_seal(k, id_a, &spec, 5, plain, len, bs, rec2, &e2);
			CHECK(n > 0);
			check_refused(k, id_a, &e2, rec, bs);
			check_refused(k, id_a, &e, rec2, bs);
			CHECK_EQ(fh2rec_open(k, id_a, &e2, rec2, bs, out, scratch), len);
			CHECK(memcmp(out, plain, len) == 0);
		}
	}
	crypto_key_free(k);
	crypto_key_free(other);
}

/* A raw 64 KiB block is chunked: it opens whole and chunk by chunk; any
 * flipped byte, a chunk from an older record, two chunks swapped, or the
 * entry's lengths altered are refused; a record patched by sealing one
 * chunk anew and copying the others opens as the new content. */
static void test_chunked(int cipher)
{
	struct crypto_key *k = key_for(cipher, 9);
	struct codec_spec spec = { CODEC_LZ4, 0 };
	const uint32_t bs = 65536, lens[] = { 4097, 40000, 65536 };

	for (size_t l = 0; l < COUNT(lens); l++) {
		uint32_t len = lens[l], n = fh2rec_nchunks(len);
		struct fh2_ent e, e2, f;
		ssize_t r;

		fill_block(1, 3, len);
		r = fh2rec_seal(k, id_a, &spec, 9, plain, len, bs, rec, &e);
		CHECK_EQ(r, fh2_rec_len(e.stored));
		CHECK_EQ(e.algo, FH2_ALGO_CHUNKED);
		CHECK_EQ((uint64_t)r, fh2rec_chunk_at(len, n - 1) + CRYPTO_NONCE_LEN +
					      fh2rec_chunk_plain(len, n - 1));
		CHECK_EQ(fh2rec_open(k, id_a, &e, rec, bs, out, scratch), len);
		CHECK(memcmp(out, plain, len) == 0);
		CHECK_EQ(fh2rec_tags_check(id_a, &e, rec), 0);
		for (uint32_t j = 0; j < n; j++) {
			memset(out, 0, FH2_CHUNK);
			CHECK_EQ(fh2rec_chunk_open(k, id_a, &e, rec, j,
						   rec + fh2rec_chunk_at(len, j), out), 0);
			CHECK(memcmp(out, plain + (size_t)j * FH2_CHUNK,
				     fh2rec_chunk_plain(len, j)) == 0);
		}
		/* Every byte of the tag table, and a sample of the rest. */
		for (ssize_t i = 0; i < r; i += i < (ssize_t)(n * CRYPTO_TAG_LEN) + 64 ? 1 : 61) {
			rec[i] ^= 0x20;
			check_refused(k, id_a, &e, rec, bs);
			rec[i] ^= 0x20;
		}
		f = e; f.plain--; check_refused(k, id_a, &f, rec, bs);
		f = e; f.stored++; check_refused(k, id_a, &f, rec, bs);
		f = e; f.block++; check_refused(k, id_a, &f, rec, bs);
		f = e; f.algo = CODEC_NONE; check_refused(k, id_a, &f, rec, bs);
		check_refused(k, id_b, &e, rec, bs);
		if (cipher != CIPHER_NONE) {
			struct crypto_key *other = key_for(cipher, 10);

			check_refused(other, id_a, &e, rec, bs);
			crypto_key_free(other);
		}
		/* Two chunks swapped (tags and all): refused. */
		if (n >= 3) {
			uint8_t t[CRYPTO_NONCE_LEN + FH2_CHUNK];
			uint8_t *c0 = rec + fh2rec_chunk_at(len, 0), *c1 = rec + fh2rec_chunk_at(len, 1);

			memcpy(rec2, rec, (size_t)r);
			memcpy(t, c0, sizeof(t)); memcpy(c0, c1, sizeof(t)); memcpy(c1, t, sizeof(t));
			memcpy(t, rec, 16); memcpy(rec, rec + 16, 16); memcpy(rec + 16, t, 16);
			check_refused(k, id_a, &e, rec, bs);
			memcpy(rec, rec2, (size_t)r);
		}
		/* Patch chunk 0 into rec2: the rest is copied ciphertext. */
		memcpy(rec2, rec, (size_t)r);
		plain[5] ^= 0x55;
		e2 = e;
		CHECK_EQ(fh2rec_chunk_seal(k, id_a, &e2, 0, plain, rec2 + fh2rec_chunk_at(len, 0),
					   rec2), 0);
		/* The seal's tag slack overwrote chunk 1's nonce: copy it back. */
		if (n > 1)
			memcpy(rec2 + fh2rec_chunk_at(len, 1), rec + fh2rec_chunk_at(len, 1),
			       CRYPTO_TAG_LEN);
		fh2rec_tags_sum(id_a, &e2, rec2);
		CHECK_EQ(fh2rec_open(k, id_a, &e2, rec2, bs, out, scratch), len);
		CHECK(memcmp(out, plain, len) == 0);
		/* The older record does not open with the newer entry, nor the
		 * newer chunk 0 put into the older record. */
		check_refused(k, id_a, &e2, rec, bs);
		memcpy(rec2 + CRYPTO_TAG_LEN * n, rec + CRYPTO_TAG_LEN * n, CRYPTO_NONCE_LEN + FH2_CHUNK);
		check_refused(k, id_a, &e2, rec2, bs);
	}
	crypto_key_free(k);
}

int main(void)
{
	int ciphers[3] = { CIPHER_XCHACHA, CIPHER_NONE, CIPHER_AESGCM };
	int n = crypto_cipher_parse("aes-256-gcm") == CIPHER_AESGCM ? 3 : 2;

	if (crypto_init() < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		test_header_roundtrip(ciphers[i]);
		test_header_tamper(ciphers[i]);
		test_bad_entries(ciphers[i]);
		test_malformed_slot(ciphers[i]);
		test_peek(ciphers[i]);
		test_usage(ciphers[i]);
		test_record_roundtrip(ciphers[i]);
		test_record_tamper(ciphers[i]);
		test_chunked(ciphers[i]);
	}
	return unit_done();
}
