/* probe.c - find out what the backing filesystem supports by trying each
 * feature once in a scratch directory (see probe.h, docs/BACKING.md). */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "backend.h"
#include "crypto.h"
#include "strbuf.h"
#include "util.h"

#define PROBE_XATTR "user.ragstore.probe"
#define PROBE_XATTR_LIMIT 65536 /* XATTR_SIZE_MAX */
#define PROBE_PUNCH_LEN (128 * 1024)
#define PROBE_SPARSE_OFF (16 << 20)
#define PROBE_NSEC 123456789L

void probe_assume_all(struct probe *p)
{
	memset(p, 0, sizeof(*p));
	p->tmpfile = p->rename_noreplace = p->rename_exchange = 1;
	p->user_xattr = p->sparse = p->punch_hole = p->flock = p->fcntl_lock = 1;
	p->hardlink = p->symlink = p->symlink_attrs = p->fifo = 1;
	p->xattr_max = PROBE_XATTR_LIMIT;
	p->time_ns = 1;
}

int probe_is_scratch(const char *name)
{
	return !strncmp(name, PROBE_PREFIX, sizeof(PROBE_PREFIX) - 1);
}

int probe_remove_scratch(struct backend *be, int dirfd, const char *name)
{
	struct backend_dir *d;
	struct dirent *e;
	int r = backend_opendirat(be, dirfd, name, O_NOFOLLOW, &d);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	while (backend_readdir_names(be, d, &e) == 1)
		backend_unlinkat(be, backend_dirfd(be, d), e->d_name, 0);
	backend_closedir(be, d);
	r = backend_unlinkat(be, dirfd, name, AT_REMOVEDIR);
	return r == -ENOENT ? 0 : r;
}

/* Leftovers of probes that were killed midway. */
static void remove_leftovers(struct backend *be, int dirfd)
{
	struct backend_dir *d;
	struct dirent *e;
	char names[8][64];
	int n = 0;

	if (backend_opendirat(be, dirfd, ".", 0, &d) < 0)
		return;
	while (n < 8 && backend_readdir_names(be, d, &e) == 1)
		if (probe_is_scratch(e->d_name) && strlen(e->d_name) < sizeof(names[0]))
			strcpy(names[n++], e->d_name);
	backend_closedir(be, d);
	while (n > 0)
		probe_remove_scratch(be, dirfd, names[--n]);
}

static int make_file(struct backend *be, int d, const char *name)
{
	return backend_openat(be, d, name, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC,
			      0600);
}

static int touch(struct backend *be, int d, const char *name)
{
	int fd = make_file(be, d, name);

	if (fd < 0)
		return fd;
	backend_close(be, fd);
	return 0;
}

/* The largest attribute value accepted, by bisection between a size that
 * worked (lo) and one that did not. */
static size_t xattr_limit(struct backend *be, int fd)
{
	static uint8_t buf[PROBE_XATTR_LIMIT];
	size_t lo = 16, hi = PROBE_XATTR_LIMIT + 1;

	memset(buf, 'x', sizeof(buf));
	if (backend_fsetxattr(be, fd, PROBE_XATTR, buf, PROBE_XATTR_LIMIT, 0) == 0)
		return PROBE_XATTR_LIMIT;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (backend_fsetxattr(be, fd, PROBE_XATTR, buf, mid, 0) == 0)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static void probe_xattr(struct backend *be, int fd, struct probe *p)
{
	uint8_t v[16] = "ragstore probe", got[16];

	p->user_xattr = backend_fsetxattr(be, fd, PROBE_XATTR, v, sizeof(v), 0) == 0 &&
			backend_fgetxattr(be, fd, PROBE_XATTR, got, sizeof(got)) ==
				(ssize_t)sizeof(v) &&
			memcmp(v, got, sizeof(v)) == 0;
	p->xattr_max = p->user_xattr ? xattr_limit(be, fd) : 0;
}

static void probe_sparse(struct backend *be, int d, struct probe *p)
{
	struct stat st;
	int fd = make_file(be, d, "sparse");

	if (fd < 0)
		return;
	p->sparse = backend_pwrite_full(be, fd, "x", 1, PROBE_SPARSE_OFF) == 0 &&
		    backend_fsync(be, fd, 0) == 0 && backend_fstat(be, fd, &st) == 0 &&
		    st.st_size == PROBE_SPARSE_OFF + 1 && (off_t)st.st_blocks * 512 < (1 << 20);
	backend_close(be, fd);
}

/* A punch must succeed and the range read back as zeros. */
static void probe_punch(struct backend *be, int d, struct probe *p)
{
	static uint8_t buf[2 * PROBE_PUNCH_LEN];
	int fd = make_file(be, d, "punch");

	if (fd < 0)
		return;
	memset(buf, 0xa5, sizeof(buf));
	if (backend_pwrite_full(be, fd, buf, sizeof(buf), 0) == 0 &&
	    backend_fsync(be, fd, 0) == 0 &&
	    backend_fallocate(be, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			      PROBE_PUNCH_LEN) == 0 &&
	    backend_pread_full(be, fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf)) {
		p->punch_hole = buf[0] == 0 && buf[PROBE_PUNCH_LEN - 1] == 0 &&
				buf[PROBE_PUNCH_LEN] == 0xa5;
	}
	backend_close(be, fd);
}

static void probe_tmpfile(struct backend *be, int d, struct probe *p)
{
	struct stat st;
	int fd = backend_openat(be, d, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	p->tmpfile = backend_pwrite_full(be, fd, "t", 1, 0) == 0 &&
		     backend_linkfd(be, fd, d, "tmpfile") == 0 &&
		     backend_fstatat(be, d, "tmpfile", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		     st.st_size == 1;
	backend_close(be, fd);
}

/* NOREPLACE must refuse an existing target (and leave both) and move to a
 * free name; EXCHANGE must swap. */
static void probe_rename(struct backend *be, int d, struct probe *p)
{
	struct stat a, b;

	if (touch(be, d, "ren-a") < 0 || touch(be, d, "ren-b") < 0 ||
	    backend_fstatat(be, d, "ren-a", &a, AT_SYMLINK_NOFOLLOW) < 0 ||
	    backend_fstatat(be, d, "ren-b", &b, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	p->rename_noreplace =
		backend_renameat2(be, d, "ren-a", d, "ren-b", RENAME_NOREPLACE) == -EEXIST &&
		backend_renameat2(be, d, "ren-a", d, "ren-c", RENAME_NOREPLACE) == 0;
	if (!p->rename_noreplace &&
	    backend_renameat2(be, d, "ren-a", d, "ren-c", 0) < 0)
		return;
	if (backend_renameat2(be, d, "ren-c", d, "ren-b", RENAME_EXCHANGE) == 0 &&
	    backend_fstatat(be, d, "ren-b", &b, AT_SYMLINK_NOFOLLOW) == 0)
		p->rename_exchange = b.st_ino == a.st_ino;
}

static void probe_locks(struct backend *be, int fd, struct probe *p)
{
	p->flock = backend_flock(be, fd, LOCK_EX | LOCK_NB) == 0;
	if (p->flock)
		backend_flock(be, fd, LOCK_UN);
	p->fcntl_lock = backend_setlk(be, fd, F_WRLCK, 0, 0, 0) == 0;
	if (p->fcntl_lock)
		backend_setlk(be, fd, F_UNLCK, 0, 0, 0);
}

/* The granularity of a time set to PROBE_NSEC nanoseconds: the power of ten
 * it was cut to (a second when nothing of it stayed). */
static void probe_times(struct backend *be, int d, struct probe *p)
{
	struct timespec tv[2] = { { 1, PROBE_NSEC }, { 1, PROBE_NSEC } };
	struct stat st;
	long g = 1;

	if (backend_utimensat(be, d, "file", tv, AT_SYMLINK_NOFOLLOW) < 0 ||
	    backend_fstatat(be, d, "file", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (st.st_mtim.tv_sec != 1)
		return;
	while (g < 1000000000L && PROBE_NSEC / g * g != st.st_mtim.tv_nsec)
		g *= 10;
	p->time_ns = g;
}

static void probe_names(struct backend *be, int d, struct probe *p)
{
	struct stat st;

	p->hardlink = backend_linkat(be, d, "file", d, "hardlink", 0) == 0 &&
		      backend_fstatat(be, d, "file", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		      st.st_nlink == 2;
	struct timespec tv[2] = { { 5, 0 }, { 5, 0 } };

	p->symlink = backend_symlinkat(be, "file", d, "symlink") == 0;
	/* A dangling link: a filesystem that follows it fails (ENOENT),
	 * whatever its attribute cache says. */
	p->symlink_attrs = p->symlink && backend_symlinkat(be, "missing", d, "dangling") == 0 &&
			   backend_utimensat(be, d, "dangling", tv, AT_SYMLINK_NOFOLLOW) == 0;
	p->fifo = backend_mknodat(be, d, "fifo", S_IFIFO | 0600, 0) == 0;
}

/* The probes that work on an open file of their own. */
static void probe_fd(struct backend *be, int d, const char *name, struct probe *p,
		     void (*fn)(struct backend *be, int fd, struct probe *p))
{
	int fd = make_file(be, d, name);

	if (fd >= 0) {
		fn(be, fd, p);
		backend_close(be, fd);
	}
}

/* The probes that work in the scratch directory, in this order: times
 * sets the mtime of "file", which names then links. */
static void (*const probes_in_dir[])(struct backend *be, int d, struct probe *p) = {
	probe_sparse, probe_punch, probe_tmpfile, probe_rename, probe_times, probe_names,
};

static void probe_in(struct backend *be, int d, struct probe *p)
{
	probe_fd(be, d, "file", p, probe_locks);
	/* A file of its own: an attribute at the limit can leave no room for
	 * what the filesystem keeps there itself (GlusterFS fails link). */
	probe_fd(be, d, "xattr", p, probe_xattr);
	for (size_t i = 0; i < sizeof(probes_in_dir) / sizeof(probes_in_dir[0]); i++)
		probes_in_dir[i](be, d, p);
}

static int probe_features(struct backend *be, int dirfd, struct probe *p)
{
	char name[sizeof(PROBE_PREFIX) + 16];
	uint8_t rnd[8];
	int d, r;

	probe_assume_all(p);
	remove_leftovers(be, dirfd);
	crypto_random(rnd, sizeof(rnd));
	memcpy(name, PROBE_PREFIX, sizeof(PROBE_PREFIX) - 1);
	util_hex_encode(rnd, sizeof(rnd), name + sizeof(PROBE_PREFIX) - 1);
	r = backend_mkdirat(be, dirfd, name, 0700);
	d = r < 0 ? r : backend_openat(be, dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				       O_CLOEXEC, 0);
	if (d < 0) {
		snprintf(p->error, sizeof(p->error), "cannot make a scratch directory: %s",
			 strerror(-d));
		if (r == 0)
			backend_unlinkat(be, dirfd, name, AT_REMOVEDIR);
		return d;
	}
	memset(p, 0, sizeof(*p));
	p->time_ns = 1000000000L; /* until probe_times finds better */
	probe_in(be, d, p);
	p->done = 1;
	backend_close(be, d);
	probe_remove_scratch(be, dirfd, name);
	return 0;
}

int probe_run(struct backend *be, int dirfd, struct probe *p)
{
	int r = probe_features(be, dirfd, p);

	glusterfs_check(be, dirfd, &p->gluster);
	return r;
}

static const char *yes_no(int v)
{
	return v ? "yes" : "no";
}

/* One line, and the fallback where the feature is missing. */
static void item(struct strbuf *sb, const char *prefix, const char *key, int have,
		 const char *fallback)
{
	strbuf_printf(sb, "%s%s = %s\n", prefix, key, yes_no(have));
	if (!have)
		strbuf_printf(sb, "%s# fallback: %s\n", prefix, fallback);
}

void probe_render(const struct probe *p, struct strbuf *sb, const char *prefix)
{
	if (!p->done) {
		strbuf_printf(sb, "%s# not probed%s%s: every feature assumed\n", prefix,
			      p->error[0] ? ": " : "", p->error);
		glusterfs_render(&p->gluster, sb, prefix);
		return;
	}
	item(sb, prefix, "tmpfile", p->tmpfile,
	     "new files are made under a hidden temporary name and renamed into place");
	item(sb, prefix, "rename_noreplace", p->rename_noreplace,
	     "the target is checked, then renamed to, under one lock");
	item(sb, prefix, "rename_exchange", p->rename_exchange,
	     "rename with RENAME_EXCHANGE fails with EINVAL");
	item(sb, prefix, "user_xattr", p->user_xattr,
	     "no size hint: stat reads the file header; directory xattrs need "
	     "encrypted names");
	strbuf_printf(sb, "%sxattr_max = %zu\n", prefix, p->xattr_max);
	item(sb, prefix, "sparse", p->sparse,
	     "none needed; the backing files' st_blocks count holes (or are estimates)");
	item(sb, prefix, "punch_hole", p->punch_hole,
	     "superseded records keep their space until the file is rewritten");
	item(sb, prefix, "flock", p->flock, "fcntl record locks guard the store");
	item(sb, prefix, "fcntl_lock", p->fcntl_lock, "flock guards the store");
	strbuf_printf(sb, "%stime_granularity_ns = %ld\n", prefix, p->time_ns);
	if (p->time_ns > 1)
		strbuf_printf(sb, "%s# fallback: times are kept to this granularity\n", prefix);
	item(sb, prefix, "hardlink", p->hardlink,
	     "link fails with EPERM (no hard links, or no link counts)");
	item(sb, prefix, "symlink", p->symlink, "symlink fails with the backing error");
	item(sb, prefix, "symlink_attrs", p->symlink_attrs,
	     "the owner and times of symlinks are not kept (setting them "
	     "does nothing)");
	item(sb, prefix, "fifo", p->fifo, "mkfifo fails with the backing error");
	glusterfs_render(&p->gluster, sb, prefix);
}
