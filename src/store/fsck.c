/* fsck.c - the offline check and repair of a store (see fsck.h and
 * docs/FSCK.md): the run, the entry callbacks of its walk, the top of
 * BACKING and the store totals.  The other parts are listed in fsck_int.h.
 *
 * One walk of the user's tree (walk.h) checks every directory value, name,
 * symlink target, file header and block record, and notes the identity of
 * every object; the extended-attribute blobs are then matched against those
 * identities, and a totals walk is compared with BACKING/ragstore.stats.
 * Everything is read through the format layer's pure functions rather than
 * through ofile_open, which would repair a size hint as it opens: a check
 * must change nothing.  (The repairs of a v2 file that change its index do
 * go through the store layer: see fsck_file2.c.) */
#include "fsck_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "backfile.h"
#include "fallback.h"
#include "names.h"
#include "probe.h"
#include "stats.h"

#define STATS_FILE "ragstore.stats"

/* ---- reporting ---------------------------------------------------------- */

void fsck_problem(struct fsck *k, const char *path, int state, const char *fmt, ...)
{
	struct fsck_problem p = { .path = path, .state = state };
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	p.what = what;
	switch (state) {
	case FSCK_NOTE: k->sum->notes++; break;
	case FSCK_FIXED: k->sum->fixed++; break;
	case FSCK_FIXABLE: k->sum->fixable++; break;
	default: k->sum->left++; break;
	}
	if (state != FSCK_NOTE)
		k->sum->problems++;
	k->o->report(k->o->arg, &p);
}

int fsck_repairable(struct fsck *k, const char *path, int r, const char *what)
{
	if (!k->o->repair) {
		fsck_problem(k, path, FSCK_FIXABLE, "%s", what);
		return 0;
	}
	if (r < 0) {
		fsck_problem(k, path, FSCK_FAILED, "%s; repair failed: %s", what, strerror(-r));
		return 0;
	}
	fsck_problem(k, path, FSCK_FIXED, "%s", what);
	return 1;
}

void fsck_progress(struct fsck *k)
{
	if (k->o->progress)
		k->o->progress(k->o->arg, &k->prog);
}

/* ---- entries ------------------------------------------------------------ */

static void check_symlink(struct fsck *k, const struct walk_entry *e)
{
	struct store *s = k->s;
	char *enc = malloc(NAME_LINK_ENC_CAP + 1), *out = malloc(NAME_LINK_MAX + 1);
	ssize_t n;

	k->sum->symlinks++;
	if (!s->names || !enc || !out)
		goto out;
	n = backend_readlinkat(s->be, e->dfd, e->bname, enc, NAME_LINK_ENC_CAP);
	if (n < 0)
		fsck_problem(k, e->path, FSCK_LEFT, "cannot read the symlink: %s", strerror((int)-n));
	else if (name_link_decrypt(s->key, enc, (size_t)n, out, NAME_LINK_MAX + 1) < 0)
		fsck_problem(k, e->path, FSCK_LEFT, "symlink target does not authenticate: "
			"readlink fails (EIO)");
out:
	free(enc);
	free(out);
}

static int fsck_entry(void *arg, const struct walk_entry *e)
{
	struct fsck *k = arg;

	if (e->type == WALK_INTERNAL) {
		fsck_names_internal(k, e);
		return 1;
	}
	if (e->type == WALK_BADNAME && !e->iv_unknown) {
		/* Checked below like any object, then moved (with --repair)
		 * once its directory is done. */
		if (k->o->repair) {
			int r = fsck_names_queue(k, e);

			if (r < 0)
				return r;
		} else {
			fsck_problem(k, e->path, FSCK_FIXABLE, "%s; --repair moves it to /%s",
				fsck_names_cause(k, e), FSCK_LOST_FOUND);
		}
	}
	if (S_ISDIR(e->st.st_mode))
		k->sum->dirs++;
	else if (S_ISREG(e->st.st_mode) && !e->seen)
		fsck_file_check(k, e);
	else if (S_ISLNK(e->st.st_mode))
		check_symlink(k, e);
	else if (!S_ISREG(e->st.st_mode))
		k->sum->specials++;
	return 0;
}

static int fsck_error(void *arg, const char *path, int r)
{
	struct fsck *k = arg;

	if (r == -ENOMEM)
		return r;
	fsck_problem(k, path, FSCK_LEFT, "cannot be read: %s", strerror(-r));
	return 0;
}

/* ---- BACKING itself ----------------------------------------------------- */

/* Leftovers at the top of BACKING: temporaries of the descriptor and of the
 * totals file that a crash left behind, and the scratch directory of a
 * backing filesystem probe that was killed (probe.h). */
static int check_top(struct fsck *k)
{
	struct backend *be = k->s->be;
	struct backend_dir *d;
	struct dirent *e;
	int r = backend_opendirat(be, k->s->rootfd, "..", O_NOFOLLOW, &d);

	if (r < 0)
		return r;
	while (backend_readdir(be, d, &e) == 1) {
		const char *nm = e->d_name;

		if (!strcmp(nm, STATS_FILE ".tmp") ||
		    !strncmp(nm, "." DESC_FILE ".tmp.", sizeof("." DESC_FILE ".tmp.") - 1))
			fsck_repairable(k, nm, k->o->repair ?
				   backend_unlinkat(be, backend_dirfd(be, d), nm, 0) : 0,
				   "leftover temporary file of an interrupted update");
		else if (probe_is_scratch(nm))
			fsck_repairable(k, nm, k->o->repair ?
				   probe_remove_scratch(be, backend_dirfd(be, d), nm) : 0,
				   "leftover scratch directory of an interrupted probe");
	}
	backend_closedir(be, d);
	return 0;
}

/* ---- the totals --------------------------------------------------------- */

/* What BACKING/ragstore.stats holds, read as a mount reads it, but in a
 * memory backend of its own, so that loading (which marks the file in use)
 * changes nothing on disk.  *state is an enum stats_load_result. */
static int totals_saved(struct fsck *k, struct stats_totals *t, int *state)
{
	struct backend *mem = backend_mem_new();
	struct stats *st = stats_new();
	struct stats_snapshot *snap = malloc(sizeof(*snap));
	char *buf = malloc(8192);
	ssize_t n = 0;
	int r = -ENOMEM;

	if (!mem || !st || !snap || !buf)
		goto out;
	n = backfile_read(k->s->be, k->s->rootfd, "../" STATS_FILE, buf, 8192);
	if (n >= 0)
		r = backfile_replace(mem, AT_FDCWD, STATS_FILE, buf, (size_t)n, 0600);
	else
		r = n == -ENOENT ? 0 : (int)n;
	if (r < 0)
		goto out;
	stats_use_backend(st, mem);
	r = stats_load(st, ".");
	if (r >= 0) {
		stats_snapshot(st, snap);
		*t = snap->totals;
		*state = snap->totals_load;
		r = 0;
	}
out:
	stats_free(st);
	backend_free(mem);
	free(snap);
	free(buf);
	return r;
}

static int totals_differ(const struct stats_totals *a, const struct stats_totals *b,
			 char *out, size_t cap)
{
	if (a->files != b->files || a->dirs != b->dirs || a->logical != b->logical ||
	    a->stored != b->stored) {
		snprintf(out, cap, "store totals are stale: the file says %lld files, %lld "
			 "directories, %lld logical and %lld stored bytes; the tree holds %lld, "
			 "%lld, %lld and %lld", (long long)a->files, (long long)a->dirs,
			 (long long)a->logical, (long long)a->stored, (long long)b->files,
			 (long long)b->dirs, (long long)b->logical, (long long)b->stored);
		return 1;
	}
	for (int i = 0; i < STATS_ALGO_COUNT; i++) {
		if (a->algo[i].files != b->algo[i].files ||
		    a->algo[i].logical != b->algo[i].logical ||
		    a->algo[i].stored != b->algo[i].stored) {
			snprintf(out, cap, "store totals are stale: the figures per compression "
				 "algorithm do not match the tree");
			return 1;
		}
	}
	return 0;
}

/* Save walked as the store's totals, keeping the scrub history. */
static int totals_rebuild(struct fsck *k, struct stats *walked)
{
	int r = stats_load(k->s->stats, k->s->backing);

	if (r < 0)
		return r;
	stats_set_totals(k->s->stats, walked);
	return stats_save(k->s->stats, k->s->backing);
}

static int check_totals(struct fsck *k)
{
	struct stats *walked = stats_new();
	struct stats_snapshot *snap = malloc(sizeof(*snap));
	struct stats_totals saved;
	char what[512];
	int state = STATS_LOAD_NONE, r = -ENOMEM;

	memset(&saved, 0, sizeof(saved));
	if (k->bad_dirivs) {
		/* The totals count what a mount shows, and a mount cannot list
		 * those directories: the daemon could not rebuild them either. */
		fsck_problem(k, STATS_FILE, FSCK_NOTE, "store totals not checked: %d directory(ies) "
			"cannot be listed", k->bad_dirivs);
		r = 0;
		goto out;
	}
	if (!walked || !snap)
		goto out;
	/* What the backing filesystem allocates for data still in its page
	 * cache (a repair's writes) is final only after writeback. */
	if (k->o->repair)
		backend_syncfs(k->s->be, k->s->rootfd);
	r = walk_totals(k->s, walked, NULL);
	if (r == 0)
		r = totals_saved(k, &saved, &state);
	if (r < 0)
		goto out;
	stats_snapshot(walked, snap);
	switch (state) {
	case STATS_LOAD_MISSING:
		goto out; /* a new store, or one older than the file: the mount walks */
	case STATS_LOAD_UNCLEAN:
		/* The daemon itself distrusts such totals and rebuilds them at
		 * the next mount: nothing is wrong. */
		r = k->o->repair ? totals_rebuild(k, walked) : 0;
		fsck_problem(k, STATS_FILE, r < 0 ? FSCK_FAILED : FSCK_NOTE,
			"store totals were not saved by a clean unmount (the daemon stopped "
			"without unmounting, or before it had rebuilt them); %s",
			!k->o->repair ? "the next mount rebuilds them" :
			r < 0 ? "rebuilding them failed" : "rebuilt from the tree");
		r = 0;
		goto out;
	case STATS_LOAD_BAD:
		snprintf(what, sizeof(what), "store totals file is unreadable; it is rebuilt "
			 "from the tree");
		break;
	default:
		if (!totals_differ(&saved, &snap->totals, what, sizeof(what)))
			goto out;
	}
	fsck_repairable(k, STATS_FILE, k->o->repair ? totals_rebuild(k, walked) : 0, what);
out:
	stats_free(walked);
	free(snap);
	return r;
}

/* ---- the run ------------------------------------------------------------ */

static int count_entry(void *arg, const struct walk_entry *e)
{
	struct fsck_progress *p = arg;

	if (S_ISREG(e->st.st_mode) && !e->seen) {
		p->files_total++;
		p->bytes_total += (uint64_t)e->st.st_blocks * 512;
	}
	return 0;
}

static int count_dir_iv(void *arg, int dfd, const char *path, uint8_t *iv)
{
	return 1; /* names do not matter for counting */
}

int fsck_run(struct store *s, const struct fsck_opts *o, struct fsck_summary *sum)
{
	struct fsck k = { .s = s, .o = o, .sum = sum, .lf_fd = -1 };
	struct walk_ops ops = { .dir_iv = fsck_names_dir_iv, .entry = fsck_entry,
				.dir_done = fsck_names_dir_done, .error = fsck_error, .arg = &k,
				.internal = 1, .descend_bad = 1 };
	int r;

	memset(sum, 0, sizeof(*sum));
	if (o->progress) {
		struct walk_ops count = { .dir_iv = count_dir_iv, .entry = count_entry,
					  .arg = &k.prog, .descend_bad = 1 };

		r = walk_tree(s, &count);
		if (r < 0)
			return r;
		fsck_progress(&k);
	}
	r = check_top(&k);
	/* A repair's renames follow the backing filesystem's fallbacks
	 * (fallback.h); a check writes nothing, so it does not probe. */
	if (r == 0 && o->repair)
		store_probe(s);
	if (r == 0)
		r = fsck_xattrs_list(&k);
	if (r == 0) {
		fsck_xattrs_claims(&k);
		r = walk_tree(s, &ops);
	}
	fsck_pack_done(&k);
	if (r == 0) {
		fsck_xattrs_orphans(&k);
		r = check_totals(&k);
	}
	for (size_t i = 0; i < k.nmoves; i++) {
		free(k.moves[i].bname);
		free(k.moves[i].path);
	}
	free(k.moves);
	free(k.blobs);
	free(k.rec);
	free(k.plain);
	free(k.scratch);
	if (k.lf_fd >= 0)
		backend_close(s->be, k.lf_fd);
	return r;
}

int fsck_busy(const char *backing)
{
	struct backend *be = backend_posix();
	char root[PATH_MAX];
	int fd, r;

	if (snprintf(root, sizeof(root), "%s/%s", backing, STORE_ROOT) >= (int)sizeof(root))
		return -ENAMETOOLONG;
	fd = backend_openat(be, AT_FDCWD, root, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd; /* store_open says what is wrong */
	r = fallback_lock(be, fd, LOCK_EX | LOCK_NB);
	if (r == 0)
		fallback_lock(be, fd, LOCK_UN);
	backend_close(be, fd);
	return r == -EWOULDBLOCK ? 1 : r < 0 ? r : 0;
}
