/* stats.c - counters, latency histograms, the error ring and the store
 * totals behind /.ragstore.  Their persistence in BACKING/ragstore.stats is
 * stats_file.c; shared mode's merging of several daemons' totals is
 * stats_shared.c.
 *
 * Hot-path counters (operations, latencies, bytes, cache lookups) are
 * relaxed atomics: every FUSE request updates them, and a mutex there would
 * serialise the worker threads for nothing.  Everything that must change
 * together (the totals, the error ring, scrub and rebuild state) is guarded
 * by st->mu, which is a leaf lock: nothing else is taken while holding it. */
#include "stats_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "codec.h"
#include "log.h"

static const char *const op_names[STATS_OP_COUNT] = {
	[STATS_OP_GETATTR] = "getattr", [STATS_OP_READDIR] = "readdir",
	[STATS_OP_OPEN] = "open",       [STATS_OP_CREATE] = "create",
	[STATS_OP_READ] = "read",       [STATS_OP_WRITE] = "write",
	[STATS_OP_FSYNC] = "fsync",     [STATS_OP_TRUNCATE] = "truncate",
	[STATS_OP_UNLINK] = "unlink",   [STATS_OP_RENAME] = "rename",
	[STATS_OP_MKDIR] = "mkdir",     [STATS_OP_RMDIR] = "rmdir",
	[STATS_OP_LINK] = "link",       [STATS_OP_SYMLINK] = "symlink",
	[STATS_OP_XATTR] = "xattr",     [STATS_OP_OTHER] = "other",
};

const char *stats_op_name(enum stats_op op)
{
	return (unsigned)op < STATS_OP_COUNT ? op_names[op] : "other";
}

static void add(uint64_t *p, uint64_t n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

struct stats *stats_new(void)
{
	struct stats *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		free(st);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &st->started);
	st->be = backend_posix();
	st->lockfd = -1;
	return st;
}

void stats_use_backend(struct stats *st, struct backend *be)
{
	st->be = be;
}

void stats_free(struct stats *st)
{
	if (!st)
		return;
	if (st->lockfd >= 0)
		backend_close(st->be, st->lockfd);
	for (unsigned i = 0; i < STATS_ERRORS_MAX; i++)
		free(st->ring[i].path);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

static unsigned hist_bucket(uint64_t v)
{
	unsigned e;

	if (v < HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* 2..63 */
	return HIST_SUB + (e - 2) * HIST_SUB + (unsigned)((v >> (e - 2)) & (HIST_SUB - 1));
}

/* A representative value of bucket i: the middle of its range. */
static uint64_t hist_value(unsigned i)
{
	unsigned e, sub;
	uint64_t lo, width;

	if (i < HIST_SUB)
		return i;
	e = (i - HIST_SUB) / HIST_SUB + 2;
	sub = (i - HIST_SUB) % HIST_SUB;
	lo = (uint64_t)(HIST_SUB + sub) << (e - 2);
	width = (uint64_t)1 << (e - 2);
	return lo + width / 2;
}

void stats_op(struct stats *st, enum stats_op op, uint64_t nanos, int result)
{
	if (!st)
		return;
	if ((unsigned)op >= STATS_OP_COUNT)
		op = STATS_OP_OTHER;
	add(&st->ops[op], 1);
	if (result < 0)
		add(&st->op_errors[op], 1);
	add(&st->lat_sum[op], nanos);
	add(&st->hist[op][hist_bucket(nanos)], 1);
}

void stats_bytes_read(struct stats *st, uint64_t n)
{
	if (st)
		add(&st->bytes_read, n);
}

void stats_bytes_written(struct stats *st, uint64_t n)
{
	if (st)
		add(&st->bytes_written, n);
}

void stats_cache(struct stats *st, int hit)
{
	if (st)
		add(hit ? &st->cache_hits : &st->cache_misses, 1);
}

/* The kernel retries a read that failed (the readahead, then the page the
 * reader wants), so one damaged block is reported two or three times within
 * milliseconds.  An error identical to one recorded less than
 * STATS_ERR_REPEAT_NS ago (same kind, path, block and cause) is that error
 * again: neither counted nor listed (docs/STATS.md).  Only the newest
 * STATS_ERR_REPEAT_SCAN entries are compared. */
#define STATS_ERR_REPEAT_NS (2 * 1000000000ull)
#define STATS_ERR_REPEAT_SCAN 16

static int stats_err_repeated(const struct stats *st, int integrity, const char *path,
			      int64_t block, const char *cause, uint64_t now)
{
	for (unsigned k = 1; k <= st->ring_used && k <= STATS_ERR_REPEAT_SCAN; k++) {
		const struct stats_err *e =
			&st->ring[(st->ring_next + STATS_ERRORS_MAX - k) % STATS_ERRORS_MAX];

		if (now - e->mono_ns >= STATS_ERR_REPEAT_NS)
			break; /* the ring is in time order: the rest are older */
		if (e->integrity == integrity && e->block == block &&
		    !strncmp(e->cause, cause, sizeof(e->cause) - 1) &&
		    (e->path && path ? !strcmp(e->path, path) : e->path == path))
			return 1;
	}
	return 0;
}

void stats_error(struct stats *st, int integrity, const char *path, int64_t block,
		 const char *cause)
{
	struct stats_err *e;
	struct timespec now;
	uint64_t ns;
	char *p = path ? strdup(path) : NULL;

	if (!st) {
		free(p);
		return;
	}
	if (!cause)
		cause = "unknown";
	pthread_mutex_lock(&st->mu);
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	if (stats_err_repeated(st, integrity, path, block, cause, ns)) {
		pthread_mutex_unlock(&st->mu);
		free(p);
		return;
	}
	add(integrity ? &st->integrity_errors : &st->io_errors, 1);
	e = &st->ring[st->ring_next];
	free(e->path);
	e->path = p; /* NULL on allocation failure: reported as unknown */
	e->when = time(NULL);
	e->mono_ns = ns;
	e->integrity = integrity;
	e->block = block;
	snprintf(e->cause, sizeof(e->cause), "%s", cause);
	st->ring_next = (st->ring_next + 1) % STATS_ERRORS_MAX;
	if (st->ring_used < STATS_ERRORS_MAX)
		st->ring_used++;
	pthread_mutex_unlock(&st->mu);
}

void stats_file_delta(struct stats *st, uint8_t algo, int64_t files,
		      int64_t logical, int64_t stored)
{
	struct stats_algo *a;

	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	st->totals.files += files;
	st->totals.logical += logical;
	st->totals.stored += stored;
	/* An unknown id cannot come from a header that parsed; count it as
	 * none rather than drop it, so the per-algorithm figures still add up
	 * to the totals. */
	a = &st->totals.algo[algo < STATS_ALGO_COUNT ? algo : CODEC_NONE];
	a->files += files;
	a->logical += logical;
	a->stored += stored;
	st->delta_gen++;
	pthread_mutex_unlock(&st->mu);
}

void stats_totals_add(struct stats_totals *d, const struct stats_totals *a, int sign)
{
	d->files += sign * a->files;
	d->dirs += sign * a->dirs;
	d->logical += sign * a->logical;
	d->stored += sign * a->stored;
	for (int i = 0; i < STATS_ALGO_COUNT; i++) {
		d->algo[i].files += sign * a->algo[i].files;
		d->algo[i].logical += sign * a->algo[i].logical;
		d->algo[i].stored += sign * a->algo[i].stored;
	}
}

void stats_dir_delta(struct stats *st, int64_t dirs)
{
	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	st->totals.dirs += dirs;
	st->delta_gen++;
	pthread_mutex_unlock(&st->mu);
}

/* ---- rebuild ---------------------------------------------------------- */

void stats_rebuild_begin(struct stats *st)
{
	pthread_mutex_lock(&st->mu);
	st->rebuilding = 1;
	st->untrusted = 1;
	pthread_mutex_unlock(&st->mu);
}

uint64_t stats_delta_gen(struct stats *st)
{
	uint64_t g;

	pthread_mutex_lock(&st->mu);
	g = st->delta_gen;
	pthread_mutex_unlock(&st->mu);
	return g;
}

static struct stats_totals stats_totals_of(struct stats *st)
{
	struct stats_totals t;

	pthread_mutex_lock(&st->mu);
	t = st->totals;
	pthread_mutex_unlock(&st->mu);
	return t;
}

static void stats_set_locked(struct stats *st, const struct stats_totals *t)
{
	st->totals = *t;
	st->rebuilding = 0;
	st->untrusted = 0;
	st->rebuilt = 1;
	st->rebuilt_at = time(NULL);
}

void stats_set_totals(struct stats *st, const struct stats *walked)
{
	struct stats_totals t = stats_totals_of((struct stats *)walked);

	pthread_mutex_lock(&st->mu);
	stats_set_locked(st, &t);
	pthread_mutex_unlock(&st->mu);
}

int stats_set_totals_if(struct stats *st, const struct stats *walked, uint64_t gen)
{
	struct stats_totals t = stats_totals_of((struct stats *)walked);
	int r = 0;

	pthread_mutex_lock(&st->mu);
	if (st->delta_gen != gen)
		r = -EAGAIN;
	else
		stats_set_locked(st, &t);
	pthread_mutex_unlock(&st->mu);
	return r;
}

void stats_rebuild_abandon(struct stats *st)
{
	pthread_mutex_lock(&st->mu);
	st->rebuilding = 0;
	st->untrusted = 1;
	pthread_mutex_unlock(&st->mu);
}

/* ---- scrub ----------------------------------------------------------- */

int stats_scrub_begin(struct stats *st)
{
	int r = 0;

	pthread_mutex_lock(&st->mu);
	if (st->scrub.state == STATS_SCRUB_RUNNING) {
		r = -EBUSY;
	} else {
		st->scrub.state = STATS_SCRUB_RUNNING;
		st->scrub.aborted = 0;
		st->scrub.end = STATS_SCRUB_END_NONE;
		st->scrub.files_total = st->totals.files > 0 ? (uint64_t)st->totals.files : 0;
		st->scrub.bytes_total = st->totals.logical > 0 ? (uint64_t)st->totals.logical : 0;
		st->scrub.bytes_checked = 0;
		st->scrub.seconds = 0;
		clock_gettime(CLOCK_MONOTONIC, &st->scrub_began);
		st->scrub.files_checked = 0;
		st->scrub.files_bad = 0;
		st->scrub.blocks_checked = 0;
		st->scrub.blocks_bad = 0;
		st->scrub.last_started = time(NULL);
	}
	pthread_mutex_unlock(&st->mu);
	return r;
}

void stats_scrub_file(struct stats *st, uint64_t bytes, uint64_t blocks,
		      uint64_t bad_blocks, int bad_header)
{
	pthread_mutex_lock(&st->mu);
	st->scrub.files_checked++;
	st->scrub.bytes_checked += bytes;
	st->scrub.blocks_checked += blocks;
	st->scrub.blocks_bad += bad_blocks;
	if (bad_blocks || bad_header)
		st->scrub.files_bad++;
	pthread_mutex_unlock(&st->mu);
}

/* Seconds since t (CLOCK_MONOTONIC). */
static double seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

void stats_scrub_end(struct stats *st, int end)
{
	int aborted = end != STATS_SCRUB_END_DONE;

	pthread_mutex_lock(&st->mu);
	st->scrub.state = aborted ? STATS_SCRUB_IDLE : STATS_SCRUB_DONE;
	st->scrub.aborted = aborted;
	st->scrub.end = end;
	st->scrub.seconds = seconds_since(&st->scrub_began);
	if (!aborted)
		st->scrub.last_finished = time(NULL);
	pthread_mutex_unlock(&st->mu);
}

/* ---- read side --------------------------------------------------------- */

static uint64_t hist_percentile(const uint64_t *h, uint64_t count, unsigned permille)
{
	/* Rank of the percentile, rounded up, at least 1. */
	uint64_t rank = (count * permille + 999) / 1000, seen = 0;

	if (count == 0)
		return 0;
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h[i];
		if (seen >= rank)
			return hist_value(i);
	}
	return hist_value(HIST_BUCKETS - 1);
}

void stats_snapshot(struct stats *st, struct stats_snapshot *out)
{
	uint64_t h[HIST_BUCKETS];

	memset(out, 0, sizeof(*out));
	for (int op = 0; op < STATS_OP_COUNT; op++) {
		uint64_t count = 0;

		for (unsigned i = 0; i < HIST_BUCKETS; i++) {
			h[i] = load(&st->hist[op][i]);
			count += h[i];
		}
		out->ops[op] = load(&st->ops[op]);
		out->op_errors[op] = load(&st->op_errors[op]);
		out->lat_sum_ns[op] = load(&st->lat_sum[op]);
		out->lat_count[op] = count;
		out->lat_p50_ns[op] = hist_percentile(h, count, 500);
		out->lat_p99_ns[op] = hist_percentile(h, count, 990);
	}
	out->bytes_read = load(&st->bytes_read);
	out->bytes_written = load(&st->bytes_written);
	out->cache_hits = load(&st->cache_hits);
	out->cache_misses = load(&st->cache_misses);
	out->integrity_errors = load(&st->integrity_errors);
	out->io_errors = load(&st->io_errors);
	out->uptime_seconds = seconds_since(&st->started);
	out->now = time(NULL);

	pthread_mutex_lock(&st->mu);
	out->totals = st->totals;
	out->totals_rebuilding = st->rebuilding;
	out->totals_untrusted = st->untrusted;
	out->totals_rebuilt = st->rebuilt;
	out->totals_rebuilt_at = st->rebuilt_at;
	out->totals_load = st->load;
	out->shared = st->shared;
	out->shared_daemons = st->shared_daemons;
	if (st->shared) {
		out->unmerged = st->totals;
		stats_totals_add(&out->unmerged, &st->merged, -1);
	}
	out->scrub = st->scrub;
	if (st->scrub.state == STATS_SCRUB_RUNNING)
		out->scrub.seconds = seconds_since(&st->scrub_began);
	pthread_mutex_unlock(&st->mu);
}

/* Append path with \, TAB and newline escaped, so each error stays one
 * line of tab-separated fields whatever the file is called. */
static size_t put_escaped(char *o, const char *p)
{
	size_t n = 0;

	for (; *p; p++) {
		if (*p == '\\' || *p == '\t' || *p == '\n') {
			o[n++] = '\\';
			o[n++] = *p == '\\' ? '\\' : *p == '\t' ? 't' : 'n';
		} else {
			o[n++] = *p;
		}
	}
	return n;
}

char *stats_errors_text(struct stats *st, size_t *len)
{
	size_t cap = 1, n = 0;
	char *buf;
	unsigned first;

	pthread_mutex_lock(&st->mu);
	first = (st->ring_next + STATS_ERRORS_MAX - st->ring_used) % STATS_ERRORS_MAX;
	for (unsigned k = 0; k < st->ring_used; k++) {
		const struct stats_err *e = &st->ring[(first + k) % STATS_ERRORS_MAX];

		/* Fixed fields fit in 160 bytes; the path at most doubles. */
		cap += 160 + sizeof(e->cause) + (e->path ? 2 * strlen(e->path) : 1);
	}
	buf = malloc(cap);
	if (!buf) {
		pthread_mutex_unlock(&st->mu);
		return NULL;
	}
	for (unsigned k = 0; k < st->ring_used; k++) {
		const struct stats_err *e = &st->ring[(first + k) % STATS_ERRORS_MAX];
		struct tm tm;
		char block[24];

		gmtime_r(&e->when, &tm);
		n += strftime(buf + n, cap - n, "%Y-%m-%dT%H:%M:%SZ\t", &tm);
		n += (size_t)snprintf(buf + n, cap - n, "%s\t", e->integrity ? "integrity" : "io");
		if (e->path)
			n += put_escaped(buf + n, e->path);
		else
			buf[n++] = '-';
		if (e->block >= 0)
			snprintf(block, sizeof(block), "%" PRId64, e->block);
		else
			strcpy(block, "-");
		n += (size_t)snprintf(buf + n, cap - n, "\t%s\t%s\n", block, e->cause);
	}
	pthread_mutex_unlock(&st->mu);
	buf[n] = '\0';
	*len = n;
	return buf;
}
