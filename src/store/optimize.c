/* optimize.c - recompression and compaction in the background.  See
 * optimize.h. */
#include "optimize.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ofile_int.h"
#include "policy.h"
#include "stats.h"
#include "usage.h"
#include "walk.h"

/* ioprio_set(2): the idle class, so the optimizer's I/O waits for others'. */
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_IDLE (3 << 13)

static struct {
	pthread_mutex_t mu;  /* guards everything below but stop */
	int stop;            /* atomic: polled by the walk between entries */
	pthread_t th;
	int started;         /* a thread exists and is not joined */
	struct store *s;
	struct stats_optimize p;
	struct timespec t0;  /* CLOCK_MONOTONIC at the start */
	struct optimize_finding found[OPTIMIZE_FINDINGS], last[OPTIMIZE_FINDINGS];
	int nfound, nlast;
} opt = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* 1 if a record of algorithm a compressed at level (FH2_LEVEL_UNKNOWN: not
 * known) is not what want asks.  A raw record matches any policy but none
 * (it is raw because it did not compress); a compressed one must have
 * want's algorithm and, for zlib and zstd, its level; one whose level is
 * not known is taken as off. */
static int rec_off(uint8_t a, uint8_t level, const struct codec_spec *want)
{
	if (a == CODEC_NONE)
		return 0;
	return want->algo != a || level != codec_level(want);
}

/* What a record is stored with, as a finding names it: "zstd:3", or
 * "zstd" when its level is not known. */
static void stored_name(uint8_t a, uint8_t level, char *buf, size_t len)
{
	struct codec_spec c = { .algo = a, .level = level };

	if (level == FH2_LEVEL_UNKNOWN)
		snprintf(buf, len, "%s", codec_name(a));
	else
		codec_format(&c, buf, len);
}

static void note_finding(const char *policy, const char *stored, const struct codec_spec *want,
			 uint64_t bytes)
{
	struct optimize_finding *f = NULL;

	for (int i = 0; i < opt.nfound && !f; i++)
		if (!strcmp(opt.found[i].policy, policy) && !strcmp(opt.found[i].stored, stored))
			f = &opt.found[i];
	if (!f && opt.nfound < OPTIMIZE_FINDINGS) {
		f = &opt.found[opt.nfound++];
		memset(f, 0, sizeof(*f));
		snprintf(f->policy, sizeof(f->policy), "%s", policy);
		snprintf(f->stored, sizeof(f->stored), "%s", stored);
		codec_format(want, f->wanted, sizeof(f->wanted));
	}
	if (f) {
		f->files++;
		f->bytes += bytes;
	}
}

/* Compaction pays when the file would occupy fewer 4 KiB blocks and an
 * eighth of its data area comes back (v2commit.c's rule at a last close). */
static int worth_compacting(const struct usage *u)
{
	uint64_t area = u->live + u->slack;

	return !u->v1 && u->slack >= 4096 && u->slack >= area / 8;
}

/* Block k of f: for a v2 file its k-th entry, for a v1 file block k (the
 * level of a v1 record is not recorded: fh2_level_guess from the setting
 * cur the file had when the optimizer came).  Returns 1 with *b, *a and
 * *level set, 0 for a block without a record, -ENOENT past the last. */
static int block_at(struct ofile *f, uint64_t k, const struct codec_spec *cur, uint64_t *b,
		    uint8_t *a, uint8_t *level)
{
	int r = 1;

	if (!f->v2) {
		uint64_t n;
		int algo;

		pthread_rwlock_rdlock(&f->lock);
		n = ofile_nblocks(f->hdr.size, f->hdr.block_size);
		pthread_rwlock_unlock(&f->lock);
		if (k >= n)
			return -ENOENT;
		algo = v1blk_algo(f, k);
		if (algo < 0)
			return 0;
		*b = k;
		*a = algo <= CODEC_ZSTD ? (uint8_t)algo : CODEC_NONE;
		*level = fh2_level_guess(cur, *a);
		return 1;
	}
	pthread_rwlock_rdlock(&f->lock);
	if (k < f->v2->n) {
		*b = f->v2->ents[k].block;
		*a = fh2_ent_codec(&f->v2->ents[k]);
		*level = f->v2->ents[k].level;
	} else {
		r = -ENOENT;
	}
	pthread_rwlock_unlock(&f->lock);
	return r;
}

/* The blocks of f that are off (rec_off): how many, and the name of what
 * the first one is stored with. */
static uint64_t count_off(struct ofile *f, const struct codec_spec *cur,
			  const struct codec_spec *want, char *stored, size_t len)
{
	uint64_t b, n = 0;
	uint8_t a, level;
	int r;

	for (uint64_t k = 0; (r = block_at(f, k, cur, &b, &a, &level)) != -ENOENT; k++) {
		if (__atomic_load_n(&opt.stop, __ATOMIC_RELAXED))
			break;
		if (r == 1 && rec_off(a, level, want) && n++ == 0)
			stored_name(a, level, stored, len);
	}
	return n;
}

/* Seal again every block of f that is off, one at a time under the
 * file's lock, with f's setting (want by now). */
static int rewrite_off(struct store *s, struct ofile *f, const struct codec_spec *cur,
		       const struct codec_spec *want)
{
	uint64_t b;
	uint8_t a, level;
	int r = 0, got;

	for (uint64_t k = 0; r >= 0 && (got = block_at(f, k, cur, &b, &a, &level)) != -ENOENT;
	     k++) {
		if (__atomic_load_n(&opt.stop, __ATOMIC_RELAXED))
			break;
		if (got == 1 && rec_off(a, level, want))
			r = f->v2 ? v2io_recompress(s, f, b) : v1blk_recompress(s, f, b);
	}
	return r < 0 ? r : 0;
}

/* A v1 file's superseded records go at once (as at an fsync), so that
 * what the rewrite saved shows now, not at the last close. */
static int release_v1(struct store *s, struct ofile *f)
{
	int r;

	ofile_lock(s, f, 1);
	r = ofile_gc_run(s, f);
	ofile_account(s, f);
	ofile_unlock(s, f);
	return r;
}

/* One file: look, and unless dry, rewrite what is off and compact. */
static void optimize_file(struct store *s, int dfd, const char *rel, const char *path)
{
	const struct policy *pol = store_policy(s, path);
	struct codec_spec cur, want;
	char stored[16] = "";
	struct ofile *f;
	struct usage u;
	uint64_t off = 0;
	int user, r;

	if (ofile_open_for(s, dfd, rel, path, 0, &f) < 0)
		return;
	/* A packed file (pack.h) is one small record: nothing to gain. */
	if (ofile_packed(f)) {
		ofile_release(s, f);
		return;
	}
	ofile_codec(f, &cur, &user);
	want = user ? cur : pol->codec;
	r = usage_file(s, f, &u);
	if (r == 0)
		off = count_off(f, &cur, &want, stored, sizeof(stored));
	if (r == 0 && (off || worth_compacting(&u))) {
		if (off)
			note_finding(pol->name, stored, &want, u.logical);
		if (!opt.p.dry) {
			uint64_t before = u.stored;

			if (!user && (cur.algo != want.algo || codec_level(&cur) != codec_level(&want)))
				r = ofile_set_codec(s, f, &want, 0);
			if (r >= 0 && off)
				r = rewrite_off(s, f, &cur, &want);
			if (r >= 0 && f->v2)
				r = v2commit_compact(s, f);
			else if (r >= 0)
				r = release_v1(s, f);
			if (r < 0)
				log_msg(LOG_LVL_WARN, "optimize: %s: %s", path, strerror(-r));
			else if (usage_file(s, f, &u) == 0) {
				pthread_mutex_lock(&opt.mu);
				opt.p.stored_saved += (int64_t)before - (int64_t)u.stored;
				pthread_mutex_unlock(&opt.mu);
			}
		}
		pthread_mutex_lock(&opt.mu);
		opt.p.files_rewritten++;
		opt.p.bytes_rewritten += u.logical;
		pthread_mutex_unlock(&opt.mu);
	}
	ofile_release(s, f);
}

static int entry(void *arg, const struct walk_entry *e)
{
	struct store *s = arg;

	if (e->type != WALK_NAMED || !S_ISREG(e->st.st_mode) || e->seen)
		return 0;
	optimize_file(s, e->dfd, e->bname, e->path);
	pthread_mutex_lock(&opt.mu);
	opt.p.files_done++;
	opt.p.bytes_done += ofile_stat_size(s, e->dfd, e->bname, &e->st);
	pthread_mutex_unlock(&opt.mu);
	return 0;
}

static int walk_error(void *arg, const char *path, int r)
{
	return 0; /* a directory it cannot read is skipped */
}

static void *optimize_main(void *arg)
{
	struct store *s = arg;
	struct walk_ops ops = { .entry = entry, .error = walk_error, .arg = s,
				.stop = &opt.stop };
	pid_t tid = (pid_t)syscall(SYS_gettid);
	int r;

	/* Low priority: the optimizer takes what others leave. */
	setpriority(PRIO_PROCESS, (id_t)tid, 19);
	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, IOPRIO_IDLE);
	log_msg(LOG_LVL_INFO, "optimize%s started", opt.p.dry ? " --dry-run" : "");
	r = walk_tree(s, &ops);
	pthread_mutex_lock(&opt.mu);
	opt.p.running = 0;
	opt.p.stopped = r == -ECANCELED;
	opt.p.finished = time(NULL);
	memcpy(opt.last, opt.found, sizeof(opt.found));
	opt.nlast = opt.nfound;
	pthread_mutex_unlock(&opt.mu);
	log_msg(LOG_LVL_INFO, "optimize%s %s: %llu files looked at, %llu %s, %lld stored "
		"bytes saved", opt.p.dry ? " --dry-run" : "",
		r == -ECANCELED ? "stopped" : "finished", (unsigned long long)opt.p.files_done,
		(unsigned long long)opt.p.files_rewritten,
		opt.p.dry ? "to rewrite or compact" : "rewritten or compacted",
		(long long)opt.p.stored_saved);
	return NULL;
}

int optimize_start(struct store *s, int dry)
{
	struct stats_snapshot *sn = malloc(sizeof(*sn));
	sigset_t all, old;
	int r = 0;

	if (!sn)
		return -ENOMEM;
	stats_snapshot(s->stats, sn);
	pthread_mutex_lock(&opt.mu);
	if (opt.p.running) {
		pthread_mutex_unlock(&opt.mu);
		free(sn);
		return -EBUSY;
	}
	if (opt.started)
		pthread_join(opt.th, NULL);
	opt.started = 0;
	memset(&opt.p, 0, sizeof(opt.p));
	opt.p.running = 1;
	opt.p.dry = dry;
	opt.p.started = time(NULL);
	opt.p.files_total = (uint64_t)sn->totals.files;
	opt.p.bytes_total = (uint64_t)sn->totals.logical;
	opt.nfound = 0;
	opt.s = s;
	__atomic_store_n(&opt.stop, 0, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_MONOTONIC, &opt.t0);
	/* Signals stay with the main thread (libfuse's handlers). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&opt.th, NULL, optimize_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		opt.started = 1;
	else
		opt.p.running = 0;
	pthread_mutex_unlock(&opt.mu);
	free(sn);
	return r;
}

int optimize_stop(void)
{
	int started;

	pthread_mutex_lock(&opt.mu);
	started = opt.started && opt.p.running;
	__atomic_store_n(&opt.stop, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&opt.mu);
	if (!started)
		return -ENOENT;
	pthread_join(opt.th, NULL);
	pthread_mutex_lock(&opt.mu);
	opt.started = 0;
	pthread_mutex_unlock(&opt.mu);
	return 0;
}

void optimize_shutdown(void)
{
	optimize_stop();
	pthread_mutex_lock(&opt.mu);
	if (opt.started)
		pthread_join(opt.th, NULL);
	opt.started = 0;
	pthread_mutex_unlock(&opt.mu);
}

void optimize_progress(struct stats_optimize *out)
{
	struct timespec now;

	pthread_mutex_lock(&opt.mu);
	*out = opt.p;
	pthread_mutex_unlock(&opt.mu);
	out->eta_seconds = -1;
	if (!out->started)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	out->seconds = out->running ? (double)(now.tv_sec - opt.t0.tv_sec) +
					       (double)(now.tv_nsec - opt.t0.tv_nsec) / 1e9
				    : (double)(out->finished - out->started);
	if (out->running && out->bytes_done && out->seconds > 0) {
		double rate = (double)out->bytes_done / out->seconds;

		out->eta_seconds = out->bytes_total > out->bytes_done
					   ? (double)(out->bytes_total - out->bytes_done) / rate
					   : 0;
	}
}

int optimize_findings(struct optimize_finding *out, int max)
{
	int n;

	pthread_mutex_lock(&opt.mu);
	n = opt.nlast < max ? opt.nlast : max;
	memcpy(out, opt.last, (size_t)n * sizeof(*out));
	pthread_mutex_unlock(&opt.mu);
	return n;
}
