/* pack.h - packed small files (format v2, store version 3; pure functions,
 * no I/O).  docs/FORMAT.md "Packed small files" has the byte layout.
 *
 * A regular v2 file whose data is one record of at most PACK_STORED_MAX
 * stored bytes may keep that record in its directory's pack instead of in
 * its own backing file: the pack is the directory's value file (.diriv),
 * whose first NAME_DIRIV_SIZE bytes stay the directory value and whose
 * records follow, back to back.  The backing file of a packed file is then
 * empty (it occupies no block), and its size hint attribute takes the
 * packed form: the hint's fields followed by the record's place, lengths,
 * algorithm and tag (struct pack_ref).  The record is an ordinary v2 record
 * (fh2rec.h, block 0) sealed with a binder in place of the file id: a
 * digest of the directory value and the record's offset, so a record
 * copied to another offset or another directory's pack does not open, and
 * the tag in the hint rejects an older record of the same place. */
#ifndef RAGSTORE_PACK_H
#define RAGSTORE_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "fh2.h"

/* Length of the packed form of the size hint. */
#define PACK_HINT_LEN 56
/* The form byte at offset 19 of a packed hint. */
#define PACK_FORM 0x50
/* Records of at most this many stored bytes are packed. */
#define PACK_STORED_MAX 8192
/* The first record's offset in a pack (after the directory value). */
#define PACK_START 32

/* What a packed hint says. */
struct pack_ref {
	uint64_t size;            /* logical size (<= block_size) */
	uint64_t gen;             /* the generation of the header it replaced */
	uint16_t flags;           /* header flags (FH flags) */
	uint8_t main_algo;        /* the accounting algorithm (fh2_acct_algo) */
	uint32_t block_size;      /* power of two, 4 KiB..1 MiB */
	struct codec_spec codec;  /* compression of future writes */
	int has_rec;              /* 0: no record (empty, or all zeros) */
	struct fh2_ent e;         /* block 0's record; e.off: offset in the pack */
};

/* What a packed file stores, as the store totals and st_blocks count it:
 * its record's length in the pack rounded up to 512-byte units (0 without
 * a record). */
static inline uint64_t pack_ref_stored(const struct pack_ref *r)
{
	return r->has_rec ? (fh2_rec_len(r->e.stored) + 511) / 512 * 512 : 0;
}

/* The packed hint of r into out[PACK_HINT_LEN]. */
void pack_ref_encode(const struct pack_ref *r, uint8_t *out);
/* Decode a hint of len bytes: 0 and *r, or -EINVAL when it is not a packed
 * hint or any field is out of range (lengths from disk are not trusted). */
int pack_ref_decode(const uint8_t *in, size_t len, struct pack_ref *r);
/* The binder that stands for the file id in the associated data of the
 * record at offset off of the pack of the directory whose value is iv
 * (NAME_IV_LEN bytes): FH_ID_LEN bytes into out. */
void pack_binder(const uint8_t *iv, uint64_t off, uint8_t *out);

#endif
