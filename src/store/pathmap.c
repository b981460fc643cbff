/* pathmap.c - encrypted backing paths: per-directory values, long names,
 * symlink targets. */
#include "pathmap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "fallback.h"
#include "log.h"
#include "shared.h"
#include "stats.h"
#include "util.h"

#define CACHE_SLOTS 4096

/* Direct-mapped cache of directory values by inode.  A directory's value
 * never changes while the directory exists, and only this process writes
 * the store (the mount holds a lock), so forgetting an entry when its
 * directory is removed keeps the cache exact. */
struct pathmap_cache {
	pthread_mutex_t mu; /* guards slots */
	struct {
		dev_t dev;
		ino_t ino; /* 0 = empty */
		uint8_t iv[NAME_IV_LEN];
	} slots[CACHE_SLOTS];
};

struct pathmap_cache *pathmap_cache_new(void)
{
	struct pathmap_cache *c = calloc(1, sizeof(*c));

	if (c)
		pthread_mutex_init(&c->mu, NULL);
	return c;
}

void pathmap_cache_free(struct pathmap_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static size_t cache_index(dev_t dev, ino_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ULL) ^ dev) % CACHE_SLOTS;
}

void pathmap_forget(struct store *s, dev_t dev, ino_t ino)
{
	size_t i = cache_index(dev, ino);

	if (!s->dirivs)
		return;
	pthread_mutex_lock(&s->dirivs->mu);
	if (s->dirivs->slots[i].ino == ino && s->dirivs->slots[i].dev == dev)
		s->dirivs->slots[i].ino = 0;
	pthread_mutex_unlock(&s->dirivs->mu);
}

/* Shared mode: another daemon removing directory name (in dirfd) empties
 * it, value file first, then removes it, or puts the value file back if an
 * entry came in meanwhile (rmdir_shared).  Wait a moment for either.
 * Returns a descriptor of the value file (path p), -ESRCH once the
 * directory is gone, or -ENOENT if its value file stays missing. */
static int read_iv_wait(struct store *s, int dirfd, const char *name, const char *p)
{
	struct stat st;
	int fd = -ENOENT;

	for (int i = 0; i < 20 && fd == -ENOENT; i++) {
		int r = backend_fstatat(s->be, dirfd, name, &st, AT_SYMLINK_NOFOLLOW);

		if (r == -ENOENT || (r == 0 && st.st_nlink == 0))
			return -ESRCH;
		usleep(5000);
		fd = backend_openat(s->be, dirfd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	}
	return fd;
}

static int read_iv(struct store *s, int dirfd, const char *name, uint8_t *iv)
{
	char p[PATH_MAX];
	uint8_t buf[NAME_DIRIV_SIZE + 1];
	ssize_t n;
	int fd;

	if (snprintf(p, sizeof(p), "%s/" NAME_DIRIV_FILE, name) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	fd = backend_openat(s->be, dirfd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd == -ENOENT && s->shared)
		fd = read_iv_wait(s, dirfd, name, p);
	if (fd == -ESRCH)
		return -ENOENT;
	if (fd < 0) {
		log_msg(LOG_LVL_ERROR, "backing directory %s: value file missing (%s)", name,
			strerror(-fd));
		return -EIO;
	}
	n = backend_pread_full(s->be, fd, buf, sizeof(buf), 0);
	backend_close(s->be, fd);
	/* Records of packed files (pack.h) may follow the value. */
	if (n > NAME_DIRIV_SIZE && s->desc.version >= 3)
		n = NAME_DIRIV_SIZE;
	if (n < 0 || name_diriv_open(s->names, buf, (size_t)n, iv) < 0) {
		log_msg(LOG_LVL_ERROR, "backing directory %s: value file damaged", name);
		return -EIO;
	}
	return 0;
}

int pathmap_dir_iv(struct store *s, int dirfd, const char *name, uint8_t *iv)
{
	struct stat st;
	size_t i;
	int r;

	r = backend_fstatat(s->be, dirfd, name, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return r;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (!s->names) {
		memset(iv, 0, NAME_IV_LEN);
		return 0;
	}
	i = cache_index(st.st_dev, st.st_ino);
	pthread_mutex_lock(&s->dirivs->mu);
	if (!s->shared && s->dirivs->slots[i].ino == st.st_ino &&
	    s->dirivs->slots[i].dev == st.st_dev) {
		memcpy(iv, s->dirivs->slots[i].iv, NAME_IV_LEN);
		pthread_mutex_unlock(&s->dirivs->mu);
		stats_cache(s->stats, 1);
		return 0;
	}
	pthread_mutex_unlock(&s->dirivs->mu);
	stats_cache(s->stats, 0);
	r = read_iv(s, dirfd, name, iv);
	if (r < 0) {
		stats_error(s->stats, 1, NULL, -1, "directory value file missing or damaged");
		return r;
	}
	pthread_mutex_lock(&s->dirivs->mu);
	s->dirivs->slots[i].dev = st.st_dev;
	s->dirivs->slots[i].ino = st.st_ino;
	memcpy(s->dirivs->slots[i].iv, iv, NAME_IV_LEN);
	pthread_mutex_unlock(&s->dirivs->mu);
	return 0;
}

int pathmap_encode(struct store *s, const uint8_t *iv, const char *name, struct bname *bn)
{
	size_t len = strlen(name);
	int n;

	bn->is_long = 0;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (len > NAME_PLAIN_MAX)
		return -ENAMETOOLONG;
	if (!s->names) {
		memcpy(bn->leaf, name, len + 1);
		memcpy(bn->enc, name, len + 1);
		return 0;
	}
	n = name_encrypt(s->names, iv, name, len, bn->enc);
	if (n < 0)
		return n;
	bn->is_long = n > NAME_BACKING_MAX;
	if (bn->is_long)
		name_long(bn->enc, (size_t)n, bn->leaf, bn->side);
	else
		memcpy(bn->leaf, bn->enc, (size_t)n + 1);
	return 0;
}

int pathmap_side_write(struct store *s, int dirfd, const struct bname *bn)
{
	int fd, r;

	if (!bn->is_long)
		return 0;
	fd = backend_openat(s->be, dirfd, bn->side,
			    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return fd;
	r = backend_pwrite_full(s->be, fd, bn->enc, strlen(bn->enc), 0);
	backend_close(s->be, fd);
	return r;
}

void pathmap_side_drop(struct store *s, int dirfd, const struct bname *bn)
{
	struct stat st;

	if (!bn->is_long)
		return;
	if (backend_fstatat(s->be, dirfd, bn->leaf, &st, AT_SYMLINK_NOFOLLOW) == -ENOENT)
		backend_unlinkat(s->be, dirfd, bn->side, 0);
}

/* A fresh value file for the backing directory name in dirfd. */
static int write_iv(struct backend *be, int dirfd, const char *name, const uint8_t *file)
{
	char p[PATH_MAX];
	int fd, r;

	if (snprintf(p, sizeof(p), "%s/" NAME_DIRIV_FILE, name) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	fd = backend_openat(be, dirfd, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0400);
	if (fd < 0)
		return fd;
	r = backend_pwrite_full(be, fd, file, NAME_DIRIV_SIZE, 0);
	if (r == 0)
		r = backend_fsync(be, fd, 0);
	backend_close(be, fd);
	return r;
}

static int mkdir_one(struct store *s, int dirfd, const struct bname *bn, mode_t mode);

/* How many times a shared mkdir is tried when the backing filesystem
 * answers EEXIST for a name that is still free afterwards. */
#define MKDIR_SHARED_TRIES 8

/* Shared mode, under the name lock (shared.h), so no other daemon makes
 * the name meanwhile.  What another daemon made is not made again: a mkdir
 * that fails with EEXIST on a GlusterFS server can leave the clients'
 * handle of the existing directory stale for a moment.
 *
 * And an EEXIST is believed only if the name is there when looked up
 * again.  A GlusterFS brick makes a directory, then gives it its gfid; a
 * lookup of the name by another client in between gives the directory a
 * gfid of its own (posix_lookup's gfid heal), the brick's own gfid then
 * fails with EEXIST, and the brick removes the directory it made and
 * answers EEXIST: the name is free again (docs/SHARED.md).  Such a mkdir
 * is simply made again. */
static int mkdir_shared(struct store *s, int dirfd, const struct bname *bn, mode_t mode)
{
	struct stat st;
	int r;

	for (int i = 0;; i++) {
		r = backend_fstatat(s->be, dirfd, bn->leaf, &st, AT_SYMLINK_NOFOLLOW);
		if (r != -ENOENT)
			return r == 0 ? -EEXIST : r;
		if (i == MKDIR_SHARED_TRIES)
			break;
		if (i > 0)
			log_msg(LOG_LVL_DEBUG, "mkdir: EEXIST for a free name; made again");
		r = mkdir_one(s, dirfd, bn, mode);
		if (r != -EEXIST)
			return r;
	}
	log_msg(LOG_LVL_WARN, "mkdir: the backing filesystem answered EEXIST %d times for a "
		"name it then did not have", MKDIR_SHARED_TRIES);
	return -EEXIST;
}

int pathmap_mkdir(struct store *s, int dirfd, const struct bname *bn, mode_t mode)
{
	long long lk;
	int r;

	if (!s->shared)
		return mkdir_one(s, dirfd, bn, mode);
	lk = shared_name_lock(s, dirfd, bn->leaf);
	r = mkdir_shared(s, dirfd, bn, mode);
	shared_name_unlock(s, lk);
	return r;
}

static int mkdir_one(struct store *s, int dirfd, const struct bname *bn, mode_t mode)
{
	uint8_t file[NAME_DIRIV_SIZE];
	char tmp[32];
	int r;

	if (!s->names)
		return backend_mkdirat(s->be, dirfd, bn->leaf, mode);
	/* Made under a temporary name, given its value file, then renamed:
	 * a crash never leaves a named directory without one. */
	name_tmp(tmp);
	r = backend_mkdirat(s->be, dirfd, tmp, mode | S_IWUSR | S_IXUSR);
	if (r < 0)
		return r;
	name_diriv_new(s->names, file);
	r = write_iv(s->be, dirfd, tmp, file);
	/* The final mode, keeping the setgid bit inherited from a setgid
	 * parent as mkdir(2) does. */
	if (r == 0) {
		struct stat st;

		r = backend_fstatat(s->be, dirfd, tmp, &st, 0);
		if (r == 0)
			r = backend_fchmodat(s->be, dirfd, tmp,
					     (mode & 07777) | (st.st_mode & S_ISGID), 0);
	}
	if (r == 0)
		r = fallback_renameat2(s->be, &s->probe, dirfd, tmp, dirfd, bn->leaf,
				       RENAME_NOREPLACE);
	if (r < 0) {
		char p[64];

		snprintf(p, sizeof(p), "%s/" NAME_DIRIV_FILE, tmp);
		backend_unlinkat(s->be, dirfd, p, 0);
		backend_unlinkat(s->be, dirfd, tmp, AT_REMOVEDIR);
	}
	return r;
}

/* A long name's side file (pathmap_side_write). */
static int is_side(const char *bname)
{
	return bname[0] == '.' && bname[1] == 'N' && strlen(bname) == NAME_LONG_LEN;
}

/* Scan the backing directory name in dirfd: -ENOTEMPTY if it holds any
 * user entry; with purge set (and no user entry), remove our own files
 * from it.  With sides set, a side file counts as a user entry: in shared
 * mode another daemon writes it just before the entry it names, so it may
 * be the first half of a creation, not a leftover. */
static int scan_dir(struct backend *be, int pdir, const char *name, int purge, int sides)
{
	struct backend_dir *d;
	struct dirent *e;
	int r = backend_opendirat(be, pdir, name, O_NOFOLLOW, &d);

	if (r < 0)
		return r;
	while (backend_readdir_names(be, d, &e) == 1) {
		if (!name_is_internal(e->d_name) || (sides && is_side(e->d_name)))
			r = -ENOTEMPTY;
		else if (purge)
			backend_unlinkat(be, backend_dirfd(be, d), e->d_name, 0);
	}
	backend_closedir(be, d);
	return r;
}

/* Remove a directory already moved to its hidden name. */
static void remove_aside(struct backend *be, int dirfd, const char *aside)
{
	scan_dir(be, dirfd, aside, 1, 0);
	backend_unlinkat(be, dirfd, aside, AT_REMOVEDIR);
}

/* Shared mode: another daemon may have made an entry in the directory
 * between the scan and the move aside (its descriptor of the directory
 * follows the move).  Look again; if something is there, or appears before
 * the directory is gone, put the directory back whole, value file included,
 * and fail as rmdir(2) of a directory that is not empty. */
static int rmdir_shared(struct store *s, int dirfd, const char *aside, const struct bname *bn)
{
	uint8_t file[NAME_DIRIV_SIZE];
	ssize_t n = -EIO;
	char p[64];
	int fd, r = scan_dir(s->be, dirfd, aside, 0, 1);

	snprintf(p, sizeof(p), "%s/" NAME_DIRIV_FILE, aside);
	fd = backend_openat(s->be, dirfd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd >= 0) {
		n = backend_pread_full(s->be, fd, file, sizeof(file), 0);
		backend_close(s->be, fd);
	}
	if (r == 0) {
		r = scan_dir(s->be, dirfd, aside, 1, 1);
		if (r == 0)
			r = backend_unlinkat(s->be, dirfd, aside, AT_REMOVEDIR);
	}
	if (r == 0)
		return 0;
	if (n == NAME_DIRIV_SIZE)
		write_iv(s->be, dirfd, aside, file); /* -EEXIST if still there */
	if (fallback_renameat2(s->be, &s->probe, dirfd, aside, dirfd, bn->leaf,
			       RENAME_NOREPLACE) < 0)
		log_msg(LOG_LVL_ERROR, "a directory being removed got an entry from another daemon, "
			"and its name was taken meanwhile: it stays as %s (ragstore fsck lists it)",
			aside);
	return r == -EEXIST ? -ENOTEMPTY : r;
}

int pathmap_rmdir(struct store *s, int dirfd, const struct bname *bn)
{
	char aside[32];
	struct stat st;
	int r;

	if (!s->names)
		return backend_unlinkat(s->be, dirfd, bn->leaf, AT_REMOVEDIR);
	r = backend_fstatat(s->be, dirfd, bn->leaf, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return r;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	r = scan_dir(s->be, dirfd, bn->leaf, 0, s->shared);
	name_tmp(aside);
	/* Moved aside first, under a hidden name: a crash at any point leaves
	 * either the directory whole, or a hidden leftover, never a named
	 * directory without its value file. */
	if (r == 0)
		r = backend_renameat2(s->be, dirfd, bn->leaf, dirfd, aside, 0);
	if (r < 0)
		return r;
	pathmap_forget(s, st.st_dev, st.st_ino);
	if (s->shared)
		r = rmdir_shared(s, dirfd, aside, bn);
	else
		remove_aside(s->be, dirfd, aside);
	if (r == 0)
		pathmap_side_drop(s, dirfd, bn);
	return r;
}

int pathmap_replace_prepare(struct store *s, int dirfd, const struct bname *bn,
			    char *aside, size_t len, int *prepared)
{
	struct stat st;
	int r;

	*prepared = 0;
	if (!s->names || backend_fstatat(s->be, dirfd, bn->leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode))
		return 0;
	if (len < 32)
		return -ENAMETOOLONG;
	r = scan_dir(s->be, dirfd, bn->leaf, 0, s->shared);
	name_tmp(aside);
	if (r == 0)
		r = backend_renameat2(s->be, dirfd, bn->leaf, dirfd, aside, 0);
	*prepared = r == 0;
	return r;
}

void pathmap_replace_finish(struct store *s, int dirfd, const char *aside)
{
	struct stat st;

	if (backend_fstatat(s->be, dirfd, aside, &st, AT_SYMLINK_NOFOLLOW) == 0)
		pathmap_forget(s, st.st_dev, st.st_ino);
	remove_aside(s->be, dirfd, aside);
}

void pathmap_replace_undo(struct store *s, int dirfd, const struct bname *bn,
			  const char *aside)
{
	backend_renameat2(s->be, dirfd, aside, dirfd, bn->leaf, 0);
}

int pathmap_entry_name(struct store *s, int dirfd, const uint8_t *iv,
		       const char *bname, char *out)
{
	char enc[NAME_ENC_CAP], side[NAME_LONG_LEN + 1];
	const char *name = bname;
	ssize_t n;

	if (!s->names) {
		if (strlen(bname) > NAME_PLAIN_MAX)
			return -EBADMSG;
		strcpy(out, bname);
		return 1;
	}
	if (!strcmp(bname, ".") || !strcmp(bname, "..")) {
		strcpy(out, bname);
		return 1;
	}
	if (name_is_internal(bname))
		return 0;
	if (name_is_long(bname)) {
		int fd;

		memcpy(side, bname, sizeof(side));
		side[1] = 'N';
		fd = backend_openat(s->be, dirfd, side, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd < 0)
			return -EBADMSG;
		n = backend_pread_full(s->be, fd, enc, sizeof(enc) - 1, 0);
		backend_close(s->be, fd);
		if (n <= 0)
			return -EBADMSG;
		enc[n] = '\0';
		name = enc;
		/* The side file must belong to this entry. */
		{
			char e2[NAME_LONG_LEN + 1], s2[NAME_LONG_LEN + 1];

			name_long(enc, (size_t)n, e2, s2);
			if (strcmp(e2, bname))
				return -EBADMSG;
		}
	}
	return name_decrypt(s->names, iv, name, strlen(name), out) < 0 ? -EBADMSG : 1;
}

int pathmap_link_encode(struct store *s, const char *target, char *out, size_t cap)
{
	size_t len = strlen(target);

	if (!s->names) {
		if (len >= cap)
			return -ENAMETOOLONG;
		memcpy(out, target, len + 1);
		return (int)len;
	}
	if (cap < NAME_LINK_ENC_CAP)
		return -ENAMETOOLONG;
	return name_link_encrypt(s->key, target, len, out);
}

int pathmap_link_decode(struct store *s, const char *stored, size_t len, char *out,
			size_t cap)
{
	int r;

	if (!s->names) {
		if (len >= cap)
			return -ERANGE;
		memcpy(out, stored, len);
		out[len] = '\0';
		return (int)len;
	}
	r = name_link_decrypt(s->key, stored, len, out, cap);
	if (r == -EBADMSG)
		log_msg(LOG_LVL_ERROR, "symlink target does not authenticate");
	return r == -EBADMSG ? -EIO : r;
}
