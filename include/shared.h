/* shared.h - shared mode (`-o shared`, docs/SHARED.md): several ragstore
 * daemons, on one machine or on several, serve one store at once.
 *
 * Without shared mode nothing here runs: the store lock (store.c) keeps
 * every other daemon out, and the in-memory state of an open file is the
 * truth.  In shared mode the store lock is taken shared, and every
 * operation on a regular file's contents is framed by a lock on its
 * backing file that all daemons see (an open-file-description lock, fcntl
 * F_OFD_SETLKW, which NFS, GlusterFS and local filesystems carry between
 * clients):
 *
 *   lock   bytes [SHARED_LOCK_CONTENT, +1): read lock for reads, write
 *          lock for anything that may change the file;
 *   check  the header generation on disk against the one in memory: when
 *          another daemon committed since, the file's state (header, index,
 *          free space, size) is loaded again from disk;
 *   work   as without shared mode;
 *   commit what the operation changed (write-behind block, header), so
 *          that the lock never ends with state only this daemon knows;
 *   unlock.
 *
 * So a header on disk always names records no other daemon is about to
 * overwrite, and a daemon never builds on a header it has not seen.
 *
 * A user's flock(2) through the mount is forwarded as a lock on bytes
 * [SHARED_LOCK_FLOCK, +1) of the backing file, through a descriptor of
 * the file handle's own, so that it excludes the holders of other handles
 * in this daemon and in every other one.
 *
 * Store totals: shared_totals_*, see below. */
#ifndef RAGSTORE_SHARED_H
#define RAGSTORE_SHARED_H

#include <stdint.h>

#include "store.h"

/* Lock ranges in a backing file.  Data offsets of a v2 file stay below
 * 2^48 and nothing ever reads these bytes: a lock is all they carry. */
#define SHARED_LOCK_CONTENT 0LL
#define SHARED_LOCK_FLOCK (1LL << 62)

struct ofile;
struct inode;

/* Called by ofile_lock with f's content lock held exclusive: take the
 * backing file's lock (write lock if excl, else read lock; waits) and
 * bring f's state up to date with the header on disk.  Returns 0, or
 * -errno (the lock may be held: shared_leave releases it either way). */
int shared_enter(struct store *s, struct ofile *f, int excl);
/* Called by ofile_unlock before the content lock goes: commit what is
 * not yet on disk (an error is kept in f->err, for close and fsync), then
 * release the backing file's lock. */
void shared_leave(struct store *s, struct ofile *f);

/* Load a file being opened (ofile.c) under the read lock: begin takes it
 * on fd, end releases it.  Returns 0 or -errno. */
int shared_open_begin(struct store *s, int fd);
void shared_open_end(struct store *s, int fd);

/* Name locks: a creation of name in directory dirfd (mkdir) runs under a
 * write lock that every daemon sees, on a byte of BACKING/ragstore.lock
 * chosen from the directory's inode number and the name (bytes 2^32 and
 * up, apart from the totals' locks of stats_shared.c), so that two
 * daemons never make one name at the same instant: a GlusterFS client
 * racing another's mkdir of the same name can lose the directory
 * altogether.  shared_names_open opens the file at mount (0 or -errno;
 * without it nothing is locked); shared_name_lock returns the byte it
 * locked (pass it to shared_name_unlock) or -1 when nothing is locked. */
int shared_names_open(struct store *s, const char *backing);
long long shared_name_lock(struct store *s, int dirfd, const char *name);
void shared_name_unlock(struct store *s, long long byte);
/* The same kind of lock on a byte chosen from key (an object's attribute
 * id, xattrs.c), in a range of its own: the extended attributes of one
 * object are read and rewritten by one daemon at a time.  Unlock with
 * shared_name_unlock. */
long long shared_key_lock(struct store *s, const void *key, size_t len);

/* flock(2) of a file handle on regular file in: op is LOCK_SH, LOCK_EX or
 * LOCK_UN, with LOCK_NB.  *lockfd is the handle's own descriptor of the
 * backing file (-1 until the first call opens it; the caller closes it
 * with shared_lockfd_close when the handle goes, which drops its lock).
 * Returns 0, -EWOULDBLOCK for a conflict under LOCK_NB, or -errno. */
int shared_flock(struct store *s, struct inode *in, int *lockfd, int op);
void shared_lockfd_close(struct store *s, int lockfd);

#endif
