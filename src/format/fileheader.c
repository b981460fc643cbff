/* fileheader.c - encode, verify and edit the per-file header (no I/O).
 *
 * Slot layout (little endian), FH_SLOT_SIZE bytes, zero padded:
 *   0 "RSFH"  4 u32 version  8 u64 gen  16 file_id[16]  32 u32 block_size
 *  36 u8 algo  37 u8 level  38 u16 flags (0)  40 u64 size  48 u32 nholes
 *  52 u32 reserved (0)  56 holes[nholes] of (u64 start, u64 count)
 *  then nonce[24] and tag[16]: an AEAD of the empty message whose associated
 *  data is every byte before the nonce. */
#include "fileheader.h"

#include <errno.h>
#include <string.h>

#include "blockfmt.h"
#include "util.h"

#define FH_MAGIC "RSFH"
#define FH_FIXED 56

void fh_put_common(const struct file_header *h, uint32_t version, uint8_t *buf)
{
	memcpy(buf, FH_MAGIC, 4);
	util_put_le32(buf + 4, version);
	util_put_le64(buf + 8, h->gen);
	memcpy(buf + 16, h->file_id, FH_ID_LEN);
	util_put_le32(buf + 32, h->block_size);
	buf[36] = h->codec.algo;
	buf[37] = h->codec.level;
	buf[38] = (uint8_t)h->flags;
	buf[39] = (uint8_t)(h->flags >> 8);
	util_put_le64(buf + 40, h->size);
}

void fh_get_common(const uint8_t *buf, struct file_header *h)
{
	h->gen = util_get_le64(buf + 8);
	memcpy(h->file_id, buf + 16, FH_ID_LEN);
	h->block_size = util_get_le32(buf + 32);
	h->codec.algo = buf[36];
	h->codec.level = buf[37];
	h->flags = (uint16_t)(buf[38] | buf[39] << 8);
	h->size = util_get_le64(buf + 40);
}

static size_t fh_body_len(uint32_t nholes)
{
	return FH_FIXED + (size_t)nholes * 16;
}

int fh_seal(const struct crypto_key *k, const struct file_header *h, uint8_t *buf)
{
	uint8_t tag[CRYPTO_TAG_LEN];
	uint8_t empty = 0;
	size_t body;

	if (h->nholes > FH_MAX_HOLES)
		return -EIO;
	memset(buf, 0, FH_SLOT_SIZE);
	fh_put_common(h, FH_VERSION, buf);
	util_put_le32(buf + 48, h->nholes);
	for (uint32_t i = 0; i < h->nholes; i++) {
		util_put_le64(buf + FH_FIXED + 16 * i, h->holes[i].start);
		util_put_le64(buf + FH_FIXED + 16 * i + 8, h->holes[i].count);
	}
	body = fh_body_len(h->nholes);
	if (crypto_seal(k, tag, &empty, 0, buf, body, buf + body) < 0)
		return -EIO;
	memcpy(buf + body + CRYPTO_NONCE_LEN, tag, CRYPTO_TAG_LEN);
	return 0;
}

static int fh_all_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* Structural checks shared by fh_open and fh_peek. */
static int fh_check(const uint8_t *buf, uint32_t *nholes)
{
	if (memcmp(buf, FH_MAGIC, 4) != 0)
		return fh_all_zero(buf, FH_SLOT_SIZE) ? -ENOENT : -EBADMSG;
	if (util_get_le32(buf + 4) != FH_VERSION)
		return -EBADMSG;
	if (!blk_size_valid(util_get_le32(buf + 32)) || buf[36] > CODEC_ZSTD)
		return -EBADMSG;
	/* A flag this version does not know means a newer format. */
	if ((buf[38] | buf[39] << 8) & ~FH_FLAGS_KNOWN)
		return -EBADMSG;
	*nholes = util_get_le32(buf + 48);
	if (*nholes > FH_MAX_HOLES)
		return -EBADMSG;
	return 0;
}

int fh_open(const struct crypto_key *k, const uint8_t *buf, struct file_header *h)
{
	uint8_t empty;
	uint32_t nholes;
	size_t body;
	int r = fh_check(buf, &nholes);

	if (r < 0)
		return r;
	body = fh_body_len(nholes);
	if (crypto_open(k, &empty, buf + body + CRYPTO_NONCE_LEN, CRYPTO_TAG_LEN,
			buf, body, buf + body) < 0)
		return -EBADMSG;
	fh_get_common(buf, h);
	h->nholes = nholes;
	for (uint32_t i = 0; i < nholes; i++) {
		h->holes[i].start = util_get_le64(buf + FH_FIXED + 16 * i);
		h->holes[i].count = util_get_le64(buf + FH_FIXED + 16 * i + 8);
		/* Authenticated, but still refuse a list the code could not
		 * have written, so later arithmetic cannot overflow. */
		if (h->holes[i].count == 0 ||
		    h->holes[i].start + h->holes[i].count < h->holes[i].start ||
		    (i > 0 && h->holes[i].start <=
				      h->holes[i - 1].start + h->holes[i - 1].count))
			return -EBADMSG;
	}
	return 0;
}

int fh_peek(const uint8_t *buf, uint64_t *gen, uint64_t *size)
{
	uint32_t nholes;
	int r = fh_check(buf, &nholes);

	if (r < 0)
		return r;
	*gen = util_get_le64(buf + 8);
	*size = util_get_le64(buf + 40);
	return 0;
}

uint8_t fh_peek_algo(const uint8_t *buf)
{
	uint64_t gen[2] = { 0, 0 }, size;
	int ok[2];

	for (int i = 0; i < 2; i++)
		ok[i] = fh_peek(buf + fh_slot_offset(i), &gen[i], &size) == 0;
	if (ok[1] && (!ok[0] || gen[1] > gen[0]))
		return buf[fh_slot_offset(1) + 36];
	return ok[0] ? buf[36] : CODEC_NONE;
}

/* Index of the first hole range whose end lies beyond block. */
static uint32_t fh_find(const struct file_header *h, uint64_t block)
{
	uint32_t lo = 0, hi = h->nholes;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (h->holes[mid].start + h->holes[mid].count <= block)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int fh_is_hole(const struct file_header *h, uint64_t block)
{
	uint32_t i = fh_find(h, block);

	return i < h->nholes && h->holes[i].start <= block;
}

uint64_t fh_next(const struct file_header *h, uint64_t from, int want_hole)
{
	uint32_t i = fh_find(h, from);
	int in_hole = i < h->nholes && h->holes[i].start <= from;

	if (in_hole == want_hole)
		return from;
	if (want_hole) /* in data: the next hole starts at holes[i] */
		return i < h->nholes ? h->holes[i].start : UINT64_MAX;
	return h->holes[i].start + h->holes[i].count;
}

int fh_add_holes(struct file_header *h, uint64_t start, uint64_t count)
{
	uint64_t end = start + count;
	uint32_t first, last;

	if (count == 0)
		return 0;
	/* Ranges that overlap or touch [start, end) merge with it. */
	first = start ? fh_find(h, start - 1) : 0;
	last = first;
	while (last < h->nholes && h->holes[last].start <= end)
		last++;
	if (first == last && h->nholes == FH_MAX_HOLES)
		return -ENOSPC;
	if (first < last) {
		if (h->holes[first].start < start)
			start = h->holes[first].start;
		if (h->holes[last - 1].start + h->holes[last - 1].count > end)
			end = h->holes[last - 1].start + h->holes[last - 1].count;
	}
	/* Replace entries [first, last) by one. */
	memmove(&h->holes[first + 1], &h->holes[last],
		(h->nholes - last) * sizeof(h->holes[0]));
	h->nholes = h->nholes - (last - first) + 1;
	h->holes[first].start = start;
	h->holes[first].count = end - start;
	return 0;
}

int fh_remove_holes(struct file_header *h, uint64_t start, uint64_t count)
{
	uint64_t end = start + count;
	uint32_t i = fh_find(h, start);

	if (count == 0)
		return 0;
	/* A single range strictly containing [start, end) splits in two. */
	if (i < h->nholes && h->holes[i].start < start &&
	    h->holes[i].start + h->holes[i].count > end) {
		struct fh_hole *r;

		if (h->nholes == FH_MAX_HOLES)
			return -ENOSPC;
		memmove(&h->holes[i + 1], &h->holes[i],
			(h->nholes - i) * sizeof(h->holes[0]));
		h->nholes++;
		r = &h->holes[i + 1];
		r->count = r->start + r->count - end;
		r->start = end;
		h->holes[i].count = start - h->holes[i].start;
		return 0;
	}
	while (i < h->nholes && h->holes[i].start < end) {
		struct fh_hole *r = &h->holes[i];
		uint64_t rend = r->start + r->count;

		if (r->start < start) { /* keep the head */
			r->count = start - r->start;
			i++;
		} else if (rend > end) { /* keep the tail */
			r->count = rend - end;
			r->start = end;
			i++;
		} else { /* fully covered: drop */
			memmove(r, r + 1, (h->nholes - i - 1) * sizeof(*r));
			h->nholes--;
		}
	}
	return 0;
}

void fh_clip_holes(struct file_header *h, uint64_t nblocks)
{
	uint32_t i = fh_find(h, nblocks);

	if (i < h->nholes && h->holes[i].start < nblocks) {
		h->holes[i].count = nblocks - h->holes[i].start;
		i++;
	}
	h->nholes = i;
}
