/* wire.c - the session's reads and writes on /dev/fuse go through here
 * (fuse_session_custom_io), for one capability libfuse 3.14 cannot ask for.
 *
 * Without FUSE_HANDLE_KILLPRIV_V2 the kernel clears set-user-ID and
 * set-group-ID bits itself, and to learn whether a file capability must go
 * too it sends GETXATTR security.capability before every write(2): a 4 KiB
 * random write costs two round trips to the daemon instead of one.  With
 * it, the kernel marks an inode that has nothing to clear (S_NOSEC) and
 * stops asking, and instead flags the requests whose bits the daemon must
 * clear: WRITE (FUSE_WRITE_KILL_SUIDGID), OPEN with O_TRUNC
 * (FUSE_OPEN_KILL_SUIDGID) and SETATTR (FATTR_KILL_SUIDGID: a truncate, or
 * any chown of a non-directory).  ragstore keeps no security.* attributes,
 * so no capability can exist to be cleared.
 *
 * libfuse 3.14 knows neither the capability nor the flags, so the INIT
 * reply gets the capability added here when the kernel offered it, and
 * each request's flag is noted for the thread that reads it, which is the
 * thread that answers it (the session loop reads and processes a request
 * on one worker).  Everything else passes through unchanged. */
#include "wire.h"

#include <errno.h>
#include <sched.h>
#include <linux/fuse.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static int kernel_offered;   /* INIT request had FUSE_HANDLE_KILLPRIV_V2 */
static int agreed;           /* and the reply asked for it */
static uint64_t init_unique; /* the INIT request, to know its reply */
static __thread int kill_now;

int wire_killpriv(void)
{
	return __atomic_load_n(&agreed, __ATOMIC_ACQUIRE);
}

int wire_kill_suidgid(void)
{
	return kill_now;
}

/* RELEASE requests read from the kernel and not yet answered. */
static int releases; /* below 0 only where the hook is not installed */

void wire_release_done(void)
{
	__atomic_sub_fetch(&releases, 1, __ATOMIC_SEQ_CST);
}

void wire_releases_wait(void)
{
	/* A release is short (the last one commits a file): wait by
	 * yielding, not by a timer. */
	while (__atomic_load_n(&releases, __ATOMIC_SEQ_CST) > 0)
		sched_yield();
}

/* The flag of request buf (n bytes) for this thread. */
static void watch(const char *buf, size_t n)
{
	const struct fuse_in_header *h = (const void *)buf;
	const char *arg = buf + sizeof(*h);
	size_t have = n - sizeof(*h);

	kill_now = 0;
	switch (h->opcode) {
	case FUSE_RELEASE:
		__atomic_add_fetch(&releases, 1, __ATOMIC_SEQ_CST);
		return;
	case FUSE_INIT:
		if (have >= offsetof(struct fuse_init_in, flags) + sizeof(uint32_t)) {
			const struct fuse_init_in *in = (const void *)arg;

			__atomic_store_n(&init_unique, h->unique, __ATOMIC_RELAXED);
			__atomic_store_n(&kernel_offered, !!(in->flags & FUSE_HANDLE_KILLPRIV_V2),
					 __ATOMIC_RELAXED);
		}
		return;
	case FUSE_WRITE:
		if (have >= sizeof(struct fuse_write_in))
			kill_now = !!(((const struct fuse_write_in *)(const void *)arg)->write_flags &
				      FUSE_WRITE_KILL_SUIDGID);
		break;
	case FUSE_OPEN:
		if (have >= sizeof(struct fuse_open_in))
			kill_now = !!(((const struct fuse_open_in *)(const void *)arg)->open_flags &
				      FUSE_OPEN_KILL_SUIDGID);
		break;
	case FUSE_SETATTR:
		if (have >= sizeof(struct fuse_setattr_in))
			kill_now = !!(((const struct fuse_setattr_in *)(const void *)arg)->valid &
				      FATTR_KILL_SUIDGID);
		break;
	default:
		return;
	}
	kill_now = kill_now && wire_killpriv();
}

static ssize_t wire_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n >= (ssize_t)sizeof(struct fuse_in_header))
		watch(buf, (size_t)n);
	else
		kill_now = 0;
	return n;
}

/* The INIT reply, with the capability added when the kernel offered it. */
static ssize_t init_reply(int fd, struct iovec *iov, int count)
{
	struct fuse_init_out out;
	struct iovec v[2];

	if (count != 2 || iov[1].iov_len < offsetof(struct fuse_init_out, flags) + 4 ||
	    iov[1].iov_len > sizeof(out))
		return writev(fd, iov, count);
	memcpy(&out, iov[1].iov_base, iov[1].iov_len);
	out.flags |= FUSE_HANDLE_KILLPRIV_V2;
	v[0] = iov[0];
	v[1].iov_base = &out;
	v[1].iov_len = iov[1].iov_len;
	__atomic_store_n(&agreed, 1, __ATOMIC_RELEASE);
	return writev(fd, v, 2);
}

static ssize_t wire_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct fuse_out_header *h = count > 0 && iov[0].iov_len >= sizeof(*h)
						  ? iov[0].iov_base
						  : NULL;

	(void)userdata;
	if (h && h->error == 0 && h->unique &&
	    h->unique == __atomic_load_n(&init_unique, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&kernel_offered, __ATOMIC_RELAXED) && !wire_killpriv())
		return init_reply(fd, iov, count);
	return writev(fd, iov, count);
}

int wire_install(struct fuse_session *se)
{
	static const struct fuse_custom_io io = { .writev = wire_writev, .read = wire_read };

	return fuse_session_custom_io(se, &io, fuse_session_fd(se)) == 0 ? 0 : -1;
}
