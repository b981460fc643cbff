/* log.c - diagnostics to stderr, syslog or a log file. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static int use_syslog;
static enum log_level max_level = LOG_LVL_INFO;
/* -o logfile: messages are appended to file_fd, which log_reopen points at
 * a fresh open of file_path (after logrotate moved the old one away). */
static int file_fd = -1;
static char file_path[PATH_MAX];
static volatile sig_atomic_t reopen_failed;

static int log_file_open(void)
{
	return open(file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
}

int log_use_file(const char *path)
{
	int fd;

	if (path[0] != '/' || strlen(path) >= sizeof(file_path))
		return -EINVAL;
	memcpy(file_path, path, strlen(path) + 1);
	fd = log_file_open();
	if (fd < 0)
		return -errno;
	if (file_fd >= 0)
		close(file_fd);
	file_fd = fd;
	use_syslog = 0;
	return 0;
}

const char *log_file_path(void)
{
	return file_fd >= 0 ? file_path : NULL;
}

/* Only open, dup3 and close, all async-signal-safe: this runs in the
 * SIGHUP handler.  A thread writing meanwhile writes to the old file or
 * the new one, whole lines either way.  If the open fails the old file is
 * kept and the next message says so. */
void log_reopen(void)
{
	int saved = errno, fd;

	if (file_fd < 0)
		return;
	fd = log_file_open();
	if (fd < 0) {
		reopen_failed = errno;
	} else {
		if (fd != file_fd) {
			dup3(fd, file_fd, O_CLOEXEC);
			close(fd);
		}
		reopen_failed = 0;
	}
	errno = saved;
}

/* One line, "2026-12-01T18:00:00.123Z ragstore[PID]: level: text", in one
 * write: O_APPEND keeps lines of concurrent writers whole. */
static void log_file_write(const char *level, const char *text)
{
	char line[1200];
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(line + n, sizeof(line) - n, ".%03ldZ ragstore[%ld]: %s: %s\n",
		 ts.tv_nsec / 1000000, (long)getpid(), level, text);
	n = strlen(line);
	if (line[n - 1] != '\n')
		line[n - 1] = '\n';
	if (write(file_fd, line, n) < 0) {
		/* Nowhere else to say it: the file is the chosen place. */
	}
}

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
	if (file_fd >= 0) {
		char line[1024];
		int failed = reopen_failed;

		if (failed) {
			reopen_failed = 0;
			snprintf(line, sizeof(line), "cannot reopen the log file %.700s: %s; "
				 "writing on to the file it was", file_path, strerror(failed));
			log_file_write(name[LOG_LVL_WARN], line);
		}
		vsnprintf(line, sizeof(line), fmt, ap);
		log_file_write(name[lvl], line);
	} else if (use_syslog) {
		vsyslog(prio[lvl], fmt, ap);
	} else {
		char line[1024];

		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "ragstore: %s: %s\n", name[lvl], line);
	}
	va_end(ap);
}
