/* fh2rec.h - block records of v2 files (pure functions, no I/O).
 *
 * A record is what one index entry (struct fh2_ent) points at.  Two kinds:
 *
 *  - whole:   nonce[24] || ciphertext of the block as compressed by its
 *             codec (or raw); the AEAD tag is the entry's tag.  A read of
 *             any byte of the block opens all of it.
 *  - chunked (algorithm FH2_ALGO_CHUNKED): a raw block of more than
 *             FH2_CHUNK bytes cut into chunks of FH2_CHUNK bytes, each
 *             sealed on its own:
 *               tags[n][16] || n x (nonce[24] || ciphertext of chunk j)
 *             and the entry's tag is a digest of the tag table.  A 4 KiB
 *             read opens one chunk, and a 4 KiB write seals one chunk and
 *             copies the others' ciphertext: random I/O on incompressible
 *             data costs O(4 KiB) of cryptography instead of O(block).
 *
 * In both kinds fh2_rec_len(e->stored) is the record's length on disk.
 * docs/FORMAT.md has the byte layout and the reasons. */
#ifndef RAGSTORE_FH2REC_H
#define RAGSTORE_FH2REC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec.h"
#include "crypto.h"
#include "fh2.h"
#include "fileheader.h"

#define FH2_ALGO_CHUNKED 0x10
#define FH2_CHUNK 4096
/* Bytes a chunk adds: its tag in the table and its nonce. */
#define FH2_CHUNK_OVERHEAD (CRYPTO_TAG_LEN + CRYPTO_NONCE_LEN)

static inline uint32_t fh2rec_nchunks(uint32_t plain)
{
	return (plain + FH2_CHUNK - 1) / FH2_CHUNK;
}

/* Plain bytes of chunk j of a block of plain bytes. */
static inline uint32_t fh2rec_chunk_plain(uint32_t plain, uint32_t j)
{
	uint32_t left = plain - j * FH2_CHUNK;

	return left < FH2_CHUNK ? left : FH2_CHUNK;
}

/* Offset of chunk j (its nonce) inside a chunked record of plain bytes. */
static inline uint64_t fh2rec_chunk_at(uint32_t plain, uint32_t j)
{
	return (uint64_t)fh2rec_nchunks(plain) * CRYPTO_TAG_LEN +
	       (uint64_t)j * (CRYPTO_NONCE_LEN + FH2_CHUNK);
}

/* e->stored of a chunked record of plain bytes. */
static inline uint32_t fh2rec_chunked_stored(uint32_t plain)
{
	return plain + fh2rec_nchunks(plain) * FH2_CHUNK_OVERHEAD - CRYPTO_NONCE_LEN;
}

/* Largest record of a block size, plus the CRYPTO_TAG_LEN bytes of slack
 * a seal passes through: what a record buffer must hold. */
static inline size_t fh2rec_max(uint32_t block_size)
{
	return CRYPTO_NONCE_LEN + fh2rec_chunked_stored(block_size) + CRYPTO_TAG_LEN;
}

/* The associated data of a whole record of entry e (FH2REC_AD_LEN bytes:
 * "RSR2" || file id || u64 block || u8 algorithm || u32 plain || u32
 * stored). */
#define FH2REC_AD_LEN (4 + FH_ID_LEN + 8 + 1 + 4 + 4)
void fh2rec_ad(uint8_t *ad, const uint8_t *file_id, const struct fh2_ent *e);

/* 1 if the entry's algorithm and lengths are ones fh2rec_seal writes for
 * a block size. */
int fh2rec_ent_ok(const struct fh2_ent *e, uint32_t block_size);

/* Compress (with spec; raw when it saves less than 1/8) and seal block
 * index of plain[0..plain_len) into rec (fh2rec_max(block_size) bytes),
 * filling e (everything but off and state).  A raw block of more than
 * FH2_CHUNK bytes is chunked.  Returns the record length or -errno. */
ssize_t fh2rec_seal(const struct crypto_key *k, const uint8_t *file_id,
		    const struct codec_spec *spec, uint64_t index,
		    const uint8_t *plain, uint32_t plain_len, uint32_t block_size,
		    uint8_t *rec, struct fh2_ent *e);

/* Open record rec (fh2_rec_len(e->stored) bytes) of entry e into out
 * (block_size bytes).  scratch: block_size + CRYPTO_TAG_LEN bytes.  Returns
 * e->plain, -EBADMSG (not authentic), or -EIO (bad compressed stream). */
ssize_t fh2rec_open(const struct crypto_key *k, const uint8_t *file_id,
		    const struct fh2_ent *e, const uint8_t *rec, uint32_t block_size,
		    uint8_t *out, uint8_t *scratch);

/* Chunked records, a chunk at a time.  tags is the record's tag table
 * (fh2rec_nchunks(e->plain) * CRYPTO_TAG_LEN bytes at its start).
 * fh2rec_tags_check: 0 when it is the table e vouches for, else -EBADMSG. */
int fh2rec_tags_check(const uint8_t *file_id, const struct fh2_ent *e, const uint8_t *tags);
/* The entry tag of a table (into e->tag; e->block and e->plain set). */
void fh2rec_tags_sum(const uint8_t *file_id, struct fh2_ent *e, const uint8_t *tags);
/* Open chunk j (chunk: its nonce || ciphertext as on disk) with its tag
 * from a checked table into out.  0 or -EBADMSG. */
int fh2rec_chunk_open(const struct crypto_key *k, const uint8_t *file_id,
		      const struct fh2_ent *e, const uint8_t *tags, uint32_t j,
		      const uint8_t *chunk, uint8_t *out);
/* Seal plain chunk j of block e->block, e->plain bytes long, into chunk
 * (nonce || ciphertext, plus CRYPTO_TAG_LEN bytes of slack) and its tag
 * into tags.  0 or -EIO. */
int fh2rec_chunk_seal(const struct crypto_key *k, const uint8_t *file_id,
		      const struct fh2_ent *e, uint32_t j, const uint8_t *plain,
		      uint8_t *chunk, uint8_t *tags);

#endif
