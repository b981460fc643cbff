/* fuzz_header_v1.c - the two header slots of a format v1 backing file
 * (fileheader.h).  The input is the first FH_AREA bytes of a file (zero
 * padded); bytes past them drive edits of the hole list.
 *
 * Raw: both slots through fh_open, fh_peek and fh_peek_algo.  Sealed: slot
 * 0 with the magic and version set and its MAC made with the test key, so
 * that fh_open's checks behind the MAC (the hole list) see the fuzzer's
 * bytes; a header that opens must seal and open again unchanged, and keep
 * its hole list sorted, disjoint and non-adjacent through every edit. */
#include "fuzz.h"

#include "fileheader.h"

/* Slot layout, docs/FORMAT.md: 56 fixed bytes, 16 per hole, then the
 * nonce and tag. */
#define V1_FIXED 56

static void holes_sane(const struct file_header *h)
{
	FZ_ASSERT(h->nholes <= FH_MAX_HOLES);
	for (uint32_t i = 0; i < h->nholes; i++) {
		FZ_ASSERT(h->holes[i].count > 0);
		FZ_ASSERT(h->holes[i].start + h->holes[i].count > h->holes[i].start);
		if (i > 0)
			FZ_ASSERT(h->holes[i].start >
				  h->holes[i - 1].start + h->holes[i - 1].count);
	}
}

static void same(const struct file_header *a, const struct file_header *b)
{
	FZ_ASSERT(a->gen == b->gen && a->size == b->size && a->block_size == b->block_size);
	FZ_ASSERT(a->flags == b->flags && a->codec.algo == b->codec.algo &&
		  a->codec.level == b->codec.level);
	FZ_ASSERT(memcmp(a->file_id, b->file_id, FH_ID_LEN) == 0);
	FZ_ASSERT(a->nholes == b->nholes);
	FZ_ASSERT(memcmp(a->holes, b->holes, a->nholes * sizeof(a->holes[0])) == 0);
}

static void reseal(struct crypto_key *k, const struct file_header *h)
{
	static uint8_t slot[FH_SLOT_SIZE];
	static struct file_header back;

	FZ_ASSERT(fh_seal(k, h, slot) == 0);
	FZ_ASSERT(fh_open(k, slot, &back) == 0);
	same(h, &back);
}

/* Edits of the hole list, three bytes of input each (op, start, count),
 * small numbers so that ranges meet. */
static void edit(struct crypto_key *k, struct file_header *h, struct fz *f)
{
	for (int i = 0; i < 64 && f->n; i++) {
		uint8_t op = fz_u8(f);
		uint64_t a = fz_u8(f), b = fz_u8(f);

		switch (op % 5) {
		case 0:
			fh_add_holes(h, a, b);
			break;
		case 1:
			fh_remove_holes(h, a, b);
			break;
		case 2:
			fh_clip_holes(h, a);
			break;
		case 3: {
			uint64_t n = fh_next(h, a, b & 1);

			FZ_ASSERT(n >= a);
			FZ_ASSERT(n == UINT64_MAX || fh_is_hole(h, n) == (int)(b & 1));
			break;
		}
		default:
			(void)fh_is_hole(h, a);
		}
		holes_sane(h);
	}
	reseal(k, h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t area[FH_AREA];
	static struct file_header h;
	struct crypto_key *k = fz_key();
	struct fz f = { data, size };
	uint64_t gen, sz;
	uint32_t nholes;

	fz_take(&f, area, sizeof(area));
	for (int s = 0; s < 2; s++) {
		(void)fh_open(k, area + fh_slot_offset(s), &h);
		(void)fh_peek(area + fh_slot_offset(s), &gen, &sz);
	}
	FZ_ASSERT(fh_peek_algo(area) <= 0xff);

	nholes = util_get_le32(area + 48) % (FH_MAX_HOLES + 1);
	util_put_le32(area + 48, nholes);
	fz_seal_slot(k, area, FH_VERSION, V1_FIXED + 16 * (size_t)nholes);
	if (fh_open(k, area, &h) == 0) {
		holes_sane(&h);
		reseal(k, &h);
		edit(k, &h, &f);
	}
	return 0;
}
