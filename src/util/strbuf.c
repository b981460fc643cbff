/* strbuf.c - a growable text buffer and its JSON helpers. */
#include "strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* The first allocation; enough for most snapshots without a regrowth. */
#define STRBUF_FIRST_CAP 4096

/* Make room for need bytes in all.  Returns 0 or records and returns the
 * error. */
static int strbuf_grow(struct strbuf *sb, size_t need)
{
	size_t ncap = sb->cap ? sb->cap : STRBUF_FIRST_CAP;
	char *np;

	while (ncap < need)
		ncap *= 2;
	if (ncap > sb->limit)
		return sb->err = -EFBIG;
	np = realloc(sb->p, ncap);
	if (!np)
		return sb->err = -ENOMEM;
	sb->p = np;
	sb->cap = ncap;
	return 0;
}

void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	int n;

	if (sb->err)
		return;
	for (;;) {
		size_t room = sb->cap - sb->len;
		va_list again;

		/* Formatting may have to be done twice, so each try gets a copy. */
		va_copy(again, ap);
		n = vsnprintf(sb->p ? sb->p + sb->len : NULL, sb->p ? room : 0, fmt, again);
		va_end(again);
		if (n < 0) {
			sb->err = -EINVAL;
			return;
		}
		if (sb->p && (size_t)n < room) {
			sb->len += (size_t)n;
			return;
		}
		/* Truncated (or nothing allocated yet): grow and format again. */
		if (strbuf_grow(sb, sb->len + (size_t)n + 1) < 0)
			return;
	}
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
}

void strbuf_json_str(struct strbuf *sb, const char *s)
{
	strbuf_printf(sb, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			strbuf_printf(sb, "\\%c", c);
		else if (c < 0x20)
			strbuf_printf(sb, "\\u%04x", c);
		else
			strbuf_printf(sb, "%c", c);
	}
	strbuf_printf(sb, "\"");
}

void strbuf_json_time(struct strbuf *sb, time_t t)
{
	struct tm tm;
	char b[32];

	if (!t) {
		strbuf_printf(sb, "null");
		return;
	}
	/* A time that cannot be shown (a year out of range) still yields
	 * valid JSON. */
	if (!gmtime_r(&t, &tm) || strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(b, sizeof(b), "?");
	strbuf_printf(sb, "\"%s\"", b);
}

int strbuf_finish(struct strbuf *sb, char **buf, size_t *len)
{
	int r = sb->err;

	if (r < 0) {
		free(sb->p);
	} else {
		*buf = sb->p;
		*len = sb->len;
	}
	sb->p = NULL;
	sb->len = sb->cap = 0;
	sb->err = 0;
	return r;
}
