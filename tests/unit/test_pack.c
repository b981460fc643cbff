/* test_pack.c - packed small files (pack.c): the packed form of the size
 * hint round trips at every block size, with and without a record, for
 * every record algorithm a pack can hold; every field out of range is
 * refused; the binder differs per directory value and per offset; and a
 * record sealed with the binder of its place opens there only, and not
 * with one byte flipped. */
#include <errno.h>
#include <string.h>

#include "fh2rec.h"
#include "fileheader.h"
#include "names.h"
#include "pack.h"
#include "testkeys.h"
#include "unit.h"
#include "util.h"

#define MAXBS (1u << 20)

static uint8_t plain[MAXBS], out[MAXBS], scratch[MAXBS + 64];
static uint8_t rec[PACK_STORED_MAX + 256];
static const uint8_t iv_a[NAME_IV_LEN] = "dir-value-aaaaa";
static const uint8_t iv_b[NAME_IV_LEN] = "dir-value-bbbbb";

/* A valid packed reference at block size bs: no record (algo < 0), or a
 * record of algorithm algo with lengths fh2rec_seal could write. */
static void make_ref(struct pack_ref *r, uint32_t bs, int algo)
{
	memset(r, 0, sizeof(*r));
	r->block_size = bs;
	r->flags = FH_FLAG_CODEC_SET;
	r->main_algo = algo < 0 ? CODEC_NONE : algo == FH2_ALGO_CHUNKED ? CODEC_NONE
									   : (uint8_t)algo;
	r->gen = 0x0102030405060708ULL;
	r->codec.algo = CODEC_ZSTD;
	r->codec.level = 7;
	r->size = bs / 2 + 1;
	if (algo < 0)
		return;
	r->has_rec = 1;
	r->e.algo = (uint8_t)algo;
	r->e.off = PACK_START + 12345;
	for (int i = 0; i < CRYPTO_TAG_LEN; i++)
		r->e.tag[i] = (uint8_t)(0xa0 + i);
	if (algo == FH2_ALGO_CHUNKED) {
		/* A raw block just over one chunk: the only chunked records
		 * small enough for a pack. */
		r->size = FH2_CHUNK + 100;
		r->e.stored = fh2rec_chunked_stored((uint32_t)r->size);
	} else if (algo == CODEC_NONE) {
		r->size = bs < PACK_STORED_MAX ? bs - 7 : PACK_STORED_MAX - 7;
		r->e.stored = (uint32_t)r->size;
	} else {
		r->e.stored = 777;
	}
	r->e.plain = (uint32_t)r->size;
}

static int same_ref(const struct pack_ref *a, const struct pack_ref *b)
{
	if (a->size != b->size || a->gen != b->gen || a->flags != b->flags ||
	    a->main_algo != b->main_algo || a->block_size != b->block_size ||
	    a->codec.algo != b->codec.algo || a->codec.level != b->codec.level ||
	    a->has_rec != b->has_rec)
		return 0;
	if (!a->has_rec)
		return 1;
	return a->e.block == b->e.block && a->e.off == b->e.off && a->e.stored == b->e.stored &&
	       a->e.plain == b->e.plain && a->e.algo == b->e.algo &&
	       memcmp(a->e.tag, b->e.tag, CRYPTO_TAG_LEN) == 0;
}

/* ---- the hint ------------------------------------------------------------ */

static void test_roundtrip(void)
{
	static const int algos[] = { -1, CODEC_NONE, CODEC_LZ4, CODEC_ZLIB, CODEC_ZSTD,
				     FH2_ALGO_CHUNKED };

	for (uint32_t lg = 12; lg <= 20; lg++) {
		uint32_t bs = 1u << lg;

		for (size_t a = 0; a < sizeof(algos) / sizeof(algos[0]); a++) {
			struct pack_ref r, got;
			uint8_t hint[PACK_HINT_LEN];

			/* A chunked record needs a block of more than one
			 * chunk. */
			if (algos[a] == FH2_ALGO_CHUNKED && bs <= FH2_CHUNK)
				continue;
			make_ref(&r, bs, algos[a]);
			CHECK(r.has_rec == 0 || fh2rec_ent_ok(&r.e, bs));
			pack_ref_encode(&r, hint);
			CHECK_EQ(hint[19], PACK_FORM);
			CHECK_EQ(hint[20], lg);
			CHECK_EQ(pack_ref_decode(hint, sizeof(hint), &got), 0);
			CHECK(same_ref(&r, &got));
			/* The extremes of the fields that have any. */
			r.size = r.has_rec ? r.size : bs;
			r.gen = UINT64_MAX;
			r.flags = FH_FLAGS_KNOWN;
			r.codec.algo = CODEC_ZLIB;
			r.codec.level = codec_max_level(CODEC_ZLIB);
			if (r.has_rec)
				r.e.off = FH2_OFF_MAX;
			pack_ref_encode(&r, hint);
			CHECK_EQ(pack_ref_decode(hint, sizeof(hint), &got), 0);
			CHECK(same_ref(&r, &got));
			if (r.has_rec) {
				r.e.off = PACK_START;
				pack_ref_encode(&r, hint);
				CHECK_EQ(pack_ref_decode(hint, sizeof(hint), &got), 0);
				CHECK(same_ref(&r, &got));
			}
		}
		/* Empty files, and the largest raw record a pack takes. */
		{
			struct pack_ref r, got;
			uint8_t hint[PACK_HINT_LEN];

			make_ref(&r, bs, -1);
			r.size = 0;
			pack_ref_encode(&r, hint);
			CHECK_EQ(pack_ref_decode(hint, sizeof(hint), &got), 0);
			CHECK(same_ref(&r, &got));
			make_ref(&r, bs, CODEC_NONE);
			r.size = r.e.plain = r.e.stored = bs < PACK_STORED_MAX ? bs : PACK_STORED_MAX;
			pack_ref_encode(&r, hint);
			CHECK_EQ(pack_ref_decode(hint, sizeof(hint), &got), 0);
			CHECK(same_ref(&r, &got));
		}
	}
}

/* The hint of r with byte i set to v must be refused. */
static void refuse_byte(const struct pack_ref *r, size_t i, uint8_t v)
{
	uint8_t hint[PACK_HINT_LEN];
	struct pack_ref got;

	pack_ref_encode(r, hint);
	hint[i] = v;
	CHECK_EQ(pack_ref_decode(hint, sizeof(hint), &got), -EINVAL);
}

/* r (valid but for one field) must be refused. */
static void refuse_ref(const struct pack_ref *r)
{
	uint8_t hint[PACK_HINT_LEN];
	struct pack_ref got;

	pack_ref_encode(r, hint);
	CHECK_EQ(pack_ref_decode(hint, sizeof(hint), &got), -EINVAL);
}

static void test_refused(void)
{
	uint8_t hint[PACK_HINT_LEN + 8];
	struct pack_ref r, good, got;

	for (int algo = -1; algo <= CODEC_ZSTD; algo++) {
		make_ref(&good, 65536, algo);
		pack_ref_encode(&good, hint);
		CHECK_EQ(pack_ref_decode(hint, PACK_HINT_LEN, &got), 0);
		/* Wrong lengths: the v2 hint's 19 bytes among them. */
		CHECK_EQ(pack_ref_decode(hint, 0, &got), -EINVAL);
		CHECK_EQ(pack_ref_decode(hint, 19, &got), -EINVAL);
		CHECK_EQ(pack_ref_decode(hint, PACK_HINT_LEN - 1, &got), -EINVAL);
		CHECK_EQ(pack_ref_decode(hint, PACK_HINT_LEN + 1, &got), -EINVAL);
		/* The form byte. */
		refuse_byte(&good, 19, 0);
		refuse_byte(&good, 19, PACK_FORM + 1);
		/* log2 of the block size. */
		refuse_byte(&good, 20, 0);
		refuse_byte(&good, 20, 11);
		refuse_byte(&good, 20, 21);
		refuse_byte(&good, 20, 0xff);
		/* Unknown flag bits, each of them. */
		for (int b = 0; b < 16; b++) {
			if (FH_FLAGS_KNOWN & (1u << b))
				continue;
			r = good;
			r.flags |= (uint16_t)(1u << b);
			refuse_ref(&r);
		}
		/* Algorithms above zstd: the accounting row, the setting, and
		 * (but for chunked) the record's. */
		refuse_byte(&good, 10, CODEC_ZSTD + 1);
		refuse_byte(&good, 10, 0xff);
		refuse_byte(&good, 21, CODEC_ZSTD + 1);
		refuse_byte(&good, 21, 0xff);
		if (good.has_rec) {
			refuse_byte(&good, 23, CODEC_ZSTD + 1);
			refuse_byte(&good, 23, FH2_ALGO_CHUNKED + 1);
			refuse_byte(&good, 23, 0xfe);
		}
		/* A level above what the setting's algorithm has. */
		for (uint8_t a = CODEC_NONE; a <= CODEC_ZSTD; a++) {
			r = good;
			r.codec.algo = a;
			r.codec.level = codec_max_level(a);
			pack_ref_encode(&r, hint);
			CHECK_EQ(pack_ref_decode(hint, PACK_HINT_LEN, &got), 0);
			r.codec.level++;
			refuse_ref(&r);
		}
		if (!good.has_rec) {
			/* A size past the block; any byte after the marker. */
			r = good;
			r.size = r.block_size + 1;
			refuse_ref(&r);
			for (size_t i = 24; i < PACK_HINT_LEN; i++) {
				refuse_byte(&good, i, 1);
				refuse_byte(&good, i, 0x80);
			}
			continue;
		}
		/* A record whose plain length is not the size. */
		r = good;
		r.e.plain = (uint32_t)r.size - 1;
		if (r.e.algo == CODEC_NONE)
			r.e.stored = r.e.plain;
		refuse_ref(&r);
		r = good;
		r.size++;
		refuse_ref(&r);
		/* Size and plain past the block. */
		r = good;
		r.size = r.e.plain = r.block_size + 1;
		if (r.e.algo == CODEC_NONE)
			r.e.stored = r.e.plain;
		refuse_ref(&r);
		/* Lengths fh2rec_seal never writes. */
		r = good;
		r.e.stored = 0;
		refuse_ref(&r);
		/* More stored bytes than a pack takes, though the block would
		 * hold them. */
		r = good;
		if (r.e.algo == CODEC_NONE) {
			r.size = r.e.plain = r.e.stored = PACK_STORED_MAX + 1;
		} else {
			r.e.stored = PACK_STORED_MAX;
			pack_ref_encode(&r, hint);
			CHECK_EQ(pack_ref_decode(hint, PACK_HINT_LEN, &got), 0);
			r.e.stored = PACK_STORED_MAX + 1;
		}
		refuse_ref(&r);
		/* Offsets inside the directory value, and past what a v2
		 * offset holds. */
		for (uint64_t off = 0; off < PACK_START; off += 7) {
			r = good;
			r.e.off = off;
			refuse_ref(&r);
		}
		r = good;
		r.e.off = PACK_START - 1;
		refuse_ref(&r);
		r.e.off = FH2_OFF_MAX + 1;
		refuse_ref(&r);
		r.e.off = UINT64_MAX;
		refuse_ref(&r);
	}
	/* A chunked record at a block size that cannot chunk, and one whose
	 * stored length is not the chunked length. */
	make_ref(&good, 8192, FH2_ALGO_CHUNKED);
	pack_ref_encode(&good, hint);
	CHECK_EQ(pack_ref_decode(hint, PACK_HINT_LEN, &got), 0);
	r = good;
	r.e.stored--;
	refuse_ref(&r);
	r = good;
	r.size = r.e.plain = FH2_CHUNK;
	r.e.stored = fh2rec_chunked_stored(FH2_CHUNK);
	refuse_ref(&r);
	r = good;
	r.block_size = 4096;
	refuse_ref(&r);
	/* The largest chunked plain length a pack takes, and one more. */
	r = good;
	r.size = r.e.plain = PACK_STORED_MAX;
	while (fh2rec_chunked_stored(r.e.plain) > PACK_STORED_MAX)
		r.size = --r.e.plain;
	r.e.stored = fh2rec_chunked_stored(r.e.plain);
	pack_ref_encode(&r, hint);
	CHECK_EQ(pack_ref_decode(hint, PACK_HINT_LEN, &got), 0);
	r.size = ++r.e.plain;
	r.e.stored = fh2rec_chunked_stored(r.e.plain);
	refuse_ref(&r);
}

/* ---- the binder and the record ------------------------------------------ */

static void test_binder(void)
{
	uint8_t a[FH_ID_LEN], b[FH_ID_LEN], c[FH_ID_LEN];

	pack_binder(iv_a, PACK_START, a);
	pack_binder(iv_a, PACK_START, b);
	CHECK(memcmp(a, b, FH_ID_LEN) == 0);
	pack_binder(iv_b, PACK_START, b);
	CHECK(memcmp(a, b, FH_ID_LEN) != 0);
	for (uint64_t off = PACK_START + 1; off < PACK_START + 4096; off += 61) {
		pack_binder(iv_a, off, b);
		CHECK(memcmp(a, b, FH_ID_LEN) != 0);
		pack_binder(iv_b, off, c);
		CHECK(memcmp(b, c, FH_ID_LEN) != 0);
	}
	/* Offsets that differ only in a high byte. */
	pack_binder(iv_a, PACK_START | (1ULL << 40), b);
	CHECK(memcmp(a, b, FH_ID_LEN) != 0);
}

/* Seal len bytes of plain (compressible or not) with spec at offset off of
 * the pack of iv_a, put the entry through the hint, and open it: with its
 * binder only, and not with any byte flipped. */
static void record_case(const struct crypto_key *k, const struct codec_spec *spec,
			uint32_t len, uint32_t bs, uint64_t off, int expect_algo)
{
	uint8_t bind[FH_ID_LEN], other[FH_ID_LEN], hint[PACK_HINT_LEN];
	struct pack_ref r, got;
	ssize_t n;
	size_t rl;

	pack_binder(iv_a, off, bind);
	memset(&r, 0, sizeof(r));
	n = fh2rec_seal(k, bind, spec, 0, plain, len, bs, scratch, &r.e);
	CHECK(n > 0);
	if (n <= 0)
		return;
	CHECK_EQ(n, fh2_rec_len(r.e.stored));
	CHECK(r.e.stored <= PACK_STORED_MAX);
	if (expect_algo >= 0)
		CHECK_EQ(r.e.algo, expect_algo);
	memcpy(rec, scratch, (size_t)n);
	rl = (size_t)n;
	r.e.off = off;
	r.size = len;
	r.block_size = bs;
	r.main_algo = r.e.algo == FH2_ALGO_CHUNKED ? CODEC_NONE : r.e.algo;
	r.codec = *spec;
	r.has_rec = 1;
	pack_ref_encode(&r, hint);
	CHECK_EQ(pack_ref_decode(hint, sizeof(hint), &got), 0);
	CHECK(same_ref(&r, &got));

	memset(out, 0, len);
	CHECK_EQ(fh2rec_open(k, bind, &got.e, rec, bs, out, scratch), len);
	CHECK(memcmp(out, plain, len) == 0);
	/* Another offset of the same pack, the same offset of another. */
	pack_binder(iv_a, off + 1, other);
	CHECK(fh2rec_open(k, other, &got.e, rec, bs, out, scratch) < 0);
	pack_binder(iv_a, off - 1, other);
	CHECK(fh2rec_open(k, other, &got.e, rec, bs, out, scratch) < 0);
	pack_binder(iv_b, off, other);
	CHECK(fh2rec_open(k, other, &got.e, rec, bs, out, scratch) < 0);
	/* Every byte of the record. */
	for (size_t i = 0; i < rl; i++) {
		int bad;

		rec[i] ^= 0x10;
		bad = fh2rec_open(k, bind, &got.e, rec, bs, out, scratch) < 0;
		rec[i] ^= 0x10;
		CHECK(bad);
		if (!bad) {
			fprintf(stderr, "  flipped byte %zu of %zu opened\n", i, rl);
			break;
		}
	}
	/* The tag in the hint. */
	got.e.tag[3] ^= 1;
	CHECK(fh2rec_open(k, bind, &got.e, rec, bs, out, scratch) < 0);
	got.e.tag[3] ^= 1;
	CHECK_EQ(fh2rec_open(k, bind, &got.e, rec, bs, out, scratch), len);
}

static void test_record(int cipher)
{
	struct crypto_key *k = key_for(cipher, 21);
	struct codec_spec spec;

	CHECK(k != NULL);
	if (!k)
		return;
	for (uint8_t a = CODEC_NONE; a <= CODEC_ZSTD; a++) {
		spec.algo = a;
		spec.level = 0;
		fill_text(plain, sizeof(plain));
		/* Compressible text: a compressed record (raw for none). */
		record_case(k, &spec, 3000, 4096, PACK_START, a);
		record_case(k, &spec, 1, 65536, PACK_START + 4000, CODEC_NONE);
		if (a != CODEC_NONE)
			record_case(k, &spec, 60000, 65536, PACK_START + 77, a);
		/* Incompressible bytes: raw, chunked past one chunk. */
		crypto_random(plain, 8000);
		record_case(k, &spec, 4000, 4096, 1000003, CODEC_NONE);
		record_case(k, &spec, 8000, 16384, PACK_START + 9, FH2_ALGO_CHUNKED);
	}
	crypto_key_free(k);
}

int main(void)
{
	int ciphers[3] = { CIPHER_XCHACHA, CIPHER_NONE, CIPHER_AESGCM };
	int n = crypto_cipher_parse("aes-256-gcm") == CIPHER_AESGCM ? 3 : 2;

	if (crypto_init() < 0)
		return 1;
	test_roundtrip();
	test_refused();
	test_binder();
	for (int i = 0; i < n; i++)
		test_record(ciphers[i]);
	return unit_done();
}
