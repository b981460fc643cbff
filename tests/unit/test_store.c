/* test_store.c - the block data path (ofile.h) without FUSE, on a store
 * whose backing storage is the memory backend, so that what lands in the
 * backing file (allocated space, records) can be looked at directly:
 * read-modify-write of partial blocks, holes left by writes past the end,
 * truncation both ways, a hole list that overflows, garbage collection of
 * superseded records, fallocate, and damaged records read as EIO.  These
 * are format v1 files (FORMAT.md), which stores keep reading and writing;
 * test_v2io.c covers v2. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "blockfmt.h"
#include "fileheader.h"
#include "memstore.h"
#include "ns.h"
#include "ofile.h"
#include "stats.h"
#include "store.h"
#include "unit.h"

#define BS 4096 /* the block size of memstore_open */

/* Close f and open name again: everything below comes from the backing
 * file, nothing from memory. */
static struct ofile *reopen(struct store *s, struct ofile *f, const char *name)
{
	struct ofile *g = NULL;

	CHECK_EQ(ofile_release(s, f), 0);
	CHECK_EQ(ofile_open(s, s->rootfd, name, &g), 0);
	return g;
}

/* What the backing file occupies. */
static uint64_t allocated(struct store *s, struct ofile *f)
{
	struct stat st;

	if (backend_fstat(s->be, ofile_fd(f), &st) < 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

static int64_t total_stored(struct store *s)
{
	return memstore_stats(s).totals.stored;
}

static uint64_t integrity_errors(struct store *s)
{
	return memstore_stats(s).integrity_errors;
}

/* The byte at position i of the reference patterns. */
static char pat(uint64_t i, int seed)
{
	return (char)('a' + (i * 7 + (uint64_t)seed) % 26);
}

static void fill(char *buf, uint64_t off, size_t len, int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(off + i, seed);
}

/* Compare the whole of f with want (len bytes). */
static int same(struct store *s, struct ofile *f, const char *want, size_t len)
{
	char *got = malloc(len + BS);
	ssize_t n;
	int ok;

	if (!got)
		return 0;
	n = ofile_read(s, f, got, len + BS, 0);
	ok = n == (ssize_t)len && memcmp(got, want, len) == 0;
	free(got);
	return ok;
}

static void test_read_modify_write(struct store *s)
{
	size_t len = 3 * BS;
	char *want = malloc(len), buf[64];
	struct ofile *f = memstore_create(s, "rmw");

	if (!want || !f)
		goto out;
	fill(want, 0, len, 1);
	CHECK_EQ(ofile_write(s, f, want, len, 0), len);
	/* Inside one block, and across a block boundary. */
	fill(buf, 0, 10, 2);
	memcpy(want + BS + 4, buf, 10);
	CHECK_EQ(ofile_write(s, f, buf, 10, BS + 4), 10);
	fill(buf, 0, 40, 3);
	memcpy(want + 2 * BS - 20, buf, 40);
	CHECK_EQ(ofile_write(s, f, buf, 40, 2 * BS - 20), 40);
	CHECK(same(s, f, want, len));
	CHECK_EQ(ofile_size(f), len);
	f = reopen(s, f, "rmw");
	CHECK(f && same(s, f, want, len));
	/* A short read in the middle. */
	CHECK_EQ(ofile_read(s, f, buf, 30, BS - 10), 30);
	CHECK(!memcmp(buf, want + BS - 10, 30));
	CHECK_EQ(ofile_read(s, f, buf, 30, (off_t)len), 0);
out:
	if (f)
		ofile_release(s, f);
	free(want);
}

static void test_holes(struct store *s)
{
	struct ofile *f = memstore_create(s, "sparse");
	uint64_t off = 10 * BS + 7, alloc;
	char *buf = calloc(1, 11 * BS);

	if (!f || !buf)
		goto out;
	CHECK_EQ(ofile_write(s, f, "data!", 5, (off_t)off), 5);
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	CHECK_EQ(ofile_size(f), off + 5);
	CHECK_EQ(ofile_lseek(s, f, 0, SEEK_DATA), 10 * BS);
	CHECK_EQ(ofile_lseek(s, f, 0, SEEK_HOLE), 0);
	CHECK_EQ(ofile_lseek(s, f, 10 * BS, SEEK_HOLE), (off_t)(off + 5));
	CHECK_EQ(ofile_lseek(s, f, (off_t)off + 5, SEEK_DATA), -ENXIO);
	/* The ten blocks skipped take no space: the header and one record. */
	alloc = allocated(s, f);
	CHECK(alloc > 0 && alloc <= FH_AREA + blk_slot_size(BS));
	f = reopen(s, f, "sparse");
	if (!f)
		goto out;
	memset(buf, 'x', 11 * BS);
	CHECK_EQ(ofile_read(s, f, buf, 11 * BS, 0), (ssize_t)(off + 5));
	for (uint64_t i = 0; i < off; i++)
		if (buf[i]) {
			CHECK(buf[i] == 0);
			break;
		}
	CHECK(!memcmp(buf + off, "data!", 5));
	/* Filling a hole in the middle splits it. */
	CHECK_EQ(ofile_write(s, f, "mid", 3, 5 * BS), 3);
	CHECK_EQ(ofile_lseek(s, f, 0, SEEK_DATA), 5 * BS);
	CHECK_EQ(ofile_lseek(s, f, 5 * BS, SEEK_HOLE), 6 * BS);
	CHECK_EQ(ofile_read(s, f, buf, 4, 5 * BS - 1), 4);
	CHECK(!memcmp(buf, "\0mid", 4));
out:
	if (f)
		ofile_release(s, f);
	free(buf);
}

static void test_truncate(struct store *s)
{
	size_t len = 3 * BS;
	char *want = malloc(5 * BS);
	struct ofile *f = memstore_create(s, "trunc");
	uint64_t full, cut;

	if (!want || !f)
		goto out;
	fill(want, 0, len, 4);
	CHECK_EQ(ofile_write(s, f, want, len, 0), len);
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	full = allocated(s, f);
	/* Shrink into the middle of block 1. */
	CHECK_EQ(ofile_truncate(s, f, BS + 904), 0);
	CHECK_EQ(ofile_size(f), BS + 904);
	CHECK(same(s, f, want, BS + 904));
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	cut = allocated(s, f);
	CHECK(cut < full);
	/* Grow again: what was cut off stays gone, it reads as zeros. */
	CHECK_EQ(ofile_truncate(s, f, 5 * BS), 0);
	memset(want + BS + 904, 0, 5 * BS - (BS + 904));
	CHECK(same(s, f, want, 5 * BS));
	f = reopen(s, f, "trunc");
	CHECK(f && same(s, f, want, 5 * BS));
	/* Growing takes no space: the new blocks are holes. */
	CHECK(f && allocated(s, f) <= cut);
	CHECK(f && ofile_truncate(s, f, 0) == 0);
	CHECK(f && ofile_size(f) == 0);
	CHECK(f && ofile_fsync(s, f, 0) == 0);
	CHECK(f && allocated(s, f) <= FH_AREA);
out:
	if (f)
		ofile_release(s, f);
	free(want);
}

/* More separate holes than the header can list: the blocks that no longer
 * fit the list are written as zero records, and the content stays right. */
static void test_hole_overflow(struct store *s)
{
	uint64_t nblk = 2 * (FH_MAX_HOLES + 20);
	size_t len = (size_t)nblk * BS;
	char *want = calloc(1, len), *got = malloc(len);
	struct ofile *f = memstore_create(s, "holey");
	uint64_t b;

	if (!want || !got || !f)
		goto out;
	/* Data in every other block, written back to front so that each
	 * write splits the hole left by the first one. */
	CHECK_EQ(ofile_write(s, f, "end", 3, (off_t)(len - 3)), 3);
	memcpy(want + len - 3, "end", 3);
	for (b = nblk - 1; b-- > 0;) {
		if (b % 2)
			continue;
		fill(want + b * BS, b * BS, 100, 5);
		if (ofile_write(s, f, want + b * BS, 100, (off_t)(b * BS)) != 100)
			break;
	}
	CHECK_EQ(b, UINT64_MAX);
	CHECK(same(s, f, want, len));
	f = reopen(s, f, "holey");
	CHECK(f && same(s, f, want, len));
	/* Some holes are still holes, the rest became zero records. */
	CHECK(f && ofile_lseek(s, f, 100, SEEK_HOLE) < (off_t)len);
	if (f)
		CHECK(ofile_verify(s, f, NULL, NULL) == 0);
out:
	if (f)
		ofile_release(s, f);
	free(want);
	free(got);
}

/* A rewritten block has two records until fsync makes the new one durable;
 * then the old one is released and the space comes back. */
static void test_gc(struct store *s)
{
	int64_t base = total_stored(s), stored;
	char *a = malloc(4 * BS), *b = malloc(4 * BS);
	struct ofile *f = memstore_create(s, "gc");
	uint64_t one, two, after;

	if (!a || !b || !f)
		goto out;
	fill(a, 0, 4 * BS, 6);
	fill(b, 0, 4 * BS, 7);
	CHECK_EQ(ofile_write(s, f, a, 4 * BS, 0), 4 * BS);
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	one = allocated(s, f);
	CHECK_EQ(ofile_write(s, f, b, 4 * BS, 0), 4 * BS);
	two = allocated(s, f);
	CHECK(two > one);
	CHECK_EQ(total_stored(s) - base, (int64_t)two);
	CHECK(same(s, f, b, 4 * BS));
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	after = allocated(s, f);
	CHECK(after < two);
	CHECK_EQ(after, one);
	CHECK_EQ(total_stored(s) - base, (int64_t)after);
	CHECK(same(s, f, b, 4 * BS));
	/* The last close collects too. */
	CHECK_EQ(ofile_write(s, f, a, 2 * BS, 0), 2 * BS);
	CHECK(allocated(s, f) > after);
	f = reopen(s, f, "gc");
	if (!f)
		goto out;
	CHECK_EQ(allocated(s, f), after);
	memcpy(b, a, 2 * BS);
	CHECK(same(s, f, b, 4 * BS));
	/* Punching a range releases its blocks. */
	stored = total_stored(s);
	CHECK_EQ(ofile_fallocate(s, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BS, 2 * BS),
		 0);
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	CHECK(total_stored(s) < stored);
	memset(b + BS, 0, 2 * BS);
	CHECK(same(s, f, b, 4 * BS));
	CHECK_EQ(ofile_lseek(s, f, BS, SEEK_DATA), 3 * BS);
	CHECK_EQ(ofile_fallocate(s, f, FALLOC_FL_COLLAPSE_RANGE, 0, BS), -EOPNOTSUPP);
	CHECK_EQ(ofile_fallocate(s, f, 0, 0, 6 * BS), 0);
	CHECK_EQ(ofile_size(f), 6 * BS);
out:
	if (f)
		ofile_release(s, f);
	free(a);
	free(b);
}

/* Flip one byte of the backing file at off. */
static void flip(struct store *s, struct ofile *f, off_t off)
{
	uint8_t c;

	CHECK_EQ(backend_pread(s->be, ofile_fd(f), &c, 1, off), 1);
	c ^= 0x20;
	CHECK_EQ(backend_pwrite(s->be, ofile_fd(f), &c, 1, off), 1);
}

static void bad_block(void *arg, uint64_t block)
{
	uint64_t *seen = arg;

	*seen |= 1ULL << block;
}

static void test_damage(struct store *s)
{
	char *a = malloc(3 * BS), buf[BS];
	struct ofile *f = memstore_create(s, "damaged");
	uint64_t errors = integrity_errors(s), seen = 0;

	if (!a || !f)
		goto out;
	printf("test_store: the integrity errors logged below are expected\n");
	fill(a, 0, 3 * BS, 8);
	CHECK_EQ(ofile_write(s, f, a, 3 * BS, 0), 3 * BS);
	CHECK_EQ(ofile_fsync(s, f, 0), 0);
	f = reopen(s, f, "damaged");
	if (!f)
		goto out;
	/* One byte of the sealed payload of block 1 (its only record is in
	 * the first slot; compressed, the payload may be short). */
	flip(s, f, blk_slot_offset(BS, 1, 0) + BLK_PREFIX_LEN + 1);
	CHECK_EQ(ofile_read(s, f, buf, BS, BS), -EIO);
	CHECK_EQ(ofile_read(s, f, buf, 10, BS + 4000), -EIO);
	CHECK_EQ(ofile_read(s, f, buf, 2 * BS, 0), -EIO);
	CHECK(integrity_errors(s) > errors);
	/* The blocks around it still read. */
	CHECK_EQ(ofile_read(s, f, buf, BS, 0), BS);
	CHECK(!memcmp(buf, a, BS));
	CHECK_EQ(ofile_read(s, f, buf, BS, 2 * BS), BS);
	CHECK(!memcmp(buf, a + 2 * BS, BS));
	/* A write into the damaged block that needs its old content fails
	 * too, rather than making up zeros. */
	CHECK_EQ(ofile_write(s, f, "x", 1, BS + 5), -EIO);
	CHECK_EQ(ofile_verify(s, f, bad_block, &seen), 1);
	CHECK_EQ(seen, 2);
	/* A flipped byte in the prefix (here its generation) is caught the
	 * same way: the prefix is part of what the tag covers. */
	flip(s, f, blk_slot_offset(BS, 2, 0) + 8);
	CHECK_EQ(ofile_read(s, f, buf, BS, 2 * BS), -EIO);
	/* A whole record punched out: not zeros, but EIO. */
	CHECK_EQ(backend_fallocate(s->be, ofile_fd(f), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   blk_slot_offset(BS, 0, 0), (off_t)blk_slot_size(BS)), 0);
	CHECK_EQ(ofile_read(s, f, buf, BS, 0), -EIO);
out:
	if (f)
		ofile_release(s, f);
	free(a);
}

static void run_all(uint8_t algo)
{
	struct store *s = memstore_open(1, algo);

	CHECK(s != NULL);
	if (!s)
		return;
	s->v1_files = 1; /* this file tests the v1 data path; test_v2io v2 */
	test_read_modify_write(s);
	test_holes(s);
	test_truncate(s);
	test_hole_overflow(s);
	test_gc(s);
	test_damage(s);
	store_close(s);
}

int main(void)
{
	if (crypto_init() < 0)
		return 1;
	run_all(CODEC_NONE);
	run_all(CODEC_ZSTD);
	return unit_done();
}
