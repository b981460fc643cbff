/* cmd_du.h - `ragstore du [-b] [--policy] PATH...`: like btrfs compsize, the
 * files, logical bytes, stored bytes and ratio of a tree inside a mount, per
 * compression algorithm the stored blocks use (or, with --policy, per
 * policy) and in total.  Reads each file's user.ragstore.algorithms (and
 * user.ragstore.policy) virtual attribute, so it needs no key. */
#ifndef RAGSTORE_CMD_DU_H
#define RAGSTORE_CMD_DU_H

/* Exit codes: 0; 1 some path could not be read (the rest is counted);
 * 2 usage; 4 a PATH that is not inside a ragstore mount. */
#define DU_EXIT_NOTMOUNT 4

/* `ragstore du ARGS` (argv[0] is "du").  Returns the exit code. */
int cmd_du(int argc, char **argv);

/* The text of `ragstore help du` and `ragstore du --help`. */
extern const char du_help[];

#endif
