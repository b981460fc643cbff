/* test_reaper.c - the reaper (reaper.h) on the in-memory backend: every
 * descriptor handed over is closed by reaper_drain, in any number past
 * the bound (the excess closes inline), and by reaper_free; the inode of
 * an unlinked file stays until its descriptor is closed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "backend.h"
#include "reaper.h"
#include "unit.h"

#define N 40

static unsigned long long nodes_free(struct backend *be, int base)
{
	struct statvfs sv;

	CHECK_EQ(backend_fstatvfs(be, base, &sv), 0);
	return (unsigned long long)sv.f_ffree;
}

/* Make N files, hold each by an O_PATH descriptor, unlink them and hand
 * the descriptors to r; returns the free node count before. */
static unsigned long long hand_over(struct backend *be, int base, struct reaper *r, int *fds)
{
	unsigned long long before = nodes_free(be, base);
	char name[32];

	for (int i = 0; i < N; i++) {
		int fd;

		snprintf(name, sizeof(name), "f%d", i);
		fd = backend_openat(be, base, name, O_CREAT | O_EXCL | O_WRONLY, 0644);
		CHECK(fd >= 0);
		CHECK_EQ(backend_pwrite(be, fd, "data", 4, 0), 4);
		backend_close(be, fd);
		fds[i] = backend_openat(be, base, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
		CHECK(fds[i] >= 0);
		CHECK_EQ(backend_unlinkat(be, base, name, 0), 0);
	}
	/* Unlinked but held: the nodes are still there. */
	CHECK_EQ(nodes_free(be, base), before - N);
	for (int i = 0; i < N; i++)
		reaper_close(r, be, fds[i]);
	return before;
}

static void all_closed(struct backend *be, const int *fds)
{
	struct stat st;

	for (int i = 0; i < N; i++)
		CHECK_EQ(backend_fstat(be, fds[i], &st), -EBADF);
}

int main(void)
{
	struct backend *be = backend_mem_new();
	int base = backend_openat(be, AT_FDCWD, "/", O_RDONLY | O_DIRECTORY, 0);
	int fds[N];
	struct reaper *r;
	unsigned long long before;

	CHECK(be != NULL && base >= 0);
	CHECK_EQ(backend_fs_local(be, base), 1);
	/* A bound far below N: the excess is closed inline. */
	for (unsigned max = 1; max <= 2 * N; max *= 4) {
		r = reaper_new(be, max);
		CHECK(r != NULL);
		before = hand_over(be, base, r, fds);
		reaper_drain(r);
		all_closed(be, fds);
		CHECK_EQ(nodes_free(be, base), before);
		reaper_free(r);
	}
	/* reaper_free closes what still waits. */
	r = reaper_new(be, 2 * N);
	before = hand_over(be, base, r, fds);
	reaper_free(r);
	all_closed(be, fds);
	CHECK_EQ(nodes_free(be, base), before);
	/* No reaper: closed at once. */
	before = hand_over(be, base, NULL, fds);
	all_closed(be, fds);
	CHECK_EQ(nodes_free(be, base), before);
	CHECK(reaper_new(be, 0) == NULL);
	backend_close(be, base);
	backend_free(be);
	return unit_done();
}
