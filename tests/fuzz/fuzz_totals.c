/* fuzz_totals.c - the store totals file BACKING/ragstore.stats, read by
 * stats_load at mount (stats.h), here through a memory backend.  The
 * input is the file.  Totals it loads as clean must save and load again
 * as the same totals. */
#include "fuzz.h"

#include "backend.h"
#include "stats.h"

#define BACKING "b"

static struct backend *be;

static int load(const void *p, size_t n, struct stats_snapshot *snap)
{
	struct stats *st = stats_new();
	int fd, r;

	FZ_ASSERT(st);
	stats_use_backend(st, be);
	if (p) {
		fd = backend_openat(be, AT_FDCWD, BACKING "/ragstore.stats",
				    O_WRONLY | O_CREAT | O_TRUNC, 0600);
		FZ_ASSERT(fd >= 0 && backend_pwrite_full(be, fd, p, n, 0) == 0);
		backend_close(be, fd);
	}
	r = stats_load(st, BACKING);
	FZ_ASSERT(r == 0 || r == 1);
	stats_snapshot(st, snap);
	if (r == 1)
		FZ_ASSERT(stats_save(st, BACKING) == 0);
	stats_free(st);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct stats_snapshot a, b;

	fz_init();
	if (!be) {
		be = backend_mem_new();
		FZ_ASSERT(be && backend_mkdirat(be, AT_FDCWD, BACKING, 0700) == 0);
	}
	if (load(data, size, &a) == 1) {
		FZ_ASSERT(load(NULL, 0, &b) == 1);
		FZ_ASSERT(memcmp(&a.totals, &b.totals, sizeof(a.totals)) == 0);
	}
	return 0;
}
