/* bcache.h - the daemon's cache of plaintext blocks.
 *
 * A bounded cache (bytes of plaintext) of blocks as they were opened from
 * their records, so that small reads of a compressed block, re-reads of hot
 * blocks and the read-modify-write of a partial block do not decrypt and
 * decompress again.  A block is keyed by its file's id, its index and the
 * tag of the record it came from: a rewritten block has a new record and a
 * new tag, so a cached copy can never be served for content that has
 * changed, and nothing needs invalidating (old copies age out).  Only clean
 * plaintext is kept: what is not yet in a record (the write-behind block)
 * is not here.  Thread safe (sharded, a mutex per shard, LRU per shard). */
#ifndef RAGSTORE_BCACHE_H
#define RAGSTORE_BCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "fileheader.h"

/* Default capacity (-o cache_size=). */
#define BCACHE_DEFAULT (64u << 20)

struct bcache_key {
	uint8_t id[FH_ID_LEN];
	uint64_t block;
	uint8_t tag[CRYPTO_TAG_LEN];
};

struct bcache_stats {
	uint64_t capacity, bytes, blocks;
	uint64_t hits, misses, evictions;
};

struct bcache;

/* A cache of capacity bytes; NULL when capacity is 0 (no cache) or out of
 * memory.  Every function takes a NULL cache as an empty one. */
struct bcache *bcache_new(size_t capacity);
void bcache_free(struct bcache *c);

/* Bytes [o, o+n) of the cached block (zeros past its plain length) into
 * dst: 1 on a hit, 0 on a miss (counted). */
int bcache_get(struct bcache *c, const struct bcache_key *k, uint32_t o, size_t n, void *dst);

/* Keep a copy of plain[0..len) as block k (replacing one with the same
 * key).  Evicts the least recently used blocks of its shard to make room. */
void bcache_put(struct bcache *c, const struct bcache_key *k, const void *plain, uint32_t len);

void bcache_stats(struct bcache *c, struct bcache_stats *out);

#endif
