/* stats_shared.c - the store totals in shared mode (docs/SHARED.md).
 *
 * Several daemons change the store at once, so no daemon's totals are the
 * store's.  Each keeps the totals as of its last merge with
 * BACKING/ragstore.stats (st->merged) besides its own running ones; a merge
 * (at /.ragstore/stats, after a rebuild walk, at unmount) takes the file's
 * write lock, adds this daemon's change since its last merge to the file's
 * totals, writes the file and takes its totals as its own.  So the file
 * holds every change merged so far, and a daemon shows the store's totals
 * as of its last merge plus its own changes since.
 *
 * BACKING/ragstore.lock is an empty file that only carries locks (OFD
 * locks, as the files' own, shared.h): byte 0 is write-locked around each
 * read-modify-write of ragstore.stats, byte 1 is read-locked by every
 * shared daemon while it is mounted, so that a daemon can tell whether it
 * is alone.  The file also counts the shared daemons (shared_daemons, up at
 * mount, down at a clean unmount) and every mount ever counted in
 * (shared_joins).
 *
 * Trust: the first daemon (no other holds byte 1) trusts a "clean" file as
 * a lone daemon does, and else rebuilds the totals by a walk; a daemon that
 * joins trusts the file only when it says "shared" (the daemons running
 * trust it).  A rebuild walk's result becomes the file's totals only when no
 * daemon joined during the walk.  The last daemon out writes "clean" only
 * when the count comes back to zero; a daemon that died without unmounting
 * leaves it above zero, so the file says "in-use" and the next mount
 * rebuilds.  A daemon that does not trust the totals never merges. */
#include "stats_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "log.h"

#define LOCK_FILE "ragstore.lock"
#define LOCK_TOTALS 0 /* write lock: ragstore.stats is being read and rewritten */
#define LOCK_ALIVE 1  /* read lock: a shared daemon is mounted */

static int lockfile_open(struct backend *be, const char *backing)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", backing, LOCK_FILE) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return backend_openat(be, AT_FDCWD, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
}

static int totals_lock(struct stats *st)
{
	return backend_setlk(st->be, st->lockfd, F_WRLCK, LOCK_TOTALS, 1, 1);
}

static void totals_unlock(struct stats *st)
{
	backend_setlk(st->be, st->lockfd, F_UNLCK, LOCK_TOTALS, 1, 0);
}

/* No totals file to share: this daemon's totals are untrusted and it
 * never merges.  Its changes are lost to the file, so a file that still
 * says clean must not be trusted by the next mount: it is removed (as
 * stats_load does when it cannot mark the file in use). */
static int load_failed(struct stats *st, const char *backing, int r)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", backing, STATS_FILE) < (int)sizeof(path))
		backend_unlinkat(st->be, AT_FDCWD, path, 0);
	if (st->lockfd >= 0)
		backend_close(st->be, st->lockfd);
	st->lockfd = -1;
	pthread_mutex_lock(&st->mu);
	st->untrusted = 1;
	st->load = STATS_LOAD_BAD;
	st->shared = 1;
	pthread_mutex_unlock(&st->mu);
	return r;
}

int stats_shared_load(struct stats *st, const char *backing)
{
	struct stats_file f;
	struct stats_scrub sc;
	int fd = lockfile_open(st->be, backing), others, trusted, daemons, r;

	if (fd < 0)
		return load_failed(st, backing, fd);
	st->lockfd = fd;
	r = totals_lock(st);
	if (r < 0)
		return load_failed(st, backing, r);
	others = backend_ofdtest(st->be, fd, F_WRLCK, LOCK_ALIVE, 1);
	r = others < 0 ? others : backend_setlk(st->be, fd, F_RDLCK, LOCK_ALIVE, 1, 0);
	if (r == 0)
		r = stats_file_read(st->be, backing, &f);
	if (r < 0) {
		totals_unlock(st);
		return load_failed(st, backing, r);
	}
	trusted = f.found && !f.bad && f.state == (others ? STATS_FILE_SHARED : STATS_FILE_CLEAN);
	daemons = (others && !f.bad ? f.daemons : 0) + 1;
	pthread_mutex_lock(&st->mu);
	if (!f.bad)
		stats_file_scrub_take(st, &f.sc);
	st->load = trusted ? STATS_LOAD_CLEAN : !f.found ? STATS_LOAD_MISSING
			  : f.bad ? STATS_LOAD_BAD : STATS_LOAD_UNCLEAN;
	if (trusted)
		stats_totals_add(&st->totals, &f.t, 1);
	st->untrusted = !trusted;
	st->merged = f.t;
	st->shared = 1;
	st->shared_daemons = daemons;
	sc = st->scrub;
	pthread_mutex_unlock(&st->mu);
	r = stats_file_write(st->be, backing, &f.t, &sc,
			     trusted ? STATS_FILE_SHARED : STATS_FILE_INUSE, daemons, f.joins + 1);
	totals_unlock(st);
	if (!trusted)
		log_msg(LOG_LVL_WARN, "%s/%s: store totals %s", backing, STATS_FILE,
			others ? "are not trusted by the shared daemons running; they are "
				 "rebuilt when the store is next mounted alone"
			       : "were not saved by a clean unmount; rebuilding them");
	if (r < 0)
		return r;
	return trusted ? 1 : others ? 2 : 0;
}

void stats_shared_walk_begin(struct stats *st, const char *backing)
{
	struct stats_file f;

	if (st->lockfd < 0 || totals_lock(st) < 0)
		return;
	if (stats_file_read(st->be, backing, &f) == 0)
		st->walk_joins = f.joins;
	totals_unlock(st);
}

int stats_shared_merge(struct stats *st, const char *backing, int final)
{
	struct stats_totals add, t;
	struct stats_scrub sc;
	struct stats_file f;
	int state, daemons, others = 0, r;

	if (st->lockfd < 0)
		return 0;
	r = totals_lock(st);
	if (r == 0)
		r = stats_file_read(st->be, backing, &f);
	if (r < 0)
		goto out;
	daemons = f.bad ? 0 : f.daemons;
	pthread_mutex_lock(&st->mu);
	if (!st->untrusted && !st->rebuilding && f.found && !f.bad &&
	    f.state == STATS_FILE_SHARED) {
		/* What this daemon changed since its last merge, on top of
		 * what every daemon merged. */
		add = st->totals;
		stats_totals_add(&add, &st->merged, -1);
		t = f.t;
		stats_totals_add(&t, &add, 1);
		st->totals = t;
		state = STATS_FILE_SHARED;
	} else if (!st->untrusted && !st->rebuilding && !f.bad && f.joins == st->walk_joins) {
		/* A rebuild walk that no mount joined during: the truth. */
		t = st->totals;
		state = STATS_FILE_SHARED;
	} else {
		st->untrusted = 1;
		t = f.t;
		state = STATS_FILE_INUSE;
	}
	st->merged = t;
	sc = st->scrub;
	pthread_mutex_unlock(&st->mu);
	if (final) {
		daemons = daemons > 0 ? daemons - 1 : 0;
		others = backend_ofdtest(st->be, st->lockfd, F_WRLCK, LOCK_ALIVE, 1);
		/* The last one out: clean only if every daemon counted in
		 * has left cleanly. */
		if (others == 0)
			state = state == STATS_FILE_SHARED && daemons == 0 ? STATS_FILE_CLEAN
									 : STATS_FILE_INUSE;
	}
	pthread_mutex_lock(&st->mu);
	st->shared_daemons = daemons;
	pthread_mutex_unlock(&st->mu);
	r = stats_file_write(st->be, backing, &t, &sc, state,
			     state == STATS_FILE_CLEAN ? 0 : daemons,
			     state == STATS_FILE_CLEAN ? 0 : f.joins);
out:
	totals_unlock(st);
	if (final) {
		backend_close(st->be, st->lockfd);
		st->lockfd = -1;
	}
	return r;
}
