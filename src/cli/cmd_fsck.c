/* cmd_fsck.c - `ragstore fsck`: see cmd_fsck.h and docs/FSCK.md. */
#include "cmd_fsck.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsck.h"
#include "log.h"
#include "progress.h"
#include "store.h"

const char fsck_help[] =
	"usage: ragstore fsck [--repair | --read-only] [--passfile F | --extpass CMD] BACKING\n"
	"Check an unmounted store: its descriptor, every directory value, name,\n"
	"symlink target, file header and block, the extended attributes and the\n"
	"store totals.  Prints one line per problem (the path in the mount, or in\n"
	"BACKING for what lies outside the tree) and a summary.\n"
	"  --read-only       check only, change nothing (the default)\n"
	"  --repair          also repair what can be repaired without losing readable\n"
	"                    data (orphans, leftovers, size hints, totals; names that\n"
	"                    do not decrypt go to /lost+found; blocks of v2 files that\n"
	"                    do not authenticate become holes; a v2 file whose newest\n"
	"                    header is damaged is rolled back to the older one, said\n"
	"                    loudly): see docs/FSCK.md\n"
	"  --passfile F      passphrase from the first line of F\n"
	"  --extpass CMD     passphrase from the first line CMD prints\n"
	"Exit status: 0 no problem left, 1 problems left, 2 usage, 3 wrong passphrase,\n"
	"4 not a store or damaged descriptor, 7 permission denied, 10 the store is\n"
	"mounted, 11 the check could not run to its end.\n";

static const struct option fsck_opts[] = {
	{ "repair", no_argument, NULL, 'r' },
	{ "read-only", no_argument, NULL, 'R' },
	{ "passfile", required_argument, NULL, 'p' },
	{ "extpass", required_argument, NULL, 'x' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What the callbacks of one run share. */
struct out {
	const char *backing;
	struct progress prog;    /* the bar, when stderr is a terminal */
};

static void on_progress(void *arg, const struct fsck_progress *p)
{
	struct out *o = arg;
	double t = progress_elapsed(&o->prog);

	progress_show(&o->prog, p->bytes_done, p->bytes_total, p->files_done, p->files_total,
		      t > 0 ? (double)p->bytes_done / t : 0, p->files_done >= p->files_total);
}

static void on_problem(void *arg, const struct fsck_problem *p)
{
	static const char *const suffix[] = {
		[FSCK_LEFT] = "",
		[FSCK_FIXABLE] = " [--repair fixes this]",
		[FSCK_FIXED] = " [repaired]",
		[FSCK_FAILED] = " [not repaired]",
		[FSCK_NOTE] = " (note)",
	};
	struct out *o = arg;

	progress_clear(&o->prog);
	/* Paths outside the user's tree are relative to BACKING. */
	if (p->path[0] == '/')
		printf("%s: %s%s\n", p->path, p->what, suffix[p->state]);
	else
		printf("%s/%s: %s%s\n", o->backing, p->path, p->what, suffix[p->state]);
	fflush(stdout);
}

static void summary(const char *backing, const struct fsck_summary *m, int repair)
{
	printf("%s: %llu directories, %llu files, %llu symlinks, %llu other; "
	       "%llu blocks checked (%llu bad); %llu attribute blobs\n", backing,
	       (unsigned long long)m->dirs, (unsigned long long)m->files,
	       (unsigned long long)m->symlinks, (unsigned long long)m->specials,
	       (unsigned long long)m->blocks, (unsigned long long)m->blocks_bad,
	       (unsigned long long)m->xattr_blobs);
	if (m->lost_found)
		printf("%s/lost+found: %llu file(s) with a destroyed header kept for salvage\n",
		       backing, (unsigned long long)m->lost_found);
	if (!m->problems)
		printf("no problems found\n");
	else if (repair)
		printf("%llu problem(s): %llu repaired, %llu left\n",
		       (unsigned long long)m->problems, (unsigned long long)m->fixed,
		       (unsigned long long)m->left);
	else
		printf("%llu problem(s), %llu of them repairable with --repair\n",
		       (unsigned long long)m->problems, (unsigned long long)m->fixable);
}

static int usage(const char *msg)
{
	fprintf(stderr, "ragstore: fsck: %s (see 'ragstore help fsck')\n", msg);
	return 2;
}

int cmd_fsck(int argc, char **argv, cmd_unlock_fn unlock)
{
	const char *passfile = NULL, *extpass = NULL;
	struct fsck_opts fo = { .report = on_problem };
	struct fsck_summary sum;
	struct store *s = NULL;
	struct out o;
	int c, r, repair = 0, readonly = 0;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", fsck_opts, NULL)) != -1) {
		switch (c) {
		case 'r': repair = 1; break;
		case 'R': readonly = 1; break;
		case 'p': passfile = optarg; break;
		case 'x': extpass = optarg; break;
		case 'h': fputs(fsck_help, stdout); return 0;
		default: return usage("unknown option or missing argument");
		}
	}
	if (repair && readonly)
		return usage("--repair and --read-only exclude each other");
	if (passfile && extpass)
		return usage("--passfile and --extpass exclude each other");
	if (optind != argc - 1)
		return usage("needs exactly one BACKING directory");
	o.backing = argv[optind];
	/* Before asking for a passphrase: a mounted store cannot be checked
	 * (the daemon changes it meanwhile), and store_open would refuse. */
	r = fsck_busy(o.backing);
	if (r == 1) {
		fprintf(stderr, "ragstore: %s is mounted (a ragstore daemon holds its lock); "
			"unmount it before fsck\n", o.backing);
		return FSCK_EXIT_BUSY;
	}
	c = unlock(o.backing, passfile, extpass, &s);
	if (c != 0)
		return c == 1 ? FSCK_EXIT_ERROR : c;
	/* The store layer's own warnings (a totals file left unclean, say) are
	 * fsck's findings, reported as such. */
	log_set_level(LOG_LVL_ERROR);
	fo.repair = repair;
	fo.arg = &o;
	progress_start(&o.prog, 1, 0, "fsck");
	if (isatty(STDERR_FILENO))
		fo.progress = on_progress;
	r = fsck_run(s, &fo, &sum);
	progress_clear(&o.prog);
	store_close(s);
	if (r < 0) {
		fprintf(stderr, "ragstore: fsck of %s could not run to its end: %s\n", o.backing,
			strerror(-r));
		return FSCK_EXIT_ERROR;
	}
	summary(o.backing, &sum, repair);
	return sum.left || sum.fixable ? FSCK_EXIT_PROBLEMS : FSCK_EXIT_CLEAN;
}
