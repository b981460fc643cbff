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
#include <time.h>
#include <unistd.h>

#include "fileheader.h"
#include "log.h"
#include "ofile.h"
#include "pathmap.h"
#include "stats.h"
#include "vdir.h"
#include "util.h"
#include "xattrs.h"

static struct store *fs_store(void)
{
	return fuse_get_context()->private_data;
}

/* The open file behind a handle (NULL for none, or a virtual file's). */
static struct ofile *fs_file(const struct fuse_file_info *fi)
{
	return fi && !vdir_is_handle(fi) ? (struct ofile *)(uintptr_t)fi->fh : NULL;
}

/* Nothing may be created, removed, renamed or changed in /.ragstore. */
#define VDIR_DENY(path)                                                     \
	do {                                                                \
		if ((path) && vdir_match(path))                             \
			return -EPERM;                                      \
	} while (0)

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
	/* Attributes and names are cached for a second.  Not caching
	 * attributes at all makes every permission check on every path
	 * component a round trip to this daemon (5x slower untar and ls -lR,
	 * measured).  The price: the high-level API gives each name of a
	 * hard-linked file its own kernel inode, so the link count or size seen
	 * through another name of the file can lag for up to that second
	 * (docs/FORMAT.md).  open() drops cached data (no keep_cache), which
	 * gives close-to-open consistency. */
	cfg->attr_timeout = 1;
	cfg->entry_timeout = 1;
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
	if (vdir_is_handle(fi))
		return vdir_fgetattr(fi, st);
	if (path && vdir_match(path))
		return vdir_getattr(path, st);
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

	VDIR_DENY(path);
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

	VDIR_DENY(path);
	BPATH(path, bp);
	r = pathmap_side_write(s, &bp);
	if (r == 0)
		r = pathmap_mkdir(s, &bp, mode);
	if (r == 0) {
		stats_dir_delta(s->stats, 1);
		r = fs_chown_new(&bp);
	}
	return fs_created(&bp, r);
}

static int fs_unlink(const char *path)
{
	struct store *s = fs_store();
	struct ofile_removal rm;
	uint8_t xid[XATTRS_ID_LEN];
	int has_x;

	VDIR_DENY(path);
	BPATH(path, bp);
	ofile_removal_begin(s, bp.rel, &rm);
	has_x = rm.valid && xattrs_object_id(s, bp.rel, xid) == 0;
	if (unlinkat(s->rootfd, bp.rel, 0) < 0)
		return -errno;
	ofile_removal_done(s, &rm);
	if (has_x)
		xattrs_forget(s, xid);
	pathmap_side_drop(s, &bp);
	return 0;
}

static int fs_rmdir(const char *path)
{
	struct store *s = fs_store();
	uint8_t xid[XATTRS_ID_LEN];
	int r, has_x;

	VDIR_DENY(path);
	BPATH(path, bp);
	has_x = xattrs_object_id(s, bp.rel, xid) == 0;
	r = pathmap_rmdir(s, &bp);
	if (r == 0) {
		stats_dir_delta(s->stats, -1);
		if (has_x)
			xattrs_forget(s, xid);
	}
	return r;
}

static int fs_symlink(const char *target, const char *path)
{
	struct store *s = fs_store();
	char stored[NAME_LINK_ENC_CAP];
	int r;

	VDIR_DENY(path);
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
	char aside[PATH_MAX];
	struct ofile_removal rm = { .valid = 0 };
	uint8_t xid[XATTRS_ID_LEN];
	int has_x = 0;
	struct stat st, tst;

	VDIR_DENY(from);
	VDIR_DENY(to);
	BPATH(from, bf);
	BPATH(to, bt);
	if (flags & RENAME_EXCHANGE)
		return err(renameat2(fd, bf.rel, fd, bt.rel, flags));
	/* A regular file replaced by the rename leaves the totals, unless
	 * source and target are the same file (then nothing happens). */
	if (fstatat(fd, bt.rel, &tst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !(fstatat(fd, bf.rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	      st.st_ino == tst.st_ino && st.st_dev == tst.st_dev)) {
		ofile_removal_begin(s, bt.rel, &rm);
		has_x = (rm.valid || S_ISDIR(tst.st_mode)) &&
			xattrs_object_id(s, bt.rel, xid) == 0;
	}
	r = pathmap_side_write(s, &bt);
	/* A directory replacing an empty directory: the target's own value
	 * file must go first, or the backing rename sees it as not empty. */
	if (r == 0 && fstatat(fd, bf.rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode) && !(flags & RENAME_NOREPLACE))
		r = pathmap_replace_prepare(s, &bt, aside, sizeof(aside), &prepared);
	if (r == 0)
		r = err(renameat2(fd, bf.rel, fd, bt.rel, flags));
	if (r < 0) {
		if (prepared)
			pathmap_replace_undo(s, &bt, aside);
		return fs_created(&bt, r);
	}
	ofile_removal_done(s, &rm);
	if (has_x)
		xattrs_forget(s, xid);
	if (prepared) {
		pathmap_replace_finish(s, aside);
		stats_dir_delta(s->stats, -1);
	}
	if (strcmp(bf.rel, bt.rel))
		pathmap_side_drop(s, &bf);
	return 0;
}

static int fs_link(const char *from, const char *to)
{
	struct store *s = fs_store();
	int r;

	VDIR_DENY(from);
	VDIR_DENY(to);
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
	if (vdir_is_handle(fi))
		return -EPERM;
	VDIR_DENY(path);
	BPATH(path, bp);
	return err(fchmodat(fs_store()->rootfd, bp.rel, mode, 0));
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct ofile *f = fs_file(fi);

	if (f)
		return err(fchown(ofile_fd(f), uid, gid));
	if (vdir_is_handle(fi))
		return -EPERM;
	VDIR_DENY(path);
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
	if (vdir_is_handle(fi))
		return 0;
	if (path && vdir_match(path))
		return vdir_truncate(path);
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
	if (vdir_is_handle(fi))
		return -EPERM;
	VDIR_DENY(path);
	BPATH(path, bp);
	return ofile_utimens(fs_store(), bp.rel, tv);
}

/* The end of open and create: O_TRUNC, and the handle. */
static int fs_opened(struct store *s, struct ofile *f, const char *path,
		     struct fuse_file_info *fi)
{
	int r;

	ofile_set_path(f, path);
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

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct store *s = fs_store();
	struct ofile *f;
	int r;

	if (vdir_match(path))
		return vdir_open(path, fi);
	BPATH(path, bp);
	r = ofile_open(s, bp.rel, &f);
	if (r < 0)
		return r;
	return fs_opened(s, f, path, fi);
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct store *s = fs_store();
	struct ofile *f;
	int r;

	VDIR_DENY(path);
	BPATH(path, bp);
	r = fs_new_file(&bp, mode, (fi->flags & O_EXCL) != 0, &f);
	if (r < 0)
		return r;
	return fs_opened(s, f, path, fi);
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct store *s = fs_store();
	ssize_t n;

	(void)path;
	if (vdir_is_handle(fi))
		return vdir_read(fi, buf, size, off);
	n = ofile_read(s, fs_file(fi), buf, size, off);
	if (n > 0)
		stats_bytes_read(s->stats, (uint64_t)n);
	return (int)n;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct store *s = fs_store();
	ssize_t n;

	(void)path;
	if (vdir_is_handle(fi))
		return vdir_write(fi, buf, size, off);
	n = ofile_write(s, fs_file(fi), buf, size, off);
	if (n > 0)
		stats_bytes_written(s->stats, (uint64_t)n);
	return (int)n;
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
	if (vdir_is_handle(fi))
		return vdir_release(fi);
	return ofile_release(fs_store(), fs_file(fi));
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	if (vdir_is_handle(fi))
		return 0;
	return ofile_fsync(fs_store(), fs_file(fi), datasync);
}

/* Extended attributes.  Only the user namespace (and ACLs, see is_user) exist:
 * values are stored encrypted by xattrs.c, and user.ragstore.* are the
 * virtual attributes: read-only facts, except compression, which is a real
 * setting of the file. */
#define VATTR "user.ragstore."
#define VATTR_COMPRESSION VATTR "compression"

/* User attributes, and POSIX ACLs, which are kept (so rsync -A and cp -a
 * carry them) but not enforced: the kernel checks permissions by mode bits
 * (default_permissions). */
static int is_user(const char *name)
{
	return strncmp(name, "user.", 5) == 0 ||
	       !strcmp(name, "system.posix_acl_access") ||
	       !strcmp(name, "system.posix_acl_default");
}

/* Copy a value out as getxattr(2) does: size 0 asks for the length. */
static int xattr_out(const char *val, size_t len, char *buf, size_t size)
{
	if (size == 0)
		return (int)len;
	if (size < len)
		return -ERANGE;
	memcpy(buf, val, len);
	return (int)len;
}

static int fs_vattr_get(struct store *s, const struct bpath *bp, const char *name,
			char *buf, size_t size)
{
	const char *key = name + strlen(VATTR);
	char val[64];
	struct codec_spec spec;
	struct ofile *f;
	struct stat st;
	uint64_t logical, stored;
	int n, user, r;

	if (!strcmp(key, "encryption"))
		return xattr_out(crypto_cipher_name(s->desc.cipher),
				 strlen(crypto_cipher_name(s->desc.cipher)), buf, size);
	if (!strcmp(key, "policy"))
		return xattr_out("default", 7, buf, size);
	if (strcmp(key, "logical_size") && strcmp(key, "stored_size") && strcmp(key, "ratio") &&
	    strcmp(key, "compression") && strcmp(key, "block_size"))
		return -ENODATA;
	if (fstatat(s->rootfd, bp->rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENODATA;
	r = ofile_open(s, bp->rel, &f);
	if (r < 0)
		return r;
	logical = ofile_size(f);
	r = fstat(ofile_fd(f), &st) < 0 ? -errno : 0;
	stored = (uint64_t)st.st_blocks * 512;
	ofile_codec(f, &spec, &user);
	if (!strcmp(key, "logical_size"))
		n = snprintf(val, sizeof(val), "%llu", (unsigned long long)logical);
	else if (!strcmp(key, "stored_size"))
		n = snprintf(val, sizeof(val), "%llu", (unsigned long long)stored);
	else if (!strcmp(key, "ratio"))
		n = snprintf(val, sizeof(val), "%.3f",
			     logical ? (double)stored / (double)logical : 0.0);
	else if (!strcmp(key, "block_size"))
		n = snprintf(val, sizeof(val), "%u", ofile_block_size(f));
	else {
		codec_format(&spec, val, sizeof(val));
		n = (int)strlen(val);
	}
	ofile_release(s, f);
	return r < 0 ? r : xattr_out(val, (size_t)n, buf, size);
}

/* setfattr -n user.ragstore.compression -v SPEC (or remove: back to the
 * store default). */
static int fs_set_compression(struct store *s, const struct bpath *bp, const char *value,
			      size_t size, int flags, int remove)
{
	struct codec_spec spec = s->desc.codec, cur;
	char text[32];
	struct ofile *f;
	struct stat st;
	int r, user;

	if (fstatat(s->rootfd, bp->rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	if (!remove) {
		if (size == 0 || size >= sizeof(text))
			return -EINVAL;
		memcpy(text, value, size);
		text[size] = '\0';
		if (text[size - 1] == '\n')
			text[size - 1] = '\0';
		if (codec_parse(text, &spec) < 0)
			return -EINVAL;
	}
	r = ofile_open(s, bp->rel, &f);
	if (r < 0)
		return r;
	ofile_codec(f, &cur, &user);
	if ((remove || (flags & XATTR_REPLACE)) && !user)
		r = -ENODATA;
	else if ((flags & XATTR_CREATE) && user)
		r = -EEXIST;
	else
		r = ofile_set_codec(s, f, &spec, !remove);
	ofile_release(s, f);
	return r;
}

/* Setting an access ACL sets the mode bits it implies, as the kernel does
 * for filesystems with ACL support (cp -a relies on it); an ACL that says
 * no more than the mode is not stored.  Returns 1 if it was only a mode. */
static int fs_acl_mode(struct store *s, const struct bpath *bp, const char *value,
		       size_t size)
{
	const uint8_t *v = (const uint8_t *)value;
	int user = -1, group = -1, mask = -1, other = -1, extended = 0;
	struct stat st;

	if (size < 4 || (size - 4) % 8 || util_get_le32(v) != 2)
		return -EINVAL;
	for (size_t i = 4; i < size; i += 8) {
		int tag = v[i] | v[i + 1] << 8, perm = (v[i + 2] | v[i + 3] << 8) & 7;

		switch (tag) {
		case 0x01: user = perm; break;
		case 0x04: group = perm; break;
		case 0x10: mask = perm; extended = 1; break;
		case 0x20: other = perm; break;
		case 0x02: case 0x08: extended = 1; break;
		default: return -EINVAL;
		}
	}
	if (user < 0 || group < 0 || other < 0)
		return -EINVAL;
	if (fstatat(s->rootfd, bp->rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (fchmodat(s->rootfd, bp->rel, (st.st_mode & 07000) | (mode_t)(user << 6) |
		     (mode_t)((mask >= 0 ? mask : group) << 3) | (mode_t)other, 0) < 0)
		return -errno;
	return !extended;
}

static int fs_setxattr(const char *path, const char *name, const char *value,
		       size_t size, int flags)
{
	struct store *s = fs_store();

	VDIR_DENY(path);
	if (!is_user(name))
		return -ENOTSUP;
	BPATH(path, bp);
	if (!strcmp(name, VATTR_COMPRESSION))
		return fs_set_compression(s, &bp, value, size, flags, 0);
	if (!strncmp(name, VATTR, strlen(VATTR)))
		return -EPERM;
	if (!strcmp(name, "system.posix_acl_access")) {
		int r = fs_acl_mode(s, &bp, value, size);

		if (r < 0)
			return r;
		if (r == 1) {
			r = xattrs_remove(s, bp.rel, name);
			return r == -ENODATA ? 0 : r;
		}
	}
	return xattrs_set(s, bp.rel, name, value, size, flags);
}

static int fs_getxattr(const char *path, const char *name, char *value, size_t size)
{
	struct store *s = fs_store();

	/* Asked on every write (security.capability): answered at once. */
	if (!is_user(name) || vdir_match(path))
		return -ENODATA;
	BPATH(path, bp);
	if (!strncmp(name, VATTR, strlen(VATTR)))
		return fs_vattr_get(s, &bp, name, value, size);
	return (int)xattrs_get(s, bp.rel, name, value, size);
}

static int fs_listxattr(const char *path, char *list, size_t size)
{
	struct store *s = fs_store();
	struct codec_spec spec;
	struct ofile *f;
	struct stat st;
	ssize_t n;
	int user = 0;

	if (vdir_match(path))
		return 0;
	BPATH(path, bp);
	/* A compression the user set is a real attribute: listed, so that
	 * rsync -X and cp -a carry it over.  The header hint answers both
	 * questions for the common file without attributes (every ls -l). */
	if (fstatat(s->rootfd, bp.rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		uint64_t hsize;
		uint16_t hflags;

		if (ofile_hint(s, bp.rel, &hsize, &hflags) == 0) {
			if (!(hflags & (FH_FLAG_XATTRS | FH_FLAG_CODEC_SET)))
				return 0;
			user = (hflags & FH_FLAG_CODEC_SET) != 0;
		} else if (ofile_open(s, bp.rel, &f) == 0) {
			ofile_codec(f, &spec, &user);
			ofile_release(s, f);
		}
	}
	n = xattrs_list(s, bp.rel, list, size);
	if (n < 0)
		return (int)n;
	if (user) {
		size_t add = sizeof(VATTR_COMPRESSION);

		if (size && (size_t)n + add > size)
			return -ERANGE;
		if (size)
			memcpy(list + n, VATTR_COMPRESSION, add);
		n += (ssize_t)add;
	}
	return (int)n;
}

static int fs_removexattr(const char *path, const char *name)
{
	struct store *s = fs_store();

	VDIR_DENY(path);
	if (!is_user(name))
		return -ENODATA;
	BPATH(path, bp);
	if (!strcmp(name, VATTR_COMPRESSION))
		return fs_set_compression(s, &bp, NULL, 0, 0, 1);
	if (!strncmp(name, VATTR, strlen(VATTR)))
		return -EPERM;
	return xattrs_remove(s, bp.rel, name);
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

	if (vdir_match(path)) {
		fi->fh = VDIR_FH_TAG; /* the one virtual directory */
		return 0;
	}
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

	(void)flags;
	if (vdir_is_handle(fi))
		return vdir_readdir("/" VDIR_NAME, buf, filler);
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
			stats_error(s->stats, 1, path, -1, "name does not authenticate");
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
	if (vdir_is_handle(fi))
		return 0;
	closedir(dh->d);
	free(dh);
	return 0;
}

static int fs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	DIR *d;

	(void)path;
	if (vdir_is_handle(fi))
		return 0;
	d = fs_dir_of(fi)->d;
	return err(datasync ? fdatasync(dirfd(d)) : fsync(dirfd(d)));
}

static int fs_access(const char *path, int mask)
{
	if (vdir_match(path))
		return 0; /* the kernel checks the modes vdir_getattr reports */
	BPATH(path, bp);
	return err(faccessat(fs_store()->rootfd, bp.rel, mask, AT_SYMLINK_NOFOLLOW));
}

static int fs_fallocate(const char *path, int mode, off_t off, off_t len,
			struct fuse_file_info *fi)
{
	(void)path;
	if (vdir_is_handle(fi))
		return -EPERM;
	return ofile_fallocate(fs_store(), fs_file(fi), mode, off, len);
}

static off_t fs_lseek(const char *path, off_t off, int whence, struct fuse_file_info *fi)
{
	(void)path;
	if (vdir_is_handle(fi))
		return -EINVAL;
	return ofile_lseek(fs_store(), fs_file(fi), off, whence);
}

/* Every operation is timed and counted for /.ragstore/stats. */
static uint64_t fs_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

#define TIMED(op, name, params, args)                                       \
	static int t_##name params                                          \
	{                                                                   \
		uint64_t t0 = fs_now();                                     \
		int r = name args;                                          \
		stats_op(fs_store()->stats, op, fs_now() - t0, r);          \
		return r;                                                   \
	}

TIMED(STATS_OP_GETATTR, fs_getattr, (const char *p, struct stat *st, struct fuse_file_info *fi),
      (p, st, fi))
TIMED(STATS_OP_OTHER, fs_readlink, (const char *p, char *b, size_t n), (p, b, n))
TIMED(STATS_OP_CREATE, fs_mknod, (const char *p, mode_t m, dev_t d), (p, m, d))
TIMED(STATS_OP_MKDIR, fs_mkdir, (const char *p, mode_t m), (p, m))
TIMED(STATS_OP_UNLINK, fs_unlink, (const char *p), (p))
TIMED(STATS_OP_RMDIR, fs_rmdir, (const char *p), (p))
TIMED(STATS_OP_SYMLINK, fs_symlink, (const char *t, const char *p), (t, p))
TIMED(STATS_OP_RENAME, fs_rename, (const char *a, const char *b, unsigned int f), (a, b, f))
TIMED(STATS_OP_LINK, fs_link, (const char *a, const char *b), (a, b))
TIMED(STATS_OP_OTHER, fs_chmod, (const char *p, mode_t m, struct fuse_file_info *fi), (p, m, fi))
TIMED(STATS_OP_OTHER, fs_chown, (const char *p, uid_t u, gid_t g, struct fuse_file_info *fi),
      (p, u, g, fi))
TIMED(STATS_OP_TRUNCATE, fs_truncate, (const char *p, off_t n, struct fuse_file_info *fi),
      (p, n, fi))
TIMED(STATS_OP_OTHER, fs_utimens, (const char *p, const struct timespec tv[2],
				    struct fuse_file_info *fi), (p, tv, fi))
TIMED(STATS_OP_OPEN, fs_open, (const char *p, struct fuse_file_info *fi), (p, fi))
TIMED(STATS_OP_CREATE, fs_create, (const char *p, mode_t m, struct fuse_file_info *fi), (p, m, fi))
TIMED(STATS_OP_READ, fs_read, (const char *p, char *b, size_t n, off_t o,
			       struct fuse_file_info *fi), (p, b, n, o, fi))
TIMED(STATS_OP_WRITE, fs_write, (const char *p, const char *b, size_t n, off_t o,
				 struct fuse_file_info *fi), (p, b, n, o, fi))
TIMED(STATS_OP_OTHER, fs_statfs, (const char *p, struct statvfs *sv), (p, sv))
TIMED(STATS_OP_OTHER, fs_release, (const char *p, struct fuse_file_info *fi), (p, fi))
TIMED(STATS_OP_FSYNC, fs_fsync, (const char *p, int d, struct fuse_file_info *fi), (p, d, fi))
TIMED(STATS_OP_XATTR, fs_setxattr, (const char *p, const char *n, const char *v, size_t z, int f),
      (p, n, v, z, f))
TIMED(STATS_OP_XATTR, fs_getxattr, (const char *p, const char *n, char *v, size_t z),
      (p, n, v, z))
TIMED(STATS_OP_XATTR, fs_listxattr, (const char *p, char *l, size_t z), (p, l, z))
TIMED(STATS_OP_XATTR, fs_removexattr, (const char *p, const char *n), (p, n))
TIMED(STATS_OP_READDIR, fs_opendir, (const char *p, struct fuse_file_info *fi), (p, fi))
TIMED(STATS_OP_READDIR, fs_readdir, (const char *p, void *b, fuse_fill_dir_t f, off_t o,
				     struct fuse_file_info *fi, enum fuse_readdir_flags fl),
      (p, b, f, o, fi, fl))
TIMED(STATS_OP_FSYNC, fs_fsyncdir, (const char *p, int d, struct fuse_file_info *fi), (p, d, fi))
TIMED(STATS_OP_OTHER, fs_access, (const char *p, int m), (p, m))
TIMED(STATS_OP_WRITE, fs_fallocate, (const char *p, int m, off_t o, off_t l,
				     struct fuse_file_info *fi), (p, m, o, l, fi))

const struct fuse_operations fs_ops = {
	.init = fs_init,
	.getattr = t_fs_getattr,
	.readlink = t_fs_readlink,
	.mknod = t_fs_mknod,
	.mkdir = t_fs_mkdir,
	.unlink = t_fs_unlink,
	.rmdir = t_fs_rmdir,
	.symlink = t_fs_symlink,
	.rename = t_fs_rename,
	.link = t_fs_link,
	.chmod = t_fs_chmod,
	.chown = t_fs_chown,
	.truncate = t_fs_truncate,
	.utimens = t_fs_utimens,
	.open = t_fs_open,
	.create = t_fs_create,
	.read = t_fs_read,
	.write = t_fs_write,
	.statfs = t_fs_statfs,
	.flush = fs_flush,
	.release = t_fs_release,
	.fsync = t_fs_fsync,
	.setxattr = t_fs_setxattr,
	.getxattr = t_fs_getxattr,
	.listxattr = t_fs_listxattr,
	.removexattr = t_fs_removexattr,
	.opendir = t_fs_opendir,
	.readdir = t_fs_readdir,
	.releasedir = fs_releasedir,
	.fsyncdir = t_fs_fsyncdir,
	.access = t_fs_access,
	.fallocate = t_fs_fallocate,
	.lseek = fs_lseek,
};
