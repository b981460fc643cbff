/* inode.h - the backing objects the kernel knows, one struct inode per
 * backing inode (hard links share one), with the kernel's lookup count and
 * the way to reach the object again: the names it is known by (parent
 * directory inode + backing name) and, for directories, a descriptor in a
 * bounded cache.  Knows nothing of FUSE.
 *
 * Why not one descriptor per inode (libfuse's passthrough_ll does that):
 * an untar creates far more entries than RLIMIT_NOFILE allows.  Instead
 * only directories get descriptors (O_PATH), at most INODE_DIRFD_MAX of
 * them are open, and an evicted one is reopened from its parent's
 * descriptor and its backing name, walking up as far as needed (the root's
 * descriptor never closes).  A descriptor follows its directory through
 * renames, so a cached one never goes stale.
 *
 * Locking: the table mutex guards the hash, every count, the names and the
 * descriptor fields.  The namespace lock (inode_ns_rdlock/wrlock) is held
 * shared by every operation that resolves names and exclusive by those
 * that change names of existing objects (rename, unlink, rmdir), so that a
 * name read from the table still exists when it is used.  Lock order:
 * namespace lock, then the table mutex; the table mutex is never held
 * across a system call other than close. */
#ifndef RAGSTORE_INODE_H
#define RAGSTORE_INODE_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "names.h"
#include "store.h"

#define INODE_DIRFD_MAX 2048

struct inode;
struct inode_table;

struct backend;

/* The table of a store whose root (BACKING/root, never forgotten) is open
 * as rootfd on backend be; every descriptor of the table is be's.  rootfd
 * stays the caller's.  NULL on allocation failure. */
struct inode_table *inode_table_new(struct backend *be, int rootfd, unsigned max_dirfds);
/* Free every inode (closing descriptors) and the table.  NULL is a no-op. */
void inode_table_free(struct inode_table *t);

struct inode *inode_root(struct store *s);

/* Find or add the inode of backing object st, reached as bname (a single
 * backing name; uname is the user's) in directory dir, record that name and take nlookup
 * kernel references (1 for lookup, create, ...; 0 for a bare pin that the
 * caller drops with inode_put).  Returns NULL on allocation failure. */
struct inode *inode_get(struct store *s, struct inode *dir, const char *bname,
			const char *uname, const struct stat *st, uint64_t nlookup);
/* The inode of backing object dev:ino if the table has it, pinned (drop
 * with inode_put); NULL if not. */
struct inode *inode_find(struct store *s, dev_t dev, ino_t ino);
/* Drop n kernel references (FUSE forget). */
void inode_forget(struct store *s, struct inode *in, uint64_t n);
/* Pin / unpin an inode for the duration of an operation. */
void inode_pin(struct store *s, struct inode *in);
void inode_put(struct store *s, struct inode *in);

dev_t inode_dev(const struct inode *in);
ino_t inode_ino(const struct inode *in);
mode_t inode_type(const struct inode *in);  /* S_IFMT bits */

/* A way to the object right now: the directory to use with *at() calls
 * and the name in it.  For a directory that is its own descriptor and
 * "."; for anything else one of its names.  -ENOENT when it has no name
 * left (an open file after its last unlink), or -errno.  Release with
 * inode_ref_put. */
struct iref {
	int dirfd;
	const char *name;
	struct inode *dir;          /* holds dirfd open; internal */
	char buf[NAME_ENC_CAP];
};
int inode_ref(struct store *s, struct inode *in, struct iref *r);
void inode_ref_put(struct store *s, struct iref *r);

/* The descriptor of directory inode dir, held open until
 * inode_dirfd_put.  Returns it or -errno. */
int inode_dirfd(struct store *s, struct inode *dir);
void inode_dirfd_put(struct store *s, struct inode *dir);

/* The value of directory dir, for name encryption (cached in the inode). */
int inode_dir_iv(struct store *s, struct inode *dir, uint8_t *iv);

/* Bookkeeping after a change of the backing tree: the name bname in dir
 * of the object dev:ino is gone (unlink, rmdir, renamed over) or moved. */
void inode_name_gone(struct store *s, dev_t dev, ino_t ino, struct inode *dir,
		     const char *bname);
void inode_name_moved(struct store *s, dev_t dev, ino_t ino, struct inode *odir,
		      const char *obname, struct inode *ndir, const char *nbname,
		      const char *nuname);

/* A path of in inside the mount ("/a/b"), from the names it was looked up
 * by, for messages.  0, -ENOENT (no name left) or -ENAMETOOLONG. */
int inode_path(struct store *s, struct inode *in, char *out, size_t len);

struct policy;
/* The storage policy (policy.h) of the object called name in directory
 * dir, or of dir itself when name is NULL, by its path in the mount (the
 * defaults when it has no name left).  Never NULL. */
const struct policy *inode_policy(struct store *s, struct inode *dir, const char *name);

/* Whether in is known to have no extended attributes (so getxattr and
 * listxattr, which ls -l and every write ask, need no I/O).  Set from the
 * size hint's flags at lookup and for new objects; reset to unknown by
 * every change of in's attributes.  Safe because this daemon is the only
 * writer of the store; not consulted in shared mode (attrs.c), where it is
 * not. */
void inode_set_noxattr(struct inode *in, int none);
int inode_noxattr(const struct inode *in);

/* Open directory descriptors now (for /.ragstore and tests). */
unsigned inode_dirfds_open(struct store *s);

/* Take and drop the namespace lock (see above). */
void inode_ns_rdlock(struct store *s);
void inode_ns_wrlock(struct store *s);
void inode_ns_unlock(struct store *s);

#endif
