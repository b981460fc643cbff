/* fh2rec.c - seal and open the block records of v2 files (no I/O).
 *
 * Whole record: nonce[24] || ciphertext; associated data "RSR2" || file id
 *   || u64 block || u8 algorithm || u32 plain || u32 stored; tag in the
 *   entry.
 * Chunked record (FH2_ALGO_CHUNKED, raw data only): tags[n][16] || n x
 *   (nonce[24] || ciphertext of chunk j); chunk j holds plain bytes
 *   [4096 j, min(4096 (j+1), plain)); its associated data is "RSC2" ||
 *   file id || u64 block || u32 j || u32 chunk length.  The entry's tag is
 *   BLAKE2b-128("RSH2" || file id || u64 block || u32 plain || tags): the
 *   header vouches for the table and the table for every chunk, so an older
 *   copy of one chunk fails just as an older whole record does. */
#include "fh2rec.h"

#include <errno.h>
#include <string.h>

#include "fileheader.h"
#include "util.h"

#define CHUNK_AD_LEN (4 + FH_ID_LEN + 8 + 4 + 4)
#define SUM_AD_LEN (4 + FH_ID_LEN + 8 + 4)

int fh2rec_ent_ok(const struct fh2_ent *e, uint32_t block_size)
{
	if (e->plain == 0 || e->plain > block_size)
		return 0;
	if (e->algo == FH2_ALGO_CHUNKED)
		return e->plain > FH2_CHUNK && e->stored == fh2rec_chunked_stored(e->plain);
	if (e->algo > CODEC_ZSTD || e->stored == 0 || e->stored > block_size)
		return 0;
	return e->algo != CODEC_NONE || e->stored == e->plain;
}

void fh2rec_ad(uint8_t *ad, const uint8_t *file_id, const struct fh2_ent *e)
{
	memcpy(ad, "RSR2", 4);
	memcpy(ad + 4, file_id, FH_ID_LEN);
	util_put_le64(ad + 4 + FH_ID_LEN, e->block);
	ad[12 + FH_ID_LEN] = e->algo;
	util_put_le32(ad + 13 + FH_ID_LEN, e->plain);
	util_put_le32(ad + 17 + FH_ID_LEN, e->stored);
}

static void chunk_ad(uint8_t *ad, const uint8_t *file_id, const struct fh2_ent *e, uint32_t j)
{
	memcpy(ad, "RSC2", 4);
	memcpy(ad + 4, file_id, FH_ID_LEN);
	util_put_le64(ad + 4 + FH_ID_LEN, e->block);
	util_put_le32(ad + 12 + FH_ID_LEN, j);
	util_put_le32(ad + 16 + FH_ID_LEN, fh2rec_chunk_plain(e->plain, j));
}

static void tags_digest(const uint8_t *file_id, const struct fh2_ent *e, const uint8_t *tags,
			uint8_t *out)
{
	uint8_t ad[SUM_AD_LEN];

	memcpy(ad, "RSH2", 4);
	memcpy(ad + 4, file_id, FH_ID_LEN);
	util_put_le64(ad + 4 + FH_ID_LEN, e->block);
	util_put_le32(ad + 12 + FH_ID_LEN, e->plain);
	crypto_digest_tag(out, ad, sizeof(ad), tags,
			  (size_t)fh2rec_nchunks(e->plain) * CRYPTO_TAG_LEN);
}

void fh2rec_tags_sum(const uint8_t *file_id, struct fh2_ent *e, const uint8_t *tags)
{
	tags_digest(file_id, e, tags, e->tag);
}

int fh2rec_tags_check(const uint8_t *file_id, const struct fh2_ent *e, const uint8_t *tags)
{
	uint8_t sum[CRYPTO_TAG_LEN];

	tags_digest(file_id, e, tags, sum);
	return memcmp(sum, e->tag, CRYPTO_TAG_LEN) == 0 ? 0 : -EBADMSG;
}

int fh2rec_chunk_seal(const struct crypto_key *k, const uint8_t *file_id,
		      const struct fh2_ent *e, uint32_t j, const uint8_t *plain,
		      uint8_t *chunk, uint8_t *tags)
{
	uint8_t ad[CHUNK_AD_LEN];
	uint32_t len = fh2rec_chunk_plain(e->plain, j);

	chunk_ad(ad, file_id, e, j);
	if (crypto_seal(k, chunk + CRYPTO_NONCE_LEN, plain, len, ad, sizeof(ad), chunk) < 0)
		return -EIO;
	memcpy(tags + (size_t)j * CRYPTO_TAG_LEN, chunk + CRYPTO_NONCE_LEN + len, CRYPTO_TAG_LEN);
	return 0;
}

int fh2rec_chunk_open(const struct crypto_key *k, const uint8_t *file_id,
		      const struct fh2_ent *e, const uint8_t *tags, uint32_t j,
		      const uint8_t *chunk, uint8_t *out)
{
	uint8_t ad[CHUNK_AD_LEN];

	chunk_ad(ad, file_id, e, j);
	return crypto_open_detached(k, out, chunk + CRYPTO_NONCE_LEN,
				    fh2rec_chunk_plain(e->plain, j),
				    tags + (size_t)j * CRYPTO_TAG_LEN, ad, sizeof(ad), chunk) < 0
		       ? -EBADMSG
		       : 0;
}

/* A raw block of more than one chunk, chunk by chunk (in order: the tag
 * slack of chunk j's seal is overwritten by chunk j+1). */
static ssize_t chunked_seal(const struct crypto_key *k, const uint8_t *file_id,
			    const uint8_t *plain, uint8_t *rec, struct fh2_ent *e)
{
	e->algo = FH2_ALGO_CHUNKED;
	e->level = 0;
	e->stored = fh2rec_chunked_stored(e->plain);
	for (uint32_t j = 0; j < fh2rec_nchunks(e->plain); j++)
		if (fh2rec_chunk_seal(k, file_id, e, j, plain + (size_t)j * FH2_CHUNK,
				      rec + fh2rec_chunk_at(e->plain, j), rec) < 0)
			return -EIO;
	fh2rec_tags_sum(file_id, e, rec);
	return (ssize_t)fh2_rec_len(e->stored);
}

ssize_t fh2rec_seal(const struct crypto_key *k, const uint8_t *file_id,
		    const struct codec_spec *spec, uint64_t index,
		    const uint8_t *plain, uint32_t plain_len, uint32_t block_size,
		    uint8_t *rec, struct fh2_ent *e)
{
	uint8_t ad[FH2REC_AD_LEN];
	uint8_t *ct = rec + CRYPTO_NONCE_LEN;
	ssize_t clen;

	if (plain_len == 0 || plain_len > block_size)
		return -EINVAL;
	clen = codec_compress(spec, plain, plain_len, ct, block_size);
	if (clen < 0)
		return clen;
	e->block = index;
	e->plain = plain_len;
	if (!clen && plain_len > FH2_CHUNK)
		return chunked_seal(k, file_id, plain, rec, e);
	e->algo = clen ? spec->algo : CODEC_NONE;
	e->level = clen ? codec_level(spec) : 0;
	e->stored = clen ? (uint32_t)clen : plain_len;
	if (!clen)
		memcpy(ct, plain, plain_len);
	fh2rec_ad(ad, file_id, e);
	if (crypto_seal(k, ct, ct, e->stored, ad, sizeof(ad), rec) < 0)
		return -EIO;
	memcpy(e->tag, ct + e->stored, CRYPTO_TAG_LEN);
	return (ssize_t)fh2_rec_len(e->stored);
}

ssize_t fh2rec_open(const struct crypto_key *k, const uint8_t *file_id,
		    const struct fh2_ent *e, const uint8_t *rec, uint32_t block_size,
		    uint8_t *out, uint8_t *scratch)
{
	uint8_t ad[FH2REC_AD_LEN];

	if (!fh2rec_ent_ok(e, block_size))
		return -EBADMSG;
	if (e->algo == FH2_ALGO_CHUNKED) {
		if (fh2rec_tags_check(file_id, e, rec) < 0)
			return -EBADMSG;
		for (uint32_t j = 0; j < fh2rec_nchunks(e->plain); j++)
			if (fh2rec_chunk_open(k, file_id, e, rec, j,
					      rec + fh2rec_chunk_at(e->plain, j),
					      out + (size_t)j * FH2_CHUNK) < 0)
				return -EBADMSG;
		return (ssize_t)e->plain;
	}
	fh2rec_ad(ad, file_id, e);
	if (e->algo == CODEC_NONE)
		return crypto_open_detached(k, out, rec + CRYPTO_NONCE_LEN, e->stored, e->tag, ad,
					    sizeof(ad), rec) < 0 ? -EBADMSG : (ssize_t)e->plain;
	if (crypto_open_detached(k, scratch, rec + CRYPTO_NONCE_LEN, e->stored, e->tag, ad,
				 sizeof(ad), rec) < 0)
		return -EBADMSG;
	return codec_decompress(e->algo, scratch, e->stored, out, e->plain) < 0
		       ? -EIO
		       : (ssize_t)e->plain;
}
