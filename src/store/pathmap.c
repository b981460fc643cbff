/* pathmap.c - encrypted backing paths: per-directory values, long names,
 * symlink targets. */
#include "pathmap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
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

static int join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = strcmp(dir, ".") ? snprintf(out, cap, "%s/%s", dir, name)
				 : snprintf(out, cap, "%s", name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int read_iv(struct store *s, const char *rel, uint8_t *iv)
{
	char p[PATH_MAX];
	uint8_t buf[NAME_DIRIV_SIZE + 1];
	ssize_t n;
	int fd, r = join(p, sizeof(p), rel, NAME_DIRIV_FILE);

	if (r < 0)
		return r;
	fd = openat(s->rootfd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_msg(LOG_LVL_ERROR, "backing directory %s: value file missing (%s)", rel,
			strerror(errno));
		return -EIO;
	}
	n = util_pread_full(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0 || name_diriv_open(s->names, buf, (size_t)n, iv) < 0) {
		log_msg(LOG_LVL_ERROR, "backing directory %s: value file damaged", rel);
		return -EIO;
	}
	return 0;
}

int pathmap_dir_iv(struct store *s, const char *rel, uint8_t *iv)
{
	struct stat st;
	size_t i;
	int r;

	if (fstatat(s->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	i = cache_index(st.st_dev, st.st_ino);
	pthread_mutex_lock(&s->dirivs->mu);
	if (s->dirivs->slots[i].ino == st.st_ino && s->dirivs->slots[i].dev == st.st_dev) {
		memcpy(iv, s->dirivs->slots[i].iv, NAME_IV_LEN);
		pthread_mutex_unlock(&s->dirivs->mu);
		stats_cache(s->stats, 1);
		return 0;
	}
	pthread_mutex_unlock(&s->dirivs->mu);
	stats_cache(s->stats, 0);
	r = read_iv(s, rel, iv);
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

/* Split off the last component of a plaintext path. */
static int resolve_plain(const char *path, struct bpath *bp)
{
	const char *p = path, *slash;

	while (*p == '/')
		p++;
	if (strlen(p) >= sizeof(bp->rel))
		return -ENAMETOOLONG;
	strcpy(bp->rel, *p ? p : ".");
	slash = strrchr(bp->rel, '/');
	if (slash) {
		memcpy(bp->parent, bp->rel, (size_t)(slash - bp->rel));
		bp->parent[slash - bp->rel] = '\0';
		strcpy(bp->leaf, slash + 1);
	} else {
		strcpy(bp->parent, ".");
		if (strlen(bp->rel) >= sizeof(bp->leaf))
			return -ENAMETOOLONG;
		strcpy(bp->leaf, bp->rel);
	}
	return 0;
}

int pathmap_resolve(struct store *s, const char *path, struct bpath *bp)
{
	const char *p = path;
	uint8_t iv[NAME_IV_LEN];

	bp->is_long = 0;
	if (!s->names)
		return resolve_plain(path, bp);
	strcpy(bp->rel, ".");
	strcpy(bp->parent, ".");
	strcpy(bp->leaf, ".");
	while (*p) {
		const char *end;
		size_t len;
		int n, r;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		r = pathmap_dir_iv(s, bp->rel, iv);
		if (r < 0)
			return r;
		n = name_encrypt(s->names, iv, p, len, bp->enc);
		if (n < 0)
			return n;
		bp->is_long = n > NAME_BACKING_MAX;
		if (bp->is_long)
			name_long(bp->enc, (size_t)n, bp->leaf, bp->side);
		else
			memcpy(bp->leaf, bp->enc, (size_t)n + 1);
		strcpy(bp->parent, bp->rel);
		r = join(bp->rel, sizeof(bp->rel), bp->parent, bp->leaf);
		if (r < 0)
			return r;
		p += len;
	}
	return 0;
}

int pathmap_side_write(struct store *s, const struct bpath *bp)
{
	char p[PATH_MAX];
	int fd, r;

	if (!bp->is_long)
		return 0;
	r = join(p, sizeof(p), bp->parent, bp->side);
	if (r < 0)
		return r;
	fd = openat(s->rootfd, p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = util_pwrite_full(fd, bp->enc, strlen(bp->enc), 0);
	close(fd);
	return r;
}

void pathmap_side_drop(struct store *s, const struct bpath *bp)
{
	char p[PATH_MAX];
	struct stat st;

	if (!bp->is_long || join(p, sizeof(p), bp->parent, bp->side) < 0)
		return;
	if (fstatat(s->rootfd, bp->rel, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		unlinkat(s->rootfd, p, 0);
}

/* A fresh value file for the backing directory rel. */
static int write_iv(struct store *s, const char *rel, const uint8_t *file)
{
	char p[PATH_MAX];
	int fd, r = join(p, sizeof(p), rel, NAME_DIRIV_FILE);

	if (r < 0)
		return r;
	fd = openat(s->rootfd, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0)
		return -errno;
	r = util_pwrite_full(fd, file, NAME_DIRIV_SIZE, 0);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int tmp_path(const char *parent, char *out, size_t len);

int pathmap_mkdir(struct store *s, const struct bpath *bp, mode_t mode)
{
	uint8_t file[NAME_DIRIV_SIZE];
	char tmp[PATH_MAX];
	int r;

	if (!s->names)
		return mkdirat(s->rootfd, bp->rel, mode) < 0 ? -errno : 0;
	/* Made under a temporary name, given its value file, then renamed:
	 * a crash never leaves a named directory without one. */
	r = tmp_path(bp->parent, tmp, sizeof(tmp));
	if (r < 0)
		return r;
	if (mkdirat(s->rootfd, tmp, mode | S_IWUSR | S_IXUSR) < 0)
		return -errno;
	name_diriv_new(s->names, file);
	r = write_iv(s, tmp, file);
	/* The final mode, keeping the setgid bit inherited from a setgid
	 * parent as mkdir(2) does. */
	if (r == 0) {
		struct stat st;

		if (fstatat(s->rootfd, tmp, &st, 0) < 0 ||
		    fchmodat(s->rootfd, tmp, (mode & 07777) | (st.st_mode & S_ISGID), 0) < 0)
			r = -errno;
	}
	if (r == 0 && renameat2(s->rootfd, tmp, s->rootfd, bp->rel, RENAME_NOREPLACE) < 0)
		r = -errno;
	if (r < 0) {
		char p[PATH_MAX];

		if (join(p, sizeof(p), tmp, NAME_DIRIV_FILE) == 0)
			unlinkat(s->rootfd, p, 0);
		unlinkat(s->rootfd, tmp, AT_REMOVEDIR);
	}
	return r;
}

/* Scan a backing directory: -ENOTEMPTY if it holds any user entry; with
 * purge set (and no user entry), remove our own files from it. */
static int scan_dir(struct store *s, const char *rel, int purge)
{
	int fd = openat(s->rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!name_is_internal(e->d_name))
			r = -ENOTEMPTY;
		else if (purge)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	return r;
}

/* A fresh hidden name in directory parent for a directory on its way out
 * (or in: see pathmap_mkdir). */
static int tmp_path(const char *parent, char *out, size_t len)
{
	uint8_t rnd[8];
	char name[32];

	crypto_random(rnd, sizeof(rnd));
	memcpy(name, ".tmp", 4);
	util_hex_encode(rnd, sizeof(rnd), name + 4);
	return join(out, len, parent, name);
}

/* Remove a directory already moved to its hidden name. */
static void remove_aside(struct store *s, const char *aside)
{
	scan_dir(s, aside, 1);
	unlinkat(s->rootfd, aside, AT_REMOVEDIR);
}

int pathmap_rmdir(struct store *s, const struct bpath *bp)
{
	char aside[PATH_MAX];
	struct stat st;
	int r;

	if (!s->names)
		return unlinkat(s->rootfd, bp->rel, AT_REMOVEDIR) < 0 ? -errno : 0;
	if (fstatat(s->rootfd, bp->rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	r = scan_dir(s, bp->rel, 0);
	if (r == 0)
		r = tmp_path(bp->parent, aside, sizeof(aside));
	/* Moved aside first, under a hidden name: a crash at any point leaves
	 * either the directory whole, or a hidden leftover, never a named
	 * directory without its value file. */
	if (r == 0 && renameat(s->rootfd, bp->rel, s->rootfd, aside) < 0)
		r = -errno;
	if (r < 0)
		return r;
	pathmap_forget(s, st.st_dev, st.st_ino);
	remove_aside(s, aside);
	pathmap_side_drop(s, bp);
	return 0;
}

int pathmap_replace_prepare(struct store *s, const struct bpath *bp, char *aside,
			    size_t len, int *prepared)
{
	struct stat st;
	int r;

	*prepared = 0;
	if (!s->names || fstatat(s->rootfd, bp->rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode))
		return 0;
	r = scan_dir(s, bp->rel, 0);
	if (r == 0)
		r = tmp_path(bp->parent, aside, len);
	if (r == 0 && renameat(s->rootfd, bp->rel, s->rootfd, aside) < 0)
		r = -errno;
	*prepared = r == 0;
	return r;
}

void pathmap_replace_finish(struct store *s, const char *aside)
{
	struct stat st;

	if (fstatat(s->rootfd, aside, &st, AT_SYMLINK_NOFOLLOW) == 0)
		pathmap_forget(s, st.st_dev, st.st_ino);
	remove_aside(s, aside);
}

void pathmap_replace_undo(struct store *s, const struct bpath *bp, const char *aside)
{
	renameat(s->rootfd, aside, s->rootfd, bp->rel);
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
		fd = openat(dirfd, side, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -EBADMSG;
		n = util_pread_full(fd, enc, sizeof(enc) - 1, 0);
		close(fd);
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
