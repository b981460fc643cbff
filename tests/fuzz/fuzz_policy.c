/* fuzz_policy.c - the policy file of `ragstore mount --config` (policy.h,
 * inih).  The input is the file.  A file that parses must render
 * (policy_set_render) to text that parses again and renders the same, and
 * every policy's globs (policy_glob, policy_match) are tried on paths made
 * of the input's own lines. */
#include "fuzz.h"

#include "policy.h"
#include "strbuf.h"

#define MAX_TEXT (1 << 20)

/* The set's rendering, or NULL; the caller frees it. */
static char *render(struct policy_set *ps)
{
	struct strbuf sb = STRBUF_INIT(MAX_TEXT);
	char *text = NULL;
	size_t len;

	policy_set_render(ps, &sb);
	FZ_ASSERT(strbuf_finish(&sb, &text, &len) == 0 && text);
	return text;
}

/* Each of the first lines of the input, as a path (without a leading
 * comment mark, so a valid file can carry paths), against every glob. */
static void globs(const struct policy_set *ps, const char *text)
{
	char path[512];

	for (int n = 0; n < 16 && *text; n++) {
		size_t len;

		text += strspn(text, "#; ");
		len = strcspn(text, "\n");

		snprintf(path, sizeof(path), "/%.*s", (int)(len < 500 ? len : 500), text);
		FZ_ASSERT(policy_match(ps, path) != NULL);
		for (unsigned i = 0; i < policy_count(ps); i++) {
			const struct policy *p = policy_at(ps, i);

			for (unsigned k = 0; k < p->nmatch; k++)
				(void)policy_glob(p->match[k], path);
		}
		text += len + (text[len] != '\0');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct codec_spec zstd = { CODEC_ZSTD, 1 };
	struct policy_set *ps = NULL, *again = NULL;
	char err[512], *text, *r1, *r2;

	fz_init();
	if (size > MAX_TEXT)
		return 0;
	text = malloc(size + 1);
	FZ_ASSERT(text);
	memcpy(text, data, size);
	text[size] = '\0';
	if (policy_set_parse("fuzz.ini", text, &ps, err, sizeof(err)) < 0) {
		FZ_ASSERT(err[0] && !strchr(err, '\n'));
		free(text);
		return 0;
	}
	policy_set_resolve(ps, &zstd, 65536);
	r1 = render(ps);
	FZ_ASSERT(policy_set_parse("rendered.ini", r1, &again, err, sizeof(err)) == 0);
	policy_set_resolve(again, &zstd, 65536);
	r2 = render(again);
	FZ_ASSERT(strcmp(r1, r2) == 0);
	FZ_ASSERT(policy_count(ps) == policy_count(again) && policy_count(ps) >= 1);
	globs(ps, text);
	free(r1);
	free(r2);
	policy_set_free(again);
	policy_set_free(ps);
	free(text);
	return 0;
}
