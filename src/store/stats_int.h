/* stats_int.h - the insides of struct stats, shared by stats.c (counters,
 * totals, snapshots), stats_file.c (BACKING/ragstore.stats) and
 * stats_shared.c (shared mode).  Not for use outside src/store. */
#ifndef RAGSTORE_STATS_INT_H
#define RAGSTORE_STATS_INT_H

#include <pthread.h>
#include <time.h>

#include "stats.h"

#define STATS_FILE "ragstore.stats"
#define STATS_TMP "ragstore.stats.tmp"
#define STATS_FORMAT_VERSION 1

/* Log-linear histogram of nanoseconds: values 0..3 get a bucket each, then
 * every power of two [2^e, 2^(e+1)) is split into 4 equal buckets.  252
 * buckets cover the whole uint64_t range in fixed memory. */
#define HIST_SUB 4
#define HIST_BUCKETS (HIST_SUB + 62 * HIST_SUB)

struct stats_err {
	time_t when;
	uint64_t mono_ns; /* CLOCK_MONOTONIC, to tell a repeat */
	int integrity;
	int64_t block;
	char *path;       /* owned; NULL when unknown */
	char cause[96];
};

struct stats {
	/* Atomics, no lock. */
	uint64_t ops[STATS_OP_COUNT];
	uint64_t op_errors[STATS_OP_COUNT];
	uint64_t lat_sum[STATS_OP_COUNT];
	uint64_t hist[STATS_OP_COUNT][HIST_BUCKETS];
	uint64_t bytes_read, bytes_written;
	uint64_t cache_hits, cache_misses;
	uint64_t integrity_errors, io_errors;
	struct timespec started; /* CLOCK_MONOTONIC, set once at creation */
	struct backend *be;      /* where BACKING/ragstore.stats lives; set once */

	pthread_mutex_t mu; /* guards everything below; a leaf lock */
	struct stats_totals totals;
	uint64_t delta_gen;
	int rebuilding, untrusted, rebuilt;
	int load;           /* enum stats_load_result */
	time_t rebuilt_at;
	struct stats_scrub scrub;
	struct timespec scrub_began; /* CLOCK_MONOTONIC, for scrub.seconds */
	struct stats_err ring[STATS_ERRORS_MAX];
	unsigned ring_next; /* slot of the next error */
	unsigned ring_used; /* <= STATS_ERRORS_MAX */
	/* Shared mode (stats_shared.c): the totals as of the last merge with
	 * the file, so that totals - merged is what this daemon changed
	 * since; and the daemons the file counted then. */
	int shared;
	int shared_daemons;
	struct stats_totals merged;
	uint64_t walk_joins; /* shared_joins when this daemon's rebuild walk
				began (stats_shared_walk_begin) */
	int lockfd;         /* BACKING/ragstore.lock, -1 when not shared */
};

/* The content of BACKING/ragstore.stats (stats_file.c). */
enum stats_file_state {
	STATS_FILE_INUSE,  /* "in-use": a daemon runs, or one did not stop cleanly */
	STATS_FILE_CLEAN,  /* "clean": saved by the last unmount; trusted */
	STATS_FILE_SHARED, /* "shared": shared daemons run and trust the totals */
};
struct stats_file {
	int found;              /* the file exists */
	int bad;                /* unreadable, not ours, or another version */
	int state;              /* enum stats_file_state */
	int daemons;            /* shared_daemons: shared mounts counted in */
	uint64_t joins;         /* shared_joins: shared mounts ever counted in */
	struct stats_totals t;
	struct stats_scrub sc;
};
/* Read BACKING/ragstore.stats into *out.  Returns 0 (see found and bad)
 * or -errno when it exists but cannot be opened. */
int stats_file_read(struct backend *be, const char *backing, struct stats_file *out);
/* Write it atomically (temporary file, fsync, rename, directory fsync).
 * daemons and joins are written only when one is not 0.  Returns 0 or
 * -errno. */
int stats_file_write(struct backend *be, const char *backing, const struct stats_totals *t,
		     const struct stats_scrub *sc, int state, int daemons, uint64_t joins);
/* d += sign * a, field by field (sign 1 or -1). */
void stats_totals_add(struct stats_totals *d, const struct stats_totals *a, int sign);
/* Add the scrub history of f to st (lock held). */
void stats_file_scrub_take(struct stats *st, const struct stats_scrub *sc);

#endif
