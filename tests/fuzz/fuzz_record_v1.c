/* fuzz_record_v1.c - a block record of a format v1 file (blockfmt.h),
 * every codec.  Input: block size byte, block index byte, then the record
 * (48-byte prefix and payload).
 *
 * Raw: blk_peek and blk_open as read from a slot.  Sealed: the prefix gets
 * the magic and a valid algorithm, the payload is sealed with the test key
 * under the record's associated data, so blk_open reaches the decompressor
 * with the fuzzer's stream and the fuzzer's claimed plain length (a small
 * claim over a stream that expands hugely is a decompression bomb: it must
 * fail, never write past the block).  Round trip: the payload as plain
 * data, sealed by blk_seal with the chosen codec, opens to itself. */
#include "fuzz.h"

#include "blockfmt.h"

static uint8_t rec[BLK_PREFIX_LEN + BLK_MAX_SIZE + 4096];
static uint8_t out[BLK_MAX_SIZE], scratch[BLK_PREFIX_LEN + BLK_MAX_SIZE + 4096];
static const uint8_t file_id[FH_ID_LEN] = "fuzz file id 16b";

/* Associated data, blockfmt.h: prefix bytes 0..23, file id, u64 index. */
static void seal_payload(struct crypto_key *k, uint64_t index, uint32_t len)
{
	uint8_t ad[24 + FH_ID_LEN + 8];

	memcpy(ad, rec, 24);
	memcpy(ad + 24, file_id, FH_ID_LEN);
	util_put_le64(ad + 24 + FH_ID_LEN, index);
	FZ_ASSERT(crypto_seal(k, rec + BLK_PREFIX_LEN, rec + BLK_PREFIX_LEN, len, ad, sizeof(ad),
			      rec + 24) == 0);
}

static void roundtrip(struct crypto_key *k, uint64_t index, uint32_t bs, const uint8_t *plain,
		      uint32_t len, uint8_t algo, uint8_t level)
{
	static uint8_t in[BLK_MAX_SIZE];
	struct codec_spec spec = { algo, level };
	ssize_t n;

	if (len == 0)
		return;
	memcpy(in, plain, len);
	n = blk_seal(k, file_id, index, 1, &spec, in, len, bs, rec);
	FZ_ASSERT(n > 0 && (size_t)n <= blk_slot_size(bs));
	FZ_ASSERT(blk_open(k, file_id, index, rec, (size_t)n, bs, out, scratch) == (ssize_t)len);
	FZ_ASSERT(memcmp(out, in, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_key *k = fz_key();
	struct fz f = { data, size };
	uint32_t bs = fz_block_size(&f);
	uint64_t index = fz_u8(&f);
	size_t len = f.n < blk_slot_size(bs) ? f.n : blk_slot_size(bs);
	struct blk_prefix p;
	uint32_t plen;
	uint8_t algo;

	memset(rec, 0, BLK_PREFIX_LEN);
	memcpy(rec, f.p, len);
	(void)blk_peek(rec, bs, &p);
	(void)blk_open(k, file_id, index, rec, len, bs, out, scratch);

	/* Sealed: the payload is what the fuzzer wrote, up to a block. */
	plen = len > BLK_PREFIX_LEN ? (uint32_t)(len - BLK_PREFIX_LEN) : 0;
	if (plen > bs)
		plen = bs;
	algo = rec[4] % 4;
	memcpy(rec, "RSB1", 4);
	rec[4] = algo;
	rec[5] = rec[6] = rec[7] = 0;
	if (util_get_le64(rec + 8) == 0)
		rec[8] = 1;
	if (algo == CODEC_NONE)
		util_put_le32(rec + 16, plen);
	util_put_le32(rec + 20, plen + CRYPTO_TAG_LEN);
	seal_payload(k, index, plen);
	(void)blk_open(k, file_id, index, rec, BLK_PREFIX_LEN + plen + CRYPTO_TAG_LEN, bs, out,
		       scratch);

	roundtrip(k, index, bs, f.p + BLK_PREFIX_LEN, plen, algo,
		  fz_level(algo, len > 5 ? f.p[5] : 0));
	return 0;
}
