/* cmd_fsck.h - the `ragstore fsck` command: options, passphrase, the
 * progress bar, one line per problem and the summary.  The check itself is
 * the store layer's (include/fsck.h). */
#ifndef RAGSTORE_CMD_FSCK_H
#define RAGSTORE_CMD_FSCK_H

struct store;

/* Exit codes of fsck besides main.c's (2 usage, 3 wrong passphrase, 4 not a
 * store or a damaged descriptor, 7 permission denied), documented in
 * docs/FSCK.md and ragstore(1). */
#define FSCK_EXIT_CLEAN 0    /* no problem (left), see docs/FSCK.md */
#define FSCK_EXIT_PROBLEMS 1 /* problems found and not (all) repaired */
#define FSCK_EXIT_BUSY 10    /* the store is mounted */
#define FSCK_EXIT_ERROR 11   /* the check could not run to its end */

/* main.c's way to unlock a store: the passphrase from passfile, extpass or
 * the terminal, then store_open.  Returns 0 with *s, or main.c's exit code
 * after one line on stderr. */
typedef int (*cmd_unlock_fn)(const char *backing, const char *passfile,
			     const char *extpass, struct store **s);

/* `ragstore fsck ARGS` (argv[0] is "fsck").  Returns the exit code. */
int cmd_fsck(int argc, char **argv, cmd_unlock_fn unlock);

/* The text of `ragstore help fsck` and `ragstore fsck --help`. */
extern const char fsck_help[];

#endif
