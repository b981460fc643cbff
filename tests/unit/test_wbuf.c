/* test_wbuf.c - the write-behind of a file's last block (ofile_int.h,
 * docs/CORE.md "When data is durable"), on a store whose backing storage is
 * the memory backend: small sequential writes stay in memory until flush,
 * are read back from there, go out as one record, leave the backing file
 * consistent (the old state) while buffered, and are written out before
 * anything that needs the header current. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "fileheader.h"
#include "memstore.h"
#include "ns.h"
#include "ofile.h"
#include "store.h"
#include "unit.h"

#define BS 4096 /* the block size of memstore_open */

/* The logical size as a second, independent open would see it from the
 * backing file alone: a fresh open of the same backing name while f is
 * still open would share f's entry, so peek at the size hint instead, which
 * follows every header written. */
static uint64_t backing_size(struct store *s, const char *name)
{
	uint64_t size = 0;
	uint16_t flags;

	if (ofile_hint(s, s->rootfd, name, &size, &flags, NULL) < 0)
		return (uint64_t)-1;
	return size;
}

static void fill(char *buf, size_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + (off + i) % 23);
}

/* Small appends gather; reads see them; flush writes one record. */
static void test_appends(struct store *s)
{
	char want[3000], got[3000];
	struct ofile *f = memstore_create(s, "append");

	fill(want, 0, sizeof(want));
	for (size_t off = 0; off < sizeof(want); off += 300)
		CHECK_EQ(ofile_write(s, f, want + off, 300, (off_t)off), 300);
	CHECK_EQ(ofile_size(f), sizeof(want));
	/* Nothing written yet: the backing file still says empty. */
	CHECK_EQ(backing_size(s, "append"), 0);
	memset(got, 0, sizeof(got));
	CHECK_EQ(ofile_read(s, f, got, sizeof(got), 0), sizeof(got));
	CHECK(memcmp(got, want, sizeof(want)) == 0);
	CHECK_EQ(ofile_flush(s, f), 0);
	CHECK_EQ(backing_size(s, "append"), sizeof(want));
	CHECK_EQ(ofile_release(s, f), 0);
	CHECK_EQ(ofile_open(s, s->rootfd, "append", &f), 0);
	memset(got, 0, sizeof(got));
	CHECK_EQ(ofile_read(s, f, got, sizeof(got), 0), sizeof(got));
	CHECK(memcmp(got, want, sizeof(want)) == 0);
	CHECK_EQ(ofile_release(s, f), 0);
}

/* An append to an existing partial block starts from its content. */
static void test_append_to_existing(struct store *s)
{
	char want[2500], got[2500];
	struct ofile *f = memstore_create(s, "existing");

	fill(want, 0, sizeof(want));
	CHECK_EQ(ofile_write(s, f, want, 1000, 0), 1000);
	CHECK_EQ(ofile_release(s, f), 0); /* flushed at the last release */
	CHECK_EQ(ofile_open(s, s->rootfd, "existing", &f), 0);
	CHECK_EQ(backing_size(s, "existing"), 1000);
	CHECK_EQ(ofile_write(s, f, want + 1000, 1500, 1000), 1500);
	CHECK_EQ(backing_size(s, "existing"), 1000); /* the old state */
	CHECK_EQ(ofile_read(s, f, got, sizeof(got), 0), sizeof(got));
	CHECK(memcmp(got, want, sizeof(want)) == 0);
	CHECK_EQ(ofile_release(s, f), 0);
	CHECK_EQ(backing_size(s, "existing"), sizeof(want));
}

/* A write elsewhere, a truncate and fsync each write the block out first,
 * so nothing is lost or reordered. */
static void test_flush_before_other_changes(struct store *s)
{
	char buf[BS + 100], got[BS + 100];
	struct ofile *f = memstore_create(s, "mixed");

	fill(buf, 0, sizeof(buf));
	CHECK_EQ(ofile_write(s, f, buf, 100, 0), 100);         /* buffered */
	CHECK_EQ(ofile_write(s, f, buf, BS, BS), BS);          /* block 1, direct */
	CHECK_EQ(backing_size(s, "mixed"), 2 * BS);
	CHECK_EQ(ofile_read(s, f, got, 100, 0), 100);
	CHECK(memcmp(got, buf, 100) == 0);
	CHECK_EQ(ofile_write(s, f, buf, 50, 2 * BS), 50);      /* buffered again */
	CHECK_EQ(ofile_truncate(s, f, 2 * BS + 20), 0);        /* writes it out */
	CHECK_EQ(backing_size(s, "mixed"), 2 * BS + 20);
	CHECK_EQ(ofile_read(s, f, got, 20, 2 * BS), 20);
	CHECK(memcmp(got, buf, 20) == 0);
	CHECK_EQ(ofile_write(s, f, buf, 10, 2 * BS + 20), 10);
	CHECK_EQ(ofile_fsync(s, f, 1), 0);
	CHECK_EQ(backing_size(s, "mixed"), 2 * BS + 30);
	CHECK_EQ(ofile_release(s, f), 0);
}

/* Setting times after buffered writes keeps the times set, as it would if
 * the data had gone out at once. */
static void test_times_after_buffered_write(struct store *s)
{
	struct timespec tv[2] = { { 1000, 5 }, { 2000, 7 } };
	struct ofile *f = memstore_create(s, "times");
	struct stat st;

	CHECK_EQ(ofile_write(s, f, "hello", 5, 0), 5);
	CHECK_EQ(ofile_futimens(s, f, tv), 0);
	CHECK_EQ(ofile_flush(s, f), 0);
	CHECK_EQ(backend_fstat(s->be, ofile_fd(f), &st), 0);
	CHECK_EQ(st.st_mtim.tv_sec, 2000);
	CHECK_EQ(st.st_mtim.tv_nsec, 7);
	CHECK_EQ(ofile_release(s, f), 0);
}

/* A write of zeros into the buffered block, and a gap before it: the hole
 * list and the buffer agree. */
static void test_zeros_and_gaps(struct store *s)
{
	char zeros[700], got[700];
	struct ofile *f = memstore_create(s, "zeros");

	memset(zeros, 0, sizeof(zeros));
	CHECK_EQ(ofile_write(s, f, zeros, sizeof(zeros), 0), sizeof(zeros));
	CHECK_EQ(ofile_write(s, f, "x", 1, 5 * BS), 1);        /* past a gap: direct */
	CHECK_EQ(ofile_size(f), 5 * BS + 1);
	memset(got, 1, sizeof(got));
	CHECK_EQ(ofile_read(s, f, got, sizeof(got), 0), sizeof(got));
	CHECK(memcmp(got, zeros, sizeof(zeros)) == 0);
	CHECK_EQ(ofile_read(s, f, got, 1, 5 * BS), 1);
	CHECK_EQ(got[0], 'x');
	CHECK_EQ(ofile_release(s, f), 0);
	CHECK_EQ(ofile_open(s, s->rootfd, "zeros", &f), 0);
	CHECK_EQ(ofile_size(f), 5 * BS + 1);
	CHECK_EQ(ofile_read(s, f, got, 1, 5 * BS), 1);
	CHECK_EQ(got[0], 'x');
	CHECK_EQ(ofile_release(s, f), 0);
}

int main(void)
{
	struct store *s;

	if (crypto_init() < 0)
		return 1;
	/* Plaintext names, so the tests can name backing files; the data
	 * path is the same in both name modes. */
	for (int c = 0; c < 2; c++) {
		s = memstore_open(1, c ? CODEC_ZSTD : CODEC_NONE);
		CHECK(s != NULL);
		if (!s)
			break;
		s->v1_files = 1; /* the v1 write-behind; v2's is in test_v2io */
		test_appends(s);
		test_append_to_existing(s);
		test_flush_before_other_changes(s);
		test_times_after_buffered_write(s);
		test_zeros_and_gaps(s);
		store_close(s);
	}
	return unit_done();
}
