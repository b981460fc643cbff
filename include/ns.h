/* ns.h - the namespace: every operation on names and attributes of the
 * user's tree, by inode, as one function each that owns its crash-safety
 * steps (value files, long-name side files, directories moved aside before
 * removal), the store totals and the bookkeeping of attributes and of the
 * inode table.  Knows nothing of FUSE: the FUSE layer translates requests
 * into these calls and their results into replies.
 *
 * Conventions: functions return 0 (or a length) or -errno.  name is one
 * component of the user's tree (no '/').  A function that hands out an
 * inode (*out) has taken one kernel reference on it (inode.h), which the
 * kernel later drops with forget.  st is what stat on the mount shows:
 * a regular file's logical size, a symlink's target length, the backing
 * inode number.  uid and gid are the caller's; a new object gets them
 * (and a setgid parent's group) when the daemon runs as root. */
#ifndef RAGSTORE_NS_H
#define RAGSTORE_NS_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "inode.h"
#include "store.h"

struct ofile;

int ns_lookup(struct store *s, struct inode *dir, const char *name, struct inode **out,
	      struct stat *st);
int ns_getattr(struct store *s, struct inode *in, struct stat *st);

/* What ns_setattr changes (any combination). */
#define NS_SET_MODE 0x01
#define NS_SET_UID 0x02
#define NS_SET_GID 0x04
#define NS_SET_SIZE 0x08
#define NS_SET_ATIME 0x10      /* to attr->st_atim */
#define NS_SET_MTIME 0x20
#define NS_SET_ATIME_NOW 0x40
#define NS_SET_MTIME_NOW 0x80
/* Change in's attributes (through f when given, an open handle of it) and
 * return the new ones in st. */
int ns_setattr(struct store *s, struct inode *in, struct ofile *f, const struct stat *attr,
	       int what, struct stat *st);

/* Who asks to clear the set-ID bits (ns_kill.c): uid 0 counts as
 * privileged; in_group (may be NULL) answers whether the caller is in
 * group g through a supplementary group. */
struct ns_caller {
	uid_t uid;
	gid_t gid;
	int (*in_group)(void *arg, gid_t g);
	void *arg;
};
/* The set-ID bits a write, truncate or chown by c clears from a file with
 * attributes st: S_ISUID; S_ISGID of a group-executable file, or of one
 * whose group c is not in, unless c is privileged. */
mode_t ns_kill_bits(const struct stat *st, const struct ns_caller *c);
/* Clear those bits of in (not a directory; through f when given).
 * Returns 1 when a bit was cleared (st, when given, then holds the new
 * attributes), 0 when there was none, or -errno. */
int ns_kill_suidgid(struct store *s, struct inode *in, struct ofile *f,
		    const struct ns_caller *c, struct stat *st);

int ns_mknod(struct store *s, struct inode *dir, const char *name, mode_t mode, dev_t rdev,
	     uid_t uid, gid_t gid, struct inode **out, struct stat *st);
int ns_mkdir(struct store *s, struct inode *dir, const char *name, mode_t mode, uid_t uid,
	     gid_t gid, struct inode **out, struct stat *st);
int ns_symlink(struct store *s, struct inode *dir, const char *name, const char *target,
	       uid_t uid, gid_t gid, struct inode **out, struct stat *st);
/* A new name for in (not a directory); takes a kernel reference on in. */
int ns_link(struct store *s, struct inode *in, struct inode *dir, const char *name,
	    struct stat *st);
int ns_unlink(struct store *s, struct inode *dir, const char *name);
int ns_rmdir(struct store *s, struct inode *dir, const char *name);
/* flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE. */
int ns_rename(struct store *s, struct inode *dir, const char *name, struct inode *ndir,
	      const char *nname, unsigned flags);
int ns_readlink(struct store *s, struct inode *in, char *buf, size_t size);
int ns_statfs(struct store *s, struct statvfs *sv);

/* Open a regular file (flags as open(2): O_TRUNC is applied).  *f is a
 * reference released with ofile_release. */
int ns_open(struct store *s, struct inode *in, int flags, struct ofile **f);
/* Create and open; an existing file is opened unless flags has O_EXCL. */
int ns_create(struct store *s, struct inode *dir, const char *name, mode_t mode, int flags,
	      uid_t uid, gid_t gid, struct inode **out, struct stat *st, struct ofile **f);

/* Directory listing.  ns_readdir calls fill for each entry from position
 * off on (0 = start) with the user's name, its type and inode number, and
 * the position after it; with plus set also with its inode (one kernel
 * reference taken, given back when fill returns nonzero) and stat.  fill
 * returns nonzero when it has no room: the listing stops there.  Damaged
 * names are skipped and counted as integrity errors. */
struct ns_dir;
typedef int (*ns_fill_fn)(void *arg, const char *name, const struct stat *st,
			  struct inode *in, off_t next);
int ns_opendir(struct store *s, struct inode *in, struct ns_dir **d);
int ns_readdir(struct store *s, struct ns_dir *d, off_t off, int plus, ns_fill_fn fill,
	       void *arg);
int ns_fsyncdir(struct store *s, struct ns_dir *d, int datasync);
void ns_releasedir(struct store *s, struct ns_dir *d);

#endif
