/* fuzz_mountopts.c - the mount option string of `ragstore mount -o`.  The
 * input is the string.  Each comma-separated option of the form
 * cache_size=SIZE goes through util_parse_size (what main.c does with it),
 * and the whole string through libfuse's own parser, fuse_session_new, as
 * main.c hands it over (never mounted).  The split into ragstore's own
 * options is main.c's mount_opt_add, static there; see docs/HARDENING.md. */
#define FUSE_USE_VERSION 314
#include "fuzz.h"

#include <fuse_lowlevel.h>

static void quiet(enum fuse_log_level level, const char *fmt, va_list ap)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fuse_lowlevel_ops ops;
	char *opts = malloc(size + 1), *save = NULL;
	char full[8192];
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	uint64_t v, w;

	FZ_ASSERT(opts);
	fz_init();
	fuse_set_log_func(quiet);
	memcpy(opts, data, size);
	opts[size] = '\0';
	if (snprintf(full, sizeof(full), "default_permissions,subtype=ragstore,%s", opts) <
	    (int)sizeof(full)) {
		FZ_ASSERT(fuse_opt_add_arg(&args, "ragstore") == 0 &&
			  fuse_opt_add_arg(&args, "-o") == 0 && fuse_opt_add_arg(&args, full) == 0);
		se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
		if (se)
			fuse_session_destroy(se);
		fuse_opt_free_args(&args);
	}
	/* A size that parses, written out in bytes, parses to itself. */
	for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (strncmp(o, "cache_size=", 11) || util_parse_size(o + 11, &v) < 0)
			continue;
		snprintf(full, sizeof(full), "%llu", (unsigned long long)v);
		FZ_ASSERT(util_parse_size(full, &w) == 0 && w == v);
	}
	free(opts);
	return 0;
}
