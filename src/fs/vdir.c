/* vdir.c - the hidden /.ragstore directory.  Each open of a read-only file
 * renders one snapshot into a buffer owned by the handle, so a reader sees
 * consistent figures however it splits its reads; control takes commands.
 * See docs/STATS.md for every file and key. */
#include "vdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "health.h"
#include "log.h"
#include "mountinfo.h"
#include "packer.h"
#include "ofile.h"
#include "optimize.h"
#include "render.h"
#include "retention.h"
#include "scrub.h"
#include "stats.h"
#include "strbuf.h"

/* No snapshot grows beyond this (the error ring is the largest). */
#define VDIR_MAX_RENDER (64u << 20)

enum vfile { VF_STATS, VF_HEALTH, VF_METRICS, VF_CONFIG, VF_ERRORS, VF_CONTROL,
	     VF_CLEANUP, VF_COUNT };

_Static_assert(VF_COUNT == VDIR_COUNT, "vdir.h counts the files");

static const struct {
	const char *name;
	mode_t mode;
} vfiles[VF_COUNT] = {
	[VF_STATS] = { "stats", 0444 },     [VF_HEALTH] = { "health", 0444 },
	[VF_METRICS] = { "metrics", 0444 }, [VF_CONFIG] = { "config", 0444 },
	[VF_ERRORS] = { "errors", 0444 },   [VF_CONTROL] = { "control", 0200 },
	[VF_CLEANUP] = { "cleanup", 0444 },
};

static vdir_gone_fn gone_fn; /* set once, before the session loop */
static void *gone_arg;

void vdir_set_gone(vdir_gone_fn gone, void *arg)
{
	gone_fn = gone;
	gone_arg = arg;
}


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

/* Render file kind into a new buffer.  Returns 0 or -errno. */
static int vdir_render(struct store *s, enum vfile kind, char **buf, size_t *len)
{
	struct strbuf sb = STRBUF_INIT(VDIR_MAX_RENDER);
	struct stats_snapshot *sn = NULL;
	struct health *h = NULL;

	if (kind == VF_ERRORS || kind == VF_CLEANUP) {
		*buf = kind == VF_ERRORS ? stats_errors_text(s->stats, len) : retention_report(len);
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
		/* Shared mode: the store's totals are what every daemon has
		 * merged into the file (stats_shared.c); merge first. */
		if (s->shared && kind == VF_STATS)
			stats_shared_merge(s->stats, s->backing, 0);
		stats_snapshot(s->stats, sn);
		bcache_stats(s->bcache, &sn->bcache);
		sn->cache_hits += sn->bcache.hits;
		sn->cache_misses += sn->bcache.misses;
		sn->dirty_bytes = ofile_dirty_bytes(s);
		optimize_progress(&sn->optimize);
		if (kind != VF_STATS)
			health_compute(s, sn, h);
	}
	switch (kind) {
	case VF_STATS:
		render_stats(sn, &sb);
		break;
	case VF_HEALTH:
		render_health(h, &sb);
		break;
	case VF_METRICS: {
		struct strbuf lb = STRBUF_INIT(2 * PATH_MAX);
		char *labels = NULL;
		size_t n;

		render_metric_labels(s, &lb);
		if (strbuf_finish(&lb, &labels, &n) == 0 && labels)
			render_metrics(sn, h, labels, &sb);
		else
			sb.err = -ENOMEM;
		free(labels);
		break;
	}
	default:
		render_config(s, &sb);
		break;
	}
	free(sn);
	free(h);
	return strbuf_finish(&sb, buf, len);
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

/* A rate such as 5000000, 512K, 20M or 1G (powers of 1024), above 0. */
static int parse_rate(const char *v, uint64_t *out)
{
	static const char units[] = "KMG";
	char *end;
	unsigned long long x;
	const char *u;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || x == 0)
		return -EINVAL;
	if (*end) {
		u = strchr(units, *end);
		if (!u || end[1])
			return -EINVAL;
		for (long i = u - units; i >= 0; i--)
			x = x > (UINT64_MAX >> 10) ? UINT64_MAX : x << 10;
	}
	*out = x;
	return 0;
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
	if (!strcmp(cmd, "scrub") || !strncmp(cmd, "scrub --limit ", 14)) {
		uint64_t limit = 0;

		if (cmd[5] && parse_rate(cmd + 14, &limit) < 0) {
			log_msg(LOG_LVL_WARN, "/%s/control: scrub --limit wants bytes per second "
				"(a number, K, M or G after it)", VDIR_NAME);
			return -EINVAL;
		}
		r = scrub_start(s, limit);
		if (r == -EBUSY)
			log_msg(LOG_LVL_INFO, "/%s/control: a scrub is already running", VDIR_NAME);
		else if (r < 0)
			log_msg(LOG_LVL_ERROR, "/%s/control: cannot start a scrub: %s", VDIR_NAME,
				strerror(-r));
		return r < 0 ? r : (int)size;
	}
	if (!strcmp(cmd, "scrub --stop")) {
		/* Nothing to stop is no failure: the wish is already true. */
		if (scrub_cancel() < 0)
			log_msg(LOG_LVL_INFO, "/%s/control: no scrub is running", VDIR_NAME);
		return (int)size;
	}
	if (!strcmp(cmd, "cleanup") || !strcmp(cmd, "cleanup --dry-run")) {
		/* Synchronous: the write returns once it is done, and the
		 * report is in /.ragstore/cleanup. */
		long got = retention_run(s, cmd[7] != '\0', gone_fn, gone_arg);

		if (got < 0)
			log_msg(LOG_LVL_ERROR, "/%s/control: %s: %s", VDIR_NAME, cmd,
				strerror((int)-got));
		return got < 0 ? (int)got : (int)size;
	}
	if (!strcmp(cmd, "optimize") || !strcmp(cmd, "optimize --dry-run")) {
		r = optimize_start(s, cmd[8] != '\0');
		if (r == -EBUSY)
			log_msg(LOG_LVL_INFO, "/%s/control: optimize is already running", VDIR_NAME);
		else if (r < 0)
			log_msg(LOG_LVL_ERROR, "/%s/control: cannot start optimize: %s", VDIR_NAME,
				strerror(-r));
		return r < 0 ? r : (int)size;
	}
	if (!strcmp(cmd, "optimize --stop")) {
		if (optimize_stop() < 0)
			log_msg(LOG_LVL_INFO, "/%s/control: optimize is not running", VDIR_NAME);
		return (int)size;
	}
	log_msg(LOG_LVL_WARN, "/%s/control: unknown command \"%s\" (known: scrub, scrub --stop, "
		"scrub --limit RATE, cleanup, cleanup --dry-run, optimize, optimize --dry-run, "
		"optimize --stop)", VDIR_NAME, cmd);
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
	int r = mountinfo_backing(s, backing, sizeof(backing)), loaded = r == 0;

	if (loaded)
		r = s->shared ? stats_shared_load(s->stats, backing) : stats_load(s->stats, backing);
	if (r < 0)
		log_msg(LOG_LVL_WARN, "%s: store totals: %s", s->backing, strerror(-r));
	stats_snapshot(s->stats, &sn);
	/* Failing to count is no reason to refuse the mount: the totals then
	 * say they are untrusted, and the next mount tries again. */
	/* In shared mode only a daemon alone rebuilds (stats_shared_load). */
	if (!loaded || (sn.totals_untrusted && !(s->shared && r == 2))) {
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
	optimize_shutdown();
	retention_reset();
	packer_drain(s->packer); /* what it packs is in the totals saved */
	r = mountinfo_backing(s, backing, sizeof(backing));
	if (r == 0)
		r = s->shared ? stats_shared_merge(s->stats, backing, 1)
			      : stats_save(s->stats, backing);
	if (r < 0)
		log_msg(LOG_LVL_ERROR, "%s: saving the store totals failed: %s; they will be "
			"rebuilt at the next mount", s->backing, strerror(-r));
}
