/* ns.c - namespace operations by inode (rename in ns_rename.c, listings in
 * ns_dir.c).  See ns.h. */
#include "ns_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "fallback.h"
#include "fileheader.h"
#include "log.h"
#include "ofile.h"
#include "packer.h"
#include "pathmap.h"
#include "reaper.h"
#include "policy.h"
#include "shared.h"
#include "stats.h"
#include "xattrs.h"

/* Room for a stored symlink target: sealed and encoded, or plain (a
 * plaintext-name store keeps targets of up to PATH_MAX - 1 bytes). */
#define LINK_BUF (NAME_LINK_ENC_CAP > PATH_MAX ? NAME_LINK_ENC_CAP : PATH_MAX)

int ns_name_get(struct store *s, struct inode *dir, const char *name, struct nsname *n)
{
	uint8_t iv[NAME_IV_LEN];
	int r = 0;

	if (!S_ISDIR(inode_type(dir)))
		return -ENOTDIR;
	memset(iv, 0, sizeof(iv));
	if (s->names)
		r = inode_dir_iv(s, dir, iv);
	if (r == 0)
		r = pathmap_encode(s, iv, name, &n->bn);
	if (r < 0)
		return r;
	n->dir = dir;
	n->dirfd = inode_dirfd(s, dir);
	return n->dirfd < 0 ? n->dirfd : 0;
}

void ns_name_put(struct store *s, struct nsname *n)
{
	inode_dirfd_put(s, n->dir);
}

/* name_get under the shared namespace lock, which stays held (with n) until
 * name_end; on failure nothing is held. */
static int ns_name_start(struct store *s, struct inode *dir, const char *name, struct nsname *n)
{
	int r;

	inode_ns_rdlock(s);
	r = ns_name_get(s, dir, name, n);
	if (r < 0)
		inode_ns_unlock(s);
	return r;
}

static void ns_name_end(struct store *s, struct nsname *n)
{
	ns_name_put(s, n);
	inode_ns_unlock(s);
}

/* st of backing entry name in dirfd as the user sees it.  *noxattr (when
 * given) is set to 1 if the object is known to have no extended attributes
 * (a regular file whose size hint says so), else left alone. */
static int fix_stat(struct store *s, int dirfd, const char *name, struct stat *st,
		    int *noxattr)
{
	if (S_ISREG(st->st_mode)) {
		struct ofile *f;
		uint64_t size, packed = 0;
		uint16_t flags;

		if (ofile_find(s, st->st_dev, st->st_ino, &f) == 0) {
			uint64_t ps = ofile_pack_stored(f);

			st->st_size = (off_t)ofile_size_now(s, f);
			packed = ps == (uint64_t)-1 ? 0 : ps;
			ofile_release(s, f);
		} else if (ofile_hint(s, dirfd, name, &size, &flags, &packed) == 0) {
			st->st_size = (off_t)size;
			if (noxattr && !(flags & (FH_FLAG_XATTRS | FH_FLAG_CODEC_SET)))
				*noxattr = 1;
		} else {
			st->st_size = (off_t)ofile_stat_size(s, dirfd, name, st);
		}
		/* A packed file (pack.h): its share of the directory's pack,
		 * from the hint just read (an open one: from its entry). */
		if (st->st_blocks == 0 && packed)
			st->st_blocks = (blkcnt_t)(packed / 512);
	} else if (S_ISLNK(st->st_mode) && s->names) {
		char stored[NAME_LINK_ENC_CAP], target[NAME_LINK_MAX + 1];
		ssize_t n = backend_readlinkat(s->be, dirfd, name, stored, sizeof(stored));
		int len;

		if (n < 0)
			return (int)n;
		len = pathmap_link_decode(s, stored, (size_t)n, target, sizeof(target));
		if (len < 0)
			return len;
		st->st_size = len;
	}
	return 0;
}

int ns_stat_at(struct store *s, int dirfd, const char *name, struct stat *st, int *noxattr)
{
	int r = backend_fstatat(s->be, dirfd, name, st, AT_SYMLINK_NOFOLLOW);

	return r < 0 ? r : fix_stat(s, dirfd, name, st, noxattr);
}

/* Stat backing entry bname of dir and hand out its inode with a kernel
 * reference (uname is the user's name of it). */
int ns_hand_out_at(struct store *s, struct inode *dir, int dirfd, const char *bname,
		   const char *uname, struct inode **out, struct stat *st)
{
	int noxattr = 0, r = ns_stat_at(s, dirfd, bname, st, &noxattr);

	if (r < 0)
		return r;
	*out = inode_get(s, dir, bname, uname, st, 1);
	if (*out && noxattr)
		inode_set_noxattr(*out, 1);
	return *out ? 0 : -ENOMEM;
}

/* The end of every operation that makes or finds a name. */
static int hand_out(struct store *s, struct nsname *n, const char *uname, struct inode **out,
		    struct stat *st)
{
	return ns_hand_out_at(s, n->dir, n->dirfd, n->bn.leaf, uname, out, st);
}

int ns_lookup(struct store *s, struct inode *dir, const char *name, struct inode **out,
	      struct stat *st)
{
	struct nsname n;
	int r;

	r = ns_name_start(s, dir, name, &n);
	if (r == 0) {
		r = hand_out(s, &n, name, out, st);
		/* Shared mode: a name missing may be one another daemon is making
		 * under the name lock right now (on GlusterFS a mkdir can be
		 * made twice, pathmap_mkdir): look again once it is done. */
		if (r == -ENOENT && s->shared) {
			long long lk = shared_name_lock(s, n.dirfd, n.bn.leaf);

			r = hand_out(s, &n, name, out, st);
			shared_name_unlock(s, lk);
		}
		ns_name_end(s, &n);
	}
	return r;
}

int ns_getattr(struct store *s, struct inode *in, struct stat *st)
{
	struct ofile *f;
	struct iref ref;
	int r;

	if (S_ISREG(inode_type(in)) && ofile_find(s, inode_dev(in), inode_ino(in), &f) == 0) {
		/* Open (perhaps with no name left): its descriptor knows. */
		r = backend_fstat(s->be, ofile_fd(f), st);
		st->st_size = (off_t)ofile_size_now(s, f);
		ofile_release(s, f);
		return r;
	}
	inode_ns_rdlock(s);
	r = inode_ref(s, in, &ref);
	if (r == 0) {
		r = ns_stat_at(s, ref.dirfd, ref.name, st, NULL);
		inode_ref_put(s, &ref);
	}
	inode_ns_unlock(s);
	if (r == 0 && (st->st_ino != inode_ino(in) || st->st_dev != inode_dev(in)))
		r = -ESTALE;
	return r;
}

static void set_times(const struct stat *attr, int what, struct timespec tv[2])
{
	tv[0].tv_nsec = tv[1].tv_nsec = UTIME_OMIT;
	tv[0].tv_sec = tv[1].tv_sec = 0;
	if (what & NS_SET_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (what & NS_SET_ATIME)
		tv[0] = attr->st_atim;
	if (what & NS_SET_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (what & NS_SET_MTIME)
		tv[1] = attr->st_mtim;
}

/* setattr through an open file: its descriptor. */
static int setattr_open(struct store *s, struct ofile *f, const struct stat *attr, int what)
{
	struct timespec tv[2];
	int fd = ofile_fd(f), r = 0;

	if (what & (NS_SET_UID | NS_SET_GID))
		r = backend_fchown(s->be, fd, (what & NS_SET_UID) ? attr->st_uid : (uid_t)-1,
				   (what & NS_SET_GID) ? attr->st_gid : (gid_t)-1);
	if (r == 0 && (what & NS_SET_MODE))
		r = backend_fchmod(s->be, fd, attr->st_mode & 07777);
	if (r < 0)
		return r;
	if (what & NS_SET_SIZE) {
		if (attr->st_size < 0)
			return -EINVAL;
		r = ofile_truncate(s, f, (uint64_t)attr->st_size);
		if (r < 0)
			return r;
	}
	if (what & (NS_SET_ATIME | NS_SET_MTIME | NS_SET_ATIME_NOW | NS_SET_MTIME_NOW)) {
		set_times(attr, what, tv);
		return ofile_futimens(s, f, tv);
	}
	return 0;
}

static int setattr_at(struct store *s, int dirfd, const char *name, const struct stat *attr,
		      int what)
{
	struct timespec tv[2];
	int r = 0;

	if (what & (NS_SET_UID | NS_SET_GID))
		r = fallback_lchown(s->be, &s->probe, dirfd, name,
				    (what & NS_SET_UID) ? attr->st_uid : (uid_t)-1,
				    (what & NS_SET_GID) ? attr->st_gid : (gid_t)-1);
	if (r == 0 && (what & NS_SET_MODE))
		r = backend_fchmodat(s->be, dirfd, name, attr->st_mode & 07777, 0);
	if (r < 0)
		return r;
	if (what & NS_SET_SIZE) {
		struct ofile *f;

		if (attr->st_size < 0)
			return -EINVAL;
		r = ofile_open(s, dirfd, name, &f);
		if (r < 0)
			return r;
		r = ofile_truncate(s, f, (uint64_t)attr->st_size);
		ofile_release(s, f);
		if (r < 0)
			return r;
	}
	if (what & (NS_SET_ATIME | NS_SET_MTIME | NS_SET_ATIME_NOW | NS_SET_MTIME_NOW)) {
		set_times(attr, what, tv);
		return ofile_utimens(s, dirfd, name, tv);
	}
	return 0;
}

int ns_setattr(struct store *s, struct inode *in, struct ofile *f, const struct stat *attr,
	       int what, struct stat *st)
{
	struct ofile *open = NULL;
	struct iref ref;
	int r;

	if ((what & NS_SET_SIZE) && S_ISREG(inode_type(in))) {
		uint64_t max = inode_policy(s, in, NULL)->max_file_size;

		if (max && attr->st_size > 0 && (uint64_t)attr->st_size > max)
			return -EFBIG;
	}
	if (!f && S_ISREG(inode_type(in)) &&
	    ofile_find(s, inode_dev(in), inode_ino(in), &open) == 0)
		f = open;
	if (f) {
		r = setattr_open(s, f, attr, what);
		if (open)
			ofile_release(s, open);
	} else {
		inode_ns_rdlock(s);
		r = inode_ref(s, in, &ref);
		if (r == 0) {
			r = setattr_at(s, ref.dirfd, ref.name, attr, what);
			inode_ref_put(s, &ref);
		}
		inode_ns_unlock(s);
	}
	return r < 0 ? r : ns_getattr(s, in, st);
}

/* Whether this process runs as root; asked at every create, and it never
 * changes once the daemon runs. */
static int daemon_is_root(void)
{
	static int root = -1;

	if (__atomic_load_n(&root, __ATOMIC_RELAXED) < 0)
		__atomic_store_n(&root, geteuid() == 0, __ATOMIC_RELAXED);
	return __atomic_load_n(&root, __ATOMIC_RELAXED);
}

/* Owner of a new object in the directory open as dirfd: the caller, except
 * that the group comes from a setgid directory (as on ext4).  Only a daemon
 * running as root can give objects away; a user's daemon owns everything
 * anyway (-1 leaves the ids alone). */
static void new_owner(struct store *s, int dirfd, uid_t *uid, gid_t *gid)
{
	struct stat st;

	if (!daemon_is_root()) {
		*uid = (uid_t)-1;
		*gid = (gid_t)-1;
		return;
	}
	if (backend_fstat(s->be, dirfd, &st) == 0 && (st.st_mode & S_ISGID))
		*gid = st.st_gid;
}

static int chown_new(struct store *s, struct nsname *n, uid_t uid, gid_t gid)
{
	new_owner(s, n->dirfd, &uid, &gid);
	if (uid == (uid_t)-1 && gid == (gid_t)-1)
		return 0;
	return fallback_lchown(s->be, &s->probe, n->dirfd, n->bn.leaf, uid, gid);
}

/* Making a name: resolve it, write a long name's side file, run make(),
 * and hand the result out; on failure drop the side file again. */
typedef int (*make_fn)(struct store *s, struct nsname *n, const void *arg);

static int make_name(struct store *s, struct inode *dir, const char *name, make_fn make,
		     const void *arg, uid_t uid, gid_t gid, struct inode **out, struct stat *st)
{
	struct nsname n;
	int r;

	r = ns_name_start(s, dir, name, &n);
	if (r < 0)
		return r;
	r = pathmap_side_write(s, n.dirfd, &n.bn);
	if (r == 0)
		r = make(s, &n, arg);
	if (r == 0)
		r = chown_new(s, &n, uid, gid);
	if (r == 0)
		r = hand_out(s, &n, name, out, st);
	if (r < 0)
		pathmap_side_drop(s, n.dirfd, &n.bn);
	ns_name_end(s, &n);
	return r;
}

struct mknod_arg {
	mode_t mode;
	dev_t rdev;
	struct ofile_layout lay; /* of a regular file, from its policy */
};

/* How a new file called name in dir is laid out: by its policy. */
static struct ofile_layout layout_for(struct store *s, struct inode *dir, const char *name)
{
	const struct policy *p = inode_policy(s, dir, name);
	struct ofile_layout lay = { p->codec, p->block_size };

	return lay;
}

static int make_node(struct store *s, struct nsname *n, const void *arg)
{
	const struct mknod_arg *a = arg;

	if (S_ISREG(a->mode)) {
		struct ofile *f;
		int r = ofile_create(s, n->dirfd, n->bn.leaf, a->mode & 07777, (uid_t)-1,
				     (gid_t)-1, &a->lay, 1, &f);

		return r < 0 ? r : ofile_release(s, f);
	}
	return backend_mknodat(s->be, n->dirfd, n->bn.leaf, a->mode, a->rdev);
}

int ns_mknod(struct store *s, struct inode *dir, const char *name, mode_t mode, dev_t rdev,
	     uid_t uid, gid_t gid, struct inode **out, struct stat *st)
{
	struct mknod_arg a = { mode, rdev, layout_for(s, dir, name) };
	int r;

	if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode) && !S_ISCHR(mode) &&
	    !S_ISBLK(mode))
		return -EINVAL;
	r = make_name(s, dir, name, make_node, &a, uid, gid, out, st);
	/* fchown of a regular file clears setuid/setgid: put the mode back. */
	if (r == 0 && S_ISREG(mode) && (mode & 06000) && daemon_is_root()) {
		struct stat want = { .st_mode = mode };

		r = ns_setattr(s, *out, NULL, &want, NS_SET_MODE, st);
	}
	return r;
}

static int make_dir(struct store *s, struct nsname *n, const void *arg)
{
	int r = pathmap_mkdir(s, n->dirfd, &n->bn, *(const mode_t *)arg);

	if (r == 0)
		stats_dir_delta(s->stats, 1);
	return r;
}

int ns_mkdir(struct store *s, struct inode *dir, const char *name, mode_t mode, uid_t uid,
	     gid_t gid, struct inode **out, struct stat *st)
{
	int r = make_name(s, dir, name, make_dir, &mode, uid, gid, out, st);

	if (r == 0)
		inode_set_noxattr(*out, 1); /* a new directory has none */
	return r;
}

static int make_symlink(struct store *s, struct nsname *n, const void *arg)
{
	char *stored = malloc(LINK_BUF);
	int r = stored ? pathmap_link_encode(s, arg, stored, LINK_BUF) : -ENOMEM;

	if (r >= 0)
		r = backend_symlinkat(s->be, stored, n->dirfd, n->bn.leaf);
	free(stored);
	return r;
}

int ns_symlink(struct store *s, struct inode *dir, const char *name, const char *target,
	       uid_t uid, gid_t gid, struct inode **out, struct stat *st)
{
	if (strlen(target) > NAME_LINK_MAX && s->names)
		return -ENAMETOOLONG;
	return make_name(s, dir, name, make_symlink, target, uid, gid, out, st);
}

int ns_link(struct store *s, struct inode *in, struct inode *dir, const char *name,
	    struct stat *st)
{
	struct nsname n;
	struct iref ref;
	struct inode *got;
	int r;

	if (S_ISDIR(inode_type(in)))
		return -EPERM;
	inode_ns_rdlock(s);
	r = inode_ref(s, in, &ref);
	if (r < 0)
		goto out_unlock;
	r = ns_name_get(s, dir, name, &n);
	if (r < 0)
		goto out_ref;
	r = pathmap_side_write(s, n.dirfd, &n.bn);
	if (r == 0)
		r = fallback_linkat(s->be, &s->probe, ref.dirfd, ref.name, n.dirfd, n.bn.leaf);
	/* A packed file with two links would be found through either
	 * directory: it gets its own content back, after the link, so a
	 * packer that ran in between is undone too (packer.h). */
	if (r == 0 && S_ISREG(inode_type(in)) && ofile_unpack_at(s, ref.dirfd, ref.name) < 0) {
		backend_unlinkat(s->be, n.dirfd, n.bn.leaf, 0);
		r = -EIO;
	}
	if (r == 0) {
		r = hand_out(s, &n, name, &got, st);
		if (r == 0 && got != in)
			r = -ESTALE; /* cannot happen while we are the only writer */
	}
	if (r < 0)
		pathmap_side_drop(s, n.dirfd, &n.bn);
	ns_name_put(s, &n);
out_ref:
	inode_ref_put(s, &ref);
out_unlock:
	inode_ns_unlock(s);
	return r;
}

/* The start of unlink and rmdir: under the exclusive namespace lock,
 * resolve name in dir and stat it; it must be a directory exactly when
 * want_dir.  On success the lock and n are held until name_end. */
static int removal_start(struct store *s, struct inode *dir, const char *name, int want_dir,
			 struct nsname *n, struct stat *st)
{
	int r;

	inode_ns_wrlock(s);
	r = ns_name_get(s, dir, name, n);
	if (r < 0) {
		inode_ns_unlock(s);
		return r;
	}
	r = backend_fstatat(s->be, n->dirfd, n->bn.leaf, st, AT_SYMLINK_NOFOLLOW);
	if (r == 0 && !S_ISDIR(st->st_mode) != !want_dir)
		r = want_dir ? -ENOTDIR : -EISDIR;
	if (r < 0) {
		ns_name_put(s, n);
		inode_ns_unlock(s);
	}
	return r;
}

int ns_unlink(struct store *s, struct inode *dir, const char *name)
{
	struct ofile_removal rm;
	uint8_t xid[XATTRS_ID_LEN];
	struct nsname n;
	struct stat st;
	int r = removal_start(s, dir, name, 0, &n, &st), has_x, keep = -1;

	if (r < 0)
		return r;
	/* The last name of a regular file takes it out of the totals and its
	 * attributes with it (an open descriptor keeps the data until the
	 * last close). */
	ofile_removal_begin(s, n.dirfd, n.bn.leaf, &st, &rm);
	has_x = rm.valid && !rm.no_xattrs &&
		xattrs_object_id(s, n.dirfd, n.bn.leaf, xid) == 0;
	/* Freeing the blocks is left to the reaper's close (reaper.h). */
	if (s->reaper && !s->shared && S_ISREG(st.st_mode) && st.st_nlink == 1)
		keep = backend_openat(s->be, n.dirfd, n.bn.leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
	r = backend_unlinkat(s->be, n.dirfd, n.bn.leaf, 0);
	if (keep >= 0)
		reaper_close(r == 0 ? s->reaper : NULL, s->be, keep);
	if (r == 0) {
		ofile_removal_done(s, &rm);
		if (has_x)
			xattrs_forget(s, xid);
		pathmap_side_drop(s, n.dirfd, &n.bn);
		inode_name_gone(s, st.st_dev, st.st_ino, dir, n.bn.leaf);
	}
	ns_name_end(s, &n);
	return r;
}

int ns_rmdir(struct store *s, struct inode *dir, const char *name)
{
	uint8_t xid[XATTRS_ID_LEN];
	struct nsname n;
	struct stat st;
	int r = removal_start(s, dir, name, 1, &n, &st), has_x;

	if (r < 0)
		return r;
	has_x = xattrs_object_id(s, n.dirfd, n.bn.leaf, xid) == 0;
	r = pathmap_rmdir(s, n.dirfd, &n.bn);
	if (r == 0) {
		stats_dir_delta(s->stats, -1);
		if (has_x)
			xattrs_forget(s, xid);
		inode_name_gone(s, st.st_dev, st.st_ino, dir, n.bn.leaf);
	}
	ns_name_end(s, &n);
	return r;
}

int ns_readlink(struct store *s, struct inode *in, char *buf, size_t size)
{
	char *stored = malloc(LINK_BUF + 1);
	struct iref ref;
	ssize_t n;
	int r;

	if (!stored)
		return -ENOMEM;
	inode_ns_rdlock(s);
	r = inode_ref(s, in, &ref);
	if (r == 0) {
		n = backend_readlinkat(s->be, ref.dirfd, ref.name, stored, LINK_BUF + 1);
		r = (int)n;
		inode_ref_put(s, &ref);
	}
	inode_ns_unlock(s);
	if (r >= 0 && (size_t)r > LINK_BUF)
		r = -EIO;
	if (r >= 0)
		r = pathmap_link_decode(s, stored, (size_t)r, buf, size);
	free(stored);
	return r;
}

int ns_statfs(struct store *s, struct statvfs *sv)
{
	reaper_drain(s->reaper); /* so that space freed by unlink shows */
	packer_drain(s->packer); /* and what packing saves */
	return backend_fstatvfs(s->be, s->rootfd, sv);
}

/* The path of in for error reports: malloc'ed, or NULL. */
static char *report_path(struct store *s, struct inode *in)
{
	char *path = malloc(PATH_MAX);

	if (path && inode_path(s, in, path, PATH_MAX) < 0) {
		free(path);
		path = NULL;
	}
	return path;
}

/* The end of open and create: the policy of path (the size limit; for a
 * writer, the compression of a file renamed into another policy's paths),
 * O_TRUNC, and path (consumed; NULL: unknown) for error reports. */
static int opened(struct store *s, struct ofile *f, int flags, char *path)
{
	int r = ofile_apply_policy(s, f, store_policy(s, path ? path : "/"),
				   (flags & O_ACCMODE) != O_RDONLY);

	if (path)
		ofile_set_path(f, path);
	free(path);
	if (r == 0 && (flags & O_TRUNC))
		r = ofile_truncate(s, f, 0);
	if (r < 0)
		ofile_release(s, f);
	return r;
}

int ns_open(struct store *s, struct inode *in, int flags, struct ofile **f)
{
	struct iref ref;
	char *path;
	int r, write;

	if (S_ISDIR(inode_type(in)))
		return -EISDIR;
	if (!S_ISREG(inode_type(in)))
		return -EINVAL;
	path = report_path(s, in);
	/* Only an open that may write unpacks a packed file (pack.h). */
	write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	if (ofile_find(s, inode_dev(in), inode_ino(in), f) < 0) {
		inode_ns_rdlock(s);
		r = inode_ref(s, in, &ref);
		if (r == 0) {
			r = ofile_open_for(s, ref.dirfd, ref.name, path, write, f);
			inode_ref_put(s, &ref);
		}
		inode_ns_unlock(s);
		if (r < 0) {
			free(path);
			return r;
		}
	} else if (write && (r = ofile_unpack(s, *f)) < 0) {
		ofile_release(s, *f);
		free(path);
		return r;
	}
	return opened(s, *f, flags, path);
}

int ns_create(struct store *s, struct inode *dir, const char *name, mode_t mode, int flags,
	      uid_t uid, gid_t gid, struct inode **out, struct stat *st, struct ofile **f)
{
	struct ofile_layout lay = layout_for(s, dir, name);
	struct nsname n;
	int r;

	r = ns_name_start(s, dir, name, &n);
	if (r < 0)
		return r;
	new_owner(s, n.dirfd, &uid, &gid);
	r = pathmap_side_write(s, n.dirfd, &n.bn);
	if (r == 0)
		r = ofile_create(s, n.dirfd, n.bn.leaf, mode & 07777, uid, gid, &lay,
				 (flags & O_EXCL) != 0, f);
	if (r == 0) {
		r = hand_out(s, &n, name, out, st);
		if (r < 0)
			ofile_release(s, *f);
	} else {
		pathmap_side_drop(s, n.dirfd, &n.bn);
	}
	ns_name_end(s, &n);
	if (r == 0) {
		r = opened(s, *f, flags, report_path(s, *out));
		if (r < 0)
			inode_forget(s, *out, 1);
	}
	return r;
}
