/* glusterfs.c - the settings of the GlusterFS client holding BACKING, read
 * from its `.meta` directory (see glusterfs.h, docs/BACKING.md). */
#include "glusterfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "strbuf.h"

/* Enough for the client's command line (a few hundred bytes). */
#define CMDLINE_MAX 8192

struct setting {
	const char *name;  /* as `gluster volume set` or mount -o spell it */
	const char *key;   /* in the [backing] section */
	const char *xl;    /* translator type in the active graph, or NULL */
	const char *arg;   /* or the client's command line option */
	double dflt;       /* the option's value when it is not given */
	int always;        /* needed by every mount, not only -o shared */
};

static const struct setting settings[GLUSTERFS_NSETTINGS] = {
	[GLUSTERFS_WRITE_BEHIND] = { "performance.write-behind", "gluster_write_behind",
				     "performance/write-behind", NULL, 0, 1 },
	[GLUSTERFS_IO_CACHE] = { "performance.io-cache", "gluster_io_cache",
				 "performance/io-cache", NULL, 0, 0 },
	[GLUSTERFS_READ_AHEAD] = { "performance.read-ahead", "gluster_read_ahead",
				   "performance/read-ahead", NULL, 0, 0 },
	[GLUSTERFS_QUICK_READ] = { "performance.quick-read", "gluster_quick_read",
				   "performance/quick-read", NULL, 0, 0 },
	[GLUSTERFS_STAT_PREFETCH] = { "performance.stat-prefetch", "gluster_stat_prefetch",
				      "performance/md-cache", NULL, 0, 0 },
	[GLUSTERFS_OPEN_BEHIND] = { "performance.open-behind", "gluster_open_behind",
				    "performance/open-behind", NULL, 0, 0 },
	[GLUSTERFS_READDIR_AHEAD] = { "performance.readdir-ahead", "gluster_readdir_ahead",
				      "performance/readdir-ahead", NULL, 0, 0 },
	[GLUSTERFS_NL_CACHE] = { "performance.nl-cache", "gluster_nl_cache",
				 "performance/nl-cache", NULL, 0, 0 },
	[GLUSTERFS_ATTRIBUTE_TIMEOUT] = { "attribute-timeout", "gluster_attribute_timeout", NULL,
					  "--attribute-timeout=", 1, 0 },
	[GLUSTERFS_ENTRY_TIMEOUT] = { "entry-timeout", "gluster_entry_timeout", NULL,
				      "--entry-timeout=", 1, 0 },
	[GLUSTERFS_NEGATIVE_TIMEOUT] = { "negative-timeout", "gluster_negative_timeout", NULL,
					 "--negative-timeout=", 0, 0 },
};

/* Read all of rel in dirfd into buf (NUL-terminated; the files of .meta
 * say size 0, so read to the end).  Returns the length or -errno. */
static ssize_t read_small(struct backend *be, int dirfd, const char *rel, char *buf,
			  size_t cap)
{
	int fd = backend_openat(be, dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = backend_pread_full(be, fd, buf, cap - 1, 0);
	backend_close(be, fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* The topmost directory above dirfd on its device: a new descriptor, or
 * -errno. */
static int mount_root(struct backend *be, int dirfd)
{
	struct stat here, up;
	int fd = backend_openat(be, dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

	for (int depth = 0; fd >= 0 && depth < 256; depth++) {
		int parent = backend_openat(be, fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

		if (parent < 0)
			break;
		if (backend_fstat(be, fd, &here) < 0 || backend_fstat(be, parent, &up) < 0 ||
		    up.st_dev != here.st_dev || up.st_ino == here.st_ino) {
			backend_close(be, parent);
			break;
		}
		backend_close(be, fd);
		fd = parent;
	}
	return fd;
}

/* Whether the client's command line cmd is a glusterfs client's. */
static int is_client(const char *cmd)
{
	const char *p = strstr(cmd, "\"Cmdlinestr\"");
	char prog[256], *base;
	size_t n;

	if (!p || !(p = strchr(p + 12, '"')))
		return 0;
	n = strcspn(++p, " \"");
	if (n == 0 || n >= sizeof(prog))
		return 0;
	memcpy(prog, p, n);
	prog[n] = '\0';
	base = strrchr(prog, '/');
	return !strcmp(base ? base + 1 : prog, "glusterfs");
}

/* A timeout option of the command line cmd, or its default. */
static double timeout_of(const char *cmd, const struct setting *st)
{
	const char *p = strstr(cmd, st->arg);

	return p ? strtod(p + strlen(st->arg), NULL) : st->dflt;
}

/* The translators of the active graph: a bit per setting whose translator
 * is there.  Returns 0 or -errno. */
static int graph_wrong(struct backend *be, int root, unsigned *wrong)
{
	struct backend_dir *d;
	struct dirent *e;
	char rel[512], type[128];
	int r = backend_opendirat(be, root, ".meta/graphs/active", 0, &d);

	if (r < 0)
		return r;
	while (backend_readdir_names(be, d, &e) == 1) {
		if (snprintf(rel, sizeof(rel), ".meta/graphs/active/%s/type", e->d_name) >=
			    (int)sizeof(rel) ||
		    read_small(be, root, rel, type, sizeof(type)) <= 0)
			continue;
		type[strcspn(type, "\n")] = '\0';
		for (int i = 0; i < GLUSTERFS_NSETTINGS; i++)
			if (settings[i].xl && !strcmp(type, settings[i].xl))
				*wrong |= 1u << i;
	}
	backend_closedir(be, d);
	return 0;
}

void glusterfs_check(struct backend *be, int dirfd, struct glusterfs_check *c)
{
	char *cmd = malloc(CMDLINE_MAX);
	int root = mount_root(be, dirfd), r;

	memset(c, 0, sizeof(*c));
	if (!cmd || root < 0 || read_small(be, root, ".meta/cmdline", cmd, CMDLINE_MAX) <= 0 ||
	    !is_client(cmd))
		goto out;
	c->found = 1;
	for (int i = 0; i < GLUSTERFS_NSETTINGS; i++) {
		if (!settings[i].arg)
			continue;
		c->timeout[i] = timeout_of(cmd, &settings[i]);
		if (c->timeout[i] != 0)
			c->wrong |= 1u << i;
	}
	r = graph_wrong(be, root, &c->wrong);
	if (r < 0)
		snprintf(c->why, sizeof(c->why), "cannot list .meta/graphs/active of the client "
			 "mount: %s", strerror(-r));
	c->read = r == 0;
out:
	if (root >= 0)
		backend_close(be, root);
	free(cmd);
}

static int needed(int i, int shared)
{
	return settings[i].always || shared;
}

int glusterfs_wrong(const struct glusterfs_check *c, int shared, char *buf, size_t len)
{
	size_t have = 0;
	int n = 0;

	if (len)
		buf[0] = '\0';
	for (int i = 0; c->read && i < GLUSTERFS_NSETTINGS; i++) {
		if (!(c->wrong & (1u << i)) || !needed(i, shared))
			continue;
		if (have < len)
			have += settings[i].xl ?
				(size_t)snprintf(buf + have, len - have, "%s%s on", n ? ", " : "",
						 settings[i].name) :
				(size_t)snprintf(buf + have, len - have, "%s%s=%g", n ? ", " : "",
						 settings[i].name, c->timeout[i]);
		n++;
	}
	return n;
}

void glusterfs_render(const struct glusterfs_check *c, struct strbuf *sb, const char *prefix)
{
	if (!c->found)
		return;
	strbuf_printf(sb, "%sglusterfs = yes\n", prefix);
	if (!c->read) {
		strbuf_printf(sb, "%s# warning: the client's settings could not be read (%s); "
			      "see docs/BACKING.md for what they must be\n", prefix, c->why);
		return;
	}
	for (int i = 0; i < GLUSTERFS_NSETTINGS; i++) {
		int bad = (c->wrong >> i) & 1;

		if (settings[i].xl)
			strbuf_printf(sb, "%s%s = %s\n", prefix, settings[i].key, bad ? "on" : "off");
		else
			strbuf_printf(sb, "%s%s = %g\n", prefix, settings[i].key, c->timeout[i]);
		if (bad && settings[i].xl)
			strbuf_printf(sb, "%s# warning: %s needs `gluster volume set VOLUME %s "
				      "off`\n", prefix, settings[i].always ? "every mount" :
				      "-o shared", settings[i].name);
		else if (bad)
			strbuf_printf(sb, "%s# warning: -o shared needs the client mounted with "
				      "-o %s=0\n", prefix, settings[i].name);
	}
}
