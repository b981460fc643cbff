/* backend.c - what every backend shares: freeing, and full-length I/O and
 * the open without access-time update, written once over the operations.
 * See backend.h. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

void backend_free(struct backend *be)
{
	if (be && be->ops->destroy)
		be->ops->destroy(be);
}

ssize_t backend_pread_full(struct backend *be, int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = backend_pread(be, fd, (char *)buf + done, len - done,
					  off + (off_t)done);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int backend_pwrite_full(struct backend *be, int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = backend_pwrite(be, fd, (const char *)buf + done, len - done,
					   off + (off_t)done);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return (int)r;
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return 0;
}

int backend_opendirat(struct backend *be, int dirfd, const char *name, int flags,
		      struct backend_dir **d)
{
	int fd = backend_openat(be, dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | flags, 0);
	int r;

	if (fd < 0)
		return fd;
	r = backend_fdopendir(be, fd, d);
	if (r < 0)
		backend_close(be, fd);
	return r;
}

int backend_readdir_names(struct backend *be, struct backend_dir *d, struct dirent **e)
{
	int r;

	while ((r = backend_readdir(be, d, e)) == 1)
		if (strcmp((*e)->d_name, ".") && strcmp((*e)->d_name, ".."))
			break;
	return r;
}

int backend_open_noatime(struct backend *be, int dirfd, const char *rel)
{
	int fd = backend_openat(be, dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME, 0);

	if (fd == -EPERM)
		fd = backend_openat(be, dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	return fd;
}
