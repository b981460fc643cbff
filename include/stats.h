/* stats.h - what the running filesystem counts: operations and their
 * latencies, bytes moved, cache hits, errors, and the store totals that
 * /.ragstore/stats reports.  Thread-safe; no FUSE here.
 *
 * Store totals are kept incrementally (each change reports a delta) and
 * persisted in BACKING/ragstore.stats at clean unmount, so reading them is
 * O(1).  A file counts once however many hard links it has; a directory
 * counts once; the root directory is not counted. */
#ifndef RAGSTORE_STATS_H
#define RAGSTORE_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bcache.h"

/* Operation classes for counts and latency percentiles. */
enum stats_op {
	STATS_OP_GETATTR, STATS_OP_READDIR, STATS_OP_OPEN, STATS_OP_CREATE,
	STATS_OP_READ, STATS_OP_WRITE, STATS_OP_FSYNC, STATS_OP_TRUNCATE,
	STATS_OP_UNLINK, STATS_OP_RENAME, STATS_OP_MKDIR, STATS_OP_RMDIR,
	STATS_OP_LINK, STATS_OP_SYMLINK, STATS_OP_XATTR, STATS_OP_OTHER,
	STATS_OP_COUNT
};

/* Name of an operation class ("read", "getattr", ...). */
const char *stats_op_name(enum stats_op op);

struct stats;

/* Create/free.  stats_free(NULL) is a no-op. */
struct stats *stats_new(void);
void stats_free(struct stats *st);

/* One finished operation: its class, duration in nanoseconds, and result
 * (0 or -errno; errors are counted per class too). */
void stats_op(struct stats *st, enum stats_op op, uint64_t nanos, int result);
void stats_bytes_read(struct stats *st, uint64_t n);
void stats_bytes_written(struct stats *st, uint64_t n);
/* A lookup in one of the daemon's caches (directory values, open files). */
void stats_cache(struct stats *st, int hit);

/* An integrity error (a block or name that does not authenticate, a
 * missing record) or an I/O error of the backing store.  path is the path
 * inside the mount when known (may be NULL), block the block index or -1.
 * Kept in a bounded ring for /.ragstore/errors and counted, once: the same
 * error (kind, path, block, cause) again within 2 seconds, as the kernel's
 * retry of a failed read brings, is neither counted nor kept. */
void stats_error(struct stats *st, int integrity, const char *path, int64_t block,
		 const char *cause);

/* Store totals.  A regular file counted under algorithm algo (enum
 * codec_algo: the one most of its stored bytes use, fh2_acct_algo; for a
 * v1 file its setting) changes by the given deltas (files: +1 created,
 * -1 gone, or -1 under one algorithm and +1 under another when it moves). */
void stats_file_delta(struct stats *st, uint8_t algo, int64_t files,
		      int64_t logical, int64_t stored);
void stats_dir_delta(struct stats *st, int64_t dirs);

/* The backend that stats_load and stats_save write BACKING/ragstore.stats
 * through (see backend.h); the POSIX one until a store says otherwise.  be
 * must outlive st. */
struct backend;
void stats_use_backend(struct stats *st, struct backend *be);

/* Persistence of the totals.  stats_load returns 1 if BACKING/ragstore.stats
 * held totals written by a clean unmount (then loaded), 0 if they must be
 * rebuilt (missing, or left by a crash), -errno on error; it then marks the
 * file as in use so a crash leaves it untrusted.  stats_save writes the
 * totals and marks them clean.  Both write atomically. */
int stats_load(struct stats *st, const char *backing);
int stats_save(struct stats *st, const char *backing);
/* The same in shared mode (stats_shared.c, docs/SHARED.md), where several
 * daemons count into one file.  stats_shared_load returns 1 (totals
 * trusted), 0 (untrusted, and this daemon is the only one mounted: it
 * rebuilds them), 2 (untrusted, other daemons are mounted: no rebuild now;
 * the next mount alone rebuilds) or -errno.  stats_shared_merge adds what
 * this daemon changed since its last merge to the file and takes the
 * file's totals; final: at unmount (the daemon leaves the count, and the
 * last one out marks the file clean).  stats_shared_walk_begin notes, at
 * the start of a rebuild walk, which mounts are counted in, so that the
 * walk's result is merged as the truth only if no daemon joined during it.
 * Return 0 or -errno where not said. */
int stats_shared_load(struct stats *st, const char *backing);
int stats_shared_merge(struct stats *st, const char *backing, int final);
void stats_shared_walk_begin(struct stats *st, const char *backing);
/* Replace the totals with those of a full walk (after an unclean shutdown);
 * the walk itself is the caller's.  Notes the time for health. */
void stats_set_totals(struct stats *st, const struct stats *walked);

/* ---- Read side: snapshots for /.ragstore (added for vdir.c) ---- */

/* Algorithms are indexed by enum codec_algo (0..3). */
#define STATS_ALGO_COUNT 4
/* Most recent errors kept for /.ragstore/errors. */
#define STATS_ERRORS_MAX 1000

struct stats_algo {
	int64_t files, logical, stored;
};

/* Store totals.  stored is the allocation (st_blocks * 512) of the backing
 * files, headers included. */
struct stats_totals {
	int64_t files, dirs, logical, stored;
	struct stats_algo algo[STATS_ALGO_COUNT];
};

/* What stats_load found in BACKING/ragstore.stats. */
enum stats_load_result {
	STATS_LOAD_NONE,    /* not loaded (yet) */
	STATS_LOAD_CLEAN,   /* saved by a clean unmount: trusted */
	STATS_LOAD_MISSING, /* no file: a new store or an older version */
	STATS_LOAD_UNCLEAN, /* left "in use": the daemon did not unmount cleanly */
	STATS_LOAD_BAD,     /* unreadable or not ours */
};

enum stats_scrub_state { STATS_SCRUB_IDLE, STATS_SCRUB_RUNNING, STATS_SCRUB_DONE };

/* How the last scrub ended (not persisted: a remount starts at NONE,
 * or DONE with the persisted figures). */
enum stats_scrub_end { STATS_SCRUB_END_NONE, STATS_SCRUB_END_DONE,
		       STATS_SCRUB_END_STOPPED,      /* scrub --stop */
		       STATS_SCRUB_END_INTERRUPTED }; /* unmount */

struct stats_scrub {
	int state;                /* enum stats_scrub_state */
	int aborted;              /* the last scrub was stopped before its end */
	int end;                  /* enum stats_scrub_end of the last scrub */
	uint64_t files_total;     /* the store's files and logical bytes when */
	uint64_t bytes_total;     /* the scrub began (what it expects to check) */
	uint64_t bytes_checked;   /* logical bytes of the files checked */
	double seconds;           /* running: since it began; else how long the
				     last one of this mount took (0: unknown) */
	uint64_t files_checked;   /* so far (running) or in total (done) */
	uint64_t files_bad;       /* files with a bad block or header */
	uint64_t blocks_checked;
	uint64_t blocks_bad;
	time_t last_started;      /* 0 = never; persisted */
	time_t last_finished;     /* 0 = never finished; persisted */
};

/* The optimizer (optimize.h), filled by the caller that runs it. */
struct stats_optimize {
	int running, dry, stopped;  /* stopped: the last run ended by optimize --stop */
	time_t started, finished;   /* of the running or last run; 0: none */
	uint64_t files_total, bytes_total;  /* the store's when it began */
	uint64_t files_done, bytes_done;    /* files (logical bytes) looked at */
	uint64_t files_rewritten;   /* rewritten or compacted (dry: would be) */
	uint64_t bytes_rewritten;   /* their logical bytes */
	int64_t stored_saved;       /* stored bytes before minus after (dry: 0) */
	double seconds, eta_seconds; /* eta -1: not running or not known */
};

/* One consistent picture of everything, taken under the stats lock. */
struct stats_snapshot {
	struct stats_totals totals;
	uint64_t ops[STATS_OP_COUNT];
	uint64_t op_errors[STATS_OP_COUNT];
	uint64_t lat_p50_ns[STATS_OP_COUNT]; /* 0 when the class never ran */
	uint64_t lat_p99_ns[STATS_OP_COUNT];
	uint64_t lat_sum_ns[STATS_OP_COUNT];
	uint64_t lat_count[STATS_OP_COUNT];
	uint64_t bytes_read, bytes_written;
	uint64_t cache_hits, cache_misses;
	uint64_t integrity_errors, io_errors;
	double uptime_seconds;
	time_t now;
	int totals_rebuilding;    /* a walk is rebuilding the totals now */
	int totals_untrusted;     /* the persisted totals were not clean */
	int totals_rebuilt;       /* rebuilt by a walk since mount */
	int totals_load;          /* enum stats_load_result of this mount */
	time_t totals_rebuilt_at;
	struct stats_scrub scrub;
	/* Filled by the caller that knows the store (stats.c does not): the
	 * block cache (its hits and misses are also in cache_hits and
	 * cache_misses) and the bytes written but not yet in a record. */
	struct bcache_stats bcache;
	uint64_t dirty_bytes;
	struct stats_optimize optimize;
	int shared;               /* shared mode (docs/SHARED.md) */
	int shared_daemons;       /* shared daemons the totals file counted at
				     this daemon's last merge */
	struct stats_totals unmerged; /* this daemon's changes since then */
};

/* Fill *out.  Latency percentiles come from a fixed log-linear histogram
 * (4 buckets per power of two): within 12.5% of the true value. */
void stats_snapshot(struct stats *st, struct stats_snapshot *out);

/* The error ring as text, oldest first, one line per error:
 * TIME TAB integrity|io TAB PATH TAB BLOCK TAB CAUSE, with '-' for an
 * unknown path or block and \\, \t, \n escaped in the path.  Returns a
 * malloc'd NUL-terminated buffer (the caller frees it) and its length in
 * *len, or NULL on allocation failure. */
char *stats_errors_text(struct stats *st, size_t *len);

/* Totals rebuild.  stats_rebuild_begin marks the totals as being rebuilt;
 * stats_delta_gen counts every change reported by stats_file_delta and
 * stats_dir_delta, so a walk can tell whether anything changed while it
 * ran; stats_set_totals_if replaces the totals (as stats_set_totals) only
 * if the count is still gen, else returns -EAGAIN and changes nothing. */
void stats_rebuild_begin(struct stats *st);
uint64_t stats_delta_gen(struct stats *st);
int stats_set_totals_if(struct stats *st, const struct stats *walked, uint64_t gen);
/* The rebuild gave up (stopped by unmount, or the walk failed): the totals
 * stay untrusted, so the next mount rebuilds again. */
void stats_rebuild_abandon(struct stats *st);

/* Scrub progress.  stats_scrub_begin returns 0, or -EBUSY when a scrub is
 * already running; it takes the current totals as what the scrub will
 * check.  stats_scrub_file records one checked file with its logical size,
 * its number of blocks and bad blocks (bad_header: the file could not be
 * opened for verification).  stats_scrub_end: how it ended (enum
 * stats_scrub_end; only DONE counts as finished). */
int stats_scrub_begin(struct stats *st);
void stats_scrub_file(struct stats *st, uint64_t bytes, uint64_t blocks,
		      uint64_t bad_blocks, int bad_header);
void stats_scrub_end(struct stats *st, int end);

#endif
