/* test_backend.c - the memory backend against the real thing: the same
 * sequence of operations runs on the POSIX backend (in a temporary
 * directory of the real filesystem) and on the memory backend, and every
 * result must be the same, error codes included.  A few properties the
 * comparison cannot show (space given back by a punched hole, descriptors
 * that mean nothing to the kernel) are checked on their own. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "backend.h"
#include "unit.h"

#define MAX_RECORDS 1024

/* What one run of the scenario saw, step by step. */
struct run {
	int n;
	int line[MAX_RECORDS];
	long long v[MAX_RECORDS];
};

static long long record(struct run *run, int line, long long v)
{
	if (run->n < MAX_RECORDS) {
		run->line[run->n] = line;
		run->v[run->n] = v;
		run->n++;
	}
	return v;
}

/* R records a result; FD records only whether a descriptor came back (the
 * numbers differ by design) and hands the descriptor on. */
#define R(x) record(run, __LINE__, (long long)(x))
#define FD(x) fd_rec(run, __LINE__, (x))

static int fd_rec(struct run *run, int line, int fd)
{
	record(run, line, fd >= 0 ? 0 : fd);
	return fd;
}

static void rec_stat(struct run *run, int line, int r, const struct stat *st)
{
	record(run, line, r);
	if (r < 0)
		return;
	record(run, line, st->st_mode);
	record(run, line, (long long)st->st_nlink);
	record(run, line, (long long)st->st_uid);
	record(run, line, (long long)st->st_gid);
	if (!S_ISDIR(st->st_mode))
		record(run, line, (long long)st->st_size);
}

#define STAT_AT(dfd, name, flags)                                                   \
	do {                                                                        \
		struct stat st_;                                                    \
		int r_ = backend_fstatat(be, dfd, name, &st_, flags);               \
		rec_stat(run, __LINE__, r_, &st_);                                  \
	} while (0)
#define STAT_FD(fd)                                                                 \
	do {                                                                        \
		struct stat st_;                                                    \
		int r_ = backend_fstat(be, fd, &st_);                               \
		rec_stat(run, __LINE__, r_, &st_);                                  \
	} while (0)

static void files(struct backend *be, int base, struct run *run)
{
	char buf[64], big[300];
	struct stat st;
	int fd, fd2;

	R(backend_mkdirat(be, base, "d", 0755));
	R(backend_mkdirat(be, base, "d", 0755));
	R(backend_mkdirat(be, base, "nodir/x", 0755));
	fd = FD(backend_openat(be, base, "d/f", O_CREAT | O_EXCL | O_RDWR, 0644));
	R(backend_openat(be, base, "d/f", O_CREAT | O_EXCL | O_RDWR, 0644));
	R(backend_openat(be, base, "d/f/x", O_RDONLY, 0));
	R(backend_openat(be, base, "d", O_RDWR, 0));
	R(backend_openat(be, base, "d/f", O_RDONLY | O_DIRECTORY, 0));
	R(backend_pwrite(be, fd, "0123456789", 10, 8192));
	STAT_FD(fd);
	memset(buf, 'x', sizeof(buf));
	R(backend_pread(be, fd, buf, 4, 0));
	R(buf[0] == 0 && buf[3] == 0);
	R(backend_pread(be, fd, buf, sizeof(buf), 8198));
	R(memcmp(buf, "6789", 4) == 0);
	R(backend_pread(be, fd, buf, 4, 100000));
	R(backend_ftruncate(be, fd, 8195));
	STAT_FD(fd);
	R(backend_ftruncate(be, fd, 9000));
	R(backend_pread(be, fd, buf, 8, 8192));
	R(memcmp(buf, "012\0\0\0\0\0", 8) == 0);
	/* A read-only descriptor cannot write or truncate. */
	fd2 = FD(backend_openat(be, base, "d/f", O_RDONLY, 0));
	R(backend_pwrite(be, fd2, "x", 1, 0));
	R(backend_ftruncate(be, fd2, 0));
	R(backend_close(be, fd2));
	R(backend_close(be, fd2));
	/* O_TRUNC empties. */
	fd2 = FD(backend_openat(be, base, "d/f", O_WRONLY | O_TRUNC, 0));
	STAT_FD(fd2);
	R(backend_pread(be, fd2, buf, 1, 0));
	R(backend_close(be, fd2));
	R(backend_fallocate(be, fd, 0, 0, 5000));
	STAT_FD(fd);
	R(backend_fallocate(be, fd, FALLOC_FL_KEEP_SIZE, 0, 20000));
	STAT_FD(fd);
	R(backend_fallocate(be, fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	R(backend_fallocate(be, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	R(backend_fsync(be, fd, 0));
	R(backend_fsync(be, fd, 1));
	R(backend_syncfs(be, fd));
	R(backend_close(be, fd));
	R(backend_syncfs(be, fd));
	/* Names too long for any Linux filesystem. */
	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	R(backend_mkdirat(be, base, big, 0755));
	big[255] = '\0';
	R(backend_mkdirat(be, base, big, 0755));
	R(backend_unlinkat(be, base, big, AT_REMOVEDIR));
	R(backend_fstatvfs(be, base, &(struct statvfs){ 0 }));
	R(backend_fstatat(be, base, "d/none", &st, 0));
	R(backend_fstatat(be, base, "", &st, 0));
}

static void links(struct backend *be, int base, struct run *run)
{
	int fd;

	fd = FD(backend_openat(be, base, "d/f", O_RDWR, 0));
	R(backend_linkat(be, base, "d/f", base, "d/g", 0));
	R(backend_linkat(be, base, "d/f", base, "d/g", 0));
	R(backend_linkat(be, base, "d", base, "d2", 0));
	R(backend_linkat(be, base, "d/none", base, "d/h", 0));
	STAT_AT(base, "d/g", AT_SYMLINK_NOFOLLOW);
	R(backend_unlinkat(be, base, "d/f", 0));
	R(backend_unlinkat(be, base, "d/f", 0));
	STAT_FD(fd);
	R(backend_linkfd(be, fd, base, "d/f"));
	STAT_AT(base, "d/g", AT_SYMLINK_NOFOLLOW);
	R(backend_unlinkat(be, base, "d", 0));
	R(backend_unlinkat(be, base, "d", AT_REMOVEDIR));
	R(backend_unlinkat(be, base, "d/g", AT_REMOVEDIR));
	R(backend_unlinkat(be, base, "d/.", AT_REMOVEDIR));
	R(backend_close(be, fd));
	/* An unnamed file gets a name only once it is ready. */
	fd = FD(backend_openat(be, base, "d", O_TMPFILE | O_RDWR, 0600));
	STAT_FD(fd);
	R(backend_pwrite(be, fd, "hdr", 3, 0));
	R(backend_linkfd(be, fd, base, "d/t"));
	R(backend_linkfd(be, fd, base, "d/t"));
	STAT_AT(base, "d/t", 0);
	R(backend_close(be, fd));
	R(backend_openat(be, base, "d/f", O_TMPFILE | O_RDWR, 0600));
	R(backend_openat(be, base, "d", O_TMPFILE | O_RDONLY, 0600));
}

static void renames(struct backend *be, int base, struct run *run)
{
	int fd;

	R(backend_mkdirat(be, base, "r", 0755));
	fd = FD(backend_openat(be, base, "r/a", O_CREAT | O_WRONLY, 0644));
	R(backend_close(be, fd));
	R(backend_mkdirat(be, base, "r/b", 0755));
	R(backend_mkdirat(be, base, "r/c", 0755));
	R(backend_mkdirat(be, base, "r/c/x", 0755));
	STAT_AT(base, "r", 0);
	R(backend_renameat2(be, base, "r/a", base, "r/b", 0));
	R(backend_renameat2(be, base, "r/b", base, "r/a", 0));
	R(backend_renameat2(be, base, "r/b", base, "r/c", 0));
	R(backend_renameat2(be, base, "r/c", base, "r/c/x/y", 0));
	R(backend_renameat2(be, base, "r/none", base, "r/z", 0));
	R(backend_renameat2(be, base, "r/a", base, "r/a", 0));
	R(backend_renameat2(be, base, "r/a", base, "d/g", RENAME_NOREPLACE));
	R(backend_renameat2(be, base, "r/a", base, "r/none", RENAME_EXCHANGE));
	R(backend_renameat2(be, base, "r/a", base, "r/b",
			    RENAME_EXCHANGE | RENAME_NOREPLACE));
	/* Exchange a file and a directory in different directories: the
	 * link counts of both parents change. */
	R(backend_renameat2(be, base, "r/c/x", base, "d/g", RENAME_EXCHANGE));
	STAT_AT(base, "r/c", 0);
	STAT_AT(base, "d", 0);
	STAT_AT(base, "d/g", 0);
	STAT_AT(base, "r/c/x", 0);
	R(backend_renameat2(be, base, "d/g", base, "r/c/x", RENAME_EXCHANGE));
	/* Over an empty directory, over a file, moving a directory. */
	R(backend_renameat2(be, base, "r/b", base, "r/c/x", 0));
	STAT_AT(base, "r", 0);
	STAT_AT(base, "r/b", 0);
	R(backend_renameat2(be, base, "r/a", base, "d/g", 0));
	STAT_AT(base, "d/t", 0);
	STAT_AT(base, "d/g", 0);
	R(backend_renameat2(be, base, "r/c", base, "d/c", RENAME_NOREPLACE));
	STAT_AT(base, "r", 0);
	STAT_AT(base, "d", 0);
	/* Hard links of one file: rename does nothing. */
	R(backend_linkat(be, base, "d/g", base, "d/g2", 0));
	R(backend_renameat2(be, base, "d/g", base, "d/g2", 0));
	STAT_AT(base, "d/g", 0);
}

static void specials(struct backend *be, int base, struct run *run)
{
	char buf[PATH_MAX];
	int fd;

	R(backend_symlinkat(be, "../nowhere", base, "d/s"));
	R(backend_symlinkat(be, "../nowhere", base, "d/s"));
	R(backend_symlinkat(be, "", base, "d/s2"));
	R(backend_readlinkat(be, base, "d/s", buf, sizeof(buf)));
	R(memcmp(buf, "../nowhere", 10) == 0);
	R(backend_readlinkat(be, base, "d/s", buf, 3));
	R(backend_readlinkat(be, base, "d/g", buf, sizeof(buf)));
	STAT_AT(base, "d/s", AT_SYMLINK_NOFOLLOW);
	STAT_AT(base, "d/s", 0);
	R(backend_openat(be, base, "d/s", O_RDONLY | O_NOFOLLOW, 0));
	R(backend_symlinkat(be, "c", base, "d/sc"));
	STAT_AT(base, "d/sc/x", 0);
	STAT_AT(base, "d/sc", 0);
	R(backend_mknodat(be, base, "d/fifo", S_IFIFO | 0640, 0));
	STAT_AT(base, "d/fifo", 0);
	R(backend_mknodat(be, base, "d/dir", S_IFDIR | 0640, 0));
	/* Modes, owners and the setuid bit a chown takes away. */
	R(backend_fchmodat(be, base, "d/g", 04755, 0));
	STAT_AT(base, "d/g", 0);
	R(backend_fchownat(be, base, "d/g", 123, 456, 0));
	STAT_AT(base, "d/g", 0);
	R(backend_fchmodat(be, base, "d/g", 02750, 0));
	R(backend_fchownat(be, base, "d/g", (uid_t)-1, 789, 0));
	STAT_AT(base, "d/g", 0);
	R(backend_fchmodat(be, base, "d/g", 02740, 0));
	R(backend_fchownat(be, base, "d/g", 1, (gid_t)-1, 0));
	STAT_AT(base, "d/g", 0);
	R(backend_fchownat(be, base, "d/s", 5, 6, AT_SYMLINK_NOFOLLOW));
	STAT_AT(base, "d/s", AT_SYMLINK_NOFOLLOW);
	R(backend_fchmodat(be, base, "d/s", 0600, AT_SYMLINK_NOFOLLOW));
	/* A setgid directory hands its group down. */
	R(backend_mkdirat(be, base, "sg", 0755));
	R(backend_fchownat(be, base, "sg", 0, 4242, 0));
	R(backend_fchmodat(be, base, "sg", 02775, 0));
	R(backend_mkdirat(be, base, "sg/sub", 0700));
	STAT_AT(base, "sg/sub", 0);
	fd = FD(backend_openat(be, base, "sg/file", O_CREAT | O_RDWR, 0640));
	STAT_FD(fd);
	R(backend_fchmod(be, fd, 0600));
	R(backend_fchown(be, fd, 7, 8));
	STAT_FD(fd);
	R(backend_close(be, fd));
	R(backend_mkdirat(be, base, "m0", 0));
	STAT_AT(base, "m0", 0);
}

static void times(struct backend *be, int base, struct run *run)
{
	struct timespec tv[2] = { { 1000, 5 }, { 2000, 999999999 } };
	struct stat st;
	int fd;

	R(backend_utimensat(be, base, "d/g", tv, 0));
	R(backend_fstatat(be, base, "d/g", &st, 0));
	R(st.st_atim.tv_sec);
	R(st.st_atim.tv_nsec);
	R(st.st_mtim.tv_sec);
	R(st.st_mtim.tv_nsec);
	tv[0].tv_nsec = UTIME_OMIT;
	tv[1].tv_sec = 3000;
	tv[1].tv_nsec = 7;
	R(backend_utimensat(be, base, "d/g", tv, 0));
	R(backend_fstatat(be, base, "d/g", &st, 0));
	R(st.st_atim.tv_sec);
	R(st.st_mtim.tv_sec);
	R(st.st_mtim.tv_nsec);
	tv[1].tv_nsec = 1000000000L;
	R(backend_utimensat(be, base, "d/g", tv, 0));
	tv[0].tv_sec = 77;
	tv[0].tv_nsec = 1;
	tv[1].tv_nsec = UTIME_OMIT;
	R(backend_utimensat(be, base, "d/s", tv, AT_SYMLINK_NOFOLLOW));
	R(backend_fstatat(be, base, "d/s", &st, AT_SYMLINK_NOFOLLOW));
	R(st.st_atim.tv_sec);
	fd = FD(backend_openat(be, base, "d/g", O_RDWR, 0));
	tv[0].tv_sec = 500;
	tv[1].tv_sec = 600;
	tv[1].tv_nsec = 0;
	R(backend_futimens(be, fd, tv));
	R(backend_fstat(be, fd, &st));
	R(st.st_atim.tv_sec);
	R(st.st_mtim.tv_sec);
	R(backend_close(be, fd));
}

static void xattrs(struct backend *be, int base, struct run *run)
{
	char buf[16];
	int fd, pfd;

	fd = FD(backend_openat(be, base, "d/g", O_RDWR, 0));
	R(backend_fsetxattr(be, fd, "user.a", "value", 5, 0));
	R(backend_fsetxattr(be, fd, "user.a", "v", 1, XATTR_CREATE));
	R(backend_fsetxattr(be, fd, "user.b", "v", 1, XATTR_REPLACE));
	R(backend_fsetxattr(be, fd, "nonamespace", "v", 1, 0));
	R(backend_fgetxattr(be, fd, "user.a", NULL, 0));
	R(backend_fgetxattr(be, fd, "user.a", buf, 2));
	R(backend_fgetxattr(be, fd, "user.a", buf, sizeof(buf)));
	R(memcmp(buf, "value", 5) == 0);
	R(backend_fgetxattr(be, fd, "user.none", buf, sizeof(buf)));
	R(backend_fsetxattr(be, fd, "user.a", "", 0, XATTR_REPLACE));
	R(backend_getxattrat(be, base, "d/g", "user.a", buf, sizeof(buf)));
	R(backend_close(be, fd));
	R(backend_setxattrat(be, base, "d", "user.dir", "1", 1, 0));
	R(backend_getxattrat(be, base, "d", "user.dir", buf, sizeof(buf)));
	pfd = FD(backend_openat(be, base, "d", O_PATH | O_DIRECTORY | O_NOFOLLOW, 0));
	R(backend_getxattrat(be, pfd, ".", "user.dir", buf, sizeof(buf)));
	R(backend_fgetxattr(be, pfd, "user.dir", buf, sizeof(buf)));
	R(backend_setxattrat(be, pfd, "s", "user.x", "1", 1, 0));
	R(backend_getxattrat(be, pfd, "s", "user.x", buf, sizeof(buf)));
	R(backend_setxattrat(be, pfd, "fifo", "user.x", "1", 1, 0));
	R(backend_pread(be, pfd, buf, 1, 0));
	R(backend_close(be, pfd));
}

static void locks(struct backend *be, int base, struct run *run)
{
	int a = FD(backend_openat(be, base, "d", O_RDONLY | O_DIRECTORY, 0));
	int b = FD(backend_openat(be, base, "d", O_RDONLY | O_DIRECTORY, 0));

	R(backend_flock(be, a, LOCK_EX | LOCK_NB));
	R(backend_flock(be, b, LOCK_EX | LOCK_NB));
	R(backend_flock(be, b, LOCK_SH | LOCK_NB));
	R(backend_flock(be, a, LOCK_UN));
	R(backend_flock(be, b, LOCK_SH | LOCK_NB));
	R(backend_flock(be, a, LOCK_SH | LOCK_NB));
	R(backend_flock(be, a, LOCK_EX | LOCK_NB));
	R(backend_close(be, b));
	R(backend_flock(be, a, LOCK_EX | LOCK_NB));
	R(backend_close(be, a));
}

/* The names of directory name in base, sorted, as one string; and a
 * telldir/seekdir round trip. */
static void listing(struct backend *be, int base, struct run *run)
{
	struct backend_dir *d;
	struct dirent *e;
	char names[64][NAME_MAX + 1], again[NAME_MAX + 1] = "";
	long pos = -1;
	int n = 0, fd, k;

	fd = FD(backend_openat(be, base, "d", O_RDONLY | O_DIRECTORY, 0));
	if (fd < 0 || R(backend_fdopendir(be, fd, &d)) < 0)
		return;
	while ((k = backend_readdir(be, d, &e)) == 1 && n < 64) {
		strcpy(names[n++], e->d_name);
		if (n == 3) {
			pos = backend_telldir(be, d);
			if (backend_readdir(be, d, &e) == 1)
				strcpy(again, e->d_name);
			backend_seekdir(be, d, pos);
		}
	}
	R(k);
	qsort(names, (size_t)n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
	R(n);
	for (int i = 0; i < n; i++) {
		long long h = 0;

		for (const char *p = names[i]; *p; p++)
			h = h * 31 + *p;
		R(h);
	}
	/* After seekdir the same entry comes again. */
	backend_seekdir(be, d, pos);
	R(backend_readdir(be, d, &e) == 1 && !strcmp(e->d_name, again));
	backend_rewinddir(be, d);
	R(backend_readdir(be, d, &e));
	R(backend_dirfd(be, d) == fd);
	backend_closedir(be, d);
	fd = FD(backend_openat(be, base, "d/g", O_RDONLY, 0));
	R(backend_fdopendir(be, fd, &d));
	R(backend_close(be, fd));
}

static void cleanup(struct backend *be, int base, struct run *run)
{
	static const char *const files_[] = {
		"d/g", "d/g2", "d/t", "d/s", "d/sc", "d/fifo", "d/f", "sg/file",
	};
	static const char *const dirs[] = {
		"d/c/x", "d/c", "d", "r/b", "r", "sg/sub", "sg", "m0",
	};

	for (size_t i = 0; i < sizeof(files_) / sizeof(files_[0]); i++)
		R(backend_unlinkat(be, base, files_[i], 0));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		R(backend_unlinkat(be, base, dirs[i], AT_REMOVEDIR));
}

static void scenario(struct backend *be, int base, struct run *run)
{
	files(be, base, run);
	links(be, base, run);
	renames(be, base, run);
	specials(be, base, run);
	times(be, base, run);
	xattrs(be, base, run);
	locks(be, base, run);
	listing(be, base, run);
	cleanup(be, base, run);
}

static void compare(const struct run *posix, const struct run *mem)
{
	CHECK_EQ(posix->n, mem->n);
	for (int i = 0; i < posix->n && i < mem->n; i++) {
		if (posix->v[i] != mem->v[i])
			fprintf(stderr, "test_backend.c:%d: posix %lld, memory %lld\n",
				posix->line[i], posix->v[i], mem->v[i]);
		CHECK_EQ(posix->v[i], mem->v[i]);
	}
}

/* What only the memory backend can be asked: holes really give space
 * back, and its descriptors are not the kernel's. */
static void test_mem_space(void)
{
	struct backend *be = backend_mem_new();
	char *buf = calloc(1, 65536);
	struct stat st;
	int fd;

	CHECK(be != NULL && buf != NULL);
	if (!be || !buf)
		goto out;
	memset(buf, 7, 65536);
	fd = backend_openat(be, AT_FDCWD, "/f", O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0);
	CHECK(fstat(fd, &st) < 0 && errno == EBADF);
	CHECK_EQ(backend_pwrite(be, fd, buf, 65536, 1 << 20), 65536);
	CHECK_EQ(backend_fstat(be, fd, &st), 0);
	CHECK_EQ(st.st_blocks, 65536 / 512);
	CHECK_EQ(st.st_size, (1 << 20) + 65536);
	CHECK_EQ(backend_fallocate(be, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   (1 << 20) + 100, 8192), 0);
	backend_fstat(be, fd, &st);
	CHECK_EQ(st.st_blocks, 65536 / 512 - 8); /* one whole page went */
	CHECK_EQ(backend_pread(be, fd, buf, 8192, (1 << 20) + 100), 8192);
	CHECK(buf[0] == 0 && buf[8191] == 0);
	CHECK_EQ(backend_pread(be, fd, buf, 1, (1 << 20) + 99), 1);
	CHECK_EQ(buf[0], 7);
	CHECK_EQ(backend_ftruncate(be, fd, (1 << 20) + 10), 0);
	backend_fstat(be, fd, &st);
	CHECK_EQ(st.st_blocks, 8);
	/* A write far out leaves a hole, not a huge allocation. */
	CHECK_EQ(backend_pwrite(be, fd, "x", 1, (off_t)1 << 40), 1);
	backend_fstat(be, fd, &st);
	CHECK_EQ(st.st_blocks, 16);
	CHECK_EQ(backend_pwrite(be, fd, "x", 1, (off_t)1 << 45), -EFBIG);
	/* A name outlives nothing: the last close frees an unlinked file. */
	CHECK_EQ(backend_unlinkat(be, AT_FDCWD, "/f", 0), 0);
	CHECK_EQ(backend_fstat(be, fd, &st), 0);
	CHECK_EQ(st.st_nlink, 0);
	CHECK_EQ(backend_close(be, fd), 0);
	CHECK_EQ(backend_fstat(be, fd, &st), -EBADF);
	/* Devices: no rename or link across them. */
	CHECK_EQ(backend_mkdirat(be, AT_FDCWD, "/other", 0755), 0);
	CHECK_EQ(backend_mem_set_device(be, "/other", 77), 0);
	CHECK_EQ(backend_mkdirat(be, AT_FDCWD, "/other/in", 0755), 0);
	backend_fstatat(be, AT_FDCWD, "/other/in", &st, 0);
	CHECK_EQ(st.st_dev, 77);
	CHECK_EQ(backend_renameat2(be, AT_FDCWD, "/other/in", AT_FDCWD, "/in", 0), -EXDEV);
	fd = backend_openat(be, AT_FDCWD, "/g", O_CREAT | O_RDWR, 0600);
	CHECK_EQ(backend_linkat(be, AT_FDCWD, "/g", AT_FDCWD, "/other/g", 0), -EXDEV);
	CHECK_EQ(backend_linkfd(be, fd, AT_FDCWD, "/other/g"), -EXDEV);
	backend_close(be, fd);
	{
		char *p = backend_realpath(be, "/other/./in/../in");

		CHECK(p && !strcmp(p, "/other/in"));
		free(p);
	}
out:
	free(buf);
	backend_free(be);
}

int main(void)
{
	char tmpl[] = "/tmp/ragstore-backend-XXXXXX";
	struct run *posix = calloc(1, sizeof(*posix)), *mem = calloc(1, sizeof(*mem));
	struct backend *be = backend_mem_new();
	int base;

	/* As the daemon: modes are exactly what the store asks for. */
	umask(0);
	if (!posix || !mem || !be || !mkdtemp(tmpl)) {
		CHECK(0);
		return unit_done();
	}
	base = backend_openat(backend_posix(), AT_FDCWD, tmpl, O_RDONLY | O_DIRECTORY, 0);
	CHECK(base >= 0);
	scenario(backend_posix(), base, posix);
	backend_close(backend_posix(), base);
	rmdir(tmpl);

	base = backend_openat(be, AT_FDCWD, "/", O_RDONLY | O_DIRECTORY, 0);
	CHECK(base >= 0);
	scenario(be, base, mem);
	backend_close(be, base);
	backend_free(be);

	compare(posix, mem);
	test_mem_space();
	free(posix);
	free(mem);
	return unit_done();
}
