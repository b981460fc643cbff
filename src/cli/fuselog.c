/* fuselog.c - libfuse's messages through log.h. */
#include "fuselog.h"

#define FUSE_USE_VERSION 314
#include <fuse_log.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

/* libfuse writes some messages in pieces (a line's start, then each bad
 * option, then the newline), so pieces gather in line until a newline ends
 * them.  Written only by the thread that sets the mount up, or by one
 * failing thread at a time later: libfuse logs little once it serves. */
static int holding;
static char line[512];
static char held[512];

static void fuselog_route(enum fuse_log_level level, const char *fmt, va_list ap)
{
	size_t have = strlen(line), n;
	const char *text = line;

	vsnprintf(line + have, sizeof(line) - have, fmt, ap);
	n = strlen(line);
	if (n == 0 || (line[n - 1] != '\n' && n < sizeof(line) - 1))
		return;
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (!strncmp(text, "fuse: ", 6))
		text += 6;
	if (holding)
		snprintf(held, sizeof(held), "%s", text);
	else
		log_msg(level <= FUSE_LOG_ERR ? LOG_LVL_ERROR
			: level == FUSE_LOG_WARNING ? LOG_LVL_WARN
			: level <= FUSE_LOG_INFO ? LOG_LVL_INFO : LOG_LVL_DEBUG,
			"libfuse: %s", text);
	line[0] = '\0';
}

void fuselog_install(void)
{
	fuse_set_log_func(fuselog_route);
}

void fuselog_hold(int hold)
{
	holding = hold;
	if (hold)
		held[0] = '\0';
}

const char *fuselog_held(void)
{
	return held;
}
