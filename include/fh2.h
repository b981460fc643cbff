/* fh2.h - format v2 of a regular backing file (pure functions, no I/O).
 *
 * A v2 backing file is packed: two 512-byte header slots at offsets 0 and
 * 512, then a data area from FH2_DATA_START in which block records (and,
 * for files of more than FH2_INLINE_ENTS blocks, the index) lie back to
 * back at any byte offset.  There are no sparse slots, so the apparent size
 * of the file is what it occupies, and a file whose one record is at most
 * FH2_SMALL_MAX stored bytes fits in one 4 KiB block, header included.
 *
 * The header holds the logical size, the data end (the length the backing
 * file must at least have) and the index: one entry per block that holds
 * data (a block inside the size without an entry is a hole), with the
 * record's offset, lengths, algorithm and AEAD tag.  Because every record's
 * tag lives in the header that vouches for it, an older copy of a block, a
 * record moved or a block zeroed or cut away fails to open; the header
 * itself is authenticated (an AEAD over every field), and an index that
 * does not fit the slot is a sealed blob whose tag is in the header.
 * docs/FORMAT.md has the byte layout and the write rules. */
#ifndef RAGSTORE_FH2_H
#define RAGSTORE_FH2_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "fileheader.h"

#define FH2_VERSION 2
#define FH2_SLOT 512
#define FH2_DATA_START (2 * FH2_SLOT)
#define FH2_ENT_LEN 40
#define FH2_INLINE_ENTS 8
/* Record = nonce || ciphertext (its tag is in the entry). */
#define FH2_REC_OVERHEAD CRYPTO_NONCE_LEN
/* Largest stored record that keeps a one-block file in 4 KiB. */
#define FH2_SMALL_MAX (4096 - FH2_DATA_START - FH2_REC_OVERHEAD)
/* Bounds of an offset in the data area (48 bits). */
#define FH2_OFF_MAX ((1ULL << 48) - 1)

struct fh2_ent {
	uint64_t block;              /* block index */
	uint64_t off;                /* record offset in the backing file */
	uint32_t stored;             /* ciphertext bytes (without nonce, tag) */
	uint32_t plain;              /* plain bytes of the block, 1..block size */
	uint8_t algo;                /* codec of this record */
	uint8_t state;               /* in memory only (fileio2.c), 0 on disk */
	/* In memory only: the level the record was compressed at
	 * (codec_level), 0 for a raw or lz4 record, FH2_LEVEL_UNKNOWN when
	 * not known.  On disk the header keeps a summary (struct fh2_extra). */
	uint8_t level;
	uint8_t tag[CRYPTO_TAG_LEN];
};

/* The fields of a v2 header that struct file_header does not have. */
struct fh2_extra {
	uint64_t data_end;           /* backing length, at least */
	uint32_t nents;              /* entries in all */
	uint64_t ix_off;             /* index blob (nents > FH2_INLINE_ENTS) */
	uint32_t ix_len;             /* its length on disk: nonce + ciphertext */
	uint8_t ix_tag[CRYPTO_TAG_LEN];
	/* Binding of the file's xattr blob: the blob's AEAD tag, zeros when
	 * the file has none.  xattr_next is the tag of a blob being written
	 * (zeros otherwise): between the two header writes that frame a blob
	 * change, a crash may leave either blob, and both are accepted. */
	uint8_t xattr_mac[CRYPTO_TAG_LEN];
	uint8_t xattr_next[CRYPTO_TAG_LEN];
	/* What the records are stored with (bytes 448-451 of the slot),
	 * recorded at every header write since December 2026 and absent
	 * (usage 0, all zero) in headers written before.  main_algo: the
	 * algorithm whose records take the most stored bytes (a raw or
	 * chunked record counts as none; none for a file without records),
	 * the row of the per-algorithm totals the file counts in.
	 * level[CODEC_ZLIB], level[CODEC_ZSTD]: the level all the file's
	 * records of that algorithm were compressed at, 0 when it has none,
	 * FH2_LEVEL_UNKNOWN when they differ or one is not known;
	 * level[CODEC_NONE] and level[CODEC_LZ4] are 0. */
	uint8_t usage;               /* 1: main_algo and level are recorded */
	uint8_t main_algo;
	uint8_t level[4];
};

#define FH2_LEVEL_UNKNOWN 255

/* The algorithm of entry e for accounting: a chunked record is raw. */
static inline uint8_t fh2_ent_codec(const struct fh2_ent *e)
{
	return e->algo <= 3 ? e->algo : 0;
}

/* Length on disk of a record of stored bytes, and of an index blob. */
static inline uint64_t fh2_rec_len(uint32_t stored) { return FH2_REC_OVERHEAD + (uint64_t)stored; }
static inline uint64_t fh2_ix_len(uint32_t nents)
{
	return FH2_REC_OVERHEAD + (uint64_t)nents * FH2_ENT_LEN;
}

/* Encode and seal a header slot into buf[FH2_SLOT].  ents are the nents
 * entries, sorted by block; they are stored in the slot when there are at
 * most FH2_INLINE_ENTS of them (else x->ix_* must describe the index blob).
 * h->nholes must be 0.  Returns 0 or -EINVAL / -EIO. */
int fh2_seal(const struct crypto_key *k, const struct file_header *h,
	     const struct fh2_extra *x, const struct fh2_ent *ents, uint8_t *buf);

/* 1 if buf (at least 8 bytes) starts like a v2 header slot (magic and
 * version), unverified. */
int fh2_is_v2(const uint8_t *buf);

/* Verify and decode a slot.  Inline entries go to ents (room for
 * FH2_INLINE_ENTS); for a larger file *ninline is 0 and the index blob is
 * to be read and opened with fh2_ix_open.  Returns 0, -ENOENT for an
 * all-zero slot, -EBADMSG for anything malformed or not authentic. */
int fh2_open(const struct crypto_key *k, const uint8_t *buf, struct file_header *h,
	     struct fh2_extra *x, struct fh2_ent *ents, uint32_t *ninline);

/* Size and generation without verifying (stat fallback). */
int fh2_peek(const uint8_t *buf, uint64_t *gen, uint64_t *size);

/* The main algorithm by the rule of struct fh2_extra: of the algorithms
 * with blocks[a] > 0, the one with the most stored[a] (the lower id on a
 * tie); 0 (none) when no algorithm has blocks.  Arrays of 4, by id. */
uint8_t fh2_main_algo(const uint64_t *blocks, const uint64_t *stored);

/* Record in x (usage, main_algo, level) what the n entries are stored
 * with. */
void fh2_usage_of(const struct fh2_ent *e, uint32_t n, struct fh2_extra *x);

/* The row of the per-algorithm totals a file with header h, x counts in:
 * x->main_algo where recorded, else (a header of an older release) the
 * algorithm of h's setting. */
uint8_t fh2_acct_algo(const struct file_header *h, const struct fh2_extra *x);

/* The same from a slot's bytes, unverified (the totals walk, unlink of a
 * closed file without a hint).  buf holds FH2_SLOT bytes that passed
 * fh2_peek. */
uint8_t fh2_peek_acct_algo(const uint8_t *buf);

/* The level taken for a record of algorithm algo whose level was not
 * recorded (a v1 file, or a v2 header of an older release): the level of
 * the file's setting for records of its algorithm, FH2_LEVEL_UNKNOWN for
 * another algorithm with levels, 0 for one without. */
uint8_t fh2_level_guess(const struct codec_spec *setting, uint8_t algo);

/* Give each of the n entries (just decoded) the level its record has as
 * far as header h, x tells: the recorded level of its algorithm, or
 * fh2_level_guess when the header records none. */
void fh2_levels_apply(const struct file_header *h, const struct fh2_extra *x,
		      struct fh2_ent *e, uint32_t n);

/* Seal the index blob of nents entries into out (fh2_ix_len(nents) bytes,
 * plus CRYPTO_TAG_LEN bytes of slack the seal passes through)
 * and its tag into tag.  Returns 0 or -EIO. */
int fh2_ix_seal(const struct crypto_key *k, const uint8_t *file_id,
		const struct fh2_ent *ents, uint32_t nents, uint8_t *out, uint8_t *tag);

/* Open an index blob read from disk (len bytes) against the header's tag
 * into ents (nents entries).  scratch has len bytes.  Checks that the
 * entries are sorted, within the size and data end.  Returns 0 or
 * -EBADMSG. */
int fh2_ix_open(const struct crypto_key *k, const struct file_header *h,
		const struct fh2_extra *x, const uint8_t *blob, size_t len,
		struct fh2_ent *ents, uint8_t *scratch);

#endif
