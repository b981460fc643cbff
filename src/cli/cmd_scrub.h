/* cmd_scrub.h - `ragstore scrub MOUNTPOINT`: start the online scrub of a
 * mounted store (or join the one running) through MOUNTPOINT/.ragstore/
 * control and follow it in .ragstore/metrics, with a progress bar on a
 * terminal and plain lines otherwise, until it ends.  Talks to the daemon
 * only through those files, so it needs no key and no FUSE. */
#ifndef RAGSTORE_CMD_SCRUB_H
#define RAGSTORE_CMD_SCRUB_H

/* Exit codes (docs/STATS.md, ragstore(1)); 2 is main.c's usage error. */
#define SCRUB_EXIT_CLEAN 0    /* the scrub finished and found no damage */
#define SCRUB_EXIT_DAMAGE 1   /* it finished and found damage */
#define SCRUB_EXIT_USAGE 2
#define SCRUB_EXIT_NOTMOUNT 4 /* MOUNTPOINT is not a mounted ragstore */
#define SCRUB_EXIT_PERM 7     /* not allowed to write .ragstore/control */
#define SCRUB_EXIT_STOPPED 10 /* stopped before its end (scrub --stop, unmount) */
#define SCRUB_EXIT_ERROR 11   /* could not start or follow it */

/* `ragstore scrub ARGS` (argv[0] is "scrub").  Returns the exit code. */
int cmd_scrub(int argc, char **argv);

/* The text of `ragstore help scrub` and `ragstore scrub --help`. */
extern const char scrub_help[];

#endif
