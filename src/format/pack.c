/* pack.c - the packed form of the size hint and the binder of a pack
 * record.  See pack.h and docs/FORMAT.md "Packed small files". */
#include "pack.h"

#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "fh2rec.h"
#include "fileheader.h"
#include "names.h"
#include "util.h"

#define NO_RECORD 0xff

void pack_ref_encode(const struct pack_ref *r, uint8_t *out)
{
	uint8_t lg = 0;

	while (lg < 31 && (1u << lg) < r->block_size)
		lg++;
	memset(out, 0, PACK_HINT_LEN);
	util_put_le64(out, r->size);
	out[8] = (uint8_t)r->flags;
	out[9] = (uint8_t)(r->flags >> 8);
	out[10] = r->main_algo;
	util_put_le64(out + 11, r->gen);
	out[19] = PACK_FORM;
	out[20] = lg;
	out[21] = r->codec.algo;
	out[22] = r->codec.level;
	if (!r->has_rec) {
		out[23] = NO_RECORD;
		return;
	}
	out[23] = r->e.algo;
	util_put_le32(out + 24, r->e.stored);
	util_put_le32(out + 28, r->e.plain);
	util_put_le64(out + 32, r->e.off);
	memcpy(out + 40, r->e.tag, CRYPTO_TAG_LEN);
}

int pack_ref_decode(const uint8_t *in, size_t len, struct pack_ref *r)
{
	memset(r, 0, sizeof(*r));
	if (len != PACK_HINT_LEN || in[19] != PACK_FORM || in[20] < 12 || in[20] > 20)
		return -EINVAL;
	r->size = util_get_le64(in);
	r->flags = (uint16_t)(in[8] | in[9] << 8);
	r->main_algo = in[10];
	r->gen = util_get_le64(in + 11);
	r->block_size = 1u << in[20];
	r->codec.algo = in[21];
	r->codec.level = in[22];
	if ((r->flags & ~FH_FLAGS_KNOWN) || r->main_algo > CODEC_ZSTD ||
	    r->codec.algo > CODEC_ZSTD || r->codec.level > codec_max_level(r->codec.algo) ||
	    r->size > r->block_size)
		return -EINVAL;
	if (in[23] == NO_RECORD) {
		/* No record: every other byte is zero. */
		for (size_t i = 24; i < PACK_HINT_LEN; i++)
			if (in[i])
				return -EINVAL;
		return 0;
	}
	r->has_rec = 1;
	r->e.block = 0;
	r->e.algo = in[23];
	r->e.stored = util_get_le32(in + 24);
	r->e.plain = util_get_le32(in + 28);
	r->e.off = util_get_le64(in + 32);
	memcpy(r->e.tag, in + 40, CRYPTO_TAG_LEN);
	/* One block holding the whole file, at a place a pack can have. */
	if (!fh2rec_ent_ok(&r->e, r->block_size) || r->e.plain != r->size ||
	    r->e.stored > PACK_STORED_MAX || r->e.off < PACK_START || r->e.off > FH2_OFF_MAX)
		return -EINVAL;
	return 0;
}

void pack_binder(const uint8_t *iv, uint64_t off, uint8_t *out)
{
	uint8_t msg[4 + NAME_IV_LEN + 8], d[32];

	memcpy(msg, "RSP1", 4);
	memcpy(msg + 4, iv, NAME_IV_LEN);
	util_put_le64(msg + 4 + NAME_IV_LEN, off);
	crypto_digest(d, msg, sizeof(msg));
	memcpy(out, d, FH_ID_LEN);
}
