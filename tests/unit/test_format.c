/* test_format.c - block records and file headers: round trips for every
 * algorithm and cipher, tampering, moved records, wrong keys, hole lists. */
#include <errno.h>
#include <string.h>

#include "blockfmt.h"
#include "fileheader.h"
#include "testkeys.h"
#include "unit.h"

#define BS 65536

static uint8_t rec[BS * 2], out[BS], scratch[BS * 2], plain[BS];
static const uint8_t id_a[FH_ID_LEN] = "file-id-aaaaaaa";
static const uint8_t id_b[FH_ID_LEN] = "file-id-bbbbbbb";

static void test_roundtrip(int cipher)
{
	static const char *const specs[] = { "none", "lz4", "zlib:6", "zstd:1", "zstd:19" };
	static const uint32_t lens[] = { 1, 100, 4095, 4096, BS - 1, BS };
	struct crypto_key *k = key_for(cipher, 7);

	for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
		struct codec_spec spec;

		CHECK_EQ(codec_parse(specs[s], &spec), 0);
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			ssize_t n;

			fill_text(plain, lens[l]);
			n = blk_seal(k, id_a, 3, 9, &spec, plain, lens[l], BS, rec);
			CHECK(n > BLK_PREFIX_LEN);
			CHECK((size_t)n <= blk_slot_size(BS));
			memset(out, 0xee, sizeof(out));
			CHECK_EQ(blk_open(k, id_a, 3, rec, (size_t)n, BS, out, scratch),
				 lens[l]);
			CHECK(memcmp(out, plain, lens[l]) == 0);
		}
	}
	crypto_key_free(k);
}

static void test_compresses(void)
{
	struct crypto_key *k = key_for(CIPHER_XCHACHA, 1);
	struct codec_spec spec = { CODEC_ZSTD, 1 };
	struct blk_prefix p;
	ssize_t n;

	fill_text(plain, BS);
	n = blk_seal(k, id_a, 0, 1, &spec, plain, BS, BS, rec);
	CHECK(n > 0 && n < BS / 4);
	CHECK_EQ(blk_peek(rec, BS, &p), 0);
	CHECK_EQ(p.algo, CODEC_ZSTD);
	/* Random data is stored raw. */
	crypto_random(plain, BS);
	n = blk_seal(k, id_a, 0, 1, &spec, plain, BS, BS, rec);
	CHECK_EQ(n, BLK_PREFIX_LEN + BS + CRYPTO_TAG_LEN);
	CHECK_EQ(blk_peek(rec, BS, &p), 0);
	CHECK_EQ(p.algo, CODEC_NONE);
	crypto_key_free(k);
}

static void test_tamper(int cipher)
{
	struct crypto_key *k = key_for(cipher, 3), *other = key_for(cipher, 4);
	struct codec_spec spec = { CODEC_LZ4, 0 };
	ssize_t n;

	fill_text(plain, 5000);
	n = blk_seal(k, id_a, 5, 2, &spec, plain, 5000, BS, rec);
	CHECK(n > 0);
	/* Every single flipped byte of the record is detected. */
	for (ssize_t i = 0; i < n; i++) {
		rec[i] ^= 0x01;
		CHECK(blk_open(k, id_a, 5, rec, (size_t)n, BS, out, scratch) < 0);
		rec[i] ^= 0x01;
	}
	CHECK_EQ(blk_open(k, id_a, 5, rec, (size_t)n, BS, out, scratch), 5000);
	/* Moved to another index or file. */
	CHECK(blk_open(k, id_a, 6, rec, (size_t)n, BS, out, scratch) < 0);
	CHECK(blk_open(k, id_b, 5, rec, (size_t)n, BS, out, scratch) < 0);
	/* Truncated record, empty slot. */
	CHECK(blk_open(k, id_a, 5, rec, (size_t)n - 1, BS, out, scratch) < 0);
	CHECK(blk_open(k, id_a, 5, rec, 10, BS, out, scratch) < 0);
	if (cipher != CIPHER_NONE)
		CHECK(blk_open(other, id_a, 5, rec, (size_t)n, BS, out, scratch) < 0);
	memset(rec, 0, BLK_PREFIX_LEN);
	{
		struct blk_prefix p;

		CHECK_EQ(blk_peek(rec, BS, &p), -ENOENT);
	}
	CHECK(blk_open(k, id_a, 5, rec, (size_t)n, BS, out, scratch) < 0);
	crypto_key_free(k);
	crypto_key_free(other);
}

static void test_insane_prefix(void)
{
	struct crypto_key *k = key_for(CIPHER_XCHACHA, 5);
	struct codec_spec spec = { CODEC_NONE, 0 };
	struct blk_prefix p;
	ssize_t n;

	fill_text(plain, 100);
	n = blk_seal(k, id_a, 0, 1, &spec, plain, 100, BS, rec);
	CHECK(n > 0);
	/* A stored length larger than a block must be refused before use. */
	rec[22] = 0x7f;
	CHECK_EQ(blk_peek(rec, BS, &p), -EBADMSG);
	CHECK(blk_open(k, id_a, 0, rec, sizeof(rec), BS, out, scratch) < 0);
	crypto_key_free(k);
}

static void test_slots(void)
{
	CHECK_EQ(blk_slot_size(65536), 69632);
	CHECK_EQ(blk_slot_size(4096), 8192);
	CHECK_EQ(blk_slot_offset(65536, 0, 0), 4096);
	CHECK_EQ(blk_slot_offset(65536, 1, 1), 4096 + 3 * 69632);
	CHECK(blk_size_valid(4096) && blk_size_valid(1 << 20));
	CHECK(!blk_size_valid(1000) && !blk_size_valid(2048) && !blk_size_valid(3 << 12));
}

static void test_header(int cipher)
{
	struct crypto_key *k = key_for(cipher, 9), *other = key_for(cipher, 10);
	static struct file_header h, g;
	uint8_t buf[FH_SLOT_SIZE];
	uint64_t gen, size;

	memset(&h, 0, sizeof(h));
	h.gen = 42;
	memcpy(h.file_id, id_a, FH_ID_LEN);
	h.block_size = BS;
	h.codec.algo = CODEC_ZSTD;
	h.codec.level = 3;
	h.size = 123456789;
	CHECK_EQ(fh_add_holes(&h, 10, 5), 0);
	CHECK_EQ(fh_add_holes(&h, 100, 1), 0);
	CHECK_EQ(fh_seal(k, &h, buf), 0);
	CHECK_EQ(fh_open(k, buf, &g), 0);
	CHECK_EQ(g.gen, 42);
	CHECK_EQ(g.size, 123456789);
	CHECK_EQ(g.nholes, 2);
	CHECK(memcmp(g.file_id, id_a, FH_ID_LEN) == 0);
	CHECK_EQ(fh_peek(buf, &gen, &size), 0);
	CHECK_EQ(size, 123456789);
	/* Size is readable but authenticated. */
	buf[40] ^= 1;
	CHECK_EQ(fh_open(k, buf, &g), -EBADMSG);
	buf[40] ^= 1;
	buf[56] ^= 1; /* a hole range */
	CHECK_EQ(fh_open(k, buf, &g), -EBADMSG);
	buf[56] ^= 1;
	if (cipher != CIPHER_NONE)
		CHECK_EQ(fh_open(other, buf, &g), -EBADMSG);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(fh_open(k, buf, &g), -ENOENT);
	crypto_key_free(k);
	crypto_key_free(other);
}

static void test_holes(void)
{
	static struct file_header h;

	memset(&h, 0, sizeof(h));
	CHECK_EQ(fh_add_holes(&h, 5, 3), 0);      /* [5,8) */
	CHECK_EQ(fh_add_holes(&h, 8, 2), 0);      /* merges: [5,10) */
	CHECK_EQ(h.nholes, 1);
	CHECK_EQ(h.holes[0].count, 5);
	CHECK_EQ(fh_add_holes(&h, 20, 1), 0);
	CHECK_EQ(fh_add_holes(&h, 0, 1), 0);
	CHECK_EQ(h.nholes, 3);
	CHECK(fh_is_hole(&h, 0) && fh_is_hole(&h, 9) && !fh_is_hole(&h, 10) &&
	      fh_is_hole(&h, 20) && !fh_is_hole(&h, 19) && !fh_is_hole(&h, 1));
	CHECK_EQ(fh_remove_holes(&h, 7, 1), 0);   /* split [5,7) [8,10) */
	CHECK_EQ(h.nholes, 4);
	CHECK(!fh_is_hole(&h, 7) && fh_is_hole(&h, 6) && fh_is_hole(&h, 8));
	CHECK_EQ(fh_next(&h, 1, 1), 5);
	CHECK_EQ(fh_next(&h, 5, 0), 7);
	CHECK_EQ(fh_next(&h, 21, 1), UINT64_MAX);
	CHECK_EQ(fh_add_holes(&h, 0, 30), 0);     /* swallows everything */
	CHECK_EQ(h.nholes, 1);
	fh_clip_holes(&h, 12);
	CHECK_EQ(h.holes[0].count, 12);
	/* A full list refuses new ranges and splits, changing nothing. */
	memset(&h, 0, sizeof(h));
	for (uint64_t i = 0; i < FH_MAX_HOLES; i++)
		CHECK_EQ(fh_add_holes(&h, i * 10, 2), 0);
	CHECK_EQ(h.nholes, FH_MAX_HOLES);
	CHECK_EQ(fh_add_holes(&h, 5, 1), -ENOSPC);
	CHECK_EQ(fh_add_holes(&h, 2, 1), 0);      /* touches a range: merges */
	CHECK_EQ(fh_remove_holes(&h, 1, 1), -ENOSPC); /* [0,3) would split */
	CHECK(fh_is_hole(&h, 1));
	CHECK_EQ(fh_remove_holes(&h, 0, 1), 0);   /* head trim needs no split */
	CHECK_EQ(fh_remove_holes(&h, 2, 1), 0);   /* tail trim neither */
	CHECK(!fh_is_hole(&h, 0) && fh_is_hole(&h, 1) && !fh_is_hole(&h, 2));
	CHECK_EQ(fh_add_holes(&h, 50000, 3), -ENOSPC);
	CHECK_EQ(h.nholes, FH_MAX_HOLES);
	CHECK_EQ(fh_remove_holes(&h, 11, 0), 0);
}

int main(void)
{
	int ciphers[3] = { CIPHER_XCHACHA, CIPHER_NONE, CIPHER_AESGCM };
	int n = crypto_cipher_parse("aes-256-gcm") == CIPHER_AESGCM ? 3 : 2;

	if (crypto_init() < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		test_roundtrip(ciphers[i]);
		test_tamper(ciphers[i]);
		test_header(ciphers[i]);
	}
	test_compresses();
	test_insane_prefix();
	test_slots();
	test_holes();
	return unit_done();
}
