/* scrub.c - the background scrub and the rebuild of the store totals: two
 * walks of the user's tree as the mount shows it (names through pathmap, so
 * internal files are skipped and errors carry user paths). */
#include "scrub.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileheader.h"
#include "log.h"
#include "ofile.h"
#include "pathmap.h"
#include "stats.h"
#include "util.h"

/* A rebuild walk that saw the totals change under it is repeated, since a
 * file changed during the walk may be counted twice or not at all; after
 * this many tries the last walk is taken as it is. */
#define REBUILD_TRIES 5

/* The background threads of the mounted store. */
static struct {
	pthread_mutex_t mu;  /* guards the fields below; taken before no other */
	int stop;            /* atomic: threads poll it between files */
	pthread_t scrub, rebuild;
	int scrub_started;   /* a scrub thread exists and is not joined */
	int scrub_done;      /* atomic: that thread has finished its work */
	int rebuild_started;
} bg = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* ---- inode set: each hard-linked file counts (and is verified) once --- */

struct inoset {
	struct ino_key { dev_t dev; ino_t ino; int used; } *slot;
	size_t cap, n; /* cap is 0 or a power of two */
};

static size_t inoset_hash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ull) ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* 1 if (dev, ino) was already there, 0 if added now, -ENOMEM. */
static int inoset_add(struct inoset *set, dev_t dev, ino_t ino)
{
	size_t i;

	if (2 * (set->n + 1) > set->cap) {
		size_t ncap = set->cap ? 2 * set->cap : 256;
		struct ino_key *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (size_t k = 0; k < set->cap; k++) {
			if (!set->slot[k].used)
				continue;
			i = inoset_hash(set->slot[k].dev, set->slot[k].ino, ncap);
			while (ns[i].used)
				i = (i + 1) & (ncap - 1);
			ns[i] = set->slot[k];
		}
		free(set->slot);
		set->slot = ns;
		set->cap = ncap;
	}
	i = inoset_hash(dev, ino, set->cap);
	while (set->slot[i].used) {
		if (set->slot[i].dev == dev && set->slot[i].ino == ino)
			return 1;
		i = (i + 1) & (set->cap - 1);
	}
	set->slot[i].dev = dev;
	set->slot[i].ino = ino;
	set->slot[i].used = 1;
	set->n++;
	return 0;
}

/* ---- the walk ------------------------------------------------------- */

struct walk {
	struct store *s;
	const int *stop;
	struct inoset seen;
	struct stats *walked; /* totals walk: where to add; NULL for a scrub */
};

struct dent {
	char *bname; /* backing name */
	char *uname; /* the user's name */
};

static void dents_free(struct dent *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].bname);
		free(d[i].uname);
	}
	free(d);
}

static int stopping(const struct walk *w)
{
	return __atomic_load_n(w->stop, __ATOMIC_RELAXED);
}

/* The entries of the backing directory open as dfd, as the user sees
 * them.  The listing is read whole and its stream closed before descending,
 * so a deep tree holds only one O_PATH descriptor per level. */
static int list_dir(struct walk *w, int dfd, const char *user,
		    struct dent **out, size_t *count)
{
	struct store *s = w->s;
	uint8_t iv[NAME_IV_LEN];
	struct dent *d = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *dir;
	int fd, r = 0;

	memset(iv, 0, sizeof(iv));
	if (s->names) {
		r = pathmap_dir_iv(s, dfd, ".", iv);
		if (r < 0)
			return r;
	}
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((e = readdir(dir)) != NULL) {
		char name[NAME_PLAIN_MAX + 1];
		int k;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		k = pathmap_entry_name(s, dirfd(dir), iv, e->d_name, name);
		if (k == 0)
			continue; /* our own file */
		if (k < 0) {
			/* Invisible in the mount as well; the scrub says so. */
			if (!w->walked)
				stats_error(s->stats, 1, user, -1,
					    "directory entry name does not authenticate");
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct dent *nd = realloc(d, ncap * sizeof(*nd));

			if (!nd) {
				r = -ENOMEM;
				break;
			}
			d = nd;
			cap = ncap;
		}
		d[n].bname = strdup(e->d_name);
		d[n].uname = strdup(name);
		n++;
		if (!d[n - 1].bname || !d[n - 1].uname) {
			r = -ENOMEM;
			break;
		}
	}
	closedir(dir);
	if (r < 0) {
		dents_free(d, n);
		return r;
	}
	*out = d;
	*count = n;
	return 0;
}

/* A regular file for the totals: its logical size as stat on the mount
 * shows it, its compression setting from the header, its allocation. */
static int totals_file(struct walk *w, int dfd, const char *rel, const struct stat *st)
{
	struct store *s = w->s;
	uint8_t buf[FH_AREA];
	ssize_t n;
	int fd;

	memset(buf, 0, sizeof(buf));
	fd = util_open_noatime(dfd, rel);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd; /* removed meanwhile */
	n = util_pread_full(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0)
		return (int)n;
	stats_file_delta(w->walked, fh_peek_algo(buf), 1,
			 (int64_t)ofile_stat_size(s, dfd, rel, st), (int64_t)st->st_blocks * 512);
	return 0;
}

/* A regular file for the scrub: every block authenticated.  Damaged blocks
 * are recorded in the error ring by the block reader itself, under the path
 * set here. */
static void scrub_file(struct walk *w, int dfd, const char *rel, const char *user)
{
	struct store *s = w->s;
	uint32_t bs = s->desc.block_size ? s->desc.block_size : 1;
	struct ofile *f;
	uint64_t blocks;
	int r = ofile_open(s, dfd, rel, &f);

	if (r == -ENOENT)
		return; /* removed meanwhile */
	if (r < 0) {
		stats_error(s->stats, r == -EIO, user, -1,
			    r == -EIO ? "file header missing or damaged" : strerror(-r));
		stats_scrub_file(s->stats, 0, 0, 1);
		return;
	}
	ofile_set_path(f, user);
	blocks = (ofile_size(f) + bs - 1) / bs;
	r = ofile_verify(s, f, NULL, NULL);
	ofile_release(s, f);
	if (r < 0) {
		stats_error(s->stats, 0, user, -1, strerror(-r));
		stats_scrub_file(s->stats, blocks, 0, 1);
		return;
	}
	if (r > 0)
		log_msg(LOG_LVL_ERROR, "scrub: %s: %d damaged block(s)", user, r);
	stats_scrub_file(s->stats, blocks, (uint64_t)r, 0);
}

/* The user's path of a child, for messages only: cut short rather than
 * fail when it grows past PATH_MAX. */
static void user_path(char *out, size_t cap, const char *dir, const char *name)
{
	snprintf(out, cap, "%s/%s", strcmp(dir, "/") ? dir : "", name);
}

/* Walk the backing directory bname of pdir ("." for pdir itself). */
static int walk_dir(struct walk *w, int pdir, const char *bname, const char *user)
{
	struct store *s = w->s;
	struct dent *d = NULL;
	size_t n = 0;
	char *cuser = malloc(PATH_MAX);
	int dfd = openat(pdir, bname, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = dfd < 0 ? (errno == ENOENT ? 0 : -errno) : !cuser ? -ENOMEM
		: list_dir(w, dfd, user, &d, &n);

	for (size_t i = 0; i < n && r == 0; i++) {
		struct stat st;

		if (stopping(w)) {
			r = -ECANCELED;
			break;
		}
		user_path(cuser, PATH_MAX, user, d[i].uname);
		if (fstatat(dfd, d[i].bname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				r = -errno;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (w->walked)
				stats_dir_delta(w->walked, 1);
			r = walk_dir(w, dfd, d[i].bname, cuser);
		} else if (S_ISREG(st.st_mode)) {
			int seen = st.st_nlink > 1 ? inoset_add(&w->seen, st.st_dev, st.st_ino) : 0;

			if (seen < 0)
				r = seen;
			else if (seen)
				continue;
			else if (w->walked)
				r = totals_file(w, dfd, d[i].bname, &st);
			else
				scrub_file(w, dfd, d[i].bname, cuser);
		}
		/* A scrub reports what it cannot read and goes on; a totals
		 * walk that misses something would give wrong figures. */
		if (r < 0 && r != -ECANCELED && !w->walked) {
			stats_error(s->stats, 0, cuser, -1, strerror(-r));
			r = 0;
		}
	}
	dents_free(d, n);
	free(cuser);
	if (dfd >= 0)
		close(dfd);
	return r;
}

int scrub_walk_totals(struct store *s, struct stats *walked, const int *stop)
{
	struct walk w = { .s = s, .stop = stop, .walked = walked };
	int r;

	/* Allocation of data still in the page cache is not final (ext4
	 * delayed allocation adds extent blocks at writeback); write it out
	 * so st_blocks stops moving before it is summed. */
	syncfs(s->rootfd);
	r = walk_dir(&w, s->rootfd, ".", "/");

	free(w.seen.slot);
	return r;
}

/* ---- threads ---------------------------------------------------------- */

static void *scrub_main(void *arg)
{
	struct store *s = arg;
	struct walk w = { .s = s, .stop = &bg.stop };
	struct stats_snapshot *snap = malloc(sizeof(*snap));
	int r;

	log_msg(LOG_LVL_INFO, "scrub started");
	r = walk_dir(&w, s->rootfd, ".", "/");
	free(w.seen.slot);
	if (r < 0 && r != -ECANCELED) {
		/* The root itself could not be listed. */
		stats_error(s->stats, r == -EIO, "/", -1, strerror(-r));
	}
	stats_scrub_end(s->stats, r == -ECANCELED);
	if (snap) {
		stats_snapshot(s->stats, snap);
		log_msg(r == -ECANCELED || snap->scrub.blocks_bad || snap->scrub.files_bad
				? LOG_LVL_WARN : LOG_LVL_INFO,
			"scrub %s: %llu files checked, %llu damaged, %llu bad blocks",
			r == -ECANCELED ? "stopped by unmount" : "finished",
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

int scrub_start(struct store *s)
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
	r = spawn(&bg.scrub, scrub_main, s);
	if (r < 0) {
		stats_scrub_end(s->stats, 1);
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

void scrub_stop(void)
{
	pthread_mutex_lock(&bg.mu);
	__atomic_store_n(&bg.stop, 1, __ATOMIC_RELAXED);
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
