/* retention.c - `cleanup` by retention policies.  See retention.h. */
#include "retention.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inode.h"
#include "log.h"
#include "ns.h"
#include "ofile.h"
#include "policy.h"
#include "strbuf.h"
#include "walk.h"

#define REPORT_MAX (64u << 20)

/* The last run: guarded by mu, a leaf lock. */
static struct {
	pthread_mutex_t mu;
	char *text;      /* the report, owned; NULL: none ran */
	size_t len;
	time_t when;
	int dry;
	uint64_t files, bytes;
} last = { .mu = PTHREAD_MUTEX_INITIALIZER };

int retention_due(const struct policy *p, const struct stat *st, time_t now)
{
	return S_ISREG(st->st_mode) && p->retention_days > 0 &&
	       st->st_mtime < now - (time_t)p->retention_days * 86400;
}

/* One file found due. */
struct due {
	char *path;
	uint64_t size;
	time_t mtime;
	const char *policy; /* the store's policy name, valid while it is */
};

struct run {
	struct store *s;
	time_t now;
	struct due *v;
	size_t n, cap;
	int err;
};

static int collect(void *arg, const struct walk_entry *e)
{
	struct run *r = arg;
	const struct policy *p;

	if (e->type != WALK_NAMED || !S_ISREG(e->st.st_mode))
		return 0;
	p = store_policy(r->s, e->path);
	if (!retention_due(p, &e->st, r->now))
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct due *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n].path = strdup(e->path);
	if (!r->v[r->n].path)
		return -ENOMEM;
	r->v[r->n].size = ofile_stat_size(r->s, e->dfd, e->bname, &e->st);
	r->v[r->n].mtime = e->st.st_mtime;
	r->v[r->n].policy = p->name;
	r->n++;
	return 0;
}

static int walk_error(void *arg, const char *path, int err)
{
	log_msg(LOG_LVL_WARN, "cleanup: %s: %s (skipped)", path, strerror(-err));
	return 0;
}

/* Remove the file at path (a user path) if it is still due: looked up
 * component by component from the root, then unlinked.  Returns 0, 1 when
 * it is no longer due (changed or gone meanwhile), or -errno. */
static int remove_due(struct store *s, const char *path, time_t now,
		      retention_gone_fn gone, void *arg)
{
	struct inode *root = inode_root(s), *dir = root, *in;
	char buf[PATH_MAX], *save = NULL, *name, *c;
	struct stat st;
	int r = 0;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	name = strrchr(buf, '/');
	*name++ = '\0';
	for (c = strtok_r(buf, "/", &save); c && r == 0; c = strtok_r(NULL, "/", &save)) {
		r = ns_lookup(s, dir, c, &in, &st);
		if (dir != root)
			inode_forget(s, dir, 1);
		dir = r == 0 ? in : root;
		if (r == 0 && !S_ISDIR(st.st_mode))
			r = 1;
	}
	if (r == 0)
		r = ns_lookup(s, dir, name, &in, &st);
	if (r == 0) {
		int due = retention_due(store_policy(s, path), &st, now);

		inode_forget(s, in, 1);
		r = due ? ns_unlink(s, dir, name) : 1;
	}
	if (r == 0 && gone)
		gone(arg, dir, name);
	if (dir != root)
		inode_forget(s, dir, 1);
	return r == -ENOENT ? 1 : r;
}

static void report_line(struct strbuf *sb, const struct due *d)
{
	char when[32];
	struct tm tm;

	gmtime_r(&d->mtime, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	strbuf_printf(sb, "%llu\t%s\t%s\t", (unsigned long long)d->size, when, d->policy);
	/* Paths escaped as in /.ragstore/errors. */
	for (const char *p = d->path; *p; p++) {
		if (*p == '\\' || *p == '\t' || *p == '\n')
			strbuf_printf(sb, "\\%c", *p == '\t' ? 't' : *p == '\n' ? 'n' : '\\');
		else
			strbuf_printf(sb, "%c", *p);
	}
	strbuf_printf(sb, "\n");
}

long retention_run(struct store *s, int dry, retention_gone_fn gone, void *arg)
{
	struct run r = { .s = s, .now = time(NULL) };
	struct walk_ops ops = { .entry = collect, .error = walk_error, .arg = &r };
	struct strbuf body = STRBUF_INIT(REPORT_MAX), head = STRBUF_INIT(4096);
	uint64_t files = 0, bytes = 0;
	char *btext = NULL, *htext = NULL, stamp[32];
	size_t blen = 0, hlen = 0;
	struct tm tm;
	int werr = walk_tree(s, &ops);

	for (size_t i = 0; i < r.n; i++) {
		int rr = dry ? 0 : remove_due(s, r.v[i].path, r.now, gone, arg);

		if (rr < 0)
			log_msg(LOG_LVL_ERROR, "cleanup: cannot remove %s: %s", r.v[i].path,
				strerror(-rr));
		if (rr == 0 && !dry)
			log_msg(LOG_LVL_INFO, "cleanup: removed %s (%llu bytes, policy %s, "
				"retention %u days)", r.v[i].path,
				(unsigned long long)r.v[i].size, r.v[i].policy,
				store_policy(s, r.v[i].path)->retention_days);
		if (rr == 0) {
			files++;
			bytes += r.v[i].size;
			report_line(&body, &r.v[i]);
		}
		free(r.v[i].path);
	}
	free(r.v);
	gmtime_r(&r.now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	strbuf_printf(&head, "# cleanup%s at %s: %llu file%s, %llu bytes %s%s\n"
		      "# size\tmtime\tpolicy\tpath\n", dry ? " --dry-run" : "", stamp,
		      (unsigned long long)files, files == 1 ? "" : "s",
		      (unsigned long long)bytes, dry ? "would be removed" : "removed",
		      werr < 0 ? " (the walk stopped early)" : "");
	if (strbuf_finish(&body, &btext, &blen) == 0 && strbuf_finish(&head, &htext, &hlen) == 0 &&
	    htext) {
		char *all = malloc(hlen + blen + 1);

		if (all) {
			memcpy(all, htext, hlen);
			memcpy(all + hlen, btext ? btext : "", blen);
			all[hlen + blen] = '\0';
			pthread_mutex_lock(&last.mu);
			free(last.text);
			last.text = all;
			last.len = hlen + blen;
			last.when = r.now;
			last.dry = dry;
			last.files = files;
			last.bytes = bytes;
			pthread_mutex_unlock(&last.mu);
		}
	}
	free(btext);
	free(htext);
	if (!dry)
		log_msg(LOG_LVL_INFO, "cleanup: %llu files removed, %llu bytes",
			(unsigned long long)files, (unsigned long long)bytes);
	return werr < 0 ? werr : (long)files;
}

char *retention_report(size_t *len)
{
	static const char none[] = "# no cleanup has run since mount\n";
	char *t;

	pthread_mutex_lock(&last.mu);
	*len = last.text ? last.len : sizeof(none) - 1;
	t = malloc(*len + 1);
	if (t)
		memcpy(t, last.text ? last.text : none, *len + 1);
	pthread_mutex_unlock(&last.mu);
	return t;
}

void retention_last(time_t *when, int *dry, uint64_t *files, uint64_t *bytes)
{
	pthread_mutex_lock(&last.mu);
	*when = last.when;
	*dry = last.dry;
	*files = last.files;
	*bytes = last.bytes;
	pthread_mutex_unlock(&last.mu);
}

void retention_reset(void)
{
	pthread_mutex_lock(&last.mu);
	free(last.text);
	last.text = NULL;
	last.when = 0;
	pthread_mutex_unlock(&last.mu);
}
