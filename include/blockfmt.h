/* blockfmt.h - one block record: compress, then seal (pure functions).
 *
 * Block i of a file has two slots in the backing file, at blk_slot_offset(i,
 * 0) and (i, 1).  A record is a 48-byte prefix followed by the sealed payload:
 *
 *   0  u32 magic "RSB1"     4  u8 algo   5..7 reserved (0)
 *   8  u64 generation      16  u32 plain_len   20 u32 stored_len
 *  24  nonce[24]           48  payload[stored_len] (ciphertext || tag)
 *
 * The associated data is file_id || block index || prefix bytes 0..23, so a
 * record moved to another position or file, or any changed prefix field,
 * fails to open.  The reader takes the slot with the higher generation. */
#ifndef RAGSTORE_BLOCKFMT_H
#define RAGSTORE_BLOCKFMT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec.h"
#include "crypto.h"
#include "fileheader.h"

#define BLK_PREFIX_LEN 48
#define BLK_MIN_SIZE 4096
#define BLK_MAX_SIZE (1024 * 1024)

struct blk_prefix {
	uint64_t gen;
	uint32_t plain_len;  /* bytes of the block that hold data */
	uint32_t stored_len; /* payload length including the tag */
	uint8_t algo;        /* enum codec_algo actually used for this record */
};

/* 1 if block_size is a power of two within [BLK_MIN_SIZE, BLK_MAX_SIZE]. */
int blk_size_valid(uint32_t block_size);

/* Size of one slot: prefix + block + tag, rounded up to 4096 bytes. */
size_t blk_slot_size(uint32_t block_size);

/* Backing-file offset of slot (0 or 1) of block index. */
off_t blk_slot_offset(uint32_t block_size, uint64_t index, int slot);

/* Check a record prefix.  Returns 0; -ENOENT when the slot is empty (all-zero
 * prefix, i.e. a hole); -EBADMSG when the magic or any length is insane for
 * block_size.  Nothing here is trusted until blk_open verifies it. */
int blk_peek(const uint8_t *rec, uint32_t block_size, struct blk_prefix *p);

/* Build a record for plain[0..plain_len) (plain_len <= block_size) into rec,
 * which has blk_slot_size(block_size) bytes.  Compresses with spec, keeps
 * the raw bytes when compression saves less than 1/8, then seals.  Returns
 * the record length (prefix + payload) or -errno. */
ssize_t blk_seal(const struct crypto_key *k, const uint8_t *file_id,
		 uint64_t index, uint64_t gen, const struct codec_spec *spec,
		 const uint8_t *plain, uint32_t plain_len, uint32_t block_size,
		 uint8_t *rec);

/* Verify and decode a record read from a slot (rec holds at least the prefix
 * and stored_len payload bytes; rec_len is how many were read).  Writes the
 * plain bytes to out (block_size bytes); scratch has blk_slot_size bytes.
 * Returns plain_len, or -EBADMSG (tampered, moved, truncated), -EIO (bad
 * compressed stream). */
ssize_t blk_open(const struct crypto_key *k, const uint8_t *file_id,
		 uint64_t index, const uint8_t *rec, size_t rec_len,
		 uint32_t block_size, uint8_t *out, uint8_t *scratch);

#endif
