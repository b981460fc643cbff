/* cli.h - what every command of the command line shares: the exit codes
 * (documented in docs/ragstore.1 and README.md), usage errors, and the
 * long options of the commands that unlock a store. */
#ifndef RAGSTORE_CLI_H
#define RAGSTORE_CLI_H

#include <getopt.h>

enum exit_code {
	EXIT_OK = 0,
	EXIT_ERR = 1,
	EXIT_USAGE = 2,
	EXIT_PASS = 3,        /* wrong passphrase */
	EXIT_NOSTORE = 4,     /* not a store, or damaged/altered descriptor */
	EXIT_MOUNTPT = 5,     /* mountpoint missing, not a directory, busy */
	EXIT_NONEMPTY = 6,    /* mountpoint not empty, without -o nonempty */
	EXIT_PERM = 7,        /* permission denied on BACKING or its descriptor */
	EXIT_FUSEDEV = 8,     /* /dev/fuse missing or not to be opened */
	EXIT_ALLOWOTHER = 9,  /* allow_other refused by /etc/fuse.conf */
	/* 10 and 11 are fsck's (cmd_fsck.h) */
	EXIT_KEYFILE = 12,    /* master key file missing, unreadable, malformed,
				 mistyped, or (init) already there */
	EXIT_CONFIG = 13,     /* the policy file (--config) cannot be read or has a
				 mistake, reported as FILE:LINE: message */
};

/* A usage error: one line naming it, and where help is; exits with
 * EXIT_USAGE. */
void cli_die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The usage error for what getopt_long (with opterr off and optstring
 * starting "+:") just refused: c is '?' for an unknown option and ':' for
 * a missing argument.  Exits with EXIT_USAGE. */
void cli_die_bad_option(const char *cmd, int c, int argc, char **argv)
	__attribute__((noreturn));

/* The exit code for an error of the store functions: their domain errors
 * (store.h) and the -errno values that have a code of their own. */
int cli_exit_for(int r);

/* Long options of init, mount and passwd (each takes the ones it knows). */
extern const struct option cli_pass_opts[];

#endif
