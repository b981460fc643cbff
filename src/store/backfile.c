/* backfile.c - small files and listings in the backing store (backfile.h). */
#include "backfile.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>

#include "crypto.h"
#include "names.h"
#include "util.h"

ssize_t backfile_read(struct backend *be, int dfd, const char *name, void *buf, size_t cap)
{
	int fd = backend_open_noatime(be, dfd, name);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = backend_pread_full(be, fd, buf, cap, 0);
	backend_close(be, fd);
	return n;
}

int backfile_replace(struct backend *be, int dfd, const char *name, const void *data,
		     size_t len, mode_t mode)
{
	char tmp[NAME_TMP_LEN];
	int fd, r;

	name_tmp(tmp);
	fd = backend_openat(be, dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    mode);
	if (fd < 0)
		return fd;
	r = backend_pwrite_full(be, fd, data, len, 0);
	/* The rename must not become durable before the contents. */
	if (r == 0)
		r = backend_fsync(be, fd, 0);
	backend_close(be, fd);
	if (r == 0)
		r = backend_renameat2(be, dfd, tmp, dfd, name, 0);
	if (r < 0) {
		backend_unlinkat(be, dfd, tmp, 0);
		return r;
	}
	fd = backend_openat(be, dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd >= 0) {
		backend_fsync(be, fd, 0);
		backend_close(be, fd);
	}
	return 0;
}
