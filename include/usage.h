/* usage.h - what a regular file's blocks are stored as: per compression
 * algorithm actually used by its records (not the file's setting), the
 * blocks, logical bytes and stored bytes, for `ragstore du`, the
 * user.ragstore.algorithms attribute and the optimizer.  Knows nothing of
 * FUSE. */
#ifndef RAGSTORE_USAGE_H
#define RAGSTORE_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

struct store;
struct ofile;

#define USAGE_ALGOS 4 /* enum codec_algo: none, lz4, zlib, zstd */

struct usage_algo {
	uint64_t blocks;  /* records stored with this algorithm */
	uint64_t logical; /* their plain bytes */
	uint64_t stored;  /* their bytes in the backing file */
};

struct usage {
	/* By algorithm id; a raw (or chunked raw) record counts as none. */
	struct usage_algo algo[USAGE_ALGOS];
	uint64_t logical;  /* the file's size */
	uint64_t stored;   /* its backing allocation (st_blocks * 512) */
	uint64_t live;     /* bytes its records and index take (v2) */
	uint64_t slack;    /* bytes of its data area no record uses: superseded
			      or free space that compaction would give back (v2) */
	int v1;            /* a v1 file: its records are not looked at, and
			      everything counts under its header's algorithm */
};

/* Fill *u for the open file f (taking its content lock shared): no I/O
 * but an fstat.  Returns 0 or -errno. */
int usage_file(struct store *s, struct ofile *f, struct usage *u);

/* The main algorithm of u: the one with the most stored bytes (none for a
 * file without records), by the rule the v2 header records
 * (fh2_main_algo), so that the store's per-algorithm totals count the file
 * in the same row.  du gives it what no record holds (holes, the header,
 * the backing filesystem's rounding). */
int usage_main_algo(const struct usage *u);

/* u as the value of user.ragstore.algorithms: one line per algorithm with
 * records, "ALGO LOGICAL STORED\n", whose sums are exactly the file's
 * logical size and stored size (the main algorithm takes the rest).
 * Returns the length written (NUL-terminated), or -ERANGE when cap is too
 * small (128 bytes always do). */
int usage_format(const struct usage *u, char *buf, size_t cap);

#endif
