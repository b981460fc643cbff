/* stats_file.c - the store totals in BACKING/ragstore.stats: their text
 * form, reading and atomic writing, and the load at mount and save at
 * unmount of a daemon that has the store to itself.  Shared mode's
 * variants are in stats_shared.c.  Format: docs/STATS.md, docs/FORMAT.md. */
#include "stats_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "codec.h"
#include "log.h"

static const char *const state_names[] = {
	[STATS_FILE_INUSE] = "in-use",
	[STATS_FILE_CLEAN] = "clean",
	[STATS_FILE_SHARED] = "shared",
};

/* The file is a small ini-style text ("key = value" lines) so that a person
 * can read it; see docs/STATS.md.  Anything unexpected in it makes the
 * totals untrusted, which costs a walk, never wrong figures. */
static int render(const struct stats_totals *t, const struct stats_scrub *sc, int state,
		  int daemons, uint64_t joins, char *buf, size_t cap)
{
	size_t n = 0;
	int r;

#define PUT(...)                                                              \
	do {                                                                  \
		r = snprintf(buf + n, cap - n, __VA_ARGS__);                  \
		if (r < 0 || (size_t)r >= cap - n)                            \
			return -ENOSPC;                                       \
		n += (size_t)r;                                               \
	} while (0)

	PUT("# ragstore store totals; written by the daemon, see docs/STATS.md\n");
	PUT("version = %d\n", STATS_FORMAT_VERSION);
	PUT("state = %s\n", state_names[state]);
	if (daemons || joins) {
		PUT("shared_daemons = %d\n", daemons);
		PUT("shared_joins = %" PRIu64 "\n", joins);
	}
	PUT("files = %" PRId64 "\n", t->files);
	PUT("directories = %" PRId64 "\n", t->dirs);
	PUT("logical_bytes = %" PRId64 "\n", t->logical);
	PUT("stored_bytes = %" PRId64 "\n", t->stored);
	for (int i = 0; i < STATS_ALGO_COUNT; i++) {
		const char *nm = codec_name((uint8_t)i);

		PUT("%s.files = %" PRId64 "\n", nm, t->algo[i].files);
		PUT("%s.logical_bytes = %" PRId64 "\n", nm, t->algo[i].logical);
		PUT("%s.stored_bytes = %" PRId64 "\n", nm, t->algo[i].stored);
	}
	PUT("scrub.last_started = %lld\n", (long long)sc->last_started);
	PUT("scrub.last_finished = %lld\n", (long long)sc->last_finished);
	PUT("scrub.files_checked = %" PRIu64 "\n", sc->files_checked);
	PUT("scrub.files_bad = %" PRIu64 "\n", sc->files_bad);
	PUT("scrub.blocks_checked = %" PRIu64 "\n", sc->blocks_checked);
	PUT("scrub.blocks_bad = %" PRIu64 "\n", sc->blocks_bad);
#undef PUT
	return (int)n;
}

int stats_file_write(struct backend *be, const char *backing, const struct stats_totals *t,
		     const struct stats_scrub *sc, int state, int daemons, uint64_t joins)
{
	char tmp[4096], dst[4096], text[2048];
	int fd, dfd, r, cr, len = render(t, sc, state, daemons, joins, text, sizeof(text));

	if (len < 0)
		return len;
	if (snprintf(tmp, sizeof(tmp), "%s/%s", backing, STATS_TMP) >= (int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/%s", backing, STATS_FILE) >= (int)sizeof(dst))
		return -ENAMETOOLONG;
	fd = backend_openat(be, AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			    0600);
	if (fd < 0)
		return fd;
	r = backend_pwrite_full(be, fd, text, (size_t)len, 0);
	/* The rename must not become durable before the contents do. */
	if (r == 0)
		r = backend_fsync(be, fd, 0);
	cr = backend_close(be, fd);
	if (r == 0)
		r = cr;
	if (r == 0)
		r = backend_renameat2(be, AT_FDCWD, tmp, AT_FDCWD, dst, 0);
	if (r < 0) {
		backend_unlinkat(be, AT_FDCWD, tmp, 0);
		return r;
	}
	dfd = backend_openat(be, AT_FDCWD, backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dfd >= 0) {
		backend_fsync(be, dfd, 0);
		backend_close(be, dfd);
	}
	return 0;
}

/* A scrub count of the file (scrub.NAME = v).  0, or -EINVAL for an
 * unknown name. */
static int scrub_count(struct stats_scrub *sc, const char *name, uint64_t v)
{
	static const struct {
		const char *name;
		size_t off;
	} counts[] = {
		{ "files_checked", offsetof(struct stats_scrub, files_checked) },
		{ "files_bad", offsetof(struct stats_scrub, files_bad) },
		{ "blocks_checked", offsetof(struct stats_scrub, blocks_checked) },
		{ "blocks_bad", offsetof(struct stats_scrub, blocks_bad) },
	};

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		if (!strcmp(name, counts[i].name)) {
			memcpy((char *)sc + counts[i].off, &v, sizeof(v));
			return 0;
		}
	return -EINVAL;
}

/* Parse one "key = value" line into f.  Returns 0, or -EINVAL for a line
 * we do not understand. */
static int parse_line(char *line, struct stats_file *f, int *version)
{
	struct stats_totals *t = &f->t;
	struct stats_scrub *sc = &f->sc;
	char *eq = strchr(line, '='), *key = line, *val, *end;
	long long v;

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	val = eq + 1;
	while (*key == ' ')
		key++;
	for (end = eq; end > key && end[-1] == ' ';)
		*--end = '\0';
	while (*val == ' ')
		val++;
	if (!strcmp(key, "state")) {
		for (int i = 0; i < (int)(sizeof(state_names) / sizeof(state_names[0])); i++)
			if (!strcmp(val, state_names[i]))
				f->state = i;
		return 0;
	}
	errno = 0;
	v = strtoll(val, &end, 10);
	if (errno || end == val || *end || v < 0)
		return -EINVAL;
	if (!strcmp(key, "version"))
		*version = (int)v;
	else if (!strcmp(key, "shared_daemons"))
		f->daemons = v > 1000000 ? 1000000 : (int)v;
	else if (!strcmp(key, "shared_joins"))
		f->joins = (uint64_t)v;
	else if (!strcmp(key, "files"))
		t->files = v;
	else if (!strcmp(key, "directories"))
		t->dirs = v;
	else if (!strcmp(key, "logical_bytes"))
		t->logical = v;
	else if (!strcmp(key, "stored_bytes"))
		t->stored = v;
	else if (!strcmp(key, "scrub.last_started"))
		sc->last_started = (time_t)v;
	else if (!strcmp(key, "scrub.last_finished"))
		sc->last_finished = (time_t)v;
	else if (!strncmp(key, "scrub.", 6))
		return scrub_count(sc, key + 6, (uint64_t)v);
	else {
		for (int i = 0; i < STATS_ALGO_COUNT; i++) {
			const char *nm = codec_name((uint8_t)i);
			size_t l = strlen(nm);

			if (strncmp(key, nm, l) || key[l] != '.')
				continue;
			if (!strcmp(key + l + 1, "files"))
				t->algo[i].files = v;
			else if (!strcmp(key + l + 1, "logical_bytes"))
				t->algo[i].logical = v;
			else if (!strcmp(key + l + 1, "stored_bytes"))
				t->algo[i].stored = v;
			else
				return -EINVAL;
			return 0;
		}
		return -EINVAL;
	}
	return 0;
}

int stats_file_read(struct backend *be, const char *backing, struct stats_file *out)
{
	char path[4096], buf[4096], *line, *save;
	int fd, version = 0;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	out->state = STATS_FILE_INUSE;
	if (snprintf(path, sizeof(path), "%s/%s", backing, STATS_FILE) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = backend_openat(be, AT_FDCWD, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	out->found = 1;
	n = backend_pread_full(be, fd, buf, sizeof(buf) - 1, 0);
	backend_close(be, fd);
	/* Ours is far below 4 KiB; a full buffer means it is not ours. */
	if (n < 0 || n == (ssize_t)sizeof(buf) - 1) {
		out->bad = 1;
		n = 0;
	}
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line && !out->bad; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (parse_line(line, out, &version) < 0)
			out->bad = 1;
	}
	if (version != STATS_FORMAT_VERSION)
		out->bad = 1;
	if (out->bad)
		out->state = STATS_FILE_INUSE;
	return 0;
}

void stats_file_scrub_take(struct stats *st, const struct stats_scrub *sc)
{
	st->scrub.last_started = sc->last_started;
	st->scrub.last_finished = sc->last_finished;
	if (sc->last_finished) {
		st->scrub.state = STATS_SCRUB_DONE;
		st->scrub.end = STATS_SCRUB_END_DONE;
		st->scrub.files_checked = sc->files_checked;
		st->scrub.files_bad = sc->files_bad;
		st->scrub.blocks_checked = sc->blocks_checked;
		st->scrub.blocks_bad = sc->blocks_bad;
	}
}

/* The totals and scrub history to write, and whether they may be called
 * trusted: totals that are being rebuilt or could not be rebuilt never
 * are, so the next mount walks again. */
static int current(struct stats *st, struct stats_totals *t, struct stats_scrub *sc)
{
	int trusted;

	pthread_mutex_lock(&st->mu);
	*t = st->totals;
	*sc = st->scrub;
	trusted = !st->untrusted;
	pthread_mutex_unlock(&st->mu);
	return trusted;
}

int stats_load(struct stats *st, const char *backing)
{
	struct stats_totals t;
	struct stats_scrub sc;
	struct stats_file f;
	int clean, r = stats_file_read(st->be, backing, &f);

	if (r < 0) {
		pthread_mutex_lock(&st->mu);
		st->untrusted = 1;
		st->load = STATS_LOAD_BAD;
		pthread_mutex_unlock(&st->mu);
		return r;
	}
	/* "shared" too is not clean: shared daemons were running (or one of
	 * them did not stop cleanly), and this one sees no other. */
	clean = f.found && !f.bad && f.state == STATS_FILE_CLEAN;
	pthread_mutex_lock(&st->mu);
	/* The scrub history is worth keeping even when the totals are not. */
	if (!f.bad)
		stats_file_scrub_take(st, &f.sc);
	st->load = clean ? STATS_LOAD_CLEAN : !f.found ? STATS_LOAD_MISSING
			: f.bad ? STATS_LOAD_BAD : STATS_LOAD_UNCLEAN;
	if (clean) {
		/* Requests served before the load have already reported their
		 * deltas against zero: add the saved totals under them. */
		stats_totals_add(&st->totals, &f.t, 1);
		st->untrusted = 0;
	} else {
		st->untrusted = 1;
	}
	pthread_mutex_unlock(&st->mu);

	if (!clean && f.found)
		log_msg(LOG_LVL_WARN, "%s/%s: store totals were not saved by a clean unmount%s; "
			"rebuilding them", backing, STATS_FILE, f.bad ? " (file unreadable)" : "");
	/* From now on a crash must leave the file untrusted. */
	current(st, &t, &sc);
	r = stats_file_write(st->be, backing, &t, &sc, STATS_FILE_INUSE, 0, 0);
	if (r < 0) {
		/* A file still saying "clean" would be trusted after a crash
		 * although the totals moved on; removing it needs no space. */
		char path[4096];
		int ur = -ENAMETOOLONG;

		if (snprintf(path, sizeof(path), "%s/%s", backing, STATS_FILE) < (int)sizeof(path))
			ur = backend_unlinkat(st->be, AT_FDCWD, path, 0);
		if (ur < 0 && ur != -ENOENT)
			log_msg(LOG_LVL_ERROR, "%s: cannot mark the totals in use: %s",
				path, strerror(-ur));
		return r;
	}
	return clean;
}

int stats_save(struct stats *st, const char *backing)
{
	struct stats_totals t;
	struct stats_scrub sc;
	int trusted;

	if (!st)
		return 0;
	trusted = current(st, &t, &sc);
	return stats_file_write(st->be, backing, &t, &sc,
				trusted ? STATS_FILE_CLEAN : STATS_FILE_INUSE, 0, 0);
}
