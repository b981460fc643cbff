/* strbuf.h - a growable text buffer for rendered output, with the JSON
 * string and time helpers the renderers share.
 *
 * A strbuf remembers its first failure and drops every later write, so a
 * renderer writes freely and checks the result once, in strbuf_finish.
 * The text is always NUL-terminated once anything was written. */
#ifndef RAGSTORE_STRBUF_H
#define RAGSTORE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

struct strbuf {
	char *p;      /* the text (NULL while empty); owned by the strbuf */
	size_t len;   /* bytes of text, without the NUL */
	size_t cap;   /* bytes allocated at p */
	size_t limit; /* the buffer never grows beyond this many bytes */
	int err;      /* 0, or the first failure (see strbuf_printf) */
};

/* An empty buffer that may grow up to limit bytes (NUL included). */
#define STRBUF_INIT(max) { .p = NULL, .len = 0, .cap = 0, .limit = (max), .err = 0 }

/* Append formatted text.  On failure the buffer keeps what it had and
 * records -ENOMEM (out of memory), -EFBIG (limit reached) or -EINVAL (a
 * bad format); nothing is appended after a failure. */
void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same with a va_list, which it reads through a copy (the caller still
 * calls va_end on it). */
void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Append s as a JSON string: quoted, with '"' and '\\' escaped and every
 * control character as a \u escape of four hex digits.  s is any
 * NUL-terminated text (a path may hold anything); bytes of 0x80 and above
 * are copied as they are. */
void strbuf_json_str(struct strbuf *sb, const char *s);

/* Append a time as a JSON value: an ISO 8601 UTC string such as
 * "2026-12-01T10:00:00Z", or null when t is 0 ("never"). */
void strbuf_json_time(struct strbuf *sb, time_t t);

/* Hand the text over.  Returns 0 with *buf (malloc'd, the caller frees it;
 * NULL when nothing was written) and *len; or the recorded error, with the
 * buffer freed and *buf, *len untouched.  The strbuf is empty afterwards
 * either way. */
int strbuf_finish(struct strbuf *sb, char **buf, size_t *len);

#endif
