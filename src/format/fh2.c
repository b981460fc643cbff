/* fh2.c - encode, verify and decode v2 file headers, index blobs and block
 * records (no I/O).
 *
 * Header slot (FH2_SLOT = 512 bytes, little endian, zero padded):
 *   0 "RSFH"   4 u32 version (2)   8 u64 generation   16 file id[16]
 *  32 u32 block size   36 u8 algorithm   37 u8 level   38 u16 flags
 *  40 u64 size   48 u64 data end   56 u32 entries   60 u32 inline entries
 *  64 u64 index offset   72 u32 index length   76 u32 0
 *  80 index tag[16]   96 xattr binding[16]   112 next xattr binding[16]
 * 128 inline entries (FH2_ENT_LEN each, at most FH2_INLINE_ENTS)
 * 448 u8 usage (1: recorded, 0: a header of an older release)
 * 449 u8 main algorithm   450 u8 level of zlib records   451 u8 level of
 *     zstd records   452..471 zero
 * 472 nonce[24]   496 tag[16]: AEAD of the empty message, associated data
 *     bytes 0..471.
 * Entry: 0 u64 block   8 u64 offset (bits 0-47) | algorithm << 48
 *        16 u32 stored length   20 u32 plain length   24 tag[16]
 * Records: fh2rec.c.
 * Index blob: nonce[24] || ciphertext of the entries; associated data
 *        "RSI2" || file id || u32 entries. */
#include "fh2.h"

#include <errno.h>
#include <string.h>

#include "blockfmt.h"
#include "codec.h"
#include "fh2rec.h"
#include "util.h"

#define FH2_MAGIC "RSFH"
#define FH2_ENTS_AT 128
#define FH2_BODY (FH2_SLOT - CRYPTO_NONCE_LEN - CRYPTO_TAG_LEN)
#define IX_AD_LEN (4 + FH_ID_LEN + 4)
#define FH2_USAGE_AT 448
#define FH2_USAGE_END 452

static void ent_put(uint8_t *p, const struct fh2_ent *e)
{
	util_put_le64(p, e->block);
	util_put_le64(p + 8, e->off | (uint64_t)e->algo << 48);
	util_put_le32(p + 16, e->stored);
	util_put_le32(p + 20, e->plain);
	memcpy(p + 24, e->tag, CRYPTO_TAG_LEN);
}

static void ent_get(const uint8_t *p, struct fh2_ent *e)
{
	uint64_t w = util_get_le64(p + 8);

	e->block = util_get_le64(p);
	e->off = w & FH2_OFF_MAX;
	e->algo = (uint8_t)(w >> 48);
	e->state = (uint8_t)(w >> 56); /* must be 0: checked by ents_check */
	e->level = 0;                  /* fh2_levels_apply */
	e->stored = util_get_le32(p + 16);
	e->plain = util_get_le32(p + 20);
	memcpy(e->tag, p + 24, CRYPTO_TAG_LEN);
}

/* Entries the code could have written for h: sorted, inside the size and
 * the data end, lengths sane.  Authenticated already, but later arithmetic
 * must not overflow on a key holder's bad day either. */
static int ents_check(const struct file_header *h, const struct fh2_extra *x,
		      const struct fh2_ent *e, uint32_t n)
{
	uint32_t bs = h->block_size;
	uint64_t nblk = h->size / bs + (h->size % bs != 0);

	for (uint32_t i = 0; i < n; i++) {
		uint64_t left;

		if (e[i].state || e[i].block >= nblk || (i > 0 && e[i].block <= e[i - 1].block))
			return -EBADMSG;
		left = h->size - e[i].block * bs;
		if (!fh2rec_ent_ok(&e[i], bs) || e[i].plain > left)
			return -EBADMSG;
		if (e[i].off < FH2_DATA_START ||
		    e[i].off + fh2_rec_len(e[i].stored) > x->data_end)
			return -EBADMSG;
	}
	return 0;
}

int fh2_seal(const struct crypto_key *k, const struct file_header *h,
	     const struct fh2_extra *x, const struct fh2_ent *ents, uint8_t *buf)
{
	uint8_t tag[CRYPTO_TAG_LEN], empty = 0;
	uint32_t ninl = x->nents <= FH2_INLINE_ENTS ? x->nents : 0;

	if (h->nholes || h->gen == 0 || x->data_end < FH2_DATA_START ||
	    x->data_end > FH2_OFF_MAX)
		return -EINVAL;
	memset(buf, 0, FH2_SLOT);
	fh_put_common(h, FH2_VERSION, buf);
	util_put_le64(buf + 48, x->data_end);
	util_put_le32(buf + 56, x->nents);
	util_put_le32(buf + 60, ninl);
	if (!ninl && x->nents) {
		util_put_le64(buf + 64, x->ix_off);
		util_put_le32(buf + 72, x->ix_len);
		memcpy(buf + 80, x->ix_tag, CRYPTO_TAG_LEN);
	}
	memcpy(buf + 96, x->xattr_mac, CRYPTO_TAG_LEN);
	memcpy(buf + 112, x->xattr_next, CRYPTO_TAG_LEN);
	for (uint32_t i = 0; i < ninl; i++)
		ent_put(buf + FH2_ENTS_AT + FH2_ENT_LEN * i, &ents[i]);
	if (x->usage) {
		buf[FH2_USAGE_AT] = 1;
		buf[FH2_USAGE_AT + 1] = x->main_algo;
		buf[FH2_USAGE_AT + 2] = x->level[CODEC_ZLIB];
		buf[FH2_USAGE_AT + 3] = x->level[CODEC_ZSTD];
	}
	if (crypto_seal(k, tag, &empty, 0, buf, FH2_BODY, buf + FH2_BODY) < 0)
		return -EIO;
	memcpy(buf + FH2_BODY + CRYPTO_NONCE_LEN, tag, CRYPTO_TAG_LEN);
	return 0;
}

int fh2_is_v2(const uint8_t *buf)
{
	return memcmp(buf, FH2_MAGIC, 4) == 0 && util_get_le32(buf + 4) == FH2_VERSION;
}

static int slot_zero(const uint8_t *buf)
{
	for (size_t i = 0; i < FH2_SLOT; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* The checks that need no key, shared with fh2_peek. */
static int slot_check(const uint8_t *buf)
{
	if (!fh2_is_v2(buf))
		return slot_zero(buf) ? -ENOENT : -EBADMSG;
	if (!blk_size_valid(util_get_le32(buf + 32)) || buf[36] > CODEC_ZSTD ||
	    ((buf[38] | buf[39] << 8) & ~FH_FLAGS_KNOWN) || util_get_le64(buf + 8) == 0)
		return -EBADMSG;
	return 0;
}

/* 1 if level is a recorded level of algorithm algo: 0 (no records),
 * one the codec has, or unknown. */
static int level_ok(uint8_t algo, uint8_t level)
{
	return level == 0 || level == FH2_LEVEL_UNKNOWN || level <= codec_max_level(algo);
}

/* Bytes 448..471: the usage summary, or all zero (an older release). */
static int usage_get(const uint8_t *buf, struct fh2_extra *x)
{
	for (size_t i = buf[FH2_USAGE_AT] ? FH2_USAGE_END : FH2_USAGE_AT + 1; i < FH2_BODY; i++)
		if (buf[i])
			return -EBADMSG;
	if (!buf[FH2_USAGE_AT])
		return 0;
	x->usage = buf[FH2_USAGE_AT];
	x->main_algo = buf[FH2_USAGE_AT + 1];
	x->level[CODEC_ZLIB] = buf[FH2_USAGE_AT + 2];
	x->level[CODEC_ZSTD] = buf[FH2_USAGE_AT + 3];
	if (x->usage != 1 || x->main_algo > CODEC_ZSTD || !level_ok(CODEC_ZLIB, x->level[CODEC_ZLIB]) ||
	    !level_ok(CODEC_ZSTD, x->level[CODEC_ZSTD]))
		return -EBADMSG;
	return 0;
}

int fh2_open(const struct crypto_key *k, const uint8_t *buf, struct file_header *h,
	     struct fh2_extra *x, struct fh2_ent *ents, uint32_t *ninline)
{
	uint8_t empty;
	uint32_t ninl;
	int r = slot_check(buf);

	if (r < 0)
		return r;
	if (crypto_open(k, &empty, buf + FH2_BODY + CRYPTO_NONCE_LEN, CRYPTO_TAG_LEN,
			buf, FH2_BODY, buf + FH2_BODY) < 0)
		return -EBADMSG;
	memset(h, 0, sizeof(*h));
	memset(x, 0, sizeof(*x));
	fh_get_common(buf, h);
	x->data_end = util_get_le64(buf + 48);
	x->nents = util_get_le32(buf + 56);
	ninl = util_get_le32(buf + 60);
	x->ix_off = util_get_le64(buf + 64);
	x->ix_len = util_get_le32(buf + 72);
	memcpy(x->ix_tag, buf + 80, CRYPTO_TAG_LEN);
	memcpy(x->xattr_mac, buf + 96, CRYPTO_TAG_LEN);
	memcpy(x->xattr_next, buf + 112, CRYPTO_TAG_LEN);
	if (x->data_end < FH2_DATA_START || x->data_end > FH2_OFF_MAX ||
	    h->size > FH2_OFF_MAX * 64 || util_get_le32(buf + 76) != 0 || usage_get(buf, x) < 0)
		return -EBADMSG;
	if (x->nents > h->size / h->block_size + 1)
		return -EBADMSG;
	if (x->nents <= FH2_INLINE_ENTS) {
		if (ninl != x->nents || x->ix_off || x->ix_len)
			return -EBADMSG;
		for (uint32_t i = 0; i < ninl; i++)
			ent_get(buf + FH2_ENTS_AT + FH2_ENT_LEN * i, &ents[i]);
		if (ents_check(h, x, ents, ninl) < 0)
			return -EBADMSG;
	} else if (ninl != 0 || x->ix_len != fh2_ix_len(x->nents) ||
		   x->ix_off < FH2_DATA_START || x->ix_off + x->ix_len > x->data_end) {
		return -EBADMSG;
	}
	*ninline = ninl;
	return 0;
}

int fh2_peek(const uint8_t *buf, uint64_t *gen, uint64_t *size)
{
	int r = slot_check(buf);

	if (r < 0)
		return r;
	*gen = util_get_le64(buf + 8);
	*size = util_get_le64(buf + 40);
	return 0;
}

uint8_t fh2_main_algo(const uint64_t *blocks, const uint64_t *stored)
{
	uint8_t best = CODEC_NONE;

	for (uint8_t a = 0; a <= CODEC_ZSTD; a++)
		if (blocks[a] && (!blocks[best] || stored[a] > stored[best]))
			best = a;
	return best;
}

void fh2_usage_of(const struct fh2_ent *e, uint32_t n, struct fh2_extra *x)
{
	uint64_t blocks[4] = { 0 }, stored[4] = { 0 };

	memset(x->level, 0, sizeof(x->level));
	for (uint32_t i = 0; i < n; i++) {
		uint8_t a = fh2_ent_codec(&e[i]);

		if (a == CODEC_ZLIB || a == CODEC_ZSTD) {
			uint8_t l = e[i].level ? e[i].level : FH2_LEVEL_UNKNOWN;

			x->level[a] = blocks[a] && x->level[a] != l ? FH2_LEVEL_UNKNOWN : l;
		}
		blocks[a]++;
		stored[a] += fh2_rec_len(e[i].stored);
	}
	x->usage = 1;
	x->main_algo = fh2_main_algo(blocks, stored);
}

uint8_t fh2_acct_algo(const struct file_header *h, const struct fh2_extra *x)
{
	return x->usage ? x->main_algo : h->codec.algo;
}

uint8_t fh2_peek_acct_algo(const uint8_t *buf)
{
	if (buf[FH2_USAGE_AT] == 1 && buf[FH2_USAGE_AT + 1] <= CODEC_ZSTD)
		return buf[FH2_USAGE_AT + 1];
	return buf[36];
}

uint8_t fh2_level_guess(const struct codec_spec *setting, uint8_t algo)
{
	if (codec_max_level(algo) == 0)
		return 0;
	return algo == setting->algo ? codec_level(setting) : FH2_LEVEL_UNKNOWN;
}

void fh2_levels_apply(const struct file_header *h, const struct fh2_extra *x,
		      struct fh2_ent *e, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint8_t a = fh2_ent_codec(&e[i]);

		e[i].level = x->usage ? x->level[a] : fh2_level_guess(&h->codec, a);
	}
}

static void ix_ad(uint8_t *ad, const uint8_t *file_id, uint32_t nents)
{
	memcpy(ad, "RSI2", 4);
	memcpy(ad + 4, file_id, FH_ID_LEN);
	util_put_le32(ad + 4 + FH_ID_LEN, nents);
}

int fh2_ix_seal(const struct crypto_key *k, const uint8_t *file_id,
		const struct fh2_ent *ents, uint32_t nents, uint8_t *out, uint8_t *tag)
{
	uint8_t ad[IX_AD_LEN];
	uint8_t *ct = out + CRYPTO_NONCE_LEN;
	size_t len = (size_t)nents * FH2_ENT_LEN;

	for (uint32_t i = 0; i < nents; i++)
		ent_put(ct + FH2_ENT_LEN * i, &ents[i]);
	ix_ad(ad, file_id, nents);
	/* The tag lands after the ciphertext, inside out's slack that the
	 * caller provides (fh2_ix_len + CRYPTO_TAG_LEN bytes). */
	if (crypto_seal(k, ct, ct, len, ad, sizeof(ad), out) < 0)
		return -EIO;
	memcpy(tag, ct + len, CRYPTO_TAG_LEN);
	return 0;
}

int fh2_ix_open(const struct crypto_key *k, const struct file_header *h,
		const struct fh2_extra *x, const uint8_t *blob, size_t len,
		struct fh2_ent *ents, uint8_t *scratch)
{
	uint8_t ad[IX_AD_LEN];
	size_t clen = (size_t)x->nents * FH2_ENT_LEN;

	if (len != fh2_ix_len(x->nents))
		return -EBADMSG;
	memcpy(scratch, blob + CRYPTO_NONCE_LEN, clen);
	memcpy(scratch + clen, x->ix_tag, CRYPTO_TAG_LEN);
	ix_ad(ad, h->file_id, x->nents);
	if (crypto_open(k, scratch, scratch, clen + CRYPTO_TAG_LEN, ad, sizeof(ad), blob) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < x->nents; i++)
		ent_get(scratch + FH2_ENT_LEN * i, &ents[i]);
	return ents_check(h, x, ents, x->nents);
}
