/* ofile.h - per-inode state of open regular files and the block data path.
 *
 * Every open of the same backing inode (hard links included) shares one
 * struct ofile: one backing fd, the authenticated header, a content lock.
 * Reads hold the lock shared; writes, truncates and garbage collection hold
 * it exclusive.  Lock order: table mutex, then an ofile's content lock (the
 * table mutex is never taken while a content lock is held).
 *
 * Writes go to the backing file as they arrive, except small writes at the
 * end of the file, which gather in memory in the file's last block until
 * the file is closed (flush), fsynced or written elsewhere: the block record
 * first, the header (size, holes) after it, so a crash at any moment leaves
 * each block with its old or its new record.  A superseded record is only
 * punched out after fdatasync, at fsync or at the last release. */
#ifndef RAGSTORE_OFILE_H
#define RAGSTORE_OFILE_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "store.h"

struct ofile;

/* Create the table; NULL on allocation failure. */
struct ofile_table *ofile_table_new(void);
/* Release every entry (unclean; only at unmount) and free. */
void ofile_table_free(struct store *s, struct ofile_table *t);

/* How a new file is made: the compression of its writes and its block
 * size (0: the store's), from its policy. */
struct ofile_layout {
	struct codec_spec codec;
	uint32_t block_size;
};

/* Create a new regular file name in directory dirfd (relative to it), with
 * its header already written (laid out as lay says), owned by uid:gid
 * (-1 = leave), mode mode.
 * exclusive: fail with -EEXIST if it exists; otherwise an existing file is
 * opened instead.  Returns 0 and *out (a reference), or -errno. */
int ofile_create(struct store *s, int dirfd, const char *name, mode_t mode,
		 uid_t uid, gid_t gid, const struct ofile_layout *lay,
		 int exclusive, struct ofile **out);

/* Open the existing regular file at rel, relative to directory dirfd (a
 * single backing name, or a relative path).  Verifies its header.  Returns
 * 0 and *out (a reference), -EIO for a damaged header, or -errno. */
int ofile_open(struct store *s, int dirfd, const char *rel, struct ofile **out);
/* The same, with the file's path in the mount for error reports (NULL if
 * unknown): a damaged, cut or rolled-back header is logged and counted as
 * an integrity error. */
int ofile_open_path(struct store *s, int dirfd, const char *rel, const char *path,
		    struct ofile **out);
/* The same, saying whether the caller may write (write 1, as ofile_open
 * and ofile_open_path) or only reads (0): a packed file (pack.h) opened
 * for reading stays packed and reads from its directory's pack; one opened
 * to be written gets its own content back first. */
int ofile_open_for(struct store *s, int dirfd, const char *rel, const char *path, int write,
		   struct ofile **out);
/* 1 if f is a packed file (pack.h), read from its directory's pack. */
int ofile_packed(struct ofile *f);
/* What packed file f stores in its directory's pack (pack_ref_stored);
 * (uint64_t)-1 when it is not packed. */
uint64_t ofile_pack_stored(struct ofile *f);
/* Give packed file f its own content back (before writes through an
 * entry that was opened for reading); 0 when it is not packed, or -errno. */
int ofile_unpack(struct store *s, struct ofile *f);
/* Unpack the file called name in dirfd if it is packed (before it gets a
 * name in another directory: a pack serves its own directory's files
 * only).  0 or -errno. */
int ofile_unpack_at(struct store *s, int dirfd, const char *name);
/* What the record of the packed file called name in dirfd stores (its
 * length in the pack), with its accounting algorithm in *algo; 0 (and
 * *algo untouched) when the file is not packed or has no record.  The
 * store totals count a packed file's record as what it stores. */
uint64_t ofile_packed_stored(struct store *s, int dirfd, const char *name, uint8_t *algo);
/* A reference to the open entry of backing inode dev:ino: 0 and *out, or
 * -ENOENT when it is not open. */
int ofile_find(struct store *s, dev_t dev, ino_t ino, struct ofile **out);

/* Drop a reference; the last one collects superseded records (after
 * fdatasync) and closes the backing fd.  Returns the first write error
 * recorded for the file, or 0. */
int ofile_release(struct store *s, struct ofile *f);

/* In the functions below that take dirfd and rel, rel is relative to the
 * backing directory open as dirfd (a descriptor of s->be, as every dirfd in
 * this header). */

/* Logical size of a regular backing file as its header says, for the
 * totals and for stat of a closed file: from the open-file table when the
 * inode is open (the size of its current header: data still in the
 * write-behind block is not in it; ofile_size has it), else from the size
 * hint or the header without decryption.  A damaged header yields size 0
 * (the error shows at open).  st must come from lstat of the backing file. */
uint64_t ofile_stat_size(struct store *s, int dirfd, const char *rel, const struct stat *st);

ssize_t ofile_read(struct store *s, struct ofile *f, char *buf, size_t len, off_t off);
ssize_t ofile_write(struct store *s, struct ofile *f, const char *buf, size_t len, off_t off);
int ofile_truncate(struct store *s, struct ofile *f, uint64_t size);
/* Hand everything written so far to the backing file (close calls it):
 * the write-behind block of small sequential writes, see ofile_int.h.
 * Returns 0 or the first write error recorded for the file. */
int ofile_flush(struct store *s, struct ofile *f);
/* 1 if flush or the last release would still change the backing file (a
 * dirty write-behind block, superseded records to release), so that
 * st_blocks changes; 0 if not. */
int ofile_changes_pending(struct ofile *f);
int ofile_fsync(struct store *s, struct ofile *f, int datasync);
/* fallocate: mode 0 (extend), FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE |
 * FALLOC_FL_KEEP_SIZE; anything else -EOPNOTSUPP. */
int ofile_fallocate(struct store *s, struct ofile *f, int mode, off_t off, off_t len);
/* SEEK_DATA / SEEK_HOLE (and SEEK_SET/CUR/END pass through as -EINVAL). */
off_t ofile_lseek(struct store *s, struct ofile *f, off_t off, int whence);
/* utimensat of rel, serialised with the garbage collection of the open file
 * (which restores the times its punching changed), so that neither undoes
 * the other.  Returns 0 or -errno. */
int ofile_utimens(struct store *s, int dirfd, const char *rel, const struct timespec tv[2]);
/* The same through an open file. */
int ofile_futimens(struct store *s, struct ofile *f, const struct timespec tv[2]);
/* Read and authenticate every block of f (taking the content lock one
 * block at a time); bad(arg, index) is called for each block that fails.
 * Returns the number of bad blocks, or -errno. */
int ofile_verify(struct store *s, struct ofile *f,
		 void (*bad)(void *arg, uint64_t block), void *arg);
/* Remember the path in the mount that f was last opened by, for error
 * reports (may be stale after a rename). */
void ofile_set_path(struct ofile *f, const char *path);

/* Removing the last name of a regular file takes it out of the store
 * totals: ofile_removal_begin notes what it contributes (before unlink or a
 * rename over it), ofile_removal_done subtracts it once the removal
 * succeeded.  Other objects and files with more links are left alone. */
struct ofile_removal {
	int valid;
	int no_xattrs;          /* its size hint says it has no attributes */
	dev_t dev;
	ino_t ino;
	uint8_t algo;
	uint64_t size, stored;
};
/* st: lstat of rel, taken by the caller. */
int ofile_removal_begin(struct store *s, int dirfd, const char *rel,
			const struct stat *st, struct ofile_removal *rm);
void ofile_removal_done(struct store *s, const struct ofile_removal *rm);

struct policy;
/* Apply the policy of the path f is opened by: from now on a write that
 * starts at or past its max_file_size, and a truncate or fallocate past
 * it, fail with -EFBIG, and a write that crosses it is cut short at it
 * (as RLIMIT_FSIZE does); and when writing is set and the user has not chosen
 * f's compression, f's future writes take the policy's compression (a
 * header commit when it changes).  Returns 0 or -errno. */
int ofile_apply_policy(struct store *s, struct ofile *f, const struct policy *p, int writing);

/* Compression of f's future writes (rewrites its header).  user_set marks
 * it as set by the user; 0 reverts to the store default it is given. */
int ofile_set_codec(struct store *s, struct ofile *f, const struct codec_spec *spec,
		    int user_set);
/* The compression of f and whether the user set it. */
void ofile_codec(struct ofile *f, struct codec_spec *spec, int *user_set);
/* Set or clear a FH_FLAG_* of f's header. */
int ofile_set_flag(struct store *s, struct ofile *f, uint16_t flag, int on);
/* Size and header flags of the regular backing file rel from its hint
 * attribute, without opening it: unauthenticated, for stat and listxattr
 * fast paths only.  -ENODATA when there is no (valid) hint.  packed (may
 * be NULL) gets what a packed file stores (pack_ref_stored), else 0. */
int ofile_hint(struct store *s, int dirfd, const char *rel, uint64_t *size,
	       uint16_t *flags, uint64_t *packed);
/* 1 (once) if opening f found its size hint wrong and repaired it: what
 * stat reported before the open was not the authenticated size. */
int ofile_hint_fixed(struct ofile *f);
/* The header of a v2 file binds its xattr blob (fh2.h): the blob's AEAD
 * tag, zeros for none.  ofile_xattr_check: 0 if tag (of the blob as read,
 * zeros when there is no blob) is the bound one, -EIO if not (an older or
 * a removed blob); always 0 for a v1 file.  ofile_xattr_bind: record cur
 * and next (a blob about to be written; zeros when none) in the header;
 * sync makes that durable before the blob changes. */
int ofile_xattr_check(struct store *s, struct ofile *f, const uint8_t *tag);
int ofile_xattr_bind(struct store *s, struct ofile *f, const uint8_t *cur, const uint8_t *next,
		     int sync);
/* Block size of f (fixed at creation). */
uint32_t ofile_block_size(struct ofile *f);
/* The file id (FH_ID_LEN bytes) from the authenticated header. */
void ofile_file_id(struct ofile *f, uint8_t *out);
uint64_t ofile_size(struct ofile *f);
/* The same, first brought up to date with the disk in shared mode, where
 * another daemon may have changed the file (shared.h). */
uint64_t ofile_size_now(struct store *s, struct ofile *f);
/* Bytes written to open files that are not yet in a record (their
 * write-behind blocks); files busy at the moment are skipped. */
uint64_t ofile_dirty_bytes(struct store *s);
/* The backing file's descriptor: one of the store's backend (s->be), for
 * backend_* calls only (see backend.h), never for a system call.  Owned by
 * f. */
int ofile_fd(struct ofile *f);

#endif
