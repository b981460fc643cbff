/* log.c - diagnostics to stderr or syslog. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

static int use_syslog;
static enum log_level max_level = LOG_LVL_INFO;

void log_use_syslog(int on)
{
	use_syslog = on;
	if (on)
		openlog("ragstore", LOG_PID, LOG_DAEMON);
}

int log_syslog_reachable(void)
{
	/* The two socket types glibc's syslog() tries, in its order. */
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (snprintf(a.sun_path, sizeof(a.sun_path), "%s", _PATH_LOG) >= (int)sizeof(a.sun_path))
		return 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		int ok;

		if (fd < 0)
			continue;
		ok = connect(fd, (const struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return 1;
	}
	return 0;
}

void log_set_level(enum log_level lvl)
{
	max_level = lvl;
}

enum log_level log_get_level(void)
{
	return max_level;
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
