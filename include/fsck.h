/* fsck.h - the offline check of a whole store, and its repair.  Knows
 * nothing of FUSE; the command line is src/cli/fsck.c and what each check
 * and repair does is docs/FSCK.md.
 *
 * The store must be open with store_open, which has verified the
 * descriptor and holds the store's lock, so no daemon can mount it while
 * the check runs.  Without repair nothing in BACKING is written (not even
 * the size hints or the totals file that opening a file or mounting would
 * fix); with repair only what docs/FSCK.md lists is changed, and nothing
 * that is still readable is deleted. */
#ifndef RAGSTORE_FSCK_H
#define RAGSTORE_FSCK_H

#include <stdint.h>

#include "store.h"

/* Where repair puts what it takes out of the way: entries whose names do
 * not decode go to this directory at the root of the user's tree (named
 * "#" and their backing inode number), files whose header is destroyed to
 * BACKING/lost+found (outside the user's tree: nothing could read them). */
#define FSCK_LOST_FOUND "lost+found"

/* What became of a problem. */
enum fsck_state {
	FSCK_LEFT,     /* not repairable: reported only */
	FSCK_FIXABLE,  /* a check without repair: --repair would fix it */
	FSCK_FIXED,    /* repaired */
	FSCK_FAILED,   /* repair was tried and failed (what says why) */
	FSCK_NOTE,     /* not a problem: worth knowing (and, with repair,
			  perhaps acted on: what says so) */
};

/* One problem.  path is a path in the mount ("/docs/a.txt"; "/dir/?NAME"
 * below an entry whose backing name NAME does not decode), or, for what
 * lies outside the user's tree, a path relative to BACKING that starts
 * with no '/' ("xattrs/66...", "ragstore.stats").  Both strings live only
 * for the duration of the call. */
struct fsck_problem {
	const char *path;
	const char *what;   /* one sentence, no trailing period */
	int state;          /* enum fsck_state */
};

struct fsck_progress {
	uint64_t files_done, files_total;
	uint64_t bytes_done, bytes_total; /* backing allocation of regular files */
};

struct fsck_opts {
	int repair;
	/* Each problem as it is found (required). */
	void (*report)(void *arg, const struct fsck_problem *p);
	/* Progress now and then (at most every 64 blocks).  NULL: none, and
	 * no counting walk before the check. */
	void (*progress)(void *arg, const struct fsck_progress *p);
	void *arg;
};

struct fsck_summary {
	uint64_t dirs, files, symlinks, specials; /* files by inode */
	uint64_t blocks, blocks_bad;              /* blocks checked, failed */
	uint64_t xattr_blobs;                     /* in BACKING/xattrs */
	uint64_t lost_found;                      /* files kept in BACKING/lost+found */
	/* Packs (directory value files holding packed files' records):
	 * how many, their bytes after the directory value, and how many of
	 * those no packed file references (information, not a problem). */
	uint64_t packs, pack_bytes, pack_dead;
	uint64_t problems;                        /* reported, but notes */
	uint64_t notes;
	uint64_t left;                            /* FSCK_LEFT + FSCK_FAILED */
	uint64_t fixable, fixed;
};

/* Check (and with o->repair, repair) the open store s.  Fills *sum.
 * Returns 0 once the check has run to its end (problems are in *sum), or
 * -errno when it could not (the root cannot be read, out of memory). */
int fsck_run(struct store *s, const struct fsck_opts *o, struct fsck_summary *sum);

/* 1 if a ragstore daemon holds the lock of the store at backing (it is
 * mounted), 0 if not, -errno if that cannot be told. */
int fsck_busy(const char *backing);

#endif
