/* daemon.c - detaching the mount daemon from its caller's descriptors. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* 1 if fd is open on a regular file. */
static int is_regular_file(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

int daemon_detach(int no_syslog, int keep_stderr, int quiet)
{
	int null, r = 0;

	if (chdir("/") < 0)
		return -errno;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return -errno;
	if (!no_syslog) {
		if (log_syslog_reachable())
			log_use_syslog(1);
		else if (is_regular_file(STDERR_FILENO))
			keep_stderr = 1;
		else if (!quiet)
			fprintf(stderr, "ragstore: warning: no syslog here (nothing listens on "
				"/dev/log), so the daemon's messages are discarded; use -f, or "
				"-o nosyslog with stderr sent to a file\n");
	}
	fflush(stderr);
	if (dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    (!keep_stderr && dup2(null, STDERR_FILENO) < 0))
		r = -errno;
	if (null > STDERR_FILENO)
		close(null);
	return r;
}
