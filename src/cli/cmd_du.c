/* cmd_du.c - `ragstore du`: stored size per algorithm (or policy) of a tree
 * inside a mount, like btrfs compsize.  See cmd_du.h. */
#include "cmd_du.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "cli.h"

#define DU_ROWS 300 /* every policy (at most 256) and the defaults */

const char du_help[] =
	"usage: ragstore du [-b] [--policy] PATH...\n"
	"Files, logical bytes, stored bytes and ratio (stored/logical) of the trees\n"
	"at PATH inside a ragstore mount, per compression algorithm that the stored\n"
	"blocks really use (a block that did not compress counts as none), and in\n"
	"total, like btrfs compsize.  Hard links count once; other filesystems\n"
	"below PATH are skipped.\n"
	"  -b, --bytes   exact byte counts instead of KiB, MiB, ...\n"
	"  --policy      one row per storage policy instead of per algorithm\n"
	"A file counts in the row of every algorithm its blocks use; its header and\n"
	"holes count in the row of the algorithm that holds most of it.\n"
	"Exit codes: 0; 1 some file could not be read (the rest is counted);\n"
	"2 usage; 4 a PATH not inside a ragstore mount.\n";

struct du_row {
	char name[64];
	uint64_t files, logical, stored;
};

/* nftw has no argument for its callback: the state of the one walk. */
static struct {
	struct du_row rows[DU_ROWS];
	unsigned nrows;
	struct du_row total;
	int by_policy;
	int errors;
	struct { dev_t dev; ino_t ino; } *links; /* files with several links seen */
	size_t nlinks, caplinks;
} du;

static struct du_row *row(const char *name)
{
	unsigned i;

	for (i = 0; i < du.nrows; i++)
		if (!strcmp(du.rows[i].name, name))
			return &du.rows[i];
	if (du.nrows == DU_ROWS)
		return &du.rows[DU_ROWS - 1];
	snprintf(du.rows[i].name, sizeof(du.rows[i].name), "%s", name);
	du.nrows++;
	return &du.rows[i];
}

/* 1 if the inode of a file with several links was counted already. */
static int seen_before(const struct stat *st)
{
	if (st->st_nlink < 2)
		return 0;
	for (size_t i = 0; i < du.nlinks; i++)
		if (du.links[i].dev == st->st_dev && du.links[i].ino == st->st_ino)
			return 1;
	if (du.nlinks == du.caplinks) {
		size_t cap = du.caplinks ? 2 * du.caplinks : 64;
		void *p = realloc(du.links, cap * sizeof(*du.links));

		if (!p)
			return 0;
		du.links = p;
		du.caplinks = cap;
	}
	du.links[du.nlinks].dev = st->st_dev;
	du.links[du.nlinks++].ino = st->st_ino;
	return 0;
}

static int du_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char val[512], pol[128], algo[32];
	unsigned long long l, s;
	ssize_t n;
	int off = 0, used;

	(void)ftw;
	if (type == FTW_DNR || type == FTW_NS) {
		fprintf(stderr, "ragstore: du: %s: cannot read\n", path);
		du.errors = 1;
		return 0;
	}
	if (type != FTW_F || !S_ISREG(st->st_mode) || seen_before(st))
		return 0;
	n = lgetxattr(path, "user.ragstore.algorithms", val, sizeof(val) - 1);
	if (n >= 0 && du.by_policy) {
		ssize_t p = lgetxattr(path, "user.ragstore.policy", pol, sizeof(pol) - 1);

		n = p < 0 ? p : n;
		pol[p < 0 ? 0 : p] = '\0';
	}
	if (n < 0) {
		fprintf(stderr, "ragstore: du: %s: %s\n", path, strerror(errno));
		du.errors = 1;
		return 0;
	}
	val[n] = '\0';
	du.total.files++;
	while (sscanf(val + off, "%31s %llu %llu\n%n", algo, &l, &s, &used) == 3) {
		struct du_row *r = row(du.by_policy ? pol : algo);

		off += used;
		/* A file counts once per row it adds to. */
		if (!du.by_policy || off == used)
			r->files++;
		r->logical += l;
		r->stored += s;
		du.total.logical += l;
		du.total.stored += s;
	}
	return 0;
}

static void human(char *out, size_t cap, uint64_t v, int bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double x = (double)v;
	int u = 0;

	if (bytes || v < 1024) {
		snprintf(out, cap, bytes ? "%llu" : "%llu B", (unsigned long long)v);
		return;
	}
	while (x >= 1024 && u < 5) {
		x /= 1024;
		u++;
	}
	snprintf(out, cap, "%.1f %s", x, unit[u]);
}

static void print_row(const struct du_row *r, int bytes)
{
	char l[32], s[32];

	human(l, sizeof(l), r->logical, bytes);
	human(s, sizeof(s), r->stored, bytes);
	printf("%-16s %10llu %16s %16s  %.3f\n", r->name, (unsigned long long)r->files, l, s,
	       r->logical ? (double)r->stored / (double)r->logical : 0.0);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct du_row *)a)->name, ((const struct du_row *)b)->name);
}

int cmd_du(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bytes", no_argument, NULL, 'b' },
		{ "policy", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, bytes = 0;

	memset(&du, 0, sizeof(du));
	while ((c = getopt_long(argc, argv, "+:bh", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bytes = 1; break;
		case 'P': du.by_policy = 1; break;
		case 'h': fputs(du_help, stdout); return EXIT_OK;
		default: cli_die_bad_option("du", c, argc, argv);
		}
	}
	if (optind >= argc)
		cli_die_usage("du needs at least one PATH");
	for (int i = optind; i < argc; i++) {
		char v[64];

		/* Answered for everything inside a mount, by nothing else. */
		if (lgetxattr(argv[i], "user.ragstore.encryption", v, sizeof(v)) < 0) {
			fprintf(stderr, "ragstore: du: %s: %s\n", argv[i],
				errno == ENOENT ? strerror(errno) : "not inside a ragstore mount");
			free(du.links);
			return errno == ENOENT ? EXIT_ERR : DU_EXIT_NOTMOUNT;
		}
	}
	for (int i = optind; i < argc; i++)
		if (nftw(argv[i], du_file, 64, FTW_PHYS | FTW_MOUNT) != 0) {
			fprintf(stderr, "ragstore: du: %s: %s\n", argv[i], strerror(errno));
			du.errors = 1;
		}
	qsort(du.rows, du.nrows, sizeof(du.rows[0]), by_name);
	printf("Processed %llu file%s.\n", (unsigned long long)du.total.files,
	       du.total.files == 1 ? "" : "s");
	printf("%-16s %10s %16s %16s  %s\n", du.by_policy ? "Policy" : "Type", "Files",
	       "Logical", "Stored", "Ratio");
	for (unsigned i = 0; i < du.nrows; i++)
		print_row(&du.rows[i], bytes);
	strcpy(du.total.name, "TOTAL");
	print_row(&du.total, bytes);
	free(du.links);
	return du.errors ? EXIT_ERR : EXIT_OK;
}
