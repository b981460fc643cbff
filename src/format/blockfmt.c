/* blockfmt.c - compress-then-seal of one block record (no I/O). */
#include "blockfmt.h"

#include <errno.h>
#include <string.h>

#include "util.h"

#define BLK_MAGIC "RSB1"
#define BLK_AD_LEN (24 + FH_ID_LEN + 8)

int blk_size_valid(uint32_t block_size)
{
	return block_size >= BLK_MIN_SIZE && block_size <= BLK_MAX_SIZE &&
	       (block_size & (block_size - 1)) == 0;
}

size_t blk_slot_size(uint32_t block_size)
{
	size_t raw = BLK_PREFIX_LEN + (size_t)block_size + CRYPTO_TAG_LEN;

	return (raw + 4095) & ~(size_t)4095;
}

off_t blk_slot_offset(uint32_t block_size, uint64_t index, int slot)
{
	return FH_AREA + (off_t)(2 * index + (uint64_t)slot) *
				 (off_t)blk_slot_size(block_size);
}

int blk_peek(const uint8_t *rec, uint32_t block_size, struct blk_prefix *p)
{
	if (memcmp(rec, BLK_MAGIC, 4) != 0) {
		for (int i = 0; i < 24; i++)
			if (rec[i])
				return -EBADMSG;
		return -ENOENT;
	}
	p->algo = rec[4];
	p->gen = util_get_le64(rec + 8);
	p->plain_len = util_get_le32(rec + 16);
	p->stored_len = util_get_le32(rec + 20);
	if (p->algo > CODEC_ZSTD || rec[5] || rec[6] || rec[7] || p->gen == 0 ||
	    p->plain_len == 0 || p->plain_len > block_size ||
	    p->stored_len < CRYPTO_TAG_LEN ||
	    p->stored_len > block_size + CRYPTO_TAG_LEN)
		return -EBADMSG;
	if (p->algo == CODEC_NONE && p->stored_len != p->plain_len + CRYPTO_TAG_LEN)
		return -EBADMSG;
	return 0;
}

/* Associated data: prefix bytes 0..23 (magic, algo, gen, lengths), then the
 * file id and the block index.  It begins with the record magic, so it can
 * never equal a file header's associated data. */
static void blk_ad(uint8_t *ad, const uint8_t *rec, const uint8_t *file_id,
		   uint64_t index)
{
	memcpy(ad, rec, 24);
	memcpy(ad + 24, file_id, FH_ID_LEN);
	util_put_le64(ad + 24 + FH_ID_LEN, index);
}

ssize_t blk_seal(const struct crypto_key *k, const uint8_t *file_id,
		 uint64_t index, uint64_t gen, const struct codec_spec *spec,
		 const uint8_t *plain, uint32_t plain_len, uint32_t block_size,
		 uint8_t *rec)
{
	uint8_t ad[BLK_AD_LEN];
	uint8_t *payload = rec + BLK_PREFIX_LEN;
	ssize_t clen;
	uint8_t algo = spec->algo;
	uint32_t len;

	if (plain_len == 0 || plain_len > block_size || gen == 0)
		return -EINVAL;
	clen = codec_compress(spec, plain, plain_len, payload, block_size);
	if (clen < 0)
		return clen;
	if (clen == 0) {
		memcpy(payload, plain, plain_len);
		algo = CODEC_NONE;
		len = plain_len;
	} else {
		len = (uint32_t)clen;
	}
	memset(rec, 0, BLK_PREFIX_LEN);
	memcpy(rec, BLK_MAGIC, 4);
	rec[4] = algo;
	util_put_le64(rec + 8, gen);
	util_put_le32(rec + 16, plain_len);
	util_put_le32(rec + 20, len + CRYPTO_TAG_LEN);
	blk_ad(ad, rec, file_id, index);
	if (crypto_seal(k, payload, payload, len, ad, sizeof(ad), rec + 24) < 0)
		return -EIO;
	return BLK_PREFIX_LEN + len + CRYPTO_TAG_LEN;
}

ssize_t blk_open(const struct crypto_key *k, const uint8_t *file_id,
		 uint64_t index, const uint8_t *rec, size_t rec_len,
		 uint32_t block_size, uint8_t *out, uint8_t *scratch)
{
	struct blk_prefix p;
	uint8_t ad[BLK_AD_LEN];
	const uint8_t *payload = rec + BLK_PREFIX_LEN;
	int r;

	if (rec_len < BLK_PREFIX_LEN)
		return -EBADMSG;
	r = blk_peek(rec, block_size, &p);
	if (r < 0)
		return -EBADMSG; /* an empty slot is not a record either */
	if (rec_len < BLK_PREFIX_LEN + (size_t)p.stored_len)
		return -EBADMSG;
	blk_ad(ad, rec, file_id, index);
	if (p.algo == CODEC_NONE)
		return crypto_open(k, out, payload, p.stored_len, ad, sizeof(ad),
				   rec + 24) < 0 ? -EBADMSG : (ssize_t)p.plain_len;
	if (crypto_open(k, scratch, payload, p.stored_len, ad, sizeof(ad), rec + 24) < 0)
		return -EBADMSG;
	r = codec_decompress(p.algo, scratch, p.stored_len - CRYPTO_TAG_LEN, out,
			     p.plain_len);
	return r < 0 ? -EIO : (ssize_t)p.plain_len;
}
