/* mountcheck.c - early checks of `ragstore mount`: the mountpoint, the FUSE
 * device, and fusermount3's rule for allow_other. */
#include "mountcheck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUSE_DEVICE "/dev/fuse"
#define FUSE_CONF "/etc/fuse.conf"

/* 1 if directory path has an entry besides . and .., 0 if not, -errno. */
static int has_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int found = 0;

	if (!d)
		return -errno;
	while (!found && (e = readdir(d)))
		found = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return found;
}

int mountcheck_mountpoint(const char *mnt, int nonempty_ok, char *err, size_t errlen)
{
	struct stat st, parent;
	char up[PATH_MAX];
	int r;

	if (stat(mnt, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "mountpoint %s: %s", mnt, strerror(errno));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "mountpoint %s is not a directory", mnt);
		return -ENOTDIR;
	}
	/* The root of a mount differs from its parent in device, or is its own
	 * parent (the root of the namespace). */
	if (snprintf(up, sizeof(up), "%s/..", mnt) < (int)sizeof(up) &&
	    stat(up, &parent) == 0 &&
	    (parent.st_dev != st.st_dev || parent.st_ino == st.st_ino)) {
		snprintf(err, errlen, "mountpoint %s is busy (something is already mounted there)",
			 mnt);
		return -EBUSY;
	}
	if (nonempty_ok)
		return 0;
	r = has_entries(mnt);
	if (r < 0) {
		snprintf(err, errlen, "mountpoint %s: %s", mnt, strerror(-r));
		return r;
	}
	if (r) {
		snprintf(err, errlen, "mountpoint %s is not empty (the mount would hide its files); "
			 "use -o nonempty to mount there anyway", mnt);
		return -ENOTEMPTY;
	}
	return 0;
}

int mountcheck_fuse_device(char *err, size_t errlen)
{
	int fd = open(FUSE_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == ENOENT || errno == ENODEV || errno == ENXIO) {
		snprintf(err, errlen, "%s is missing (load the fuse kernel module; in a container, "
			 "pass the device in)", FUSE_DEVICE);
		return -ENOENT;
	}
	if (errno == EACCES || errno == EPERM) {
		snprintf(err, errlen, "cannot open %s: permission denied (ask the administrator "
			 "to let this user use FUSE)", FUSE_DEVICE);
		return -EACCES;
	}
	return 0;
}

/* 1 if /etc/fuse.conf has the line user_allow_other, read as fusermount3
 * reads it: '#' starts a comment, blanks around the word do not count. */
static int user_allow_other(void)
{
	FILE *f = fopen(FUSE_CONF, "re");
	char line[256];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '#'), *end;

		if (p)
			*p = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
				   end[-1] == '\r'))
			*--end = '\0';
		found = strcmp(p, "user_allow_other") == 0;
	}
	fclose(f);
	return found;
}

int mountcheck_allow_other(int asked, char *err, size_t errlen)
{
	if (!asked || getuid() == 0 || user_allow_other())
		return 0;
	snprintf(err, errlen, "-o allow_other needs a line user_allow_other in %s "
		 "when not mounting as root", FUSE_CONF);
	return -EPERM;
}
