/* fh2ent.h - one v2 index entry decoded from its 40 on-disk bytes, for
 * the tests that hand a record decoder an entry of their own
 * (test_mustfail.c, tests/fuzz/fuzz_record_v2.c).  Layout, docs/FORMAT.md:
 * u64 block, u64 offset | algorithm << 48 (| state << 56), u32 stored,
 * u32 plain, tag[16]. */
#ifndef RAGSTORE_FH2ENT_H
#define RAGSTORE_FH2ENT_H

#include <string.h>

#include "fh2.h"
#include "util.h"

static inline void fh2ent_decode(const uint8_t *p, struct fh2_ent *e)
{
	uint64_t w = util_get_le64(p + 8);

	memset(e, 0, sizeof(*e));
	e->block = util_get_le64(p);
	e->off = w & FH2_OFF_MAX;
	e->algo = (uint8_t)(w >> 48);
	e->state = (uint8_t)(w >> 56);
	e->stored = util_get_le32(p + 16);
	e->plain = util_get_le32(p + 20);
	memcpy(e->tag, p + 24, CRYPTO_TAG_LEN);
}

#endif
