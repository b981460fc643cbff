/* codec.h - block compression behind one small table: none, lz4, zlib, zstd.
 *
 * Buffers are always the caller's.  Nothing on this side trusts lengths read
 * from disk: decompression is told the exact expected output length and fails
 * with -EIO when the input does not produce exactly that. */
#ifndef RAGSTORE_CODEC_H
#define RAGSTORE_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Algorithm identifiers are part of the on-disk format: never renumber. */
enum codec_algo {
	CODEC_NONE = 0,
	CODEC_LZ4 = 1,
	CODEC_ZLIB = 2,
	CODEC_ZSTD = 3,
};

struct codec_spec {
	uint8_t algo;  /* enum codec_algo */
	uint8_t level; /* 0 = the algorithm's default; zlib 1-9, zstd 1-19 */
};

/* Parse "none", "lz4", "zlib", "zlib:N" (1-9), "gzip[:N]" (alias of zlib),
 * "zstd", "zstd:N" (1-19).  Returns 0 or -EINVAL for anything else. */
int codec_parse(const char *text, struct codec_spec *out);

/* Canonical text of a spec ("zstd:3", "lz4", "zlib:6", "none") into buf.
 * The level is always written for zlib and zstd (the default made explicit). */
void codec_format(const struct codec_spec *spec, char *buf, size_t len);

/* The level spec compresses at, the default made explicit: 1-9 for zlib,
 * 1-19 for zstd; 0 for none and lz4 (no levels) and an unknown algorithm. */
uint8_t codec_level(const struct codec_spec *spec);

/* The highest level of algorithm algo: 9 for zlib, 19 for zstd, 0 for an
 * algorithm without levels or an unknown one. */
uint8_t codec_max_level(uint8_t algo);

/* Name of an algorithm id ("lz4"...), or "unknown". */
const char *codec_name(uint8_t algo);

/* Compress n bytes of src into dst (dst_cap bytes).  Returns the compressed
 * length when it saves at least n/8 bytes, 0 when the block should be stored
 * raw (too little gain, or the data looked incompressible: a cheap entropy
 * estimate on a sample aborts before any real compression), or -errno on an
 * internal failure.  Never writes past dst_cap.  Thread-safe: per-thread
 * compression contexts are kept internally. */
ssize_t codec_compress(const struct codec_spec *spec, const void *src, size_t n,
		       void *dst, size_t dst_cap);

/* Decompress n bytes of src with algorithm algo into dst, which must come out
 * at exactly out_len bytes.  Returns 0, or -EIO for corrupt input, an unknown
 * algorithm or a length mismatch. */
int codec_decompress(uint8_t algo, const void *src, size_t n, void *dst,
		     size_t out_len);

#endif
