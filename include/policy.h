/* policy.h - storage policies (SPEC section 7): an ini file read with inih
 * into a [defaults] policy and any number of [policy NAME] sections, and the
 * glob matching that picks the policy of a path inside the mount.  Plain
 * settings only: no FUSE, no store, no crypto.
 *
 * Matching: a path ("/logs/app/x.log", always starting with '/') takes the
 * first policy, in file order, one of whose match globs fits it; no match
 * means the defaults.  A glob without '/' fits the last component of the
 * path, in any directory ("*.log").  A glob with '/' fits the whole path
 * from the mount root (a leading '/' is optional).  '*' matches any run of
 * characters within one component, '?' one character other than '/', a
 * double star any run including '/', and a double star followed by '/'
 * zero or more whole components, so "logs" + "/" + double star fits every
 * path under /logs.  Everything else matches itself (docs/POLICIES.md). */
#ifndef RAGSTORE_POLICY_H
#define RAGSTORE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

struct strbuf;

#define POLICY_NAME_MAX 64
#define POLICY_DEFAULT_NAME "default" /* what user.ragstore.policy says for [defaults] */
#define POLICY_MAX_RETENTION 36500    /* days: a hundred years */

/* Keys given in the file (struct policy.set); the others are inherited:
 * a policy's from [defaults], [defaults]' from the store. */
#define POLICY_SET_CODEC 0x01
#define POLICY_SET_BLOCK 0x02
#define POLICY_SET_MAX 0x04
#define POLICY_SET_RETENTION 0x08
#define POLICY_SET_BACKUP 0x10
#define POLICY_SET_MATCH 0x20

struct policy {
	char name[POLICY_NAME_MAX];  /* POLICY_DEFAULT_NAME for [defaults] */
	char **match;                /* nmatch globs, owned by the set */
	unsigned nmatch;
	struct codec_spec codec;     /* compression of new blocks */
	uint32_t block_size;         /* of new files: power of two, 4 KiB..1 MiB */
	uint64_t max_file_size;      /* bytes; 0: no limit */
	uint32_t retention_days;     /* 0: kept forever */
	int backup;                  /* 1: ragstore-backup copies these files */
	unsigned set;                /* POLICY_SET_* */
	int line;                    /* of the section header; 0: built in */
};

struct policy_set;

/* The built-in set: defaults only, with the store's compression and block
 * size, no size limit, no retention, backup on.  NULL on allocation
 * failure.  Free with policy_set_free. */
struct policy_set *policy_set_builtin(const struct codec_spec *codec, uint32_t block_size);

/* Read the policy file at path.  Keys not given take the built-in values
 * until policy_set_resolve gives the store's.  Any mistake (syntax, an
 * unknown section or key, a bad value, a duplicate section or key, a policy
 * without match, an empty match) fails with -EINVAL and "PATH:LINE:
 * message" in err (one line, no newline); a file that cannot be read with
 * -errno and "PATH: reason".  Returns 0 and *out (the caller's, freed with
 * policy_set_free). */
int policy_set_load(const char *path, struct policy_set **out, char *err, size_t errlen);

/* The same from text in memory, named path in messages (unit tests). */
int policy_set_parse(const char *path, const char *text, struct policy_set **out,
		     char *err, size_t errlen);

/* Fill in what the file left to the store: the compression and block size
 * of [defaults] when not given, then every policy's unset keys from
 * [defaults].  Call once, before use. */
void policy_set_resolve(struct policy_set *ps, const struct codec_spec *codec,
			uint32_t block_size);

/* NULL is a no-op. */
void policy_set_free(struct policy_set *ps);

/* The policy of path (see above); never NULL.  Valid as long as ps. */
const struct policy *policy_match(const struct policy_set *ps, const char *path);

/* Policies in file order, the defaults first: i = 0 .. policy_count()-1. */
unsigned policy_count(const struct policy_set *ps);
const struct policy *policy_at(const struct policy_set *ps, unsigned i);

/* The file the set was read from, or NULL for the built-in set. */
const char *policy_source(const struct policy_set *ps);

/* 1 if glob fits path (a path starting with '/'), else 0.  A glob whose
 * backtracking would take more than POLICY_GLOB_STEPS steps on path (many
 * stars, as in "*a*a*a*a*a*b" on a long name) is taken not to fit it, so
 * that no glob can stall the filesystem. */
#define POLICY_GLOB_STEPS 1000000UL
int policy_glob(const char *glob, const char *path);

/* The effective policies as ini text that policy_set_parse reads back:
 * [defaults] then each [policy NAME], every key once. */
void policy_set_render(const struct policy_set *ps, struct strbuf *sb);

/* The text of `ragstore help config`. */
extern const char policy_help[];

#endif
