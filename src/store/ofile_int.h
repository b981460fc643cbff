/* ofile_int.h - the insides of struct ofile, shared by ofile.c (lifecycle,
 * header, garbage collection) and fileio.c (the block data path).  Not for
 * use outside src/store. */
#ifndef RAGSTORE_OFILE_INT_H
#define RAGSTORE_OFILE_INT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

#include "fh2.h"
#include "fileheader.h"
#include "ofile.h"
#include "pack.h"

/* The size hint attribute of a regular backing file (ofile_hint.c). */
#define HINT_XATTR "user.ragstore.h"

#define OFILE_GC_MAX 64

struct gc_range {
	uint64_t start, end; /* block indexes [start, end) */
};

/* A run of backing-file bytes [off, off+len). */
struct v2ext {
	uint64_t off, len;
};

struct v2list {
	struct v2ext *v;
	uint32_t n, cap;
};

/* State of a v2 (packed) file: see v2commit.c for the write rules.  hdr (in
 * struct ofile) is the in-memory header: its size includes everything
 * written, and only commits put it on disk. */
/* The write-behind block of a v2 file taken from a chunked record
 * (fh2rec.h): only the chunks a write touches are opened, and only the
 * changed ones sealed again (v2chunk.c).  Meaningful while wb_dirty. */
#define V2_CHUNK_WORDS 4 /* bitmap words: 256 chunks, a 1 MiB block */
struct v2lazy {
	int on;                 /* wb came from the chunked record base */
	struct fh2_ent base;
	uint8_t *old;           /* that record as read, tag table checked */
	size_t cap;
	uint64_t have[V2_CHUNK_WORDS]; /* chunks whose content wb holds */
	uint64_t mod[V2_CHUNK_WORDS];  /* chunks changed since taken */
};

struct v2state {
	struct fh2_ent *ents;   /* sorted by block; state: V2_* bits */
	uint32_t n, cap;
	uint64_t data_end;      /* the backing file's used length */
	struct v2list free;     /* unreferenced by any header that can win */
	struct v2list pending;  /* superseded, free after the next sync point */
	int disk_slot;          /* slot of the newest header on disk */
	int durable_slot;       /* slot holding the durable header, -1 when the
				   file has no durable content (created here) */
	int other_valid;        /* the slot that is not disk_slot holds an
				   older header that verifies */
	int dirty;              /* memory differs from the header on disk */
	struct fh2_extra disk;  /* the extra fields of the header on disk */
	uint8_t ix_state;       /* V2_* bits of the index blob on disk */
	int ix_dirty;           /* entries changed since the index blob */
	uint8_t xmac[CRYPTO_TAG_LEN];  /* xattr binding (fh2_extra) in memory */
	uint8_t xnext[CRYPTO_TAG_LEN];
	uint8_t disk_algo;      /* fh2_acct_algo of the header on disk: the
				   row of the per-algorithm totals the file
				   counts in */
	uint64_t blen;          /* the backing file's length, at least */
	int mtime_keep;         /* wb_mtime was set by the user (utimens) */
	uint64_t durable_gen;   /* generation of the header in durable_slot */
	uint64_t durable_size;  /* its size: blocks below it had durable content */
	uint64_t hint_gen;      /* generation the size hint names */
	uint32_t bs;            /* block size (hdr.block_size) */
	struct v2lazy lz;
	int wb_rmw;             /* the write-behind block had content when
				   taken: its new plaintext goes to the cache */
};

/* A packed file (pack.h), open for reading: its content, opened from its
 * directory's pack at open.  The backing file is empty; hdr is made from
 * the hint (size, block size, compression, flags, generation). */
struct ofile_pk {
	struct pack_ref ref;
	uint8_t *plain;         /* ref.size bytes (NULL when 0) */
	struct timespec times[2]; /* packer: the backing file's atime and
				     mtime before it read the file */
};

struct ofile {
	/* Identity and lifetime: guarded by the table mutex. */
	dev_t dev;
	ino_t ino;
	unsigned refs;          /* opens, plus a releaser collecting garbage */
	struct ofile *next;     /* hash chain */

	struct backend *be;     /* the store's backend, which fd belongs to */
	int fd;                 /* backing file, O_RDWR (O_RDONLY if refused) */
	pthread_rwlock_t lock;  /* content lock: everything below */
	struct file_header hdr; /* current, authenticated header */
	int hdr_slot;           /* slot holding hdr on disk */
	uint64_t size;          /* the size stat shows: hdr.size, or more
				   while the write-behind block is dirty;
				   atomic loads without the lock */
	uint64_t csize;         /* hdr.size (what the store totals count),
				   the same way */
	int err;                /* first failed write, reported at fsync/release */
	int counted;            /* in the store totals (0 once its last name
				   was removed while it stayed open) */
	uint64_t stored;        /* backing allocation last reported to stats */
	char *path;             /* a path in the mount, for error reports */
	int hint_fixed;         /* the size hint was wrong at open (atomic) */
	uint64_t max_size;      /* its policy's max_file_size, 0: none (atomic) */
	/* Blocks whose records may have a superseded twin, or which lie past
	 * the end after a truncate; collected after fdatasync. */
	struct gc_range gc[OFILE_GC_MAX];
	unsigned ngc;
	int gc_overflow;        /* too many ranges: scan [0, gc_all_end) */
	uint64_t gc_all_end;
	/* Blocks from here on had no record at the last point where the file
	 * was durable (open, fsync): superseding their records needs no
	 * fdatasync first, since no durable content is at stake. */
	uint64_t synced_nblk;
	/* Never below the backing file's length: a block whose slots start
	 * at or past it has no record to look at before writing one. */
	uint64_t bsize;
	/* Write-behind of the file's last block: sequential small writes (an
	 * untar, a log) gather here instead of each rewriting the block.
	 * While wb_dirty, the header on disk describes the file without
	 * this block's new content (a consistent older state), size is the
	 * size including it, and wb holds wb_len bytes of block wb_block,
	 * which is the last block.  Written out by ofile_wb_flush at flush
	 * (close), fsync, release, and before anything else that needs the
	 * header current.  Guarded by the content lock. */
	uint8_t *wb;
	uint64_t wb_block;
	uint32_t wb_len;
	int wb_dirty;
	struct timespec wb_mtime; /* time of the last buffered write: the
				     file's mtime once the block is out */
	struct v2state *v2;       /* NULL for a v1 file */
	int shlocked;             /* shared mode: this daemon holds the backing
				     file's content lock (shared.h) */
	struct ofile_pk *pk;      /* a packed file (v2 NULL): only reads,
				     until ofile_unpack (content lock) */
	int shstale;              /* shared mode: the state could not be
				     brought up to date under that lock, so
				     nothing may be committed from it (both
				     guarded by the content lock) */
};

/* Take f's content lock, shared for reading (excl 0) or exclusive, and
 * drop it.  In shared mode (s->shared) the lock is always exclusive within
 * the daemon and is joined by the backing file's lock across daemons and a
 * revalidation of f's state (shared_enter); ofile_unlock then commits what
 * the holder changed before the backing file's lock goes.  Without shared
 * mode these are the rwlock calls and nothing more.  ofile_lock returns 0
 * or -errno; the lock is held either way, so the caller unlocks as usual
 * and fails its operation with the error. */
int ofile_lock(struct store *s, struct ofile *f, int excl);
void ofile_unlock(struct store *s, struct ofile *f);

/* Write the write-behind block out (record, then header).  Caller holds
 * the content lock exclusive.  Returns 0 or -errno (the block stays
 * dirty, so a later flush can retry). */
int ofile_wb_flush(struct store *s, struct ofile *f);

/* Write nh as the new header (gen+1, into the other slot) and make it
 * current.  Caller holds the content lock exclusive.  Returns 0 or -errno. */
int ofile_commit_header(struct store *s, struct ofile *f, struct file_header *nh);

/* fallocate(PUNCH_HOLE | KEEP_SIZE) of [off, off+len) (fileio.c): whole
 * blocks become holes, partial ones are rewritten with zeros.  Takes the
 * content lock.  Returns 0 or -errno. */
int ofile_punch(struct store *s, struct ofile *f, uint64_t off, uint64_t len);
/* ofile.c, for ofile_create.c: a new entry for fd (owning it; NULL on
 * allocation failure), its release, and its insertion into the table
 * (which returns the entry another thread inserted first for the same
 * inode, f then freed). */
struct ofile *ofile_new(struct backend *be, int fd, const struct stat *st);
void ofile_free(struct ofile *f);
struct ofile *ofile_table_insert(struct store *s, struct ofile *f);

/* Remember block range [start, end) for garbage collection. */
void ofile_gc_add(struct ofile *f, uint64_t start, uint64_t end);

/* fdatasync, then punch superseded records and cut blocks past the end.
 * Caller holds the content lock exclusive.  Returns 0 or -errno. */
int ofile_gc_run(struct store *s, struct ofile *f);

/* Report the change of the backing file's allocation to the totals.
 * Caller holds the content lock exclusive. */
void ofile_account(struct store *s, struct ofile *f);

/* ofile_pack.c: packed files (pack.h, docs/FORMAT.md "Packed small
 * files").
 * ofile_pack_hint: 1 and *r when f's hint is the packed form, 0 when not.
 * ofile_pack_load: f (just opened, not in the table) becomes a packed
 * file read from the pack of rel's directory in dirfd: 0, or -EIO when the
 * record does not open (logged and counted, with path).
 * ofile_unpack (ofile.h): a packed f gets its v2 content back in its own
 * backing file (header and record, fdatasynced, then the hint in the
 * ordinary form), so that it can be written; takes the content lock.
 * ofile_pack_free: drop f->pk. */
int ofile_pack_hint(struct ofile *f, struct pack_ref *r);
int ofile_pack_load(struct store *s, struct ofile *f, int dirfd, const char *rel,
		    const struct pack_ref *r, const char *path);
void ofile_pack_free(struct ofile *f);
/* The packer's two steps for f (content lock held exclusive, v2, only the
 * packer's reference).  ofile_pack_out: if f can be packed, its record
 * sealed for offset off of the pack packfd (directory value iv) written
 * there: the record's length (0 for a file without one), and *pk the
 * packed state (with the hint that will name it); *pk NULL when f cannot
 * be packed; -errno.  ofile_pack_switch, after the pack is
 * durable: the packed hint set, the backing file emptied (mtime kept) and
 * f turned into a packed file in memory (pk, from ofile_pack_out, is
 * taken over either way).  0 or -errno. */
ssize_t ofile_pack_out(struct store *s, struct ofile *f, int packfd, const uint8_t *iv,
		       uint64_t off, struct ofile_pk **pk);
int ofile_pack_switch(struct store *s, struct ofile *f, struct ofile_pk *pk);
/* ofile_pack_switch if the caller holds the only reference (else -EBUSY,
 * pk freed), decided and done under the table mutex. */
int ofile_pack_switch_alone(struct store *s, struct ofile *f, struct ofile_pk *pk);
/* Take (on 1) or drop the packing lock exclusive: no open is between
 * reading a file's hint and having its entry in the table meanwhile. */
void ofile_packing_excl(struct store *s, int on);
/* The pack (.diriv) of the directory of rel in dirfd, opened with flags
 * and its directory value checked (into iv): a descriptor or -errno. */
int ofile_pack_dir_open(struct store *s, int dirfd, const char *rel, int flags, uint8_t *iv);
/* ofile.c: read f's header from its backing file (both slots; v2 state
 * for a v2 file) into *h and *slot.  0 or -errno. */
int ofile_header_load(struct store *s, struct ofile *f, struct file_header *h, int *slot);

/* ofile_hint.c.  Rewrite the size hint attribute from f->hdr. */
void ofile_hint_update(struct ofile *f);
void ofile_hint_write(struct ofile *f, const struct file_header *h);
/* At open: 0, -ESTALE (a v2 header older than the generation its hint
 * names: rolled back) or -EIO (a hint below the size: tampered); anything
 * else wrong with the hint is repaired. */
int ofile_hint_check(struct ofile *f);
/* The generation the size hint of v2 file f names (0: none, or a shorter
 * form). */
uint64_t ofile_hint_gen(struct ofile *f);
/* The hint of name in dirfd; *algo is -1 for the shorter form. */
int ofile_hint_get(struct store *s, int dirfd, const char *name, uint64_t *size,
		   uint16_t *flags, int *algo, uint64_t *packed);

/* v2 files (v2open.c, v2io.c, v2commit.c).  The functions that take no lock
 * expect the content lock held exclusive. */
int v2open_load(struct store *s, struct ofile *f, const uint8_t *area, uint64_t blen);
/* A new file's header: block_size 0 is the store's. */
int v2open_header_new(struct store *s, const struct codec_spec *codec, uint32_t block_size,
		      struct file_header *h, uint8_t *area);
int v2open_attach_new(struct ofile *f);
void v2open_free(struct ofile *f);
/* Size and accounting algorithm (fh2_peek_acct_algo) from the newer v2
 * slot of area, unverified; 0, or -EBADMSG when neither parses. */
int v2open_peek(const uint8_t *area, uint64_t *size, uint8_t *algo);
ssize_t v2io_read(struct store *s, struct ofile *f, char *buf, size_t len, off_t off);
ssize_t v2io_write(struct store *s, struct ofile *f, const char *buf, size_t len, off_t off);
int v2io_truncate(struct store *s, struct ofile *f, uint64_t size);
int v2io_punch(struct store *s, struct ofile *f, uint64_t off, uint64_t len);
off_t v2io_lseek(struct store *s, struct ofile *f, off_t off, int whence);
/* Commit what changed; last: the last close, which also ends with a sync
 * point when an older header is still on disk.  Lock held. */
int v2commit_commit(struct store *s, struct ofile *f, int last);
int v2commit_fsync(struct store *s, struct ofile *f, int datasync);
/* 1 if a commit or the last close would still write (lock held shared). */
int v2commit_pending(struct ofile *f);
/* Set the backing file's times (lock held): commits first, and keeps the
 * mtime across the writes of later commits. */
int v2commit_futimens(struct store *s, struct ofile *f, const struct timespec tv[2]);
/* The optimizer (optimize.c), taking the content lock: v2io_recompress
 * seals block b's record anew with the file's current compression, from
 * its plaintext (not the write-behind block, which is sealed with it
 * anyway): 1 done, 0 no record, -errno.  v2commit_compact makes what was
 * written durable (a sync point) and compacts the file as a last close
 * would.  The file's mtime stays. */
int v2io_recompress(struct store *s, struct ofile *f, uint64_t b);
int v2commit_compact(struct store *s, struct ofile *f);
/* Check entry k of f (read lock held): 0, -errno (-EIO: it does not
 * authenticate) with *block set, or 1 when there is no entry k. */
int v2io_verify_one(struct store *s, struct ofile *f, uint64_t k, uint64_t *block);
/* Set the xattr binding (lock held) and commit; sync: as a sync point. */
int v2commit_xattr_bind(struct store *s, struct ofile *f, const uint8_t *cur, const uint8_t *next,
		    int sync);
/* 0 if tag is the bound blob's (or the one being written), else -EIO. */
int v2commit_xattr_check(struct ofile *f, const uint8_t *tag);
/* fsck's repair: remove the entries of blocks[0..n) (their records do not
 * authenticate), so that they read as holes, and commit with a sync point
 * (the older header slot is zeroed).  Takes the content lock.  0 or -errno;
 * -EINVAL for a v1 file. */
int v2commit_drop_blocks(struct store *s, struct ofile *f, const uint64_t *blocks, size_t n);

/* Per-thread work buffers of the data path (fileio.c), sized for the
 * largest block seen so far: a record, a plain block and a decryption
 * scratch area, each at least blk_slot_size(bs) bytes.  NULL when out of
 * memory. */
struct iobufs {
	size_t cap;
	uint8_t *rec, *plain, *scratch;
	uint8_t *span;          /* records of a read or write span (v2io.c) */
	size_t span_cap;
};
struct iobufs *bufs_get(uint32_t bs);
/* Bytes [o, o+n) of a block whose first have bytes are in plain (the rest
 * reads as zeros, written into plain) to dst. */
void bufs_copy_out(char *dst, uint8_t *plain, size_t have, uint32_t o, size_t n);
/* b's span buffer grown to need bytes; NULL when out of memory. */
uint8_t *bufs_span(struct iobufs *b, size_t need);
/* 1 if p[0..len) is all zero bytes. */
int is_zero(const uint8_t *p, size_t len);

/* v1blk.c: the two slots of a block of a v1 file (h is the header the
 * operation works against).  The caller holds the content lock (exclusive
 * for a store), except for v1blk_algo and v1blk_recompress, which take it.
 * v1blk_load: block b into out; the number of bytes its record holds (the
 * rest reads as zeros), 0 for a hole, -EIO when no slot holds a record
 * that opens (counted and logged), or -errno.
 * v1blk_store: plain[0..len) as b's new record in the slot that does not
 * hold the newest one (the other is released by the next GC); 0 or
 * -errno. */
ssize_t v1blk_load(struct store *s, struct ofile *f, const struct file_header *h,
		   uint64_t b, uint8_t *out, struct iobufs *io);
int v1blk_store(struct store *s, struct ofile *f, const struct file_header *h,
		uint64_t b, const uint8_t *plain, uint32_t len, struct iobufs *io);
/* The algorithm (CODEC_*) of block b's newest record, from its prefix,
 * unverified; -ENOENT for a hole or a block without a record, or -errno. */
int v1blk_algo(struct ofile *f, uint64_t b);
/* Seal block b again with the file's setting (f->hdr.codec), content and
 * mtime unchanged (the optimizer).  1 if rewritten, 0 for a hole or the
 * write-behind block, or -errno (-EIO when it does not open). */
int v1blk_recompress(struct store *s, struct ofile *f, uint64_t b);

static inline uint64_t ofile_nblocks(uint64_t size, uint32_t bs)
{
	return size / bs + (size % bs != 0);
}

/* The row of the per-algorithm totals f counts in: for a v2 file the
 * algorithm most of its stored bytes use (as its header on disk records),
 * for a v1 file its compression setting (its records are not looked at). */
static inline uint8_t ofile_acct_algo(const struct ofile *f)
{
	return f->v2 ? f->v2->disk_algo : f->pk ? f->pk->ref.main_algo : f->hdr.codec.algo;
}

#endif
