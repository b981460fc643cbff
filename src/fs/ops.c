/* ops.c - FUSE operations: map each path to the backing tree and hand file
 * contents to the ofile layer.  Handlers return 0 or -errno. */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "log.h"
#include "ofile.h"
#include "pathmap.h"

static struct store *fs_store(void)
{
	return fuse_get_context()->private_data;
}

/* The open file behind a handle (NULL for a handle we did not fill). */
static struct ofile *fs_file(const struct fuse_file_info *fi)
{
	return fi ? (struct ofile *)(uintptr_t)fi->fh : NULL;
}

/* Resolve a mount path into a struct bpath named bp, or return its error. */
#define BPATH(path, bp)                                                     \
	struct bpath bp;                                                    \
	do {                                                                \
		int bp##_r = pathmap_resolve(fs_store(), (path), &bp);      \
		if (bp##_r < 0)                                             \
			return bp##_r;                                      \
	} while (0)

static int err(int r)
{
	return r < 0 ? -errno : 0;
}

/* Owner of a new object: the caller, except that the group comes from a
 * setgid parent directory (as on ext4). */
static void fs_owner(const struct bpath *bp, uid_t *uid, gid_t *gid)
{
	struct fuse_context *c = fuse_get_context();
	struct stat st;

	*uid = c->uid;
	*gid = c->gid;
	if (fstatat(fs_store()->rootfd, bp->parent, &st, 0) == 0 && (st.st_mode & S_ISGID))
		*gid = st.st_gid;
}

/* Give a freshly made object to its caller; only possible when the daemon
 * runs as root (a user mount owns everything anyway). */
static int fs_chown_new(const struct bpath *bp)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	fs_owner(bp, &uid, &gid);
	return err(fchownat(fs_store()->rootfd, bp->rel, uid, gid, AT_SYMLINK_NOFOLLOW));
}

/* The end of every create-like operation: on failure, drop the side file
 * of a long name that was written for it. */
static int fs_created(const struct bpath *bp, int r)
{
	if (r < 0)
		pathmap_side_drop(fs_store(), bp);
	return r;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 1;
	cfg->readdir_ino = 1;
	/* Unlinked open files stay reachable through their handle; no
	 * .fuse_hidden files appear in the backing tree. */
	cfg->hard_remove = 1;
	cfg->nullpath_ok = 1;
	/* The high-level API gives each name of a hard-linked file its own
	 * kernel inode, so cached attributes of one name would go stale when
	 * the file changes through another (nlink after link(), size after a
	 * write).  Attributes are therefore never cached; names are, for a
	 * second.  Without auto_inval_data a read does not re-fetch attributes
	 * unless it goes past the cached size; open() still drops cached data
	 * (no keep_cache), which gives close-to-open consistency. */
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 1;
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	conn->max_write = 1024 * 1024;
	conn->max_readahead = 1024 * 1024;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	return fuse_get_context()->private_data;
}

/* st of a backing object as the user sees it: a regular file's logical
 * size, a symlink's target length before encryption. */
static int fs_fix_stat(struct store *s, const char *rel, struct stat *st,
		       struct ofile *f)
{
	if (S_ISREG(st->st_mode)) {
		st->st_size = (off_t)(f ? ofile_size(f) : ofile_stat_size(s, rel, st));
	} else if (S_ISLNK(st->st_mode) && s->names) {
		char stored[NAME_LINK_ENC_CAP], target[NAME_LINK_MAX + 1];
		ssize_t n = readlinkat(s->rootfd, rel, stored, sizeof(stored));
		int len;

		if (n < 0)
			return -errno;
		len = pathmap_link_decode(s, stored, (size_t)n, target, sizeof(target));
		if (len < 0)
			return len;
		st->st_size = len;
	}
	return 0;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct store *s = fs_store();
	struct ofile *f = fs_file(fi);

	if (f) {
		if (fstat(ofile_fd(f), st) < 0)
			return -errno;
		return fs_fix_stat(s, NULL, st, f);
	}
	BPATH(path, bp);
	if (fstatat(s->rootfd, bp.rel, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return fs_fix_stat(s, bp.rel, st, NULL);
}

static int fs_readlink(const char *path, char *buf, size_t size)
{
	struct store *s = fs_store();
	char stored[NAME_LINK_ENC_CAP + 1];
	ssize_t n;
	int r;

	BPATH(path, bp);
	if (size == 0)
		return -EINVAL;
	n = readlinkat(s->rootfd, bp.rel, stored, sizeof(stored));
	if (n < 0)
		return -errno;
	if (!s->names) {
		/* FUSE truncates like readlink(2) does. */
		if ((size_t)n >= size)
			n = (ssize_t)size - 1;
		memcpy(buf, stored, (size_t)n);
		buf[n] = '\0';
		return 0;
	}
	{
		char target[NAME_LINK_MAX + 1];

		r = pathmap_link_decode(s, stored, (size_t)n, target, sizeof(target));
		if (r < 0)
			return r;
		if ((size_t)r >= size)
			r = (int)size - 1;
		memcpy(buf, target, (size_t)r);
		buf[r] = '\0';
	}
	return 0;
}

/* A new empty regular file (mknod S_IFREG or create). */
static int fs_new_file(const struct bpath *bp, mode_t mode, int exclusive,
		       struct ofile **f)
{
	struct store *s = fs_store();
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int r = pathmap_side_write(s, bp);

	if (r < 0)
		return r;
	if (geteuid() == 0)
		fs_owner(bp, &uid, &gid);
	r = ofile_create(s, s->rootfd, bp->rel, mode & 07777, uid, gid, &s->desc.codec,
			 exclusive, f);
	return fs_created(bp, r);
}

static int fs_mknod(const char *path, mode_t mode, dev_t rdev)
{
	struct store *s = fs_store();
	int r;

	BPATH(path, bp);
	if (S_ISREG(mode)) {
		struct ofile *f;

		r = fs_new_file(&bp, mode, 1, &f);
		return r < 0 ? r : ofile_release(s, f);
	}
	r = pathmap_side_write(s, &bp);
	if (r == 0)
		r = err(mknodat(s->rootfd, bp.rel, mode, rdev));
	if (r == 0)
		r = fs_chown_new(&bp);
	return fs_created(&bp, r);
}

static int fs_mkdir(const char *path, mode_t mode)
{
	struct store *s = fs_store();
	int r;

	BPATH(path, bp);
	r = pathmap_side_write(s, &bp);
	if (r == 0)
		r = pathmap_mkdir(s, &bp, mode);
	if (r == 0)
		r = fs_chown_new(&bp);
	return fs_created(&bp, r);
}

static int fs_unlink(const char *path)
{
	struct store *s = fs_store();

	BPATH(path, bp);
	if (unlinkat(s->rootfd, bp.rel, 0) < 0)
		return -errno;
	pathmap_side_drop(s, &bp);
	return 0;
}

static int fs_rmdir(const char *path)
{
	BPATH(path, bp);
	return pathmap_rmdir(fs_store(), &bp);
}

static int fs_symlink(const char *target, const char *path)
{
	struct store *s = fs_store();
	char stored[NAME_LINK_ENC_CAP];
	int r;

	BPATH(path, bp);
	r = pathmap_link_encode(s, target, stored, sizeof(stored));
	if (r < 0)
		return r;
	r = pathmap_side_write(s, &bp);
	if (r == 0)
		r = err(symlinkat(stored, s->rootfd, bp.rel));
	if (r == 0)
		r = fs_chown_new(&bp);
	return fs_created(&bp, r);
}

static int fs_rename(const char *from, const char *to, unsigned int flags)
{
	struct store *s = fs_store();
	int fd = s->rootfd, prepared = 0, r;
	struct stat st;

	BPATH(from, bf);
	BPATH(to, bt);
	if (flags & RENAME_EXCHANGE)
		return err(renameat2(fd, bf.rel, fd, bt.rel, flags));
	r = pathmap_side_write(s, &bt);
	/* A directory replacing an empty directory: the target's own value
	 * file must go first, or the backing rename sees it as not empty. */
	if (r == 0 && fstatat(fd, bf.rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode) && !(flags & RENAME_NOREPLACE))
		r = pathmap_replace_prepare(s, &bt, &prepared);
	if (r == 0)
		r = err(renameat2(fd, bf.rel, fd, bt.rel, flags));
	if (r < 0) {
		if (prepared)
			pathmap_replace_undo(s, &bt);
		return fs_created(&bt, r);
	}
	if (strcmp(bf.rel, bt.rel))
		pathmap_side_drop(s, &bf);
	return 0;
}

static int fs_link(const char *from, const char *to)
{
	struct store *s = fs_store();
	int r;

	BPATH(from, bf);
	BPATH(to, bt);
	r = pathmap_side_write(s, &bt);
	if (r == 0)
		r = err(linkat(s->rootfd, bf.rel, s->rootfd, bt.rel, 0));
	return fs_created(&bt, r);
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct ofile *f = fs_file(fi);

	if (f)
		return err(fchmod(ofile_fd(f), mode));
	BPATH(path, bp);
	return err(fchmodat(fs_store()->rootfd, bp.rel, mode, 0));
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct ofile *f = fs_file(fi);

	if (f)
		return err(fchown(ofile_fd(f), uid, gid));
	BPATH(path, bp);
	return err(fchownat(fs_store()->rootfd, bp.rel, uid, gid, AT_SYMLINK_NOFOLLOW));
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct store *s = fs_store();
	struct ofile *f = fs_file(fi);
	int r;

	if (size < 0)
		return -EINVAL;
	if (f)
		return ofile_truncate(s, f, (uint64_t)size);
	BPATH(path, bp);
	r = ofile_open(s, bp.rel, &f);
	if (r < 0)
		return r;
	r = ofile_truncate(s, f, (uint64_t)size);
	ofile_release(s, f);
	return r;
}

static int fs_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	struct ofile *f = fs_file(fi);

	if (f)
		return ofile_futimens(f, tv);
	BPATH(path, bp);
	return ofile_utimens(fs_store(), bp.rel, tv);
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct store *s = fs_store();
	struct ofile *f;
	int r;

	BPATH(path, bp);
	r = ofile_open(s, bp.rel, &f);
	if (r < 0)
		return r;
	if (fi->flags & O_TRUNC) {
		r = ofile_truncate(s, f, 0);
		if (r < 0) {
			ofile_release(s, f);
			return r;
		}
	}
	fi->fh = (uintptr_t)f;
	return 0;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct store *s = fs_store();
	struct ofile *f;
	int r;

	BPATH(path, bp);
	r = fs_new_file(&bp, mode, (fi->flags & O_EXCL) != 0, &f);
	if (r < 0)
		return r;
	if (fi->flags & O_TRUNC) {
		r = ofile_truncate(s, f, 0);
		if (r < 0) {
			ofile_release(s, f);
			return r;
		}
	}
	fi->fh = (uintptr_t)f;
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)path;
	return (int)ofile_read(fs_store(), fs_file(fi), buf, size, off);
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)path;
	return (int)ofile_write(fs_store(), fs_file(fi), buf, size, off);
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	return err(fstatvfs(fs_store()->rootfd, sv));
}

static int fs_flush(const char *path, struct fuse_file_info *fi)
{
	/* Writes go through to the backing file as they arrive, so closing
	 * has nothing left to hand over. */
	(void)path;
	(void)fi;
	return 0;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	return ofile_release(fs_store(), fs_file(fi));
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	return ofile_fsync(fs_store(), fs_file(fi), datasync);
}

/* Extended attributes: passed to the backing file for now, through its
 * /proc/self/fd name so that no absolute path is needed. */
static int fs_xattr_path(const char *path, char *out, size_t len, int *fd)
{
	BPATH(path, bp);
	*fd = openat(fs_store()->rootfd, bp.rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	if (snprintf(out, len, "/proc/self/fd/%d", *fd) >= (int)len) {
		close(*fd);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int fs_setxattr(const char *path, const char *name, const char *value,
		       size_t size, int flags)
{
	char p[64];
	int fd, r = fs_xattr_path(path, p, sizeof(p), &fd);

	if (r < 0)
		return r;
	r = err(setxattr(p, name, value, size, flags));
	close(fd);
	return r;
}

static int fs_getxattr(const char *path, const char *name, char *value, size_t size)
{
	char p[64];
	ssize_t n;
	int fd, r = fs_xattr_path(path, p, sizeof(p), &fd);

	if (r < 0)
		return r;
	n = getxattr(p, name, value, size);
	r = n < 0 ? -errno : (int)n;
	close(fd);
	return r;
}

static int fs_listxattr(const char *path, char *list, size_t size)
{
	char p[64];
	ssize_t n;
	int fd, r = fs_xattr_path(path, p, sizeof(p), &fd);

	if (r < 0)
		return r;
	n = listxattr(p, list, size);
	r = n < 0 ? -errno : (int)n;
	close(fd);
	return r;
}

static int fs_removexattr(const char *path, const char *name)
{
	char p[64];
	int fd, r = fs_xattr_path(path, p, sizeof(p), &fd);

	if (r < 0)
		return r;
	r = err(removexattr(p, name));
	close(fd);
	return r;
}

/* An open directory: the backing stream and the value its names use. */
struct fs_dir {
	DIR *d;
	uint8_t iv[NAME_IV_LEN];
};

static struct fs_dir *fs_dir_of(const struct fuse_file_info *fi)
{
	return (struct fs_dir *)(uintptr_t)fi->fh;
}

static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct store *s = fs_store();
	struct fs_dir *dh;
	int fd, r = 0;

	BPATH(path, bp);
	dh = calloc(1, sizeof(*dh));
	if (!dh)
		return -ENOMEM;
	if (s->names)
		r = pathmap_dir_iv(s, bp.rel, dh->iv);
	fd = r < 0 ? -1 : openat(s->rootfd, bp.rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && fd < 0)
		r = -errno;
	if (r == 0) {
		dh->d = fdopendir(fd);
		if (!dh->d) {
			r = -errno;
			close(fd);
		}
	}
	if (r < 0) {
		free(dh);
		return r;
	}
	fi->fh = (uintptr_t)dh;
	return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct store *s = fs_store();
	struct fs_dir *dh = fs_dir_of(fi);
	struct dirent *e;

	(void)path;
	(void)flags;
	if (off == 0)
		rewinddir(dh->d);
	else
		seekdir(dh->d, off);
	while ((e = readdir(dh->d)) != NULL) {
		char name[NAME_PLAIN_MAX + 1];
		struct stat st;
		int r = pathmap_entry_name(s, dirfd(dh->d), dh->iv, e->d_name, name);

		if (r == 0)
			continue;
		if (r < 0) {
			log_msg(LOG_LVL_ERROR, "%s: backing entry %s: name does not authenticate; skipped",
				path ? path : "?", e->d_name);
			continue;
		}
		memset(&st, 0, sizeof(st));
		st.st_ino = e->d_ino;
		st.st_mode = (mode_t)DTTOIF(e->d_type);
		if (filler(buf, name, &st, telldir(dh->d), 0))
			break;
	}
	return 0;
}

static int fs_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct fs_dir *dh = fs_dir_of(fi);

	(void)path;
	closedir(dh->d);
	free(dh);
	return 0;
}

static int fs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	DIR *d = fs_dir_of(fi)->d;

	(void)path;
	return err(datasync ? fdatasync(dirfd(d)) : fsync(dirfd(d)));
}

static int fs_access(const char *path, int mask)
{
	BPATH(path, bp);
	return err(faccessat(fs_store()->rootfd, bp.rel, mask, AT_SYMLINK_NOFOLLOW));
}

static int fs_fallocate(const char *path, int mode, off_t off, off_t len,
			struct fuse_file_info *fi)
{
	(void)path;
	return ofile_fallocate(fs_store(), fs_file(fi), mode, off, len);
}

static off_t fs_lseek(const char *path, off_t off, int whence, struct fuse_file_info *fi)
{
	(void)path;
	return ofile_lseek(fs_store(), fs_file(fi), off, whence);
}

const struct fuse_operations fs_ops = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.symlink = fs_symlink,
	.rename = fs_rename,
	.link = fs_link,
	.chmod = fs_chmod,
	.chown = fs_chown,
	.truncate = fs_truncate,
	.utimens = fs_utimens,
	.open = fs_open,
	.create = fs_create,
	.read = fs_read,
	.write = fs_write,
	.statfs = fs_statfs,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.setxattr = fs_setxattr,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.removexattr = fs_removexattr,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.fsyncdir = fs_fsyncdir,
	.access = fs_access,
	.fallocate = fs_fallocate,
	.lseek = fs_lseek,
};
