/* policy.c - storage policies: the ini file, its checks and glob matching.
 * See policy.h. */
#include "policy.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "strbuf.h"
#include "util.h"

#define POLICY_FILE_MAX (1u << 20)
#define POLICY_MAX 256

struct policy_set {
	struct policy v[POLICY_MAX + 1]; /* v[0] is [defaults] */
	unsigned n;                      /* used entries of v, defaults included */
	char *source;                    /* the file, or NULL: built in */
};

const char policy_help[] =
	"usage: ragstore mount --config FILE BACKING MOUNTPOINT  (or -o config=FILE)\n"
	"\n"
	"FILE is an ini file of storage policies (docs/POLICIES.md):\n"
	"\n"
	"  [defaults]                 for every file that no policy matches\n"
	"  compression = zstd:1       none, lz4, zlib[:1-9], gzip[:1-9], zstd[:1-19]\n"
	"  block_size = 64K           block size of new files: a power of two, 4K..1M\n"
	"  max_file_size = 0          writes past it fail with EFBIG (K, M, G, T); 0: none\n"
	"  retention_days = 0         'cleanup' removes files older than this; 0: never\n"
	"  backup = yes               whether ragstore-backup copies the files\n"
	"\n"
	"  [policy logs]              any number of these; the first that matches wins\n"
	"  match = logs/**, *.log     comma-separated globs on the path in the mount\n"
	"  compression = zstd:19      keys not given come from [defaults]\n"
	"  retention_days = 90\n"
	"\n"
	"Globs: a glob without '/' matches the file name in any directory; one with\n"
	"'/' matches the whole path from the mount root.  '*' and '?' stay within a\n"
	"component, '**' crosses them ('a/**/b' matches a/b and a/x/y/b).\n"
	"Comments: lines starting with '#' or ';', and ' ;' after a value.\n"
	"Keys not given in [defaults] come from the store (ragstore info).\n"
	"A mistake stops the mount with 'FILE:LINE: message' (exit code 13).\n";

/* ---- matching --------------------------------------------------------- */

/* Match glob g against s from here on (see policy.h for the syntax).  Each
 * call spends one step of *steps: with many stars the backtracking grows
 * exponentially ("*a*a*a*a*b" on a long name), so a match that runs out is
 * taken as none, in bounded time. */
static int glob_at(const char *g, const char *s, unsigned long *steps)
{
	if (*steps == 0)
		return 0;
	--*steps;
	for (; *g; g++, s++) {
		if (g[0] == '*' && g[1] == '*') {
			g += 2;
			if (*g == '/') {
				/* Zero or more whole components. */
				for (g++;; s++) {
					if (glob_at(g, s, steps))
						return 1;
					s = strchr(s, '/');
					if (!s)
						return 0;
				}
			}
			for (;; s++) {
				if (glob_at(g, s, steps))
					return 1;
				if (!*s)
					return 0;
			}
		}
		if (*g == '*') {
			for (g++;; s++) {
				if (glob_at(g, s, steps))
					return 1;
				if (!*s || *s == '/')
					return 0;
			}
		}
		if (!*s || (*g == '?' ? *s == '/' : *g != *s))
			return 0;
	}
	return *s == '\0';
}

int policy_glob(const char *glob, const char *path)
{
	unsigned long steps = POLICY_GLOB_STEPS;
	const char *base;

	if (strchr(glob, '/'))
		return glob_at(glob + (*glob == '/'), path + (*path == '/'), &steps);
	base = strrchr(path, '/');
	return glob_at(glob, base ? base + 1 : path, &steps);
}

const struct policy *policy_match(const struct policy_set *ps, const char *path)
{
	for (unsigned i = 1; i < ps->n; i++)
		for (unsigned k = 0; k < ps->v[i].nmatch; k++)
			if (policy_glob(ps->v[i].match[k], path))
				return &ps->v[i];
	return &ps->v[0];
}

unsigned policy_count(const struct policy_set *ps)
{
	return ps->n;
}

const struct policy *policy_at(const struct policy_set *ps, unsigned i)
{
	return i < ps->n ? &ps->v[i] : NULL;
}

const char *policy_source(const struct policy_set *ps)
{
	return ps->source;
}

/* ---- the set ---------------------------------------------------------- */

static void builtin_defaults(struct policy *p, const struct codec_spec *codec, uint32_t bs)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->name, POLICY_DEFAULT_NAME);
	p->codec = *codec;
	p->block_size = bs;
	p->backup = 1;
}

struct policy_set *policy_set_builtin(const struct codec_spec *codec, uint32_t block_size)
{
	struct policy_set *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	builtin_defaults(&ps->v[0], codec, block_size);
	ps->n = 1;
	return ps;
}

void policy_set_free(struct policy_set *ps)
{
	if (!ps)
		return;
	for (unsigned i = 0; i < ps->n; i++) {
		for (unsigned k = 0; k < ps->v[i].nmatch; k++)
			free(ps->v[i].match[k]);
		free(ps->v[i].match);
	}
	free(ps->source);
	free(ps);
}

void policy_set_resolve(struct policy_set *ps, const struct codec_spec *codec,
			uint32_t block_size)
{
	struct policy *d = &ps->v[0];

	if (!(d->set & POLICY_SET_CODEC))
		d->codec = *codec;
	if (!(d->set & POLICY_SET_BLOCK))
		d->block_size = block_size;
	for (unsigned i = 1; i < ps->n; i++) {
		struct policy *p = &ps->v[i];

		if (!(p->set & POLICY_SET_CODEC))
			p->codec = d->codec;
		if (!(p->set & POLICY_SET_BLOCK))
			p->block_size = d->block_size;
		if (!(p->set & POLICY_SET_MAX))
			p->max_file_size = d->max_file_size;
		if (!(p->set & POLICY_SET_RETENTION))
			p->retention_days = d->retention_days;
		if (!(p->set & POLICY_SET_BACKUP))
			p->backup = d->backup;
	}
}

/* ---- parsing ---------------------------------------------------------- */

/* Keys, as bits of struct pctx.seen (each key once per section). */
static const char *const keys[] = { "compression", "block_size", "max_file_size",
				    "retention_days", "backup", "match", NULL };

struct pctx {
	const char *path;
	const char *text;
	size_t pos, len;
	int line;              /* the line last handed to inih */
	int err_line;          /* the lowest line with a mistake; 0: none */
	char *err;
	size_t errlen;
	struct policy_set *ps;
	struct policy *cur;    /* the section being read; NULL before the first */
	unsigned seen;         /* keys of cur given so far */
	int seen_defaults;
};

static void set_err(struct pctx *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keep the mistake with the lowest line: the one the user meets first. */
static void set_err(struct pctx *c, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->err_line && c->err_line <= line)
		return;
	c->err_line = line;
	if (!c->err || !c->errlen)
		return;
	n = snprintf(c->err, c->errlen, "%s:%d: ", c->path, line);
	if (n < 0 || (size_t)n >= c->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static int name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len >= POLICY_NAME_MAX)
		return 0;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return strcmp(n, POLICY_DEFAULT_NAME) != 0 && strcmp(n, "defaults") != 0;
}

/* A section header line ("[...]"), seen by the reader before inih: the
 * sections are ours to check, including those without keys. */
static void section_start(struct pctx *c, char *inner)
{
	char *name = trim(inner);

	c->cur = NULL;
	c->seen = 0;
	if (!strcmp(name, "defaults")) {
		if (c->seen_defaults) {
			set_err(c, c->line, "[defaults] given twice");
			return;
		}
		c->seen_defaults = 1;
		c->cur = &c->ps->v[0];
		c->cur->line = c->line;
		return;
	}
	if (strncmp(name, "policy", 6) || (name[6] != ' ' && name[6] != '\t')) {
		set_err(c, c->line, "unknown section [%s] (expected [defaults] or [policy NAME])",
			name);
		return;
	}
	name = trim(name + 6);
	if (!name_ok(name)) {
		set_err(c, c->line, "bad policy name '%s' (letters, digits, '-', '_', '.'; "
			"at most %d; not 'default')", name, POLICY_NAME_MAX - 1);
		return;
	}
	for (unsigned i = 1; i < c->ps->n; i++)
		if (!strcmp(c->ps->v[i].name, name)) {
			set_err(c, c->line, "policy '%s' given twice (first at line %d)", name,
				c->ps->v[i].line);
			return;
		}
	if (c->ps->n > POLICY_MAX) {
		set_err(c, c->line, "too many policies (at most %d)", POLICY_MAX);
		return;
	}
	c->cur = &c->ps->v[c->ps->n++];
	memset(c->cur, 0, sizeof(*c->cur));
	strcpy(c->cur->name, name);
	c->cur->line = c->line;
}

/* inih's reader: one line of the text, counting lines, and noting section
 * headers. */
static char *reader(char *str, int num, void *stream)
{
	struct pctx *c = stream;
	size_t n = 0;
	char line[1024], *p;

	if (c->pos >= c->len)
		return NULL;
	while (c->pos + n < c->len && c->text[c->pos + n] != '\n')
		n++;
	c->line++;
	if (n + 2 > (size_t)num || n + 2 > sizeof(line)) {
		set_err(c, c->line, "line too long (at most %d characters)",
			(num < (int)sizeof(line) ? num : (int)sizeof(line)) - 2);
		/* A match line refused here is not a missing match. */
		p = (char *)c->text + c->pos + strspn(c->text + c->pos, " \t");
		if (c->cur && !strncmp(p, "match", 5))
			c->cur->set |= POLICY_SET_MATCH;
		n = 0; /* handed on empty */
	} else {
		memcpy(str, c->text + c->pos, n);
	}
	str[n] = '\n';
	str[n + 1] = '\0';
	c->pos += n + (c->pos + n < c->len);
	memcpy(line, str, n + 1);
	line[n] = '\0';
	p = trim(line);
	if (*p == '[' && strchr(p, ']')) {
		*strchr(p, ']') = '\0';
		section_start(c, p + 1);
	}
	return str;
}

static int parse_match(struct pctx *c, const char *value)
{
	struct policy *p = c->cur;
	char *copy = strdup(value), *tok, *end;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	if (!*trim(copy)) {
		set_err(c, c->line, "match is empty (give one or more globs, comma-separated)");
		free(copy);
		return 0;
	}
	for (end = copy + strlen(copy), tok = copy; tok && r == 0;) {
		char *comma = strchr(tok, ','), *g, **more;

		if (comma)
			*comma = '\0';
		g = trim(tok);
		if (!*g) {
			set_err(c, c->line, "match has an empty glob (two commas, or a comma at "
				"an end)");
			break;
		}
		more = realloc(p->match, (p->nmatch + 1) * sizeof(*more));
		if (!more || !(more[p->nmatch] = strdup(g))) {
			if (more)
				p->match = more;
			r = -ENOMEM;
			break;
		}
		p->match = more;
		p->nmatch++;
		tok = comma && comma < end ? comma + 1 : NULL;
	}
	free(copy);
	return r;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };

	for (int i = 0; yes[i]; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct pctx *c = user;
	struct policy *p = c->cur;
	uint64_t v;
	int k;

	(void)section;
	if (!p) {
		/* A refused section was reported at its header. */
		if (!c->err_line)
			set_err(c, c->line, "'%s' outside a section ([defaults] or [policy NAME])",
				name);
		return 1;
	}
	for (k = 0; keys[k] && strcmp(keys[k], name); k++)
		;
	if (!keys[k]) {
		set_err(c, c->line, "unknown key '%s' (known: compression, block_size, "
			"max_file_size, retention_days, backup%s)", name,
			p == &c->ps->v[0] ? "" : ", match");
		return 1;
	}
	if (c->seen & (1u << k)) {
		set_err(c, c->line, "'%s' given twice in this section", name);
		return 1;
	}
	c->seen |= 1u << k;
	if (!strcmp(name, "match")) {
		if (p == &c->ps->v[0]) {
			set_err(c, c->line, "match belongs in [policy NAME]: [defaults] governs "
				"every file no policy matches");
			return 1;
		}
		p->set |= POLICY_SET_MATCH;
		return parse_match(c, value) == 0;
	}
	if (!strcmp(name, "compression")) {
		if (codec_parse(value, &p->codec) < 0)
			set_err(c, c->line, "bad compression '%s' (none, lz4, zlib[:1-9], "
				"gzip[:1-9], zstd[:1-19])", value);
		p->set |= POLICY_SET_CODEC;
	} else if (!strcmp(name, "block_size")) {
		if (util_parse_size(value, &v) < 0 || v < 4096 || v > 1048576 || (v & (v - 1)))
			set_err(c, c->line, "block_size '%s' out of range (a power of two from "
				"4096 to 1048576; K and M allowed)", value);
		p->block_size = (uint32_t)v;
		p->set |= POLICY_SET_BLOCK;
	} else if (!strcmp(name, "max_file_size")) {
		if (util_parse_size(value, &v) < 0 || v > (1ULL << 50))
			set_err(c, c->line, "max_file_size '%s' out of range (bytes, or with K, M, "
				"G or T, at most 1P; 0: no limit)", value);
		p->max_file_size = v;
		p->set |= POLICY_SET_MAX;
	} else if (!strcmp(name, "retention_days")) {
		char *end;
		unsigned long d;

		errno = 0;
		d = strtoul(value, &end, 10);
		if (errno || end == value || *end || *value == '-' || d > POLICY_MAX_RETENTION)
			set_err(c, c->line, "retention_days '%s' out of range (0 to %d; 0: kept "
				"forever)", value, POLICY_MAX_RETENTION);
		p->retention_days = (uint32_t)d;
		p->set |= POLICY_SET_RETENTION;
	} else {
		if (parse_bool(value, &p->backup) < 0)
			set_err(c, c->line, "backup '%s' is not yes or no", value);
		p->set |= POLICY_SET_BACKUP;
	}
	return 1;
}

int policy_set_parse(const char *path, const char *text, struct policy_set **out,
		     char *err, size_t errlen)
{
	static const struct codec_spec none = { CODEC_NONE, 0 };
	struct pctx c;
	int r;

	memset(&c, 0, sizeof(c));
	c.path = path;
	c.text = text;
	c.len = strlen(text);
	c.err = err;
	c.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	c.ps = policy_set_builtin(&none, 0);
	if (!c.ps || !(c.ps->source = strdup(path))) {
		policy_set_free(c.ps);
		return -ENOMEM;
	}
	r = ini_parse_stream(reader, &c, handler, &c);
	if (r == -2) {
		policy_set_free(c.ps);
		return -ENOMEM;
	}
	/* inih reports the first line it could not read; ours were recorded
	 * with their lines. */
	if (r > 0)
		set_err(&c, r, "syntax error (expected [section], key = value, or a comment)");
	for (unsigned i = 1; i < c.ps->n; i++)
		if (!(c.ps->v[i].set & POLICY_SET_MATCH))
			set_err(&c, c.ps->v[i].line, "policy '%s' has no match (give match = "
				"GLOB[, GLOB...])", c.ps->v[i].name);
	if (c.err_line) {
		policy_set_free(c.ps);
		return -EINVAL;
	}
	*out = c.ps;
	return 0;
}

int policy_set_load(const char *path, struct policy_set **out, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "re");
	struct stat st;
	char *text;
	size_t n;
	int r;

	if (!fp || fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > POLICY_FILE_MAX) {
		r = !fp ? -errno : st.st_size > POLICY_FILE_MAX && S_ISREG(st.st_mode) ? -EFBIG
				 : -EINVAL;
		snprintf(err, errlen, "%s: %s", path,
			 r == -EFBIG ? "too large for a policy file (at most 1 MiB)"
			 : r == -EINVAL ? "not a regular file" : strerror(-r));
		if (fp)
			fclose(fp);
		return r;
	}
	text = malloc((size_t)st.st_size + 1);
	n = text ? fread(text, 1, (size_t)st.st_size, fp) : 0;
	r = !text ? -ENOMEM : ferror(fp) ? -EIO : 0;
	fclose(fp);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		free(text);
		return r;
	}
	text[n] = '\0';
	if (memchr(text, '\0', n)) {
		snprintf(err, errlen, "%s: not a text file", path);
		free(text);
		return -EINVAL;
	}
	r = policy_set_parse(path, text, out, err, errlen);
	free(text);
	if (r == 0) {
		/* Shown in /.ragstore/config, from a daemon whose directory is /. */
		char *abs = realpath(path, NULL);

		if (abs) {
			free((*out)->source);
			(*out)->source = abs;
		}
	}
	return r;
}

/* ---- rendering -------------------------------------------------------- */

static void render_one(const struct policy *p, int is_default, struct strbuf *sb)
{
	char codec[32];

	codec_format(&p->codec, codec, sizeof(codec));
	if (is_default) {
		strbuf_printf(sb, "[defaults]\n");
	} else {
		size_t len = strlen("match = ");
		int tight = 0;

		for (unsigned k = 0; k < p->nmatch; k++) {
			len += strlen(p->match[k]) + (k ? 2 : 0);
			tight |= p->match[k][0] == ';';
		}
		/* Written tight, without spaces, when the spaced line would not
		 * read back: too long for the reader (the tight one is no longer
		 * than the line it was read from), or a glob starting with ';',
		 * which after a space begins an inline comment. */
		tight |= len + 2 > INI_MAX_LINE;
		strbuf_printf(sb, "[policy %s]\nmatch%s", p->name, tight ? "=" : " = ");
		for (unsigned k = 0; k < p->nmatch; k++)
			strbuf_printf(sb, "%s%s", k ? (tight ? "," : ", ") : "", p->match[k]);
		strbuf_printf(sb, "\n");
	}
	strbuf_printf(sb, "compression = %s\nblock_size = %u\nmax_file_size = %llu\n"
		      "retention_days = %u\nbackup = %s\n", codec, (unsigned)p->block_size,
		      (unsigned long long)p->max_file_size, (unsigned)p->retention_days,
		      p->backup ? "yes" : "no");
}

void policy_set_render(const struct policy_set *ps, struct strbuf *sb)
{
	for (unsigned i = 0; i < ps->n; i++) {
		if (i)
			strbuf_printf(sb, "\n");
		render_one(&ps->v[i], i == 0, sb);
	}
}
