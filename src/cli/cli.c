/* cli.c - usage errors, exit codes and shared options.  See cli.h. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

void cli_die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("ragstore: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; see ragstore --help\n", stderr);
	exit(EXIT_USAGE);
}

/* The usage error for what getopt_long (with opterr off and optstring
 * starting "+:") just refused: c is '?' for an unknown option and ':' for
 * a missing argument. */
void cli_die_bad_option(const char *cmd, int c, int argc, char **argv)
{
	const char *arg = optind > 0 && optind - 1 < argc ? argv[optind - 1] : "?";
	int is_long = !strncmp(arg, "--", 2);

	if (c == ':' && !is_long)
		cli_die_usage("%s: option -%c needs an argument", cmd, optopt);
	if (c == ':')
		cli_die_usage("%s: option %s needs an argument", cmd, arg);
	if (!is_long && optopt)
		cli_die_usage("%s: unknown option -%c", cmd, optopt);
	cli_die_usage("%s: unknown option %s", cmd, arg);
}

/* Map an error of the store functions to an exit code: their domain
 * errors (store.h) and the -errno values that have a code of their own. */
int cli_exit_for(int r)
{
	switch (r) {
	case STORE_EWRONGPASS:
	case STORE_EWRONGKEY:
		return EXIT_PASS;
	case STORE_ENOTSTORE:
	case STORE_EDAMAGED:
		return EXIT_NOSTORE;
	case -EACCES:
	case -EPERM:
		return EXIT_PERM;
	default:
		return EXIT_ERR;
	}
}

const struct option cli_pass_opts[] = {
	{ "passfile", required_argument, NULL, 'p' },
	{ "extpass", required_argument, NULL, 'x' },
	{ "no-encryption", no_argument, NULL, 'N' },
	{ "plaintext-names", no_argument, NULL, 'P' },
	{ "cipher", required_argument, NULL, 'c' },
	{ "block-size", required_argument, NULL, 'b' },
	{ "compression", required_argument, NULL, 'z' },
	{ "new-passfile", required_argument, NULL, 'n' },
	{ "config", required_argument, NULL, 'C' },
	{ "masterkey-file", required_argument, NULL, 'K' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};
