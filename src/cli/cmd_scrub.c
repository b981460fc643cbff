/* cmd_scrub.c - `ragstore scrub`: see cmd_scrub.h and docs/STATS.md. */
#include "cmd_scrub.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

/* The metrics file is some 20 KB; this leaves room for many more. */
#define METRICS_MAX (1u << 20)
#define POLL_NS 200000000L   /* a fifth of a second between two looks */
#define LINE_EVERY 5.0       /* seconds between two plain progress lines */

const char scrub_help[] =
	"usage: ragstore scrub MOUNTPOINT\n"
	"Verify every block of the mounted store at MOUNTPOINT online (as\n"
	"'echo scrub > MOUNTPOINT/.ragstore/control' does), or join the scrub that\n"
	"runs, and show its progress until it ends: a bar on a terminal, a line\n"
	"every 5 seconds otherwise.  Ctrl-C stops watching, not the scrub; stop\n"
	"the scrub with 'echo scrub --stop > MOUNTPOINT/.ragstore/control'.\n"
	"Exit status: 0 finished clean, 1 damage found (see .ragstore/errors),\n"
	"2 usage, 4 not a mounted ragstore, 7 not allowed to start a scrub,\n"
	"10 stopped before its end, 11 could not start or follow it.\n";

/* The figures of the scrub, as read from the metrics. */
struct scrub_view {
	double running, stopped, started, files_checked, files_total, files_bad,
	       blocks_checked, blocks_bad, bytes_checked, bytes_total, rate;
};

static const struct {
	const char *name;
	size_t off;
} view_metrics[] = {
#define M(n, f) { "ragstore_scrub_" n, offsetof(struct scrub_view, f) }
	M("running", running), M("stopped", stopped),
	M("last_started_timestamp_seconds", started), M("files_checked", files_checked),
	M("files_total", files_total), M("files_bad", files_bad),
	M("blocks_checked", blocks_checked), M("blocks_bad", blocks_bad),
	M("checked_bytes", bytes_checked), M("total_bytes", bytes_total),
	M("rate_bytes", rate),
#undef M
};

#define VIEW_COUNT (sizeof(view_metrics) / sizeof(view_metrics[0]))

/* Read all of MNT/.ragstore/NAME (a virtual file reports size 0: read to
 * the end) into a new NUL-terminated buffer.  Returns it, or NULL with
 * errno set. */
static char *read_vfile(const char *mnt, const char *name)
{
	char path[PATH_MAX];
	size_t len = 0;
	char *buf;
	int fd, saved;

	if (snprintf(path, sizeof(path), "%s/.ragstore/%s", mnt, name) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(METRICS_MAX + 1);
	while (buf && len < METRICS_MAX) {
		ssize_t n = read(fd, buf + len, METRICS_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0) {
				saved = errno;
				free(buf);
				buf = NULL;
				errno = saved;
			}
			break;
		}
		len += (size_t)n;
	}
	saved = errno;
	close(fd);
	if (buf)
		buf[len] = '\0';
	errno = buf ? 0 : saved ? saved : ENOMEM;
	return buf;
}

/* The value of the first sample of metric name in the exposition text.
 * Returns 0, or -ENOENT when there is none. */
static int metric_value(const char *text, const char *name, double *v)
{
	size_t n = strlen(name);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *end = strchr(l, '\n'), *sp;

		if (strncmp(l, name, n) != 0 || (l[n] != '{' && l[n] != ' '))
			continue;
		end = end ? end : l + strlen(l);
		for (sp = end; sp > l && sp[-1] != ' '; sp--)
			;
		*v = strtod(sp, NULL);
		return 0;
	}
	return -ENOENT;
}

/* Read the scrub's figures.  Returns 0 or -errno (-EPROTO: the metrics
 * lack a figure, so this is not a ragstore this command knows). */
static int view_read(const char *mnt, struct scrub_view *v)
{
	char *text = read_vfile(mnt, "metrics");
	int r = 0;

	if (!text)
		return -errno;
	for (size_t i = 0; i < VIEW_COUNT && r == 0; i++)
		if (metric_value(text, view_metrics[i].name,
				 (double *)((char *)v + view_metrics[i].off)) < 0)
			r = -EPROTO;
	free(text);
	return r;
}

/* Ask the daemon for a scrub.  Returns 0, 1 when one runs already, or
 * -errno. */
static int scrub_request(const char *mnt)
{
	char path[PATH_MAX];
	int fd, r = 0;

	if (snprintf(path, sizeof(path), "%s/.ragstore/control", mnt) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, "scrub\n", 6) < 0)
		r = errno == EBUSY ? 1 : -errno;
	close(fd);
	return r;
}

static void summary(const char *mnt, const struct scrub_view *v)
{
	printf("%s: scrub %s: %.0f files, %.0f blocks, %.1f MB checked; %.0f damaged files, "
	       "%.0f bad blocks%s\n", mnt,
	       v->stopped ? "stopped before its end" : v->blocks_bad || v->files_bad ?
	       "found damage" : "finished clean", v->files_checked, v->blocks_checked,
	       v->bytes_checked / 1e6, v->files_bad, v->blocks_bad,
	       v->blocks_bad || v->files_bad ? " (listed in .ragstore/errors)" : "");
}

/* Follow the scrub until it no longer runs; v holds its last figures. */
static int follow(const char *mnt, struct scrub_view *v)
{
	struct progress prog;
	struct timespec pause = { 0, POLL_NS };
	int r;

	progress_start(&prog, isatty(STDERR_FILENO), LINE_EVERY, "scrub");
	while ((r = view_read(mnt, v)) == 0 && v->running) {
		progress_show(&prog, (uint64_t)v->bytes_checked, (uint64_t)v->bytes_total,
			      (uint64_t)v->files_checked, (uint64_t)v->files_total, v->rate, 0);
		nanosleep(&pause, NULL);
	}
	if (r == 0 && prog.bar)
		progress_show(&prog, (uint64_t)v->bytes_checked, (uint64_t)v->bytes_total,
			      (uint64_t)v->files_checked, (uint64_t)v->files_total, v->rate, 1);
	progress_clear(&prog);
	return r;
}

int cmd_scrub(int argc, char **argv)
{
	struct scrub_view v;
	const char *mnt;
	int r;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(scrub_help, stdout);
		return SCRUB_EXIT_CLEAN;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "ragstore: scrub needs exactly one MOUNTPOINT; see ragstore --help\n");
		return SCRUB_EXIT_USAGE;
	}
	mnt = argv[1];
	memset(&v, 0, sizeof(v));
	r = view_read(mnt, &v);
	if (r < 0) {
		fprintf(stderr, "ragstore: %s is not a mounted ragstore (%s/.ragstore/metrics: %s)\n",
			mnt, mnt, r == -EPROTO ? "no scrub figures" : strerror(-r));
		return SCRUB_EXIT_NOTMOUNT;
	}
	r = v.running ? 1 : scrub_request(mnt);
	if (r < 0) {
		fprintf(stderr, "ragstore: cannot start a scrub on %s: %s\n", mnt,
			r == -EACCES || r == -EPERM ? "only the owner of the mount (or root) may"
			: strerror(-r));
		return r == -EACCES || r == -EPERM ? SCRUB_EXIT_PERM : SCRUB_EXIT_ERROR;
	}
	fprintf(stderr, "ragstore: %s the scrub of %s\n", r == 1 ? "following" : "started",
		mnt);
	r = follow(mnt, &v);
	if (r < 0) {
		fprintf(stderr, "ragstore: lost sight of the scrub of %s: %s\n", mnt, strerror(-r));
		return SCRUB_EXIT_ERROR;
	}
	summary(mnt, &v);
	fflush(stdout);
	if (v.stopped)
		return SCRUB_EXIT_STOPPED;
	return v.blocks_bad || v.files_bad ? SCRUB_EXIT_DAMAGE : SCRUB_EXIT_CLEAN;
}
