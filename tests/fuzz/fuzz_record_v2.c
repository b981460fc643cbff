/* fuzz_record_v2.c - the block records of a format v2 file (fh2rec.h):
 * whole records of every codec and chunked records.  Input: block size
 * byte, one index entry as the header stores it (40 bytes), the record.
 *
 * Raw: fh2rec_open, and for a chunked entry the tag table check and each
 * chunk, on the record as read.  Sealed (whole): the fuzzer's bytes are the
 * ciphertext's plaintext, sealed with the test key under the entry's
 * associated data, so the decompressor gets the fuzzer's stream and plain
 * length (decompression bombs included).  Sealed (chunked): the bytes are
 * a raw block cut into chunks by fh2rec_seal; it must open to itself, and
 * after one flipped byte it must not, while a flip inside one chunk fails
 * that chunk alone.  Round trip: fh2rec_seal with the chosen codec. */
#include "fuzz.h"

#include "codec.h"
#include "fh2ent.h"
#include "fh2rec.h"

#define MAX_REC (CRYPTO_NONCE_LEN + 2 * BLK_MAX + 4096)
#define BLK_MAX (1024 * 1024)

static uint8_t rec[MAX_REC], out[BLK_MAX], scratch[BLK_MAX + CRYPTO_TAG_LEN];
static uint8_t plain[BLK_MAX];
static const uint8_t file_id[FH_ID_LEN] = "fuzz file id 16b";

static void open_raw(struct crypto_key *k, const struct fh2_ent *e, uint32_t bs)
{
	(void)fh2rec_open(k, file_id, e, rec, bs, out, scratch);
	if (e->algo != FH2_ALGO_CHUNKED || !fh2rec_ent_ok(e, bs) ||
	    fh2rec_tags_check(file_id, e, rec) < 0)
		return;
	for (uint32_t j = 0; j < fh2rec_nchunks(e->plain); j++)
		(void)fh2rec_chunk_open(k, file_id, e, rec, j, rec + fh2rec_chunk_at(e->plain, j),
					out);
}

/* Seal the fuzzer's bytes as the whole record of entry e. */
static void seal_whole(struct crypto_key *k, struct fh2_ent *e)
{
	uint8_t ad[FH2REC_AD_LEN];

	fh2rec_ad(ad, file_id, e);
	FZ_ASSERT(crypto_seal(k, rec + CRYPTO_NONCE_LEN, plain, e->stored, ad, sizeof(ad),
			      rec) == 0);
	memcpy(e->tag, rec + CRYPTO_NONCE_LEN + e->stored, CRYPTO_TAG_LEN);
}

static void chunked(struct crypto_key *k, uint64_t block, uint32_t len, uint32_t bs,
		    uint32_t flip)
{
	static const struct codec_spec none = { CODEC_NONE, 0 };
	struct fh2_ent e;
	uint64_t reclen, table;
	uint32_t bad;

	if (len <= FH2_CHUNK)
		return;
	FZ_ASSERT(fh2rec_seal(k, file_id, &none, block, plain, len, bs, rec, &e) > 0);
	FZ_ASSERT(e.algo == FH2_ALGO_CHUNKED && fh2rec_ent_ok(&e, bs));
	FZ_ASSERT(fh2rec_open(k, file_id, &e, rec, bs, out, scratch) == (ssize_t)len);
	FZ_ASSERT(memcmp(out, plain, len) == 0);
	reclen = fh2_rec_len(e.stored);
	table = (uint64_t)fh2rec_nchunks(len) * CRYPTO_TAG_LEN;
	flip %= (uint32_t)reclen;
	rec[flip] ^= 0x80;
	FZ_ASSERT(fh2rec_open(k, file_id, &e, rec, bs, out, scratch) == -EBADMSG);
	if (flip < table) {
		FZ_ASSERT(fh2rec_tags_check(file_id, &e, rec) == -EBADMSG);
		return;
	}
	FZ_ASSERT(fh2rec_tags_check(file_id, &e, rec) == 0);
	bad = (uint32_t)((flip - table) / (CRYPTO_NONCE_LEN + FH2_CHUNK));
	for (uint32_t j = 0; j < fh2rec_nchunks(len); j++)
		FZ_ASSERT((fh2rec_chunk_open(k, file_id, &e, rec, j,
					     rec + fh2rec_chunk_at(len, j), out) == 0) ==
			  (j != bad));
}

static void roundtrip(struct crypto_key *k, uint64_t block, uint32_t len, uint32_t bs,
		      uint8_t algo, uint8_t level)
{
	struct codec_spec spec = { algo, level };
	struct fh2_ent e;

	if (len == 0)
		return;
	FZ_ASSERT(fh2rec_seal(k, file_id, &spec, block, plain, len, bs, rec, &e) > 0);
	FZ_ASSERT(fh2rec_ent_ok(&e, bs));
	FZ_ASSERT(fh2rec_open(k, file_id, &e, rec, bs, out, scratch) == (ssize_t)len);
	FZ_ASSERT(memcmp(out, plain, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_key *k = fz_key();
	struct fz f = { data, size };
	uint32_t bs = fz_block_size(&f), len;
	uint8_t ent[FH2_ENT_LEN];
	struct fh2_ent e;

	fz_take(&f, ent, sizeof(ent));
	fh2ent_decode(ent, &e);
	len = (uint32_t)(f.n < fh2rec_max(bs) ? f.n : fh2rec_max(bs));
	memset(rec, 0, fh2rec_max(bs));
	memcpy(rec, f.p, len);
	open_raw(k, &e, bs);

	len = (uint32_t)(f.n < bs ? f.n : bs);
	memcpy(plain, f.p, len);
	if (len) {
		e.algo %= 4;
		e.stored = len;
		e.plain = e.algo == CODEC_NONE ? len : 1 + e.plain % bs;
		seal_whole(k, &e);
		(void)fh2rec_open(k, file_id, &e, rec, bs, out, scratch);
	}
	chunked(k, e.block, len, bs, (uint32_t)e.off);
	roundtrip(k, e.block, len, bs, e.algo % 4, fz_level(e.algo % 4, e.tag[0]));
	return 0;
}
