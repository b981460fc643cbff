/* test_probe.c - the backing filesystem probe (probe.h) and the fallbacks
 * the store takes where a feature is missing (fallback.h), on the memory
 * backend: a store told that O_TMPFILE and RENAME_NOREPLACE are missing
 * still creates files and directories, refuses existing names, and leaves
 * no temporary behind. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "crypto.h"
#include "fallback.h"
#include "memstore.h"
#include "ofile.h"
#include "probe.h"
#include "strbuf.h"
#include "unit.h"

/* Entries of directory dirfd of be whose name starts with prefix. */
static int count_prefixed(struct backend *be, int dirfd, const char *prefix)
{
	struct backend_dir *d;
	struct dirent *e;
	int n = 0;

	if (backend_opendirat(be, dirfd, ".", 0, &d) < 0)
		return -1;
	while (backend_readdir_names(be, d, &e) == 1)
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	backend_closedir(be, d);
	return n;
}

static int make_file(struct backend *be, int dirfd, const char *name, const char *data)
{
	int fd = backend_openat(be, dirfd, name, O_CREAT | O_EXCL | O_RDWR, 0600);

	if (fd < 0)
		return fd;
	backend_pwrite_full(be, fd, data, strlen(data), 0);
	backend_close(be, fd);
	return 0;
}

static int file_is(struct backend *be, int dirfd, const char *name, const char *data)
{
	char buf[64];
	int fd = backend_openat(be, dirfd, name, O_RDONLY, 0);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = backend_pread_full(be, fd, buf, sizeof(buf), 0);
	backend_close(be, fd);
	return n == (ssize_t)strlen(data) && !memcmp(buf, data, (size_t)n);
}

/* The memory backend has everything but record locks; the scratch
 * directory goes, and so does one a killed probe left. */
static void test_probe_memory(void)
{
	struct backend *be = backend_mem_new();
	struct probe p;
	int top;

	CHECK_EQ(backend_mkdirat(be, AT_FDCWD, "b", 0755), 0);
	top = backend_openat(be, AT_FDCWD, "b", O_RDONLY | O_DIRECTORY, 0);
	CHECK(top >= 0);
	CHECK_EQ(backend_mkdirat(be, top, PROBE_PREFIX "0123456789abcdef", 0700), 0);
	CHECK_EQ(make_file(be, top, PROBE_PREFIX "0123456789abcdef/file", "x"), 0);
	CHECK_EQ(make_file(be, top, "keep", "k"), 0);
	CHECK_EQ(probe_run(be, top, &p), 0);
	CHECK_EQ(p.done, 1);
	CHECK_EQ(p.tmpfile, 1);
	CHECK_EQ(p.rename_noreplace, 1);
	CHECK_EQ(p.rename_exchange, 1);
	CHECK_EQ(p.user_xattr, 1);
	CHECK_EQ(p.xattr_max, 65536);
	CHECK_EQ(p.sparse, 1);
	CHECK_EQ(p.punch_hole, 1);
	CHECK_EQ(p.flock, 1);
	CHECK_EQ(p.fcntl_lock, 0);
	CHECK_EQ(p.time_ns, 1);
	CHECK_EQ(p.hardlink, 1);
	CHECK_EQ(p.symlink, 1);
	CHECK_EQ(p.symlink_attrs, 1);
	CHECK_EQ(p.fifo, 1);
	CHECK_EQ(count_prefixed(be, top, PROBE_PREFIX), 0);
	CHECK(file_is(be, top, "keep", "k"));
	CHECK(probe_is_scratch(PROBE_PREFIX "42"));
	CHECK(!probe_is_scratch("ragstore.conf"));
	backend_close(be, top);
	backend_free(be);
}

static void test_render(void)
{
	struct strbuf sb = STRBUF_INIT(16384);
	struct probe p;

	probe_assume_all(&p);
	p.done = 1;
	p.rename_noreplace = 0;
	p.time_ns = 1000000000;
	probe_render(&p, &sb, "  ");
	CHECK(sb.p && strstr(sb.p, "  tmpfile = yes\n"));
	CHECK(sb.p && strstr(sb.p, "  rename_noreplace = no\n  # fallback: "));
	CHECK(sb.p && strstr(sb.p, "  time_granularity_ns = 1000000000\n  # fallback: "));
	CHECK(sb.p && !strstr(sb.p, "tmpfile = yes\n  # fallback"));
	free(sb.p);
	sb = (struct strbuf)STRBUF_INIT(16384);
	probe_assume_all(&p);
	snprintf(p.error, sizeof(p.error), "read-only");
	probe_render(&p, &sb, "");
	CHECK(sb.p && strstr(sb.p, "# not probed: read-only"));
	free(sb.p);
}

/* The fallbacks, as a backing filesystem without the features gets them. */
static void test_fallbacks(void)
{
	struct backend *be = backend_mem_new();
	struct timespec tv[2] = { { 7, 0 }, { 7, 0 } };
	struct probe p;
	struct stat st;
	uid_t uid;

	probe_assume_all(&p);
	p.done = 1;
	p.rename_noreplace = p.rename_exchange = p.hardlink = p.symlink_attrs = 0;
	CHECK_EQ(make_file(be, AT_FDCWD, "a", "A"), 0);
	CHECK_EQ(make_file(be, AT_FDCWD, "b", "B"), 0);
	CHECK_EQ(fallback_renameat2(be, &p, AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE),
		 -EEXIST);
	CHECK(file_is(be, AT_FDCWD, "a", "A") && file_is(be, AT_FDCWD, "b", "B"));
	CHECK_EQ(fallback_renameat2(be, &p, AT_FDCWD, "a", AT_FDCWD, "c", RENAME_NOREPLACE), 0);
	CHECK(file_is(be, AT_FDCWD, "c", "A"));
	CHECK_EQ(backend_fstatat(be, AT_FDCWD, "a", &st, AT_SYMLINK_NOFOLLOW), -ENOENT);
	/* a directory onto an empty one: refused too */
	CHECK_EQ(backend_mkdirat(be, AT_FDCWD, "d1", 0755), 0);
	CHECK_EQ(backend_mkdirat(be, AT_FDCWD, "d2", 0755), 0);
	CHECK_EQ(fallback_renameat2(be, &p, AT_FDCWD, "d1", AT_FDCWD, "d2", RENAME_NOREPLACE),
		 -EEXIST);
	CHECK_EQ(backend_fstatat(be, AT_FDCWD, "d1", &st, 0), 0);
	CHECK_EQ(fallback_renameat2(be, &p, AT_FDCWD, "c", AT_FDCWD, "b", RENAME_EXCHANGE),
		 -EINVAL);
	CHECK(file_is(be, AT_FDCWD, "c", "A") && file_is(be, AT_FDCWD, "b", "B"));
	CHECK_EQ(fallback_renameat2(be, &p, AT_FDCWD, "c", AT_FDCWD, "b", 0), 0);
	CHECK(file_is(be, AT_FDCWD, "b", "A"));
	CHECK_EQ(fallback_linkat(be, &p, AT_FDCWD, "b", AT_FDCWD, "hl"), -EPERM);
	CHECK_EQ(fallback_linkat(be, NULL, AT_FDCWD, "b", AT_FDCWD, "hl"), 0);
	/* symlinks never reach attribute calls that would follow them */
	CHECK_EQ(backend_symlinkat(be, "b", AT_FDCWD, "sl"), 0);
	CHECK_EQ(backend_fstatat(be, AT_FDCWD, "sl", &st, AT_SYMLINK_NOFOLLOW), 0);
	uid = st.st_uid;
	CHECK_EQ(fallback_lchown(be, &p, AT_FDCWD, "sl", uid + 1, (gid_t)-1), 0);
	CHECK_EQ(fallback_lutimens(be, &p, AT_FDCWD, "sl", tv), 0);
	CHECK_EQ(backend_fstatat(be, AT_FDCWD, "sl", &st, AT_SYMLINK_NOFOLLOW), 0);
	CHECK_EQ(st.st_uid, uid);    /* left alone */
	CHECK(st.st_mtim.tv_sec != 7);
	CHECK_EQ(fallback_lutimens(be, &p, AT_FDCWD, "b", tv), 0);
	CHECK_EQ(fallback_lchown(be, &p, AT_FDCWD, "b", uid + 1, (gid_t)-1), 0);
	CHECK_EQ(backend_fstatat(be, AT_FDCWD, "b", &st, 0), 0);
	CHECK_EQ(st.st_mtim.tv_sec, 7);
	CHECK_EQ(st.st_uid, uid + 1);
	p.symlink_attrs = 1;         /* where the filesystem can: the link itself */
	CHECK_EQ(fallback_lutimens(be, &p, AT_FDCWD, "sl", tv), 0);
	CHECK_EQ(backend_fstatat(be, AT_FDCWD, "sl", &st, AT_SYMLINK_NOFOLLOW), 0);
	CHECK_EQ(st.st_mtim.tv_sec, 7);
	CHECK_EQ(fallback_lock(be, backend_openat(be, AT_FDCWD, "b", O_RDONLY, 0), LOCK_EX), 0);
	backend_free(be);
}

/* A whole store on a backing filesystem without O_TMPFILE and without
 * RENAME_NOREPLACE (the GlusterFS case of issue 13). */
static void test_store_without(int plaintext_names)
{
	struct store *s = memstore_open(plaintext_names, CODEC_ZSTD);
	struct inode *in, *d;
	struct ofile *f;
	struct stat st;

	if (!s) {
		CHECK(0);
		return;
	}
	s->probe.done = 1;
	s->probe.tmpfile = 0;
	s->probe.rename_noreplace = 0;
	f = memstore_create(s, "file");
	CHECK(f != NULL);
	if (f) {
		CHECK_EQ(ofile_write(s, f, "data", 4, 0), 4);
		ofile_release(s, f);
	}
	f = NULL;
	CHECK_EQ(ns_create(s, inode_root(s), "file", 0600, O_CREAT | O_EXCL | O_RDWR, 0, 0, &in,
			   &st, &f), -EEXIST);
	CHECK_EQ(ns_mkdir(s, inode_root(s), "dir", 0755, 0, 0, &d, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(ns_mkdir(s, inode_root(s), "dir", 0755, 0, 0, &d, &st), -EEXIST);
	CHECK_EQ(ns_mkdir(s, d, "sub", 0700, 0, 0, &in, &st), 0);
	CHECK_EQ(count_prefixed(s->be, s->rootfd, ".tmp"), 0);
	store_close(s);
}

int main(void)
{
	if (crypto_init() < 0)
		return 1;
	test_probe_memory();
	test_render();
	test_fallbacks();
	test_store_without(0);
	test_store_without(1);
	return unit_done();
}
