/* mountinfo.c - the backing path through /proc/self/fd, the mount through
 * /proc/self/mountinfo. */
#include "mountinfo.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fields of a mountinfo line that we read: "id parent dev root mountpoint
 * options [optional...] - type source super". */
#define MI_MOUNTPOINT 4
#define MI_OPTIONS 5
#define MI_TYPE 6
#define MI_SOURCE 7
#define MI_SUPER 8
#define MI_FIELDS 9

int mountinfo_backing(const struct store *s, char *out, size_t len)
{
	char proc[64], p[PATH_MAX];
	ssize_t n;
	size_t l;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s->rootfd);
	n = readlink(proc, p, sizeof(p) - 1);
	if (n < 0)
		return -errno;
	p[n] = '\0';
	l = (size_t)n;
	/* The link reads BACKING/root, or something else (say with
	 * " (deleted)" appended) that names no directory. */
	if (l < sizeof(STORE_ROOT) || strcmp(p + l - (sizeof(STORE_ROOT) - 1), STORE_ROOT) ||
	    p[l - sizeof(STORE_ROOT)] != '/')
		return -ENOENT;
	p[l - sizeof(STORE_ROOT)] = '\0';
	if (!p[0])
		strcpy(p, "/");
	if (snprintf(out, len, "%s", p) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* Undo, in place, the \ooo escapes mountinfo writes for space, tab,
 * newline and backslash. */
static void mountinfo_unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Split one line into the fields we read.  Returns 0, or -EINVAL for a
 * line that is not a mount (a short one). */
static int mountinfo_split(char *line, char *field[MI_FIELDS])
{
	char *save, *sep = strstr(line, " - ");
	int n = 0;

	if (!sep)
		return -EINVAL;
	*sep = '\0';
	for (char *t = strtok_r(line, " \n", &save); t && n <= MI_OPTIONS;
	     t = strtok_r(NULL, " \n", &save))
		field[n++] = t;
	if (n <= MI_OPTIONS)
		return -EINVAL;
	/* The optional fields between the options and " - " are skipped. */
	for (char *t = strtok_r(sep + 3, " \n", &save); t && n < MI_FIELDS;
	     t = strtok_r(NULL, " \n", &save))
		field[n++] = t;
	return n < MI_FIELDS ? -EINVAL : 0;
}

int mountinfo_mount(const struct store *s, char *mnt, size_t mlen, char *opts, size_t olen)
{
	char abs[PATH_MAX], *line = NULL, *field[MI_FIELDS];
	size_t cap = 0;
	FILE *f;
	int r = -ENOENT;

	if (mountinfo_backing(s, abs, sizeof(abs)) < 0)
		return -ENOENT;
	f = fopen("/proc/self/mountinfo", "re");
	while (f && r < 0 && getline(&line, &cap, f) > 0) {
		if (mountinfo_split(line, field) < 0 || strcmp(field[MI_TYPE], "fuse.ragstore"))
			continue;
		mountinfo_unescape(field[MI_SOURCE]);
		if (strcmp(field[MI_SOURCE], abs))
			continue;
		mountinfo_unescape(field[MI_MOUNTPOINT]);
		if (snprintf(mnt, mlen, "%s", field[MI_MOUNTPOINT]) < (int)mlen &&
		    (!opts || snprintf(opts, olen, "%s,%s", field[MI_OPTIONS],
				       field[MI_SUPER]) < (int)olen))
			r = 0;
	}
	free(line);
	if (f)
		fclose(f);
	return r;
}
