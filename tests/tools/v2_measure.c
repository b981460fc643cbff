/* v2_measure.c - backing space of a tree under format v1, a proposed v2 and
 * ext4, the numbers behind docs/FORMAT-v2-proposal.md.
 *   make tests/tools/v2_measure && tests/tools/v2_measure [-b BLOCK] [-c ALGO] [DIR...]
 * Walks each DIR (default /usr) with nftw and reports the sum, regular files only, unreadable ones
 * skipped; compresses each file block by block with the codec layer exactly
 * as v1 does (raw when it saves less than 1/8, all-zero blocks are holes) and
 * adds up what each layout would occupy.  Nothing is written. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"

#define FSB 4096ULL /* backing filesystem block */

/* v1 (docs/FORMAT.md) */
#define V1_HDR 4096ULL
#define V1_PREFIX 48ULL
#define V1_TAG 16ULL

/* v2 proposal (docs/FORMAT-v2-proposal.md) */
#define V2_FIXED 96ULL    /* fixed header fields */
#define V2_TRAILER 40ULL  /* 24-byte nonce + 16-byte tag */
#define V2_SLOT 2048ULL   /* header slot of a non-inline file */
#define V2_ENTRY 32ULL    /* index entry: offset, lengths, algo, tag */
#define V2_NONCE 24ULL    /* record = nonce || ciphertext (tag in the index) */
#define V2_PAGE 4096ULL   /* index page: 128 entries, MAC'd by its parent */
#define V2_ROOT ((V2_SLOT - V2_FIXED - V2_TRAILER) / V2_ENTRY) /* 60 */

static const uint64_t caps[] = { 1912, 3072, 4096 - V2_FIXED - V2_TRAILER };
#define NCAPS (sizeof(caps) / sizeof(caps[0]))
#define HBUCKETS 20

static struct codec_spec spec;
static size_t bs = 65536;
static unsigned char *buf, *out;

static struct {
	uint64_t files, dirs, skipped, empty, logical, blocks, holes;
	uint64_t ext4, ext4_real, v1, v1_apparent, v2[NCAPS], v2_aligned;
	uint64_t inl_files[NCAPS], inl_bytes[NCAPS];
	uint64_t small_files, small_logical, multi_fit;
	uint64_t hist[HBUCKETS], hist_bytes[HBUCKETS];
	uint64_t idx_hdr_files, idx_page_files, idx_bytes, idx_pages, idx_max;
	uint64_t stored, v2_small_hdr, cls[3], cls_logical[3];
} t;

static uint64_t rup(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static int bucket(uint64_t c)
{
	if (c < 4096)
		return (int)(c / 256);     /* 0..15: 256-byte steps */
	if (c < 8192)
		return 16;
	if (c < 16384)
		return 17;
	if (c < 32768)
		return 18;
	return 19;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void measure(int fd, uint64_t size)
{
	uint64_t nblocks = (size + bs - 1) / bs, stored_sum = 0, v1 = V1_HDR;
	uint64_t recs = 0, aligned = 0, last_rec = 0;
	uint64_t slot = rup(V1_PREFIX + bs + V1_TAG, FSB);

	for (uint64_t i = 0; i < nblocks; i++) {
		size_t n = (size_t)(size - i * bs < bs ? size - i * bs : bs), got = 0;
		ssize_t r, c;

		while (got < n && (r = pread(fd, buf + got, n - got, (off_t)(i * bs + got))) > 0)
			got += (size_t)r;
		if (got < n) /* shrank or failed while reading: count as zeros */
			memset(buf + got, 0, n - got);
		t.blocks++;
		if (all_zero(buf, n)) {
			t.holes++;
			last_rec = 0;
			continue;
		}
		c = codec_compress(&spec, buf, n, out, bs);
		if (c <= 0)
			c = (ssize_t)n;
		stored_sum += (uint64_t)c;
		v1 += rup(V1_PREFIX + (uint64_t)c + V1_TAG, FSB);
		last_rec = V1_PREFIX + (uint64_t)c + V1_TAG;
		recs += V2_NONCE + (uint64_t)c;
		aligned += rup(V2_NONCE + (uint64_t)c, FSB);
		if (nblocks == 1) {
			t.hist[bucket((uint64_t)c)]++;
			t.hist_bytes[bucket((uint64_t)c)] += size;
		}
	}
	t.stored += stored_sum;
	t.v1 += v1;
	/* apparent size of a freshly written v1 file: every block in slot 0 */
	t.v1_apparent += nblocks ? V1_HDR + 2 * (nblocks - 1) * slot +
				   (last_rec ? last_rec : slot) : V1_HDR;

	/* index outside the header: pages of 128 entries, once past the root */
	uint64_t pages = nblocks > V2_ROOT ? (nblocks + 127) / 128 : 0;
	uint64_t big = rup(V2_SLOT * 2 + pages * V2_PAGE + recs, FSB);

	/* variant: two 512-byte header slots (index of up to 11 entries) for
	 * files of at most 11 blocks, records from offset 1024 */
	uint64_t small_root = (512 - V2_FIXED - V2_TRAILER) / V2_ENTRY;
	uint64_t big_small = nblocks <= small_root ? rup(1024 + recs, FSB) : big;

	if (nblocks <= V2_ROOT)
		t.idx_hdr_files++;
	else
		t.idx_page_files++;
	t.idx_bytes += nblocks * V2_ENTRY;
	t.idx_pages += pages;
	if (nblocks * V2_ENTRY > t.idx_max)
		t.idx_max = nblocks * V2_ENTRY;
	t.v2_aligned += 2 * V2_SLOT + pages * V2_PAGE + aligned;
	if (nblocks == 1) {
		t.small_files++;
		t.small_logical += size;
	} else if (nblocks > 1 && stored_sum <= caps[NCAPS - 1]) {
		t.multi_fit++; /* would fit inline if inline held several blocks */
	}
	for (size_t k = 0; k < NCAPS; k++) {
		/* inline: one 4 KiB block holds header and data (size 0 included) */
		if (nblocks <= 1 && stored_sum <= caps[k]) {
			t.v2[k] += FSB;
			t.inl_files[k]++;
			t.inl_bytes[k] += size;
		} else {
			t.v2[k] += big;
		}
	}
	/* classes at the largest cap: inline, one block not inline, several */
	int cl = nblocks <= 1 && stored_sum <= caps[NCAPS - 1] ? 0 : nblocks <= 1 ? 1 : 2;

	t.cls[cl] += cl ? big : FSB;
	t.cls_logical[cl] += size;
	t.v2_small_hdr += cl ? big_small : FSB;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	int fd;

	(void)ftw;
	if (type == FTW_D) {
		t.dirs++;
		return 0;
	}
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		t.skipped++;
		return 0;
	}
	t.files++;
	t.logical += (uint64_t)st->st_size;
	t.ext4 += rup((uint64_t)st->st_size, FSB);
	t.ext4_real += (uint64_t)st->st_blocks * 512;
	if (st->st_size == 0)
		t.empty++;
	measure(fd, (uint64_t)st->st_size);
	close(fd);
	return 0;
}

static void line(const char *name, uint64_t v)
{
	printf("  %-44s %14llu bytes  %.3fx logical\n", name, (unsigned long long)v,
	       t.logical ? (double)v / (double)t.logical : 0.0);
}

int main(int argc, char **argv)
{
	const char *algo = "zstd:1";
	char name[96];
	int opt;

	while ((opt = getopt(argc, argv, "b:c:")) != -1) {
		if (opt == 'b')
			bs = strtoul(optarg, NULL, 0);
		else if (opt == 'c')
			algo = optarg;
		else
			bs = 0;
	}
	if (codec_parse(algo, &spec) || bs < 4096 || bs > (1 << 20)) {
		fprintf(stderr, "usage: %s [-b BLOCK_SIZE] [-c ALGO] [DIR...]\n", argv[0]);
		return 2;
	}
	buf = malloc(bs);
	out = malloc(bs);
	if (!buf || !out)
		return 1;
	for (int i = optind; i < argc || i == optind; i++) {
		const char *dir = i < argc ? argv[i] : "/usr";

		if (nftw(dir, visit, 64, FTW_PHYS) < 0) {
			perror(dir);
			return 1;
		}
	}
	codec_format(&spec, name, sizeof(name));
	printf("tree");
	for (int i = optind; i < argc; i++)
		printf(" %s", argv[i]);
	printf("%s, block %zu, %s\n", optind < argc ? "" : " /usr", bs, name);
	printf("  regular files %llu (empty %llu, unreadable skipped %llu), directories %llu\n",
	       (unsigned long long)t.files, (unsigned long long)t.empty,
	       (unsigned long long)t.skipped, (unsigned long long)t.dirs);
	printf("  blocks %llu (all-zero %llu)\n", (unsigned long long)t.blocks,
	       (unsigned long long)t.holes);
	line("logical", t.logical);
	line("compressed payload only (no overhead)", t.stored);
	line("(c) ext4, sum round_up(size, 4096)", t.ext4);
	line("    ext4 as allocated here (st_blocks)", t.ext4_real);
	line("(a) v1 allocated", t.v1);
	line("    v1 apparent size", t.v1_apparent);
	for (size_t k = 0; k < NCAPS; k++) {
		snprintf(name, sizeof(name), "(b) v2 packed, inline cap %llu",
			 (unsigned long long)caps[k]);
		line(name, t.v2[k]);
	}
	line("    v2, records 4 KiB aligned, cap 0", t.v2_aligned);
	snprintf(name, sizeof(name), "    v2 cap %llu, 1 KiB header if <= 11 blocks",
		 (unsigned long long)caps[NCAPS - 1]);
	line(name, t.v2_small_hdr);
	for (int i = 0; i < 3; i++) {
		static const char *const cn[] = { "inline", "one block, not inline", "several blocks" };

		printf("  v2 cap %llu, %-22s %14llu bytes for %14llu logical (%.3fx)\n",
		       (unsigned long long)caps[NCAPS - 1], cn[i], (unsigned long long)t.cls[i],
		       (unsigned long long)t.cls_logical[i],
		       t.cls_logical[i] ? (double)t.cls[i] / (double)t.cls_logical[i] : 0.0);
	}
	for (size_t k = 0; k < NCAPS; k++)
		printf("  inline at cap %4llu: %llu files (%.1f%%), %llu bytes (%.2f%% of logical)\n",
		       (unsigned long long)caps[k], (unsigned long long)t.inl_files[k],
		       100.0 * (double)t.inl_files[k] / (double)(t.files ? t.files : 1),
		       (unsigned long long)t.inl_bytes[k],
		       100.0 * (double)t.inl_bytes[k] / (double)(t.logical ? t.logical : 1));
	printf("  multi-block files whose data would fit in %llu bytes: %llu\n",
	       (unsigned long long)caps[NCAPS - 1], (unsigned long long)t.multi_fit);
	printf("  one-block files (1..%zu bytes): %llu, %llu logical bytes\n", bs,
	       (unsigned long long)t.small_files, (unsigned long long)t.small_logical);
	printf("  stored size of one-block files (non-zero ones), histogram:\n");
	for (int i = 0; i < HBUCKETS; i++) {
		static const char *const hi[] = { "4K-8K", "8K-16K", "16K-32K", "32K+" };

		if (i < 16)
			snprintf(name, sizeof(name), "%5d-%5d", i * 256, i * 256 + 255);
		else
			snprintf(name, sizeof(name), "%11s", hi[i - 16]);
		printf("    %s %9llu files %14llu logical bytes\n", name,
		       (unsigned long long)t.hist[i], (unsigned long long)t.hist_bytes[i]);
	}
	printf("  index at %zu-byte blocks, %llu bytes/entry: %llu bytes in all (%.4f%% of logical),"
	       " %.1f bytes/file mean, max %llu\n", bs, (unsigned long long)V2_ENTRY,
	       (unsigned long long)t.idx_bytes,
	       100.0 * (double)t.idx_bytes / (double)(t.logical ? t.logical : 1),
	       (double)t.idx_bytes / (double)(t.files ? t.files : 1),
	       (unsigned long long)t.idx_max);
	printf("  files whose index fits the header (<= %llu blocks): %llu; needing pages: %llu"
	       " (%llu pages of 4 KiB)\n", (unsigned long long)V2_ROOT,
	       (unsigned long long)t.idx_hdr_files, (unsigned long long)t.idx_page_files,
	       (unsigned long long)t.idx_pages);
	free(buf);
	free(out);
	return 0;
}
