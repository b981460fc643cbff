/* test_policy.c - the policy file parser and the glob matcher (policy.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "strbuf.h"
#include "unit.h"

static void test_glob(void)
{
	CHECK(policy_glob("*.log", "/a.log"));
	CHECK(policy_glob("*.log", "/var/x/a.log"));
	CHECK(!policy_glob("*.log", "/a.log/b"));
	CHECK(!policy_glob("*.log", "/a.logx"));
	CHECK(policy_glob("a?c", "/d/abc"));
	CHECK(!policy_glob("a?c", "/d/ac"));
	/* With a '/': the whole path from the root. */
	CHECK(policy_glob("logs/*", "/logs/a"));
	CHECK(policy_glob("/logs/*", "/logs/a"));
	CHECK(!policy_glob("logs/*", "/logs/a/b"));
	CHECK(!policy_glob("logs/*", "/x/logs/a"));
	CHECK(policy_glob("logs/**", "/logs/a/b/c"));
	CHECK(policy_glob("logs/**", "/logs/a"));
	CHECK(!policy_glob("logs/**", "/logsx/a"));
	CHECK(policy_glob("**/cache/*", "/cache/x"));
	CHECK(policy_glob("**/cache/*", "/home/u/cache/x"));
	CHECK(!policy_glob("**/cache/*", "/home/u/mycache/x"));
	CHECK(policy_glob("a/**/b", "/a/b"));
	CHECK(policy_glob("a/**/b", "/a/x/y/b"));
	CHECK(!policy_glob("a/**/b", "/a/xb"));
	CHECK(policy_glob("home/*/cache/**", "/home/ann/cache/f/g"));
	CHECK(!policy_glob("home/*/cache/**", "/home/ann/x/cache/f"));
	CHECK(policy_glob("**", "/any/thing"));
	CHECK(policy_glob("*", "/top"));
	CHECK(policy_glob("*", "/deep/er"));
	/* Found by tests/fuzz/fuzz_policy.c: backtracking over many stars took
	 * exponential time; it now gives up, in bounded time, as no match. */
	{
		char name[256];
		struct timespec t0, t1;

		memset(name, 'a', sizeof(name) - 1);
		name[0] = '/';
		name[sizeof(name) - 1] = '\0';
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK(!policy_glob("*a*a*a*a*a*a*a*a*a*a*b", name));
		CHECK(!policy_glob("**a**a**a**a**a**a**a**a**b", name));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		CHECK(t1.tv_sec - t0.tv_sec < 5);
		CHECK(policy_glob("*a*a*a*a*a*a*a*a*a*a*", name));
	}
}

static const char example[] =
	"# comment\n"
	"[defaults]\n"
	"compression = zstd:3\n"
	"backup = yes\n"
	"\n"
	"[policy cache]\n"
	"match = cache/**, *.tmp ; inline comment\n"
	"compression = lz4\n"
	"retention_days = 30\n"
	"backup = no\n"
	"[policy logs]\n"
	"match = *.log, logs/**\n"
	"compression = zstd:19\n"
	"max_file_size = 1M\n"
	"retention_days = 90\n"
	"block_size = 128K\n";

static void test_parse(void)
{
	struct codec_spec store = { CODEC_ZSTD, 1 };
	struct policy_set *ps = NULL;
	const struct policy *p;
	char err[256];

	CHECK_EQ(policy_set_parse("p.ini", example, &ps, err, sizeof(err)), 0);
	if (!ps)
		return;
	policy_set_resolve(ps, &store, 65536);
	CHECK_EQ(policy_count(ps), 3);
	p = policy_match(ps, "/cache/a/b");
	CHECK(!strcmp(p->name, "cache"));
	CHECK_EQ(p->codec.algo, CODEC_LZ4);
	CHECK_EQ(p->retention_days, 30);
	CHECK_EQ(p->backup, 0);
	CHECK_EQ(p->block_size, 65536); /* from the store, through [defaults] */
	/* First match wins: x.log under cache/ is cache's. */
	CHECK(!strcmp(policy_match(ps, "/cache/x.log")->name, "cache"));
	p = policy_match(ps, "/srv/app.log");
	CHECK(!strcmp(p->name, "logs"));
	CHECK_EQ(p->max_file_size, 1048576);
	CHECK_EQ(p->block_size, 131072);
	CHECK_EQ(p->codec.level, 19);
	CHECK_EQ(p->backup, 1); /* inherited */
	p = policy_match(ps, "/home/a.txt");
	CHECK(!strcmp(p->name, POLICY_DEFAULT_NAME));
	CHECK_EQ(p->codec.level, 3);
	CHECK_EQ(p->retention_days, 0);
	{
		/* The rendering reads back as the same policies. */
		struct strbuf sb = STRBUF_INIT(1 << 20);
		struct policy_set *again = NULL;
		char *text = NULL;
		size_t len;

		policy_set_render(ps, &sb);
		CHECK_EQ(strbuf_finish(&sb, &text, &len), 0);
		CHECK(text && strstr(text, "[policy logs]\nmatch = *.log, logs/**\n"));
		CHECK_EQ(policy_set_parse("r.ini", text ? text : "", &again, err, sizeof(err)), 0);
		if (again) {
			policy_set_resolve(again, &store, 4096);
			CHECK_EQ(policy_match(again, "/cache/q")->codec.algo, CODEC_LZ4);
			CHECK_EQ(policy_match(again, "/q")->block_size, 65536);
		}
		policy_set_free(again);
		free(text);
	}
	policy_set_free(ps);
}

/* Each mistake: refused, with the file and the line first. */
static void bad(const char *text, const char *want_prefix, const char *want_word)
{
	struct policy_set *ps = NULL;
	char err[256] = "";
	int r = policy_set_parse("c.ini", text, &ps, err, sizeof(err));

	CHECK_EQ(r, -EINVAL);
	CHECK(ps == NULL);
	CHECK(!strncmp(err, want_prefix, strlen(want_prefix)));
	CHECK(strstr(err, want_word) != NULL);
	CHECK(strchr(err, '\n') == NULL);
	if (strncmp(err, want_prefix, strlen(want_prefix)) || !strstr(err, want_word))
		fprintf(stderr, "  got: %s\n", err);
	policy_set_free(ps);
}

static void test_errors(void)
{
	bad("[defaults]\nthis is not ini\n", "c.ini:2: ", "syntax");
	bad("[defaults\ncompression = lz4\n", "c.ini:1: ", "syntax");
	bad("[default]\n", "c.ini:1: ", "unknown section");
	bad("[policy]\nmatch = *\n", "c.ini:1: ", "unknown section");
	bad("[defaults]\ncolour = blue\n", "c.ini:2: ", "unknown key");
	bad("[defaults]\ncompression = zstd:20\n", "c.ini:2: ", "bad compression");
	bad("[defaults]\ncompression = brotli\n", "c.ini:2: ", "bad compression");
	bad("[defaults]\ncompression = zlib:0\n", "c.ini:2: ", "bad compression");
	bad("[defaults]\nblock_size = 3000\n", "c.ini:2: ", "block_size");
	bad("[defaults]\nblock_size = 2M\n", "c.ini:2: ", "block_size");
	bad("[defaults]\nmax_file_size = lots\n", "c.ini:2: ", "max_file_size");
	bad("[defaults]\nretention_days = -1\n", "c.ini:2: ", "retention_days");
	bad("[defaults]\nretention_days = 99999\n", "c.ini:2: ", "retention_days");
	bad("[defaults]\nbackup = maybe\n", "c.ini:2: ", "backup");
	bad("[policy a]\nmatch = *\n[policy a]\nmatch = x\n", "c.ini:3: ", "twice");
	bad("[defaults]\n[defaults]\n", "c.ini:2: ", "twice");
	bad("[policy a]\nmatch =\n", "c.ini:2: ", "empty");
	bad("[policy a]\nmatch = a, ,b\n", "c.ini:2: ", "empty glob");
	bad("[policy a]\ncompression = lz4\n", "c.ini:1: ", "no match");
	bad("[policy a]\nmatch = *\nmatch = x\n", "c.ini:3: ", "twice");
	bad("[defaults]\nmatch = *\n", "c.ini:2: ", "match belongs");
	bad("compression = lz4\n", "c.ini:1: ", "outside a section");
	bad("[policy bad/name]\nmatch = *\n", "c.ini:1: ", "bad policy name");
	/* The first mistake is the one reported. */
	bad("[defaults]\nbackup = x\nfoo = 1\n", "c.ini:2: ", "backup");
	bad("[policy a]\nmatch = *\n[policy b]\n\nwhat\n", "c.ini:3: ", "no match");
}

/* text parsed, rendered and parsed again, which must succeed and keep the
 * first policy's number of globs: the set read back (to free), or NULL. */
static struct policy_set *reread(const char *text)
{
	static const struct codec_spec store = { CODEC_ZSTD, 1 };
	struct strbuf sb = STRBUF_INIT(1 << 16);
	struct policy_set *ps = NULL, *again = NULL;
	char err[256], *out = NULL;
	size_t len;

	CHECK_EQ(policy_set_parse("t.ini", text, &ps, err, sizeof(err)), 0);
	if (!ps)
		return NULL;
	policy_set_resolve(ps, &store, 65536);
	policy_set_render(ps, &sb);
	CHECK_EQ(strbuf_finish(&sb, &out, &len), 0);
	CHECK_EQ(policy_set_parse("r.ini", out ? out : "", &again, err, sizeof(err)), 0);
	CHECK(again && policy_at(again, 1)->nmatch == policy_at(ps, 1)->nmatch);
	free(out);
	policy_set_free(ps);
	return again;
}

/* Found by tests/fuzz/fuzz_policy.c: a match line that fits the reader
 * when written "a,b,c" rendered as "a, b, c" too long to be read back; a
 * glob ";x" read from "a,;x" rendered as "a, ;x", an inline comment; and a
 * line refused as too long was reported as a missing match. */
static void test_long_match(void)
{
	char text[256];
	struct policy_set *ps;
	size_t n = (size_t)snprintf(text, sizeof(text), "[policy a]\nmatch=");

	while (n < 11 + 190)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%sg%zu", n > 17 ? "," : "", n);
	policy_set_free(reread(text));
	/* A glob that begins with ';' is no comment when no space is before it. */
	ps = reread("[policy a]\nmatch=*.log,;x\n");
	CHECK(ps && !strcmp(policy_at(ps, 1)->match[1], ";x"));
	policy_set_free(ps);
	bad("[policy a]\nmatch = x,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
	    "c.ini:2: ", "too long");
}

int main(void)
{
	test_glob();
	test_parse();
	test_errors();
	test_long_match();
	return unit_done();
}
