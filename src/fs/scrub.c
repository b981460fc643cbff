/* scrub.c - the background scrub and the rebuild of the store totals: two
 * walks of the user's tree as the mount shows it (walk.h: names through
 * pathmap, so internal files are skipped and errors carry user paths). */
#include "scrub.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "ofile.h"
#include "stats.h"
#include "walk.h"

/* A rebuild walk that saw the totals change under it is repeated, since a
 * file changed during the walk may be counted twice or not at all; after
 * this many tries the last walk is taken as it is. */
#define REBUILD_TRIES 5

/* The background threads of the mounted store. */
static struct {
	pthread_mutex_t mu;  /* guards the fields below; taken before no other */
	int stop;            /* atomic: threads poll it between files */
	int scrub_stop;      /* atomic: the scrub polls it (set by stop too) */
	/* The running scrub's pace: written by scrub_start before the thread
	 * exists, then the thread's own. */
	uint64_t limit;      /* logical bytes per second; 0: as fast as it can */
	uint64_t paced;      /* bytes checked, for the limit */
	struct timespec t0;  /* CLOCK_MONOTONIC at its start */
	pthread_t scrub, rebuild;
	int scrub_started;   /* a scrub thread exists and is not joined */
	int scrub_done;      /* atomic: that thread has finished its work */
	int rebuild_started;
} bg = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* ---- the two walks ---------------------------------------------------- */

/* Hold the scrub to bg.limit: after a file of bytes, sleep until the
 * bytes so far are no more than the limit allows, in short naps so that a
 * stop is seen at once. */
static void scrub_pace(uint64_t bytes)
{
	struct timespec now;
	double due, elapsed;

	bg.paced += bytes;
	if (!bg.limit)
		return;
	due = (double)bg.paced / (double)bg.limit;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = (double)(now.tv_sec - bg.t0.tv_sec) +
			  (double)(now.tv_nsec - bg.t0.tv_nsec) / 1e9;
		if (elapsed >= due || __atomic_load_n(&bg.scrub_stop, __ATOMIC_RELAXED))
			return;
		nanosleep(&(struct timespec){ 0, due - elapsed > 0.05 ? 50000000L
					      : (long)((due - elapsed) * 1e9) }, NULL);
	}
}

/* A regular file for the scrub: every block authenticated.  Damaged blocks
 * are recorded in the error ring by the block reader itself, under the path
 * set here. */
static void scrub_file(struct store *s, int dfd, const char *rel, const char *user)
{
	uint32_t bs = s->desc.block_size ? s->desc.block_size : 1;
	struct ofile *f;
	uint64_t blocks, size;
	int r = ofile_open_for(s, dfd, rel, user, 0, &f);

	if (r == -ENOENT)
		return; /* removed meanwhile */
	if (r < 0) {
		/* A damaged or rolled-back header was recorded by the open. */
		if (r != -EIO)
			stats_error(s->stats, 0, user, -1, strerror(-r));
		stats_scrub_file(s->stats, 0, 0, 0, 1);
		return;
	}
	ofile_set_path(f, user);
	size = ofile_size(f);
	blocks = (size + bs - 1) / bs;
	r = ofile_verify(s, f, NULL, NULL);
	ofile_release(s, f);
	if (r < 0) {
		stats_error(s->stats, 0, user, -1, strerror(-r));
		stats_scrub_file(s->stats, size, blocks, 0, 1);
		return;
	}
	if (r > 0)
		log_msg(LOG_LVL_ERROR, "scrub: %s: %d damaged block(s)", user, r);
	stats_scrub_file(s->stats, size, blocks, (uint64_t)r, 0);
	scrub_pace(size);
}

static int scrub_entry(void *arg, const struct walk_entry *e)
{
	struct store *s = arg;

	if (e->type == WALK_BADNAME) {
		/* Invisible in the mount as well; the scrub says so. */
		stats_error(s->stats, 1, e->dir, -1, "directory entry name does not authenticate");
		return 1;
	}
	if (S_ISREG(e->st.st_mode) && !e->seen)
		scrub_file(s, e->dfd, e->bname, e->path);
	return 0;
}

/* A scrub reports what it cannot read and goes on. */
static int scrub_error(void *arg, const char *path, int r)
{
	struct store *s = arg;

	stats_error(s->stats, r == -EIO, path, -1, strerror(-r));
	return 0;
}

int scrub_walk_totals(struct store *s, struct stats *walked, const int *stop)
{
	/* Allocation of data still in the page cache is not final (ext4
	 * delayed allocation adds extent blocks at writeback); write it out
	 * so st_blocks stops moving before it is summed. */
	backend_syncfs(s->be, s->rootfd);
	return walk_totals(s, walked, stop);
}

/* ---- threads ---------------------------------------------------------- */

static void *scrub_main(void *arg)
{
	struct store *s = arg;
	struct walk_ops ops = { .entry = scrub_entry, .error = scrub_error, .arg = s,
				.stop = &bg.scrub_stop };
	struct stats_snapshot *snap = malloc(sizeof(*snap));
	int r, end;

	log_msg(LOG_LVL_INFO, "scrub started");
	r = walk_tree(s, &ops);
	end = r != -ECANCELED ? STATS_SCRUB_END_DONE
	      : __atomic_load_n(&bg.stop, __ATOMIC_RELAXED) ? STATS_SCRUB_END_INTERRUPTED
	      : STATS_SCRUB_END_STOPPED;
	stats_scrub_end(s->stats, end);
	if (snap) {
		stats_snapshot(s->stats, snap);
		log_msg(r == -ECANCELED || snap->scrub.blocks_bad || snap->scrub.files_bad
				? LOG_LVL_WARN : LOG_LVL_INFO,
			"scrub %s: %llu files checked, %llu damaged, %llu bad blocks",
			end == STATS_SCRUB_END_DONE ? "finished"
			: end == STATS_SCRUB_END_STOPPED ? "stopped (scrub --stop)"
			: "stopped by unmount",
			(unsigned long long)snap->scrub.files_checked,
			(unsigned long long)snap->scrub.files_bad,
			(unsigned long long)snap->scrub.blocks_bad);
		free(snap);
	}
	__atomic_store_n(&bg.scrub_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *rebuild_main(void *arg)
{
	struct store *s = arg;
	int r = 0;

	if (s->shared)
		stats_shared_walk_begin(s->stats, s->backing);
	for (int t = 1; t <= REBUILD_TRIES; t++) {
		uint64_t gen = stats_delta_gen(s->stats);
		struct stats *walked = stats_new();

		r = walked ? scrub_walk_totals(s, walked, &bg.stop) : -ENOMEM;
		if (r == 0 && t < REBUILD_TRIES)
			r = stats_set_totals_if(s->stats, walked, gen);
		else if (r == 0)
			stats_set_totals(s->stats, walked);
		stats_free(walked);
		if (r != -EAGAIN)
			break;
	}
	if (r < 0) {
		stats_rebuild_abandon(s->stats);
		log_msg(LOG_LVL_ERROR, "rebuilding the store totals failed: %s; "
			"they will be rebuilt at the next mount", strerror(-r));
	} else {
		log_msg(LOG_LVL_INFO, "store totals rebuilt by a walk of the store");
		/* Shared mode: the walk's result becomes the file's totals
		 * (unless a daemon joined meanwhile). */
		if (s->shared)
			stats_shared_merge(s->stats, s->backing, 0);
	}
	return NULL;
}

/* Background threads must not take the signals that unmount the
 * filesystem: libfuse's handler expects them in the main thread. */
static int spawn(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

int scrub_start(struct store *s, uint64_t limit)
{
	int r;

	pthread_mutex_lock(&bg.mu);
	if (bg.scrub_started && __atomic_load_n(&bg.scrub_done, __ATOMIC_ACQUIRE)) {
		pthread_join(bg.scrub, NULL);
		bg.scrub_started = 0;
	}
	if (bg.scrub_started) {
		r = -EBUSY;
		goto out;
	}
	r = stats_scrub_begin(s->stats);
	if (r < 0)
		goto out;
	bg.scrub_done = 0;
	__atomic_store_n(&bg.scrub_stop, 0, __ATOMIC_RELAXED);
	bg.limit = limit;
	bg.paced = 0;
	clock_gettime(CLOCK_MONOTONIC, &bg.t0);
	r = spawn(&bg.scrub, scrub_main, s);
	if (r < 0) {
		stats_scrub_end(s->stats, STATS_SCRUB_END_INTERRUPTED);
		goto out;
	}
	bg.scrub_started = 1;
out:
	pthread_mutex_unlock(&bg.mu);
	return r;
}

int scrub_rebuild_start(struct store *s)
{
	int r = 0;

	pthread_mutex_lock(&bg.mu);
	if (!bg.rebuild_started) {
		stats_rebuild_begin(s->stats);
		r = spawn(&bg.rebuild, rebuild_main, s);
		if (r < 0)
			stats_rebuild_abandon(s->stats);
		else
			bg.rebuild_started = 1;
	}
	pthread_mutex_unlock(&bg.mu);
	return r;
}

int scrub_cancel(void)
{
	int r = -ENOENT;

	pthread_mutex_lock(&bg.mu);
	if (bg.scrub_started) {
		__atomic_store_n(&bg.scrub_stop, 1, __ATOMIC_RELAXED);
		pthread_join(bg.scrub, NULL);
		bg.scrub_started = 0;
		r = 0;
	}
	pthread_mutex_unlock(&bg.mu);
	return r;
}

void scrub_stop(void)
{
	pthread_mutex_lock(&bg.mu);
	__atomic_store_n(&bg.stop, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&bg.scrub_stop, 1, __ATOMIC_RELAXED);
	if (bg.scrub_started)
		pthread_join(bg.scrub, NULL);
	if (bg.rebuild_started)
		pthread_join(bg.rebuild, NULL);
	bg.scrub_started = 0;
	bg.rebuild_started = 0;
	/* Ready for another mount in this process. */
	__atomic_store_n(&bg.stop, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&bg.mu);
}
