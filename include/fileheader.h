/* fileheader.h - the authenticated header of every backing file (pure
 * functions, no I/O).
 *
 * A backing file starts with two header slots of FH_SLOT_SIZE bytes; the one
 * with the higher generation that verifies is current, and a new header is
 * always written into the other slot, so a torn header write leaves the old
 * one intact.  The header carries the logical size in clear (so stat needs
 * no decryption) under a MAC (so a changed size is detected at open), the
 * random file id that every block's associated data includes, and the list of
 * hole ranges: a block inside the size that is neither a listed hole nor has
 * a valid record was removed by someone, and reads of it fail with EIO. */
#ifndef RAGSTORE_FILEHEADER_H
#define RAGSTORE_FILEHEADER_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "crypto.h"

/* Both header slots share the first 4 KiB of the backing file: always
 * allocated together, so rewriting a header never needs new space, and a
 * small file costs one 4 KiB header block plus its data. */
#define FH_SLOT_SIZE 2048
#define FH_AREA (2 * FH_SLOT_SIZE) /* first block slot starts here */
#define FH_ID_LEN 16
#define FH_MAX_HOLES 120
#define FH_VERSION 1
/* The compression was set by the user (user.ragstore.compression), not
 * taken from the store default; the attribute is then listed. */
#define FH_FLAG_CODEC_SET 0x0001
/* The file has extended attributes (a blob in BACKING/xattrs). */
#define FH_FLAG_XATTRS 0x0002
#define FH_FLAGS_KNOWN (FH_FLAG_CODEC_SET | FH_FLAG_XATTRS)

struct fh_hole {
	uint64_t start; /* first block index */
	uint64_t count; /* number of blocks, > 0 */
};

struct file_header {
	uint64_t gen;                 /* bumped on every header write */
	uint8_t file_id[FH_ID_LEN];   /* random, fixed for the file's life */
	uint32_t block_size;          /* fixed at creation */
	struct codec_spec codec;      /* compression of future writes */
	uint16_t flags;               /* FH_FLAG_* */
	uint64_t size;                /* logical size in bytes */
	uint32_t nholes;              /* sorted, disjoint, non-adjacent */
	struct fh_hole holes[FH_MAX_HOLES];
};

/* Bytes 0..47, the same in every header version: magic, version (given),
 * generation, file id, block size, algorithm, level, flags, size. */
void fh_put_common(const struct file_header *h, uint32_t version, uint8_t *buf);
/* Read them back (the version is the caller's to check). */
void fh_get_common(const uint8_t *buf, struct file_header *h);

/* Encode and MAC h into buf[FH_SLOT_SIZE].  Returns 0 or -EIO. */
int fh_seal(const struct crypto_key *k, const struct file_header *h, uint8_t *buf);

/* Decode and verify buf[FH_SLOT_SIZE] into h.  Returns 0; -ENOENT for an
 * all-zero (never written) slot; -EBADMSG for a bad magic, an unknown version,
 * insane fields or a MAC that does not verify. */
int fh_open(const struct crypto_key *k, const uint8_t *buf, struct file_header *h);

/* Read generation and size without verifying (for stat).  Returns 0, or
 * -ENOENT / -EBADMSG as fh_open for the structural checks. */
int fh_peek(const uint8_t *buf, uint64_t *gen, uint64_t *size);

/* Compression algorithm of the newer of the two header slots in buf
 * (FH_AREA bytes), unverified, for statistics; CODEC_NONE if neither parses. */
uint8_t fh_peek_algo(const uint8_t *buf);

/* Byte offset of header slot 0 or 1. */
static inline long fh_slot_offset(int slot) { return (long)slot * FH_SLOT_SIZE; }

/* Hole list.  fh_is_hole: 1 if block is inside a listed hole range. */
int fh_is_hole(const struct file_header *h, uint64_t block);
/* Mark [start, start+count) as holes, merging neighbours.  Returns 0, or
 * -ENOSPC (nothing changed) when the list is full. */
int fh_add_holes(struct file_header *h, uint64_t start, uint64_t count);
/* Unmark [start, start+count).  Returns 0, or -ENOSPC (nothing changed) when
 * splitting a range would overflow the list. */
int fh_remove_holes(struct file_header *h, uint64_t start, uint64_t count);
/* Drop every hole at or beyond block nblocks (after a truncate). */
void fh_clip_holes(struct file_header *h, uint64_t nblocks);
/* First block >= from that is (want_hole=1) or is not (0) a hole; used by
 * SEEK_DATA / SEEK_HOLE.  Returns from when it already qualifies. */
uint64_t fh_next(const struct file_header *h, uint64_t from, int want_hole);

#endif
