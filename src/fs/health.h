/* health.h - the health policy of a running store: which checks it makes
 * (backing disk space and inodes, integrity and I/O errors, the last scrub,
 * compression, the store totals), how each moves the 0-100 score and the
 * status, and which recommendations it gives.  docs/STATS.md lists them.
 * Computes; renders nothing (see render.h).  No FUSE here. */
#ifndef RAGSTORE_HEALTH_H
#define RAGSTORE_HEALTH_H

#include <limits.h>
#include <sys/statvfs.h>

#include "stats.h"
#include "store.h"

/* Ordered by gravity: the status of a store is its worst check's. */
enum health_status { HEALTH_OK, HEALTH_WARNING, HEALTH_CRITICAL };

#define HEALTH_MAX_CHECKS 8
#define HEALTH_MAX_RECS 8

struct health_check {
	const char *name;   /* a JSON key: "disk_space", "integrity", ... (static) */
	enum health_status status;
	char detail[512];   /* one plain sentence for people */
	char extra[256];    /* more JSON members, already rendered, or "" */
};

/* The verdict, self-contained: it holds no pointer into the store. */
struct health {
	int score;                  /* 0..100 */
	enum health_status status;
	struct health_check checks[HEALTH_MAX_CHECKS];
	int nchecks;
	char recs[HEALTH_MAX_RECS][512]; /* recommendations, full sentences */
	int nrecs;
	struct statvfs sv;          /* of the backing filesystem, valid if sv_ok */
	int sv_ok;
	char mnt[PATH_MAX];         /* the mount point, or "MOUNTPOINT" if unknown */
};

/* Judge store s from snapshot sn (taken by the caller) and the backing
 * filesystem as it is now, into *h (some 15 KiB: callers allocate it on
 * the heap).  Cannot fail: a check that cannot be made is a warning. */
void health_compute(const struct store *s, const struct stats_snapshot *sn, struct health *h);

/* "ok", "warning" or "critical". */
const char *health_status_name(enum health_status st);

/* Stored bytes divided by logical bytes, 0 for an empty store: the figure
 * the compression check judges and the renderers print. */
double health_ratio(const struct stats_totals *t);

/* "idle", "running" or "done" for an enum stats_scrub_state, as the scrub
 * check and the renderers name it. */
const char *health_scrub_state_name(int state);

/* Figures derived from a scrub's counters: progress 0..1 (by logical bytes,
 * by files when the store holds no bytes; 1 once done), the rate in logical
 * bytes per second over its run, and the seconds left at that rate (-1 when
 * not running or not yet known). */
struct health_scrub_pace {
	double progress, rate, eta;
};
void health_scrub_pace(const struct stats_scrub *sc, struct health_scrub_pace *p);

/* How the last scrub ended: "clean", "damaged", "stopped" (scrub --stop),
 * "interrupted" (unmount), or NULL (running, or none this mount knows). */
const char *health_scrub_result(const struct stats_scrub *sc);

#endif
