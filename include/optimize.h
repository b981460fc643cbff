/* optimize.h - the optimizer (SPEC section 6): a background walk at low
 * priority that rewrites files whose stored blocks use another compression
 * algorithm than their policy (or their user.ragstore.compression
 * override) asks, and compacts files whose data area holds superseded or
 * free space worth giving back.  Rewriting goes through the ordinary write
 * path a block at a time under the file's content lock, so content never
 * changes, concurrent I/O goes on, and a crash leaves each block old or
 * new as after any write.  The file's mtime stays.  A compressed block is
 * off when its algorithm or level differs from what is asked (the level
 * of each v2 record is known from the header's usage summary, fh2.h; a
 * level not known counts as off; a v1 record of the file's algorithm is
 * taken to have its setting's level); blocks stored raw match any policy
 * but none (they did not compress, or will not).  v1 files are
 * recompressed in place and stay v1.  One store per process; no FUSE. */
#ifndef RAGSTORE_OPTIMIZE_H
#define RAGSTORE_OPTIMIZE_H

#include <stdint.h>

struct store;
struct stats_optimize;

#define OPTIMIZE_FINDINGS 8

/* What the last walk (dry or not) found per policy and stored algorithm. */
struct optimize_finding {
	char policy[64];
	char stored[16];   /* what the blocks use: "lz4", "zstd:3", or "zstd"
			      when their level is not known */
	char wanted[32];   /* what the policy asks, "zstd:19" */
	uint64_t files, bytes; /* logical bytes */
};

/* Start a run in the background (dry: only count).  0, -EBUSY when one
 * runs, or -errno. */
int optimize_start(struct store *s, int dry);
/* Stop the running one and wait for it (0), or -ENOENT when none runs. */
int optimize_stop(void);
/* At unmount: stop and join. */
void optimize_shutdown(void);
/* Progress of the running or last run. */
void optimize_progress(struct stats_optimize *out);
/* The findings of the last finished walk: up to max, the count returned. */
int optimize_findings(struct optimize_finding *out, int max);

#endif
