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

#include "ofile.h"

static struct store *fs_store(void)
{
	return fuse_get_context()->private_data;
}

/* The open file behind a handle (NULL for a handle we did not fill). */
static struct ofile *fs_file(const struct fuse_file_info *fi)
{
	return fi ? (struct ofile *)(uintptr_t)fi->fh : NULL;
}

#define REL(path, rel)                                                      \
	char rel[PATH_MAX];                                                 \
	do {                                                                \
		if (store_path(fs_store(), (path), rel, sizeof(rel)) < 0)   \
			return -ENAMETOOLONG;                               \
	} while (0)

static int err(int r)
{
	return r < 0 ? -errno : 0;
}

/* Owner of a new object: the caller, except that the group comes from a
 * setgid parent directory (as on ext4). */
static void fs_owner(const char *rel, uid_t *uid, gid_t *gid)
{
	struct fuse_context *c = fuse_get_context();
	char parent[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	struct stat st;

	*uid = c->uid;
	*gid = c->gid;
	if (slash) {
		memcpy(parent, rel, (size_t)(slash - rel));
		parent[slash - rel] = '\0';
	} else {
		strcpy(parent, ".");
	}
	if (fstatat(fs_store()->rootfd, parent, &st, 0) == 0 && (st.st_mode & S_ISGID))
		*gid = st.st_gid;
}

/* Give a freshly made object to its caller; only possible when the daemon
 * runs as root (a user mount owns everything anyway). */
static int fs_chown_new(const char *rel)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	fs_owner(rel, &uid, &gid);
	return err(fchownat(fs_store()->rootfd, rel, uid, gid, AT_SYMLINK_NOFOLLOW));
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

static void fs_fix_size(struct store *s, const char *rel, struct stat *st,
			struct ofile *f)
{
	if (!S_ISREG(st->st_mode))
		return;
	st->st_size = (off_t)(f ? ofile_size(f) : ofile_stat_size(s, rel, st));
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct store *s = fs_store();
	struct ofile *f = fs_file(fi);

	if (f) {
		if (fstat(ofile_fd(f), st) < 0)
			return -errno;
		fs_fix_size(s, NULL, st, f);
		return 0;
	}
	REL(path, rel);
	if (fstatat(s->rootfd, rel, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	fs_fix_size(s, rel, st, NULL);
	return 0;
}

static int fs_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n;

	REL(path, rel);
	if (size == 0)
		return -EINVAL;
	n = readlinkat(fs_store()->rootfd, rel, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int fs_mknod(const char *path, mode_t mode, dev_t rdev)
{
	struct store *s = fs_store();

	REL(path, rel);
	if (S_ISREG(mode)) {
		struct ofile *f;
		uid_t uid = (uid_t)-1;
		gid_t gid = (gid_t)-1;
		int r;

		if (geteuid() == 0)
			fs_owner(rel, &uid, &gid);
		r = ofile_create(s, s->rootfd, rel, mode & 07777, uid, gid,
				 &s->desc.codec, 1, &f);
		return r < 0 ? r : ofile_release(s, f);
	}
	if (mknodat(s->rootfd, rel, mode, rdev) < 0)
		return -errno;
	return fs_chown_new(rel);
}

static int fs_mkdir(const char *path, mode_t mode)
{
	REL(path, rel);
	if (mkdirat(fs_store()->rootfd, rel, mode) < 0)
		return -errno;
	return fs_chown_new(rel);
}

static int fs_unlink(const char *path)
{
	REL(path, rel);
	return err(unlinkat(fs_store()->rootfd, rel, 0));
}

static int fs_rmdir(const char *path)
{
	REL(path, rel);
	return err(unlinkat(fs_store()->rootfd, rel, AT_REMOVEDIR));
}

static int fs_symlink(const char *target, const char *path)
{
	REL(path, rel);
	if (symlinkat(target, fs_store()->rootfd, rel) < 0)
		return -errno;
	return fs_chown_new(rel);
}

static int fs_rename(const char *from, const char *to, unsigned int flags)
{
	int fd = fs_store()->rootfd;

	REL(from, rfrom);
	REL(to, rto);
	return err(renameat2(fd, rfrom, fd, rto, flags));
}

static int fs_link(const char *from, const char *to)
{
	int fd = fs_store()->rootfd;

	REL(from, rfrom);
	REL(to, rto);
	return err(linkat(fd, rfrom, fd, rto, 0));
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct ofile *f = fs_file(fi);

	if (f)
		return err(fchmod(ofile_fd(f), mode));
	REL(path, rel);
	return err(fchmodat(fs_store()->rootfd, rel, mode, 0));
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct ofile *f = fs_file(fi);

	if (f)
		return err(fchown(ofile_fd(f), uid, gid));
	REL(path, rel);
	return err(fchownat(fs_store()->rootfd, rel, uid, gid, AT_SYMLINK_NOFOLLOW));
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
	REL(path, rel);
	r = ofile_open(s, rel, &f);
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
	REL(path, rel);
	return ofile_utimens(fs_store(), rel, tv);
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct store *s = fs_store();
	struct ofile *f;
	int r;

	REL(path, rel);
	r = ofile_open(s, rel, &f);
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
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int r;

	REL(path, rel);
	if (geteuid() == 0)
		fs_owner(rel, &uid, &gid);
	r = ofile_create(s, s->rootfd, rel, mode & 07777, uid, gid, &s->desc.codec,
			 (fi->flags & O_EXCL) != 0, &f);
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
	REL(path, rel);
	*fd = openat(fs_store()->rootfd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);
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

static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
	DIR *d;
	int fd;

	REL(path, rel);
	fd = openat(fs_store()->rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	fi->fh = (uintptr_t)d;
	return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	DIR *d = (DIR *)(uintptr_t)fi->fh;
	struct dirent *e;

	(void)path;
	(void)flags;
	if (off == 0)
		rewinddir(d);
	else
		seekdir(d, off);
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		memset(&st, 0, sizeof(st));
		st.st_ino = e->d_ino;
		st.st_mode = (mode_t)DTTOIF(e->d_type);
		if (filler(buf, e->d_name, &st, telldir(d), 0))
			break;
	}
	return 0;
}

static int fs_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	closedir((DIR *)(uintptr_t)fi->fh);
	return 0;
}

static int fs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	DIR *d = (DIR *)(uintptr_t)fi->fh;

	(void)path;
	return err(datasync ? fdatasync(dirfd(d)) : fsync(dirfd(d)));
}

static int fs_access(const char *path, int mask)
{
	REL(path, rel);
	return err(faccessat(fs_store()->rootfd, rel, mask, AT_SYMLINK_NOFOLLOW));
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
