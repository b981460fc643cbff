/* log.c - diagnostics to stderr or syslog. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static int use_syslog;
static enum log_level max_level = LOG_LVL_INFO;

void log_use_syslog(int on)
{
	use_syslog = on;
	if (on)
		openlog("ragstore", LOG_PID, LOG_DAEMON);
}

void log_set_level(enum log_level lvl)
{
	max_level = lvl;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const name[] = { "error", "warning", "info", "debug" };
	va_list ap;

	if (lvl > max_level)
		return;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio[lvl], fmt, ap);
	} else {
		char line[1024];

		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "ragstore: %s: %s\n", name[lvl], line);
	}
	va_end(ap);
}
