/* vdir.c - the hidden /.ragstore directory.  Each open of a read-only file
 * renders one snapshot into a buffer owned by the handle, so a reader sees
 * consistent figures however it splits its reads; control takes commands.
 * See docs/STATS.md for every file and key. */
#include "vdir.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "crypto.h"
#include "log.h"
#include "scrub.h"
#include "stats.h"

/* No snapshot grows beyond this (the error ring is the largest). */
#define VDIR_MAX_RENDER (64u << 20)

/* Thresholds of the health checks, in percent of the backing filesystem. */
#define FREE_WARN_PCT 10.0
#define FREE_CRIT_PCT 5.0
/* A scrub older than this is due again. */
#define SCRUB_MAX_AGE (35 * 24 * 3600)
/* Below this much data the compression ratio says nothing. */
#define COMPRESS_MIN_LOGICAL (16ll << 20)

enum vfile { VF_STATS, VF_HEALTH, VF_METRICS, VF_CONFIG, VF_ERRORS, VF_CONTROL,
	     VF_COUNT };

_Static_assert(VF_COUNT == VDIR_COUNT, "vdir.h counts the files");

static const struct {
	const char *name;
	mode_t mode;
} vfiles[VF_COUNT] = {
	[VF_STATS] = { "stats", 0444 },     [VF_HEALTH] = { "health", 0444 },
	[VF_METRICS] = { "metrics", 0444 }, [VF_CONFIG] = { "config", 0444 },
	[VF_ERRORS] = { "errors", 0444 },   [VF_CONTROL] = { "control", 0200 },
};


/* An open virtual file. */
struct vdir_handle {
	enum vfile kind;
	char *buf;   /* the snapshot (NULL for control) */
	size_t len;
};

int vdir_lookup(const char *name)
{
	for (int i = 0; i < VF_COUNT; i++)
		if (!strcmp(name, vfiles[i].name))
			return i;
	return -ENOENT;
}

const char *vdir_entry_name(int kind)
{
	return kind >= 0 && kind < VF_COUNT ? vfiles[kind].name : NULL;
}

/* ---- output buffer ---------------------------------------------------- */

struct out {
	char *p;
	size_t len, cap;
	int err; /* first failure; later writes are dropped */
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->err)
		return;
	for (;;) {
		size_t room = o->cap - o->len;

		va_start(ap, fmt);
		n = vsnprintf(o->p ? o->p + o->len : NULL, o->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->err = -EINVAL;
			return;
		}
		if (o->p && (size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		/* Truncated: grow and render again. */
		{
			size_t ncap = o->cap ? o->cap : 4096;
			char *np;

			while (ncap < o->len + (size_t)n + 1)
				ncap *= 2;
			if (ncap > VDIR_MAX_RENDER) {
				o->err = -EFBIG;
				return;
			}
			np = realloc(o->p, ncap);
			if (!np) {
				o->err = -ENOMEM;
				return;
			}
			o->p = np;
			o->cap = ncap;
		}
	}
}

static void iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

/* A JSON value for a time: an ISO string, or null for "never". */
static void json_time(struct out *o, time_t t)
{
	char b[32];

	if (!t) {
		out_printf(o, "null");
		return;
	}
	iso_time(t, b, sizeof(b));
	out_printf(o, "\"%s\"", b);
}

/* Our detail and recommendation texts are plain, but escape anyway: a
 * path (the backing directory) may hold anything. */
static void json_str(struct out *o, const char *s)
{
	out_printf(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			out_printf(o, "\\%c", c);
		else if (c < 0x20)
			out_printf(o, "\\u%04x", c);
		else
			out_printf(o, "%c", c);
	}
	out_printf(o, "\"");
}

static double ratio_of(const struct stats_totals *t)
{
	return t->logical > 0 ? (double)t->stored / (double)t->logical : 0.0;
}

/* ---- where we are mounted (for config and recommendations) -------- */

/* The absolute path of BACKING.  s->backing is the path as given on the
 * command line, which is relative to a directory the daemon left when it
 * went to the background (chdir "/"); rootfd is BACKING/root wherever it
 * was opened from.  Returns 0 or -errno. */
static int vdir_backing_path(const struct store *s, char *out, size_t len)
{
	char proc[64], p[PATH_MAX];
	ssize_t n;
	size_t l;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s->rootfd);
	n = readlink(proc, p, sizeof(p) - 1);
	if (n < 0)
		return -errno;
	p[n] = '\0';
	l = (size_t)n;
	if (l < sizeof(STORE_ROOT) || strcmp(p + l - (sizeof(STORE_ROOT) - 1), STORE_ROOT) ||
	    p[l - sizeof(STORE_ROOT)] != '/')
		return -ENOENT; /* e.g. "(deleted)" */
	p[l - sizeof(STORE_ROOT)] = '\0';
	if (!p[0])
		strcpy(p, "/");
	if (snprintf(out, len, "%s", p) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static void unescape_mount(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Mount point and options (opts may be NULL) of the ragstore mount whose
 * source is our backing directory, from /proc/self/mountinfo.  Returns 0
 * or -ENOENT. */
static int vdir_mount_info(const struct store *s, char *mnt, size_t mlen, char *opts,
			   size_t olen)
{
	char abs[PATH_MAX], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int r = -ENOENT;

	if (vdir_backing_path(s, abs, sizeof(abs)) < 0)
		return -ENOENT;
	f = fopen("/proc/self/mountinfo", "re");
	while (f && r < 0 && getline(&line, &cap, f) > 0) {
		char *field[12], *save, *sep;
		int n = 0;

		/* id parent dev root mountpoint options [optional...] - type source super */
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		for (char *t = strtok_r(line, " \n", &save); t && n < 6;
		     t = strtok_r(NULL, " \n", &save))
			field[n++] = t;
		if (n < 6)
			continue;
		n = 6;
		for (char *t = strtok_r(sep + 3, " \n", &save); t && n < 9;
		     t = strtok_r(NULL, " \n", &save))
			field[n++] = t;
		if (n < 9 || strcmp(field[6], "fuse.ragstore"))
			continue;
		unescape_mount(field[7]);
		if (strcmp(field[7], abs))
			continue;
		unescape_mount(field[4]);
		if (snprintf(mnt, mlen, "%s", field[4]) < (int)mlen &&
		    (!opts || snprintf(opts, olen, "%s,%s", field[5], field[8]) < (int)olen))
			r = 0;
	}
	free(line);
	if (f)
		fclose(f);
	return r;
}

/* ---- health ----------------------------------------------------------- */

enum hstatus { H_OK, H_WARNING, H_CRITICAL };
static const char *const hstatus_name[] = { "ok", "warning", "critical" };

#define HEALTH_MAX_CHECKS 8
#define HEALTH_MAX_RECS 8

struct hcheck {
	const char *name;
	enum hstatus status;
	char detail[512];
	char extra[256]; /* more JSON members, rendered, or "" */
};

struct health {
	int score;
	enum hstatus status;
	struct hcheck checks[HEALTH_MAX_CHECKS];
	int nchecks;
	char recs[HEALTH_MAX_RECS][512];
	int nrecs;
	struct statvfs sv;
	int sv_ok;
	char mnt[PATH_MAX];
};

static struct hcheck *health_check(struct health *h, const char *name, enum hstatus st,
				   int penalty)
{
	struct hcheck *c = &h->checks[h->nchecks++];

	c->name = name;
	c->status = st;
	c->detail[0] = c->extra[0] = '\0';
	h->score -= penalty;
	if (st > h->status)
		h->status = st;
	return c;
}

static void health_rec(struct health *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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

static void health_space(struct health *h, const char *what, const char *name,
			 double total, double avail, int bytes)
{
	double pct = total > 0 ? 100.0 * avail / total : 100.0;
	enum hstatus st = pct < FREE_CRIT_PCT ? H_CRITICAL : pct < FREE_WARN_PCT ? H_WARNING : H_OK;
	struct hcheck *c = health_check(h, name, st, st == H_CRITICAL ? 40 : st == H_WARNING ? 15 : 0);

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
	if (st != H_OK)
		health_rec(h, "The backing filesystem of this store has only %.1f%% of its %s "
			   "free: delete files you no longer need or move the store to a larger "
			   "filesystem before writes start failing with ENOSPC.", pct, what);
}

static void health_compute(struct store *s, const struct stats_snapshot *sn, struct health *h)
{
	const struct stats_scrub *sc = &sn->scrub;
	struct hcheck *c;

	memset(h, 0, sizeof(*h));
	h->score = 100;
	if (vdir_mount_info(s, h->mnt, sizeof(h->mnt), NULL, 0) < 0)
		snprintf(h->mnt, sizeof(h->mnt), "MOUNTPOINT");

	h->sv_ok = fstatvfs(s->rootfd, &h->sv) == 0;
	if (h->sv_ok) {
		double fr = (double)h->sv.f_frsize;

		health_space(h, "space", "disk_space", (double)h->sv.f_blocks * fr,
			     (double)h->sv.f_bavail * fr, 1);
		if (h->sv.f_files > 0)
			health_space(h, "inodes", "disk_inodes", (double)h->sv.f_files,
				     (double)h->sv.f_favail, 0);
	} else {
		c = health_check(h, "disk_space", H_WARNING, 10);
		snprintf(c->detail, sizeof(c->detail), "statvfs of the backing directory failed: %s",
			 strerror(errno));
	}

	if (sn->integrity_errors) {
		c = health_check(h, "integrity", H_CRITICAL, 40);
		snprintf(c->detail, sizeof(c->detail),
			 "%" PRIu64 " blocks, headers or names failed authentication since mount",
			 sn->integrity_errors);
		health_rec(h, "Data in the backing store was altered or damaged: see %s/.ragstore/errors "
			   "for the files and blocks, restore those files from a backup, and check "
			   "the backing disk (dmesg, smartctl).", h->mnt);
	} else {
		c = health_check(h, "integrity", H_OK, 0);
		snprintf(c->detail, sizeof(c->detail), "no authentication failures since mount");
	}
	snprintf(c->extra, sizeof(c->extra), "\"count\": %" PRIu64, sn->integrity_errors);

	if (sn->io_errors) {
		c = health_check(h, "io_errors", H_WARNING, 20);
		snprintf(c->detail, sizeof(c->detail),
			 "%" PRIu64 " I/O errors from the backing store since mount", sn->io_errors);
		health_rec(h, "Reads or writes of the backing store failed: check the kernel log "
			   "(dmesg) and the backing disk, and see %s/.ragstore/errors for the files "
			   "involved.", h->mnt);
	} else {
		c = health_check(h, "io_errors", H_OK, 0);
		snprintf(c->detail, sizeof(c->detail), "no I/O errors since mount");
	}
	snprintf(c->extra, sizeof(c->extra), "\"count\": %" PRIu64, sn->io_errors);

	if (sc->state == STATS_SCRUB_RUNNING) {
		c = health_check(h, "scrub", H_OK, 0);
		snprintf(c->detail, sizeof(c->detail),
			 "running: %" PRIu64 " files checked, %" PRIu64 " bad blocks so far",
			 sc->files_checked, sc->blocks_bad);
	} else if (sc->last_finished && (sc->blocks_bad || sc->files_bad)) {
		c = health_check(h, "scrub", H_CRITICAL, 30);
		snprintf(c->detail, sizeof(c->detail),
			 "the last scrub found %" PRIu64 " damaged files (%" PRIu64 " bad blocks)",
			 sc->files_bad, sc->blocks_bad);
		health_rec(h, "The last scrub found damaged files: restore the files listed in "
			   "%s/.ragstore/errors from a backup, then scrub again "
			   "(echo scrub > %s/.ragstore/control).", h->mnt, h->mnt);
	} else if (sc->last_finished && sn->now - sc->last_finished > SCRUB_MAX_AGE) {
		c = health_check(h, "scrub", H_WARNING, 10);
		snprintf(c->detail, sizeof(c->detail), "the last scrub finished %lld days ago",
			 (long long)((sn->now - sc->last_finished) / 86400));
		health_rec(h, "Verify the store again: echo scrub > %s/.ragstore/control "
			   "(and schedule it monthly).", h->mnt);
	} else if (sc->last_finished) {
		c = health_check(h, "scrub", H_OK, 0);
		snprintf(c->detail, sizeof(c->detail),
			 "the last scrub checked %" PRIu64 " files and found no damage",
			 sc->files_checked);
	} else {
		c = health_check(h, "scrub", H_OK, 0);
		snprintf(c->detail, sizeof(c->detail), "no scrub has completed on this store%s",
			 sc->aborted ? " (the last one was stopped by unmount)" : "");
		if (sn->totals.files > 0)
			health_rec(h, "No scrub has verified this store yet: run "
				   "echo scrub > %s/.ragstore/control to check every block, "
				   "and schedule it monthly.", h->mnt);
	}
	{
		int age = sc->last_finished ? (int)(sn->now - sc->last_finished) : -1;

		snprintf(c->extra, sizeof(c->extra),
			 "\"state\": \"%s\", \"age_seconds\": %d, \"blocks_bad\": %" PRIu64,
			 sc->state == STATS_SCRUB_RUNNING ? "running"
			 : sc->state == STATS_SCRUB_DONE ? "done" : "idle",
			 age, sc->blocks_bad);
	}

	{
		double ratio = ratio_of(&sn->totals);

		if (sn->totals.logical >= COMPRESS_MIN_LOGICAL && ratio > 1.0) {
			c = health_check(h, "compression", H_WARNING, 5);
			snprintf(c->detail, sizeof(c->detail),
				 "the store takes %.0f%% of the size of its files: the data does "
				 "not compress and many files are small", ratio * 100);
			health_rec(h, "Stored data is larger than the files it holds: for data that "
				   "does not compress, a store made with --compression none saves "
				   "CPU time, and packing many small files into archives saves the "
				   "4 KiB header each file costs.");
		} else {
			c = health_check(h, "compression", H_OK, 0);
			if (sn->totals.logical > 0)
				snprintf(c->detail, sizeof(c->detail),
					 "stored bytes are %.1f%% of logical bytes", ratio * 100);
			else
				snprintf(c->detail, sizeof(c->detail), "the store holds no data");
		}
		snprintf(c->extra, sizeof(c->extra), "\"ratio\": %.4f", ratio);
	}

	if (sn->totals_rebuilding || sn->totals_rebuilt || sn->totals_untrusted) {
		int unclean = sn->totals_load == STATS_LOAD_UNCLEAN;
		enum hstatus st = unclean ? H_WARNING : H_OK;

		c = health_check(h, "totals", st, unclean ? 5 : 0);
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
		c = health_check(h, "totals", H_OK, 0);
		snprintf(c->detail, sizeof(c->detail),
			 "store totals were saved by a clean unmount and are kept up to date");
	}
	snprintf(c->extra, sizeof(c->extra),
		 "\"rebuilding\": %s, \"rebuilt_after_unclean_shutdown\": %s",
		 sn->totals_rebuilding ? "true" : "false",
		 sn->totals_load == STATS_LOAD_UNCLEAN ? "true" : "false");

	if (h->score < 0)
		h->score = 0;
}

/* ---- renderers -------------------------------------------------------- */

static const char *scrub_state_name(int st)
{
	return st == STATS_SCRUB_RUNNING ? "running" : st == STATS_SCRUB_DONE ? "done" : "idle";
}

static void render_stats(struct store *s, const struct stats_snapshot *sn, struct out *o)
{
	const struct stats_totals *t = &sn->totals;
	const struct stats_scrub *sc = &sn->scrub;

	(void)s;
	out_printf(o, "{\n");
	out_printf(o, "  \"logical_bytes\": %" PRId64 ",\n", t->logical);
	out_printf(o, "  \"stored_bytes\": %" PRId64 ",\n", t->stored);
	out_printf(o, "  \"ratio\": %.6f,\n", ratio_of(t));
	out_printf(o, "  \"savings_bytes\": %" PRId64 ",\n", t->logical - t->stored);
	out_printf(o, "  \"files\": %" PRId64 ",\n", t->files);
	out_printf(o, "  \"directories\": %" PRId64 ",\n", t->dirs);
	out_printf(o, "  \"algorithms\": {");
	for (int i = 0; i < STATS_ALGO_COUNT; i++)
		out_printf(o, "%s\n    \"%s\": {\"files\": %" PRId64 ", \"logical_bytes\": %" PRId64
			   ", \"stored_bytes\": %" PRId64 "}", i ? "," : "", codec_name((uint8_t)i),
			   t->algo[i].files, t->algo[i].logical, t->algo[i].stored);
	out_printf(o, "\n  },\n");
	out_printf(o, "  \"totals\": {\"state\": \"%s\", \"rebuilt_after_unclean_shutdown\": %s, "
		   "\"rebuilt_at\": ",
		   sn->totals_rebuilding ? "rebuilding" : sn->totals_untrusted ? "untrusted"
		   : sn->totals_rebuilt ? "rebuilt" : "exact",
		   sn->totals_load == STATS_LOAD_UNCLEAN ? "true" : "false");
	json_time(o, sn->totals_rebuilt ? sn->totals_rebuilt_at : 0);
	out_printf(o, "},\n");
	out_printf(o, "  \"ops\": {");
	for (int i = 0; i < STATS_OP_COUNT; i++)
		out_printf(o, "%s\"%s\": %" PRIu64, i ? ", " : "", stats_op_name((enum stats_op)i),
			   sn->ops[i]);
	out_printf(o, "},\n  \"op_errors\": {");
	for (int i = 0; i < STATS_OP_COUNT; i++)
		out_printf(o, "%s\"%s\": %" PRIu64, i ? ", " : "", stats_op_name((enum stats_op)i),
			   sn->op_errors[i]);
	out_printf(o, "},\n  \"latency\": {");
	for (int i = 0; i < STATS_OP_COUNT; i++)
		out_printf(o, "%s\n    \"%s\": {\"count\": %" PRIu64 ", \"p50_us\": %.3f, "
			   "\"p99_us\": %.3f}", i ? "," : "", stats_op_name((enum stats_op)i),
			   sn->lat_count[i], (double)sn->lat_p50_ns[i] / 1000.0,
			   (double)sn->lat_p99_ns[i] / 1000.0);
	out_printf(o, "\n  },\n");
	out_printf(o, "  \"bytes_read\": %" PRIu64 ",\n", sn->bytes_read);
	out_printf(o, "  \"bytes_written\": %" PRIu64 ",\n", sn->bytes_written);
	out_printf(o, "  \"integrity_errors\": %" PRIu64 ",\n", sn->integrity_errors);
	out_printf(o, "  \"io_errors\": %" PRIu64 ",\n", sn->io_errors);
	out_printf(o, "  \"cache_hits\": %" PRIu64 ",\n", sn->cache_hits);
	out_printf(o, "  \"cache_misses\": %" PRIu64 ",\n", sn->cache_misses);
	out_printf(o, "  \"uptime_seconds\": %.3f,\n", sn->uptime_seconds);
	out_printf(o, "  \"scrub\": {\"state\": \"%s\", \"files_checked\": %" PRIu64
		   ", \"files_bad\": %" PRIu64 ", \"blocks_checked\": %" PRIu64
		   ", \"blocks_bad\": %" PRIu64 ", \"aborted\": %s, \"last_started\": ",
		   scrub_state_name(sc->state), sc->files_checked, sc->files_bad,
		   sc->blocks_checked, sc->blocks_bad, sc->aborted ? "true" : "false");
	json_time(o, sc->last_started);
	out_printf(o, ", \"last_finished\": ");
	json_time(o, sc->last_finished);
	out_printf(o, "}\n}\n");
}

static void render_health(const struct health *h, struct out *o)
{
	out_printf(o, "{\n  \"score\": %d,\n  \"status\": \"%s\",\n  \"checks\": {", h->score,
		   hstatus_name[h->status]);
	for (int i = 0; i < h->nchecks; i++) {
		const struct hcheck *c = &h->checks[i];

		out_printf(o, "%s\n    \"%s\": {\"status\": \"%s\", \"detail\": ", i ? "," : "",
			   c->name, hstatus_name[c->status]);
		json_str(o, c->detail);
		if (c->extra[0])
			out_printf(o, ", %s", c->extra);
		out_printf(o, "}");
	}
	out_printf(o, "\n  },\n  \"recommendations\": [");
	for (int i = 0; i < h->nrecs; i++) {
		out_printf(o, "%s\n    ", i ? "," : "");
		json_str(o, h->recs[i]);
	}
	out_printf(o, "%s]\n}\n", h->nrecs ? "\n  " : "");
}

static void metric_head(struct out *o, const char *name, const char *type, const char *help)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_metrics(const struct stats_snapshot *sn, const struct health *h,
			   struct out *o)
{
	const struct stats_totals *t = &sn->totals;
	static const struct {
		const char *name, *help;
	} algo_m[3] = {
		{ "ragstore_algorithm_files", "Regular files by compression setting." },
		{ "ragstore_algorithm_logical_bytes", "Logical bytes by compression setting." },
		{ "ragstore_algorithm_stored_bytes", "Backing bytes by compression setting." },
	};

	metric_head(o, "ragstore_logical_bytes", "gauge", "Sum of the logical sizes of all files.");
	out_printf(o, "ragstore_logical_bytes %" PRId64 "\n", t->logical);
	metric_head(o, "ragstore_stored_bytes", "gauge",
		    "Allocation of the backing files (st_blocks*512, headers included).");
	out_printf(o, "ragstore_stored_bytes %" PRId64 "\n", t->stored);
	metric_head(o, "ragstore_savings_bytes", "gauge",
		    "Logical minus stored bytes (negative when storage costs more).");
	out_printf(o, "ragstore_savings_bytes %" PRId64 "\n", t->logical - t->stored);
	metric_head(o, "ragstore_compression_ratio", "gauge",
		    "Stored bytes divided by logical bytes (0 when empty).");
	out_printf(o, "ragstore_compression_ratio %.6f\n", ratio_of(t));
	metric_head(o, "ragstore_files", "gauge", "Regular files (each inode once).");
	out_printf(o, "ragstore_files %" PRId64 "\n", t->files);
	metric_head(o, "ragstore_directories", "gauge", "Directories, not counting the root.");
	out_printf(o, "ragstore_directories %" PRId64 "\n", t->dirs);
	for (int m = 0; m < 3; m++) {
		metric_head(o, algo_m[m].name, "gauge", algo_m[m].help);
		for (int i = 0; i < STATS_ALGO_COUNT; i++) {
			const struct stats_algo *a = &t->algo[i];

			out_printf(o, "%s{algorithm=\"%s\"} %" PRId64 "\n", algo_m[m].name,
				   codec_name((uint8_t)i),
				   m == 0 ? a->files : m == 1 ? a->logical : a->stored);
		}
	}
	metric_head(o, "ragstore_totals_rebuilding", "gauge",
		    "1 while the store totals are being rebuilt by a walk.");
	out_printf(o, "ragstore_totals_rebuilding %d\n", sn->totals_rebuilding);
	metric_head(o, "ragstore_totals_rebuilt_after_unclean_shutdown", "gauge",
		    "1 when this mount found the totals left by an unclean shutdown.");
	out_printf(o, "ragstore_totals_rebuilt_after_unclean_shutdown %d\n",
		   sn->totals_load == STATS_LOAD_UNCLEAN);

	metric_head(o, "ragstore_operations_total", "counter", "Filesystem operations by class.");
	for (int i = 0; i < STATS_OP_COUNT; i++)
		out_printf(o, "ragstore_operations_total{op=\"%s\"} %" PRIu64 "\n",
			   stats_op_name((enum stats_op)i), sn->ops[i]);
	metric_head(o, "ragstore_operation_errors_total", "counter",
		    "Filesystem operations that returned an error, by class.");
	for (int i = 0; i < STATS_OP_COUNT; i++)
		out_printf(o, "ragstore_operation_errors_total{op=\"%s\"} %" PRIu64 "\n",
			   stats_op_name((enum stats_op)i), sn->op_errors[i]);
	metric_head(o, "ragstore_operation_duration_seconds", "summary",
		    "Latency of filesystem operations by class (from a log-linear histogram).");
	for (int i = 0; i < STATS_OP_COUNT; i++) {
		const char *op = stats_op_name((enum stats_op)i);

		out_printf(o, "ragstore_operation_duration_seconds{op=\"%s\",quantile=\"0.5\"} %.9f\n",
			   op, (double)sn->lat_p50_ns[i] / 1e9);
		out_printf(o, "ragstore_operation_duration_seconds{op=\"%s\",quantile=\"0.99\"} %.9f\n",
			   op, (double)sn->lat_p99_ns[i] / 1e9);
		out_printf(o, "ragstore_operation_duration_seconds_sum{op=\"%s\"} %.9f\n", op,
			   (double)sn->lat_sum_ns[i] / 1e9);
		out_printf(o, "ragstore_operation_duration_seconds_count{op=\"%s\"} %" PRIu64 "\n",
			   op, sn->lat_count[i]);
	}
	metric_head(o, "ragstore_read_bytes_total", "counter", "Bytes read by users.");
	out_printf(o, "ragstore_read_bytes_total %" PRIu64 "\n", sn->bytes_read);
	metric_head(o, "ragstore_written_bytes_total", "counter", "Bytes written by users.");
	out_printf(o, "ragstore_written_bytes_total %" PRIu64 "\n", sn->bytes_written);
	metric_head(o, "ragstore_integrity_errors_total", "counter",
		    "Blocks, headers or names that failed authentication.");
	out_printf(o, "ragstore_integrity_errors_total %" PRIu64 "\n", sn->integrity_errors);
	metric_head(o, "ragstore_io_errors_total", "counter", "I/O errors of the backing store.");
	out_printf(o, "ragstore_io_errors_total %" PRIu64 "\n", sn->io_errors);
	metric_head(o, "ragstore_cache_hits_total", "counter", "Cache lookups that hit.");
	out_printf(o, "ragstore_cache_hits_total %" PRIu64 "\n", sn->cache_hits);
	metric_head(o, "ragstore_cache_misses_total", "counter", "Cache lookups that missed.");
	out_printf(o, "ragstore_cache_misses_total %" PRIu64 "\n", sn->cache_misses);
	metric_head(o, "ragstore_uptime_seconds", "gauge", "Seconds since the store was opened.");
	out_printf(o, "ragstore_uptime_seconds %.3f\n", sn->uptime_seconds);

	metric_head(o, "ragstore_scrub_running", "gauge", "1 while a scrub runs.");
	out_printf(o, "ragstore_scrub_running %d\n", sn->scrub.state == STATS_SCRUB_RUNNING);
	metric_head(o, "ragstore_scrub_files_checked", "gauge",
		    "Files verified by the running or last scrub.");
	out_printf(o, "ragstore_scrub_files_checked %" PRIu64 "\n", sn->scrub.files_checked);
	metric_head(o, "ragstore_scrub_files_bad", "gauge",
		    "Damaged files found by the running or last scrub.");
	out_printf(o, "ragstore_scrub_files_bad %" PRIu64 "\n", sn->scrub.files_bad);
	metric_head(o, "ragstore_scrub_blocks_bad", "gauge",
		    "Bad blocks found by the running or last scrub.");
	out_printf(o, "ragstore_scrub_blocks_bad %" PRIu64 "\n", sn->scrub.blocks_bad);
	metric_head(o, "ragstore_scrub_last_finished_timestamp_seconds", "gauge",
		    "Unix time the last scrub finished (0: never).");
	out_printf(o, "ragstore_scrub_last_finished_timestamp_seconds %lld\n",
		   (long long)sn->scrub.last_finished);

	if (h->sv_ok) {
		double fr = (double)h->sv.f_frsize;

		metric_head(o, "ragstore_backing_size_bytes", "gauge",
			    "Size of the backing filesystem.");
		out_printf(o, "ragstore_backing_size_bytes %.0f\n", (double)h->sv.f_blocks * fr);
		metric_head(o, "ragstore_backing_free_bytes", "gauge",
			    "Space available to the daemon on the backing filesystem.");
		out_printf(o, "ragstore_backing_free_bytes %.0f\n", (double)h->sv.f_bavail * fr);
		metric_head(o, "ragstore_backing_inodes", "gauge",
			    "Inodes of the backing filesystem (0: not reported).");
		out_printf(o, "ragstore_backing_inodes %llu\n", (unsigned long long)h->sv.f_files);
		metric_head(o, "ragstore_backing_free_inodes", "gauge",
			    "Inodes available on the backing filesystem.");
		out_printf(o, "ragstore_backing_free_inodes %llu\n",
			   (unsigned long long)h->sv.f_favail);
	}
	metric_head(o, "ragstore_health_score", "gauge", "Health score 0-100 (see health).");
	out_printf(o, "ragstore_health_score %d\n", h->score);
	metric_head(o, "ragstore_health_status", "gauge",
		    "Health status: 0 ok, 1 warning, 2 critical.");
	out_printf(o, "ragstore_health_status %d\n", (int)h->status);
}

/* ini values are single lines; a path with a newline would break that. */
static void ini_value(struct out *o, const char *key, const char *v)
{
	out_printf(o, "%s = ", key);
	for (; *v; v++)
		out_printf(o, "%s", *v == '\n' ? "\\n" : *v == '\\' ? "\\\\" : (char[2]){ *v, 0 });
	out_printf(o, "\n");
}

static void render_config(struct store *s, struct out *o)
{
	const struct store_desc *d = &s->desc;
	char codec[32], mnt[PATH_MAX], opts[4096], abs[PATH_MAX];

	codec_format(&d->codec, codec, sizeof(codec));
	out_printf(o, "# Effective configuration of this mount (no secrets); see docs/STATS.md.\n");
	out_printf(o, "[store]\n");
	ini_value(o, "backing", vdir_backing_path(s, abs, sizeof(abs)) == 0 ? abs : s->backing);
	out_printf(o, "uuid = %s\n", d->uuid);
	out_printf(o, "format_version = %d\n", d->version);
	out_printf(o, "cipher = %s\n", crypto_cipher_name(d->cipher));
	out_printf(o, "encryption = %s\n", d->cipher == CIPHER_NONE ? "no" : "yes");
	out_printf(o, "names = %s\n", s->names ? "encrypted" : "plaintext");
	out_printf(o, "block_size = %u\n", (unsigned)d->block_size);
	out_printf(o, "compression = %s\n", codec);
	if (d->cipher != CIPHER_NONE) {
		out_printf(o, "kdf_ops = %" PRIu64 "\n", d->kdf_ops);
		out_printf(o, "kdf_mem = %" PRIu64 "\n", d->kdf_mem);
	}
	out_printf(o, "\n[mount]\n");
	if (vdir_mount_info(s, mnt, sizeof(mnt), opts, sizeof(opts)) == 0) {
		ini_value(o, "mountpoint", mnt);
		ini_value(o, "options", opts);
	} else {
		out_printf(o, "# mount point and options not found in /proc/self/mountinfo\n");
	}
	out_printf(o, "\n[policies]\n");
	out_printf(o, "# Retention policies are not available in this version.\n");
}

/* Render file kind into a new buffer.  Returns 0 or -errno. */
static int vdir_render(struct store *s, enum vfile kind, char **buf, size_t *len)
{
	struct out o = { 0 };
	struct stats_snapshot *sn = NULL;
	struct health *h = NULL;

	if (kind == VF_ERRORS) {
		*buf = stats_errors_text(s->stats, len);
		return *buf ? 0 : -ENOMEM;
	}
	if (kind != VF_CONFIG) {
		sn = malloc(sizeof(*sn));
		h = malloc(sizeof(*h));
		if (!sn || !h) {
			free(sn);
			free(h);
			return -ENOMEM;
		}
		stats_snapshot(s->stats, sn);
		if (kind != VF_STATS)
			health_compute(s, sn, h);
	}
	switch (kind) {
	case VF_STATS:
		render_stats(s, sn, &o);
		break;
	case VF_HEALTH:
		render_health(h, &o);
		break;
	case VF_METRICS:
		render_metrics(sn, h, &o);
		break;
	default:
		render_config(s, &o);
		break;
	}
	free(sn);
	free(h);
	if (o.err) {
		free(o.p);
		return o.err;
	}
	*buf = o.p;
	*len = o.len;
	return 0;
}

/* ---- operations ------------------------------------------------------- */

int vdir_getattr(struct store *s, int k, struct stat *st)
{
	struct stat root;

	if (k != VDIR_DIR && (k < 0 || k >= VF_COUNT))
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	/* Owned like the root of the mount, so that with default_permissions
	 * its owner (and root) may write control and nobody else may. */
	if (fstat(s->rootfd, &root) == 0) {
		st->st_uid = root.st_uid;
		st->st_gid = root.st_gid;
	}
	st->st_ino = VDIR_INO_BASE + (ino_t)(k + 1);
	st->st_atime = st->st_mtime = st->st_ctime = time(NULL);
	st->st_blksize = 4096;
	if (k == VDIR_DIR) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		/* Size 0: contents are rendered at open; direct I/O makes the
		 * kernel read past it. */
		st->st_mode = S_IFREG | vfiles[k].mode;
		st->st_nlink = 1;
	}
	return 0;
}

int vdir_open(struct store *s, int k, int flags, struct vdir_handle **out)
{
	struct vdir_handle *h;
	int acc = flags & O_ACCMODE, r;

	if (k == VDIR_DIR)
		return -EISDIR;
	if (k < 0 || k >= VF_COUNT)
		return -ENOENT;
	/* Checked here too because root passes default_permissions. */
	if (k == VF_CONTROL ? acc != O_WRONLY : (acc != O_RDONLY || (flags & O_TRUNC)))
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->kind = (enum vfile)k;
	if (k != VF_CONTROL) {
		r = vdir_render(s, h->kind, &h->buf, &h->len);
		if (r < 0) {
			free(h);
			return r;
		}
	}
	*out = h;
	return 0;
}

int vdir_read(struct vdir_handle *h, char *buf, size_t size, off_t off)
{
	size_t n;

	if (h->kind == VF_CONTROL)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if ((uint64_t)off >= h->len)
		return 0;
	n = h->len - (size_t)off;
	if (n > size)
		n = size;
	if (n > INT_MAX)
		n = INT_MAX;
	memcpy(buf, h->buf + off, n);
	return (int)n;
}

/* One write call carries one command, optionally followed by a newline
 * (what echo and printf produce).  A command split over several write
 * calls is not reassembled: each piece is judged on its own. */
int vdir_write(struct store *s, struct vdir_handle *h, const char *buf, size_t size)
{
	char cmd[64];
	size_t n = size;
	int r;

	if (h->kind != VF_CONTROL)
		return -EBADF;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	if (n >= sizeof(cmd) || memchr(buf, '\0', n)) {
		log_msg(LOG_LVL_WARN, "/%s/control: command not understood", VDIR_NAME);
		return -EINVAL;
	}
	memcpy(cmd, buf, n);
	cmd[n] = '\0';
	if (!strcmp(cmd, "scrub")) {
		r = scrub_start(s);
		if (r == -EBUSY)
			log_msg(LOG_LVL_INFO, "/%s/control: a scrub is already running", VDIR_NAME);
		else if (r < 0)
			log_msg(LOG_LVL_ERROR, "/%s/control: cannot start a scrub: %s", VDIR_NAME,
				strerror(-r));
		return r < 0 ? r : (int)size;
	}
	if (!strcmp(cmd, "cleanup") || !strcmp(cmd, "cleanup --dry-run")) {
		log_msg(LOG_LVL_WARN, "/%s/control: %s: retention policies are not available "
			"in this version", VDIR_NAME, cmd);
		return -EINVAL;
	}
	log_msg(LOG_LVL_WARN, "/%s/control: unknown command \"%s\" (known: scrub, cleanup, "
		"cleanup --dry-run)", VDIR_NAME, cmd);
	return -EINVAL;
}

int vdir_truncate(int k)
{
	if (k == VDIR_DIR)
		return -EISDIR;
	if (k < 0 || k >= VF_COUNT)
		return -ENOENT;
	return k == VF_CONTROL ? 0 : -EACCES;
}

void vdir_release(struct vdir_handle *h)
{
	if (!h)
		return;
	free(h->buf);
	free(h);
}

int vdir_start(struct store *s)
{
	struct stats_snapshot sn;
	char backing[PATH_MAX];
	int r = vdir_backing_path(s, backing, sizeof(backing)), loaded = r == 0;

	if (loaded)
		r = stats_load(s->stats, backing);
	if (r < 0)
		log_msg(LOG_LVL_WARN, "%s: store totals: %s", s->backing, strerror(-r));
	stats_snapshot(s->stats, &sn);
	/* Failing to count is no reason to refuse the mount: the totals then
	 * say they are untrusted, and the next mount tries again. */
	if (!loaded || sn.totals_untrusted) {
		r = scrub_rebuild_start(s);
		if (r < 0)
			log_msg(LOG_LVL_ERROR, "cannot start rebuilding the store totals: %s",
				strerror(-r));
	}
	return 0;
}

void vdir_stop(struct store *s)
{
	char backing[PATH_MAX];
	int r;

	scrub_stop();
	r = vdir_backing_path(s, backing, sizeof(backing));
	if (r == 0)
		r = stats_save(s->stats, backing);
	if (r < 0)
		log_msg(LOG_LVL_ERROR, "%s: saving the store totals failed: %s; they will be "
			"rebuilt at the next mount", s->backing, strerror(-r));
}
