/* shared.c - the per-file locks of shared mode and the revalidation of an
 * open file's state under them.  See shared.h for the protocol and
 * docs/SHARED.md for what it guarantees. */
#include "shared.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "backend.h"
#include "fh2.h"
#include "inode.h"
#include "log.h"
#include "ofile_int.h"
#include "v2_int.h"

#define SHARED_HEADER_PAGE 4096

static int lock_content(struct backend *be, int fd, int type)
{
	int r = backend_setlk(be, fd, type, SHARED_LOCK_CONTENT, 1, 1);

	/* A file the daemon could open only for reading cannot take a write
	 * lock; it cannot be written either, so a read lock serves. */
	if (r == -EBADF && type == F_WRLCK)
		r = backend_setlk(be, fd, F_RDLCK, SHARED_LOCK_CONTENT, 1, 1);
	return r;
}

/* The newest slot of a v2 header area, unverified: its index (-1 for
 * none) and generation. */
static int newest_slot(const uint8_t *area, uint64_t *gen)
{
	uint64_t g[2], size;
	int best = -1;

	for (int i = 0; i < 2; i++)
		if (fh2_peek(area + i * FH2_SLOT, &g[i], &size) == 0 && (best < 0 || g[i] > g[best]))
			best = i;
	if (best >= 0)
		*gen = g[best];
	return best;
}

/* Load f's state again from disk: another daemon committed since this one
 * last saw the header.  Nothing of f is dirty here (every locked section
 * of shared mode ends with a commit).  The store totals do not move: the
 * change is the other daemon's to count. */
static int reload(struct store *s, struct ofile *f, const uint8_t *area)
{
	struct v2state *old = f->v2, *fresh;
	struct file_header oh = f->hdr;
	struct stat st;
	int r = backend_fstat(f->be, f->fd, &st);

	if (r < 0)
		return r;
	/* The records another daemon wrote may lie where this client's page
	 * cache still holds older bytes (see shared_enter). */
	backend_fadvise(f->be, f->fd, 0, 0, POSIX_FADV_DONTNEED);
	f->v2 = NULL;
	r = v2open_load(s, f, area, (uint64_t)st.st_size);
	if (r == 0)
		r = ofile_hint_check(f);
	if (r < 0) {
		v2open_free(f); /* what loaded, if anything */
		f->v2 = old;
		f->hdr = oh;
		log_msg(LOG_LVL_ERROR, "%s: cannot load the file again after another daemon "
			"changed it: %s", f->path ? f->path : "?", strerror(-r));
		return r == -ESTALE ? -EIO : r;
	}
	fresh = f->v2;
	f->v2 = old;
	v2open_free(f);
	f->v2 = fresh;
	f->wb_dirty = 0;
	f->bsize = (uint64_t)st.st_size;
	f->stored = (uint64_t)st.st_blocks * 512;
	__atomic_store_n(&f->size, f->hdr.size, __ATOMIC_RELAXED);
	__atomic_store_n(&f->csize, f->hdr.size, __ATOMIC_RELAXED);
	/* Both slots verify: the newer header is the other daemon's and may
	 * not be durable yet.  This daemon's next header goes over the older
	 * slot (the load takes the newer one for the durable one, rule R3),
	 * so make the newer one durable first. */
	if (fresh->other_valid)
		r = backend_fsync(f->be, f->fd, 1);
	return r;
}

int shared_enter(struct store *s, struct ofile *f, int excl)
{
	uint8_t area[FH2_DATA_START];
	uint64_t gen = 0;
	ssize_t n;
	int r = lock_content(f->be, f->fd, excl ? F_WRLCK : F_RDLCK), slot;

	if (r < 0)
		return r;
	f->shlocked = 1;
	/* v1 files are read-only in shared mode (fileio.c): never changed. */
	if (!f->v2)
		return 0;
	/* On a network filesystem this client's page cache may still hold
	 * the header as it was before another machine's commit: drop it, so
	 * the read below asks the server.  (Cheap where the cache is shared,
	 * as on a local filesystem: one clean page.)  Only whole pages are
	 * dropped, hence a page, not the 1024 bytes of the header. */
	backend_fadvise(f->be, f->fd, 0, SHARED_HEADER_PAGE, POSIX_FADV_DONTNEED);
	n = backend_pread_full(f->be, f->fd, area, sizeof(area), 0);
	if (n < 0) {
		f->shstale = 1;
		return (int)n;
	}
	memset(area + n, 0, sizeof(area) - (size_t)n);
	slot = newest_slot(area, &gen);
	if (gen == f->hdr.gen && slot == f->v2->disk_slot)
		return 0;
	r = slot < 0 ? -EIO : reload(s, f, area);
	f->shstale = r < 0;
	return r;
}

void shared_leave(struct store *s, struct ofile *f)
{
	if (f->v2 && f->shlocked && !f->shstale && (f->wb_dirty || f->v2->dirty)) {
		int r = v2commit_commit(s, f, 0);

		if (r < 0 && !f->err)
			f->err = r;
		ofile_account(s, f);
	}
	if (f->shlocked)
		backend_setlk(f->be, f->fd, F_UNLCK, SHARED_LOCK_CONTENT, 1, 0);
	f->shlocked = 0;
	f->shstale = 0;
}

int shared_open_begin(struct store *s, int fd)
{
	int r = lock_content(s->be, fd, F_RDLCK);

	if (r == 0)
		backend_fadvise(s->be, fd, 0, 0, POSIX_FADV_DONTNEED);
	return r;
}

void shared_open_end(struct store *s, int fd)
{
	backend_setlk(s->be, fd, F_UNLCK, SHARED_LOCK_CONTENT, 1, 0);
}

int shared_names_open(struct store *s, const char *backing)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/ragstore.lock", backing) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = backend_openat(s->be, AT_FDCWD, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_msg(LOG_LVL_WARN, "%s: %s; creations are not locked between daemons", path,
			strerror(-fd));
		return fd;
	}
	s->shlockfd = fd;
	return 0;
}

long long shared_name_lock(struct store *s, int dirfd, const char *name)
{
	struct stat st;
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	long long byte;

	if (s->shlockfd < 0 || backend_fstat(s->be, dirfd, &st) < 0)
		return -1;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h ^= (uint64_t)st.st_ino * 0x9e3779b97f4a7c15ULL;
	byte = (1LL << 32) + (long long)(h % (1ULL << 40));
	return backend_setlk(s->be, s->shlockfd, F_WRLCK, byte, 1, 1) == 0 ? byte : -1;
}

long long shared_key_lock(struct store *s, const void *key, size_t len)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	long long byte;

	if (s->shlockfd < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		h = (h ^ ((const unsigned char *)key)[i]) * 1099511628211ULL;
	byte = (1LL << 32) + (1LL << 40) + (long long)(h % (1ULL << 40));
	return backend_setlk(s->be, s->shlockfd, F_WRLCK, byte, 1, 1) == 0 ? byte : -1;
}

void shared_name_unlock(struct store *s, long long byte)
{
	if (byte >= 0)
		backend_setlk(s->be, s->shlockfd, F_UNLCK, byte, 1, 0);
}

/* A descriptor of regular file in of its own (a new open file
 * description), for the handle's flock. */
static int lockfd_open(struct store *s, struct inode *in)
{
	struct iref ref;
	int fd;

	inode_ns_rdlock(s);
	fd = inode_ref(s, in, &ref);
	if (fd == 0) {
		fd = backend_openat(s->be, ref.dirfd, ref.name, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd == -EACCES || fd == -EROFS)
			fd = backend_openat(s->be, ref.dirfd, ref.name,
					    O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
		inode_ref_put(s, &ref);
	}
	inode_ns_unlock(s);
	return fd;
}

int shared_flock(struct store *s, struct inode *in, int *lockfd, int op)
{
	int want = op & ~LOCK_NB, type, r;

	type = want == LOCK_SH ? F_RDLCK : want == LOCK_EX ? F_WRLCK : want == LOCK_UN ? F_UNLCK : -1;
	if (type < 0)
		return -EINVAL;
	if (*lockfd < 0) {
		if (type == F_UNLCK)
			return 0;
		r = lockfd_open(s, in);
		if (r < 0)
			return r;
		*lockfd = r;
	}
	r = backend_setlk(s->be, *lockfd, type, SHARED_LOCK_FLOCK, 1, !(op & LOCK_NB));
	return r == -EAGAIN || r == -EACCES ? -EWOULDBLOCK : r;
}

void shared_lockfd_close(struct store *s, int lockfd)
{
	if (lockfd >= 0)
		backend_close(s->be, lockfd);
}
