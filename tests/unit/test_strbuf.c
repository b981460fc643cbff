/* test_strbuf.c - the output buffer of /.ragstore: growth, its limit, the
 * sticky error, and the JSON helpers. */
#include <errno.h>
#include <string.h>

#include "strbuf.h"
#include "unit.h"

static void test_grows(void)
{
	struct strbuf sb = STRBUF_INIT(1u << 20);
	char *buf = NULL, line[64];
	size_t len = 0;

	/* Many small writes cross several regrowths; each must land whole. */
	for (int i = 0; i < 5000; i++)
		strbuf_printf(&sb, "line %d\n", i);
	CHECK_EQ(sb.err, 0);
	CHECK_EQ(strbuf_finish(&sb, &buf, &len), 0);
	CHECK(buf != NULL);
	CHECK_EQ(strlen(buf), len);
	CHECK(!strncmp(buf, "line 0\nline 1\n", 14));
	snprintf(line, sizeof(line), "line %d\n", 4999);
	CHECK(len > strlen(line) && !strcmp(buf + len - strlen(line), line));
	CHECK(sb.p == NULL && sb.len == 0);
	free(buf);
}

static void test_empty(void)
{
	struct strbuf sb = STRBUF_INIT(4096);
	char *buf = (char *)&sb;
	size_t len = 99;

	CHECK_EQ(strbuf_finish(&sb, &buf, &len), 0);
	CHECK(buf == NULL);
	CHECK_EQ(len, 0);
}

static void test_limit(void)
{
	struct strbuf sb = STRBUF_INIT(8192);
	char big[6000], *buf = NULL;
	size_t len = 7;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	strbuf_printf(&sb, "%s", big);
	CHECK_EQ(sb.err, 0);
	/* The second piece needs 12000 bytes: past the limit. */
	strbuf_printf(&sb, "%s", big);
	CHECK_EQ(sb.err, -EFBIG);
	CHECK_EQ(sb.len, sizeof(big) - 1);
	/* After a failure nothing more is written, even what would fit. */
	strbuf_printf(&sb, "y");
	CHECK_EQ(sb.len, sizeof(big) - 1);
	CHECK_EQ(strbuf_finish(&sb, &buf, &len), -EFBIG);
	CHECK(buf == NULL);
	CHECK_EQ(len, 7);
	CHECK(sb.p == NULL && sb.err == 0);
}

static void test_json(void)
{
	struct strbuf sb = STRBUF_INIT(4096);
	char *buf = NULL;
	size_t len = 0;

	strbuf_json_str(&sb, "a\"b\\c\nd\x01\xc3\xa9");
	strbuf_printf(&sb, " ");
	strbuf_json_time(&sb, 0);
	strbuf_printf(&sb, " ");
	strbuf_json_time(&sb, 1800000000);
	CHECK_EQ(strbuf_finish(&sb, &buf, &len), 0);
	CHECK(buf && !strcmp(buf, "\"a\\\"b\\\\c\\u000ad\\u0001\xc3\xa9\" null "
			     "\"2027-01-15T08:00:00Z\""));
	free(buf);
}

int main(void)
{
	test_grows();
	test_empty();
	test_limit();
	test_json();
	return unit_done();
}
