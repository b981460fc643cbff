/* health.c - the health checks, their score and their recommendations.
 * Each check adds one entry, in a fixed order (the JSON keeps it), lowers
 * the score by its penalty and raises the status to its own. */
#include "health.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mountinfo.h"
#include "optimize.h"
#include "retention.h"

/* Thresholds of the space checks, in percent of the backing filesystem. */
#define FREE_WARN_PCT 10.0
#define FREE_CRIT_PCT 5.0
/* A scrub older than this is due again. */
#define SCRUB_MAX_AGE (35 * 24 * 3600)
/* Below this much data the compression ratio says nothing. */
#define COMPRESS_MIN_LOGICAL (16ll << 20)

static const char *const health_status_names[] = {
	[HEALTH_OK] = "ok", [HEALTH_WARNING] = "warning", [HEALTH_CRITICAL] = "critical",
};

const char *health_status_name(enum health_status st)
{
	return health_status_names[st];
}

double health_ratio(const struct stats_totals *t)
{
	return t->logical > 0 ? (double)t->stored / (double)t->logical : 0.0;
}

const char *health_scrub_state_name(int state)
{
	if (state == STATS_SCRUB_RUNNING)
		return "running";
	return state == STATS_SCRUB_DONE ? "done" : "idle";
}

void health_scrub_pace(const struct stats_scrub *sc, struct health_scrub_pace *p)
{
	uint64_t done = sc->bytes_checked, total = sc->bytes_total;

	if (!total) {
		done = sc->files_checked;
		total = sc->files_total;
	}
	p->progress = sc->state == STATS_SCRUB_DONE ? 1.0 : total ? (double)done / (double)total : 0;
	if (p->progress > 1.0)
		p->progress = 1.0;
	p->rate = sc->seconds > 0 ? (double)sc->bytes_checked / sc->seconds : 0;
	p->eta = -1;
	if (sc->state == STATS_SCRUB_RUNNING && p->rate > 0)
		p->eta = sc->bytes_total > sc->bytes_checked
			 ? (double)(sc->bytes_total - sc->bytes_checked) / p->rate : 0;
}

const char *health_scrub_result(const struct stats_scrub *sc)
{
	if (sc->state == STATS_SCRUB_RUNNING)
		return NULL;
	switch (sc->end) {
	case STATS_SCRUB_END_DONE:
		return sc->blocks_bad || sc->files_bad ? "damaged" : "clean";
	case STATS_SCRUB_END_STOPPED:
		return "stopped";
	case STATS_SCRUB_END_INTERRUPTED:
		return "interrupted";
	default:
		return NULL;
	}
}

/* Add a check; its detail and extra start empty for the caller to fill. */
static struct health_check *health_add(struct health *h, const char *name,
				       enum health_status st, int penalty)
{
	struct health_check *c = &h->checks[h->nchecks++];

	c->name = name;
	c->status = st;
	c->detail[0] = c->extra[0] = '\0';
	h->score -= penalty;
	if (st > h->status)
		h->status = st;
	return c;
}

static void health_rec(struct health *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void health_rec(struct health *h, const char *fmt, ...)
{
	va_list ap;

	if (h->nrecs == HEALTH_MAX_RECS)
		return;
	va_start(ap, fmt);
	/* A recommendation cut short is still better than none. */
	vsnprintf(h->recs[h->nrecs++], sizeof(h->recs[0]), fmt, ap);
	va_end(ap);
}

/* Free space (bytes set) or free inodes of the backing filesystem. */
static void health_space(struct health *h, const char *what, const char *name,
			 double total, double avail, int bytes)
{
	double pct = total > 0 ? 100.0 * avail / total : 100.0;
	enum health_status st = pct < FREE_CRIT_PCT ? HEALTH_CRITICAL
				: pct < FREE_WARN_PCT ? HEALTH_WARNING : HEALTH_OK;
	struct health_check *c = health_add(h, name, st, st == HEALTH_CRITICAL ? 40
					    : st == HEALTH_WARNING ? 15 : 0);

	if (bytes) {
		snprintf(c->detail, sizeof(c->detail),
			 "%.1f%% of the backing filesystem is free (%.1f MiB of %.1f MiB)",
			 pct, avail / 1048576.0, total / 1048576.0);
		snprintf(c->extra, sizeof(c->extra),
			 "\"free_bytes\": %.0f, \"total_bytes\": %.0f, \"free_percent\": %.2f",
			 avail, total, pct);
	} else {
		snprintf(c->detail, sizeof(c->detail),
			 "%.1f%% of the backing filesystem's inodes are free (%.0f of %.0f)",
			 pct, avail, total);
		snprintf(c->extra, sizeof(c->extra),
			 "\"free_inodes\": %.0f, \"total_inodes\": %.0f, \"free_percent\": %.2f",
			 avail, total, pct);
	}
	if (st != HEALTH_OK)
		health_rec(h, "The backing filesystem of this store has only %.1f%% of its %s "
			   "free: delete files you no longer need or move the store to a larger "
			   "filesystem before writes start failing with ENOSPC.", pct, what);
}

static void health_disk(const struct store *s, struct health *h)
{
	struct health_check *c;

	h->sv_ok = fstatvfs(s->rootfd, &h->sv) == 0;
	if (h->sv_ok) {
		double fr = (double)h->sv.f_frsize;

		health_space(h, "space", "disk_space", (double)h->sv.f_blocks * fr,
			     (double)h->sv.f_bavail * fr, 1);
		if (h->sv.f_files > 0)
			health_space(h, "inodes", "disk_inodes", (double)h->sv.f_files,
				     (double)h->sv.f_favail, 0);
	} else {
		c = health_add(h, "disk_space", HEALTH_WARNING, 10);
		snprintf(c->detail, sizeof(c->detail), "statvfs of the backing directory failed: %s",
			 strerror(errno));
	}
}

/* A count of errors since mount: an ok check when it is zero (with
 * ok_detail), else one of status bad that costs penalty points, its detail
 * the count followed by what. */
static void health_counter(struct health *h, const char *name, uint64_t count,
			   enum health_status bad, int penalty, const char *what,
			   const char *ok_detail)
{
	struct health_check *c;

	if (count) {
		c = health_add(h, name, bad, penalty);
		snprintf(c->detail, sizeof(c->detail), "%" PRIu64 " %s", count, what);
	} else {
		c = health_add(h, name, HEALTH_OK, 0);
		snprintf(c->detail, sizeof(c->detail), "%s", ok_detail);
	}
	snprintf(c->extra, sizeof(c->extra), "\"count\": %" PRIu64, count);
}

/* Blocks, headers or names that failed authentication, and I/O errors of
 * the backing store, since mount. */
static void health_errors(const struct stats_snapshot *sn, struct health *h)
{
	health_counter(h, "integrity", sn->integrity_errors, HEALTH_CRITICAL, 40,
		       "blocks, headers or names failed authentication since mount",
		       "no authentication failures since mount");
	if (sn->integrity_errors)
		health_rec(h, "Data in the backing store was altered or damaged: see "
			   "%s/.ragstore/errors for the files and blocks, restore those files "
			   "from a backup, and check the backing disk (dmesg, smartctl).", h->mnt);
	health_counter(h, "io_errors", sn->io_errors, HEALTH_WARNING, 20,
		       "I/O errors from the backing store since mount", "no I/O errors since mount");
	if (sn->io_errors)
		health_rec(h, "Reads or writes of the backing store failed: check the kernel log "
			   "(dmesg) and the backing disk, and see %s/.ragstore/errors for the "
			   "files involved.", h->mnt);
}

/* The running or last scrub, and whether one is due. */
static void health_scrub(const struct stats_snapshot *sn, struct health *h)
{
	const struct stats_scrub *sc = &sn->scrub;
	struct health_check *c;
	int age = sc->last_finished ? (int)(sn->now - sc->last_finished) : -1;

	if (sc->state == STATS_SCRUB_RUNNING) {
		c = health_add(h, "scrub", HEALTH_OK, 0);
		snprintf(c->detail, sizeof(c->detail),
			 "running: %" PRIu64 " files checked, %" PRIu64 " bad blocks so far",
			 sc->files_checked, sc->blocks_bad);
	} else if (sc->last_finished && (sc->blocks_bad || sc->files_bad)) {
		c = health_add(h, "scrub", HEALTH_CRITICAL, 30);
		snprintf(c->detail, sizeof(c->detail),
			 "the last scrub found %" PRIu64 " damaged files (%" PRIu64 " bad blocks)",
			 sc->files_bad, sc->blocks_bad);
		health_rec(h, "The last scrub found damaged files: restore the files listed in "
			   "%s/.ragstore/errors from a backup, then scrub again "
			   "(echo scrub > %s/.ragstore/control).", h->mnt, h->mnt);
	} else if (sc->last_finished && sn->now - sc->last_finished > SCRUB_MAX_AGE) {
		c = health_add(h, "scrub", HEALTH_WARNING, 10);
		snprintf(c->detail, sizeof(c->detail), "the last scrub finished %lld days ago",
			 (long long)((sn->now - sc->last_finished) / 86400));
		health_rec(h, "Verify the store again: echo scrub > %s/.ragstore/control "
			   "(and schedule it monthly).", h->mnt);
	} else if (sc->last_finished) {
		c = health_add(h, "scrub", HEALTH_OK, 0);
		snprintf(c->detail, sizeof(c->detail),
			 "the last scrub checked %" PRIu64 " files and found no damage",
			 sc->files_checked);
	} else {
		c = health_add(h, "scrub", HEALTH_OK, 0);
		snprintf(c->detail, sizeof(c->detail), "no scrub has completed on this store%s",
			 sc->aborted ? " (the last one was stopped by unmount)" : "");
		if (sn->totals.files > 0)
			health_rec(h, "No scrub has verified this store yet: run "
				   "echo scrub > %s/.ragstore/control to check every block, "
				   "and schedule it monthly.", h->mnt);
	}
	snprintf(c->extra, sizeof(c->extra),
		 "\"state\": \"%s\", \"age_seconds\": %d, \"blocks_bad\": %" PRIu64,
		 health_scrub_state_name(sc->state), age, sc->blocks_bad);
}

/* Whether storing the data costs more than the data. */
static void health_compression(const struct stats_snapshot *sn, struct health *h)
{
	double ratio = health_ratio(&sn->totals);
	struct health_check *c;

	if (sn->totals.logical >= COMPRESS_MIN_LOGICAL && ratio > 1.0) {
		c = health_add(h, "compression", HEALTH_WARNING, 5);
		snprintf(c->detail, sizeof(c->detail),
			 "the store takes %.0f%% of the size of its files: the data does "
			 "not compress and many files are small", ratio * 100);
		health_rec(h, "Stored data is larger than the files it holds: for data that "
			   "does not compress, a store made with --compression none saves "
			   "CPU time, and packing many small files into archives saves the "
			   "4 KiB header each file costs.");
	} else {
		c = health_add(h, "compression", HEALTH_OK, 0);
		if (sn->totals.logical > 0)
			snprintf(c->detail, sizeof(c->detail),
				 "stored bytes are %.1f%% of logical bytes", ratio * 100);
		else
			snprintf(c->detail, sizeof(c->detail), "the store holds no data");
	}
	snprintf(c->extra, sizeof(c->extra), "\"ratio\": %.4f", ratio);
}

/* Whether the store totals can be trusted, and why they were rebuilt. */
static void health_totals(const struct stats_snapshot *sn, struct health *h)
{
	int unclean = sn->totals_load == STATS_LOAD_UNCLEAN;
	struct health_check *c;

	if (sn->totals_rebuilding || sn->totals_rebuilt || sn->totals_untrusted) {
		c = health_add(h, "totals", unclean ? HEALTH_WARNING : HEALTH_OK, unclean ? 5 : 0);
		snprintf(c->detail, sizeof(c->detail), "store totals %s by a walk of the store%s",
			 sn->totals_rebuilding ? "are being rebuilt"
			 : sn->totals_rebuilt ? "were rebuilt" : "could not be rebuilt",
			 unclean ? " after an unclean shutdown (the daemon was killed or the "
			 "machine stopped before unmount)"
			 : sn->totals_load == STATS_LOAD_MISSING ? " (no saved totals: first mount)"
			 : sn->totals_load == STATS_LOAD_BAD ? " (the saved totals were unreadable)"
			 : "");
		if (unclean)
			health_rec(h, "The previous mount of this store ended without an unmount, so "
				   "its totals were recomputed: unmount with fusermount3 -u %s before "
				   "shutting down or stopping the daemon.", h->mnt);
	} else {
		c = health_add(h, "totals", HEALTH_OK, 0);
		snprintf(c->detail, sizeof(c->detail),
			 "store totals were saved by a clean unmount and are kept up to date");
	}
	snprintf(c->extra, sizeof(c->extra),
		 "\"rebuilding\": %s, \"rebuilt_after_unclean_shutdown\": %s",
		 sn->totals_rebuilding ? "true" : "false", unclean ? "true" : "false");
}

/* What the last optimizer walk and the last cleanup found: no walk here,
 * every read of health only looks at their results. */
static void health_policies(struct health *h)
{
	struct optimize_finding f[OPTIMIZE_FINDINGS];
	int n = optimize_findings(f, OPTIMIZE_FINDINGS), dry;
	uint64_t files, bytes;
	time_t when;

	for (int i = 0; i < n; i++)
		health_rec(h, "%llu file%s (%.1f MiB) under policy %s %s stored with %s but the "
			   "policy asks %s: run 'echo optimize > %s/.ragstore/control'",
			   (unsigned long long)f[i].files, f[i].files == 1 ? "" : "s",
			   (double)f[i].bytes / 1048576.0, f[i].policy,
			   f[i].files == 1 ? "is" : "are", f[i].stored, f[i].wanted, h->mnt);
	retention_last(&when, &dry, &files, &bytes);
	if (when && dry && files)
		health_rec(h, "cleanup would free %.1f MiB (%llu file%s past their policy's "
			   "retention_days, listed in %s/.ragstore/cleanup): run 'echo cleanup > "
			   "%s/.ragstore/control'", (double)bytes / 1048576.0,
			   (unsigned long long)files, files == 1 ? "" : "s", h->mnt, h->mnt);
}

void health_compute(const struct store *s, const struct stats_snapshot *sn, struct health *h)
{
	memset(h, 0, sizeof(*h));
	h->score = 100;
	if (mountinfo_mount(s, h->mnt, sizeof(h->mnt), NULL, 0) < 0)
		snprintf(h->mnt, sizeof(h->mnt), "MOUNTPOINT");
	health_disk(s, h);
	health_errors(sn, h);
	health_scrub(sn, h);
	health_compression(sn, h);
	health_totals(sn, h);
	health_policies(h);
	if (h->score < 0)
		h->score = 0;
}
