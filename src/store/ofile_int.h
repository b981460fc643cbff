/* ofile_int.h - the insides of struct ofile, shared by ofile.c (lifecycle,
 * header, garbage collection) and fileio.c (the block data path).  Not for
 * use outside src/store. */
#ifndef RAGSTORE_OFILE_INT_H
#define RAGSTORE_OFILE_INT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

#include "fileheader.h"
#include "ofile.h"

#define OFILE_GC_MAX 64

struct gc_range {
	uint64_t start, end; /* block indexes [start, end) */
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
};

/* Write the write-behind block out (record, then header).  Caller holds
 * the content lock exclusive.  Returns 0 or -errno (the block stays
 * dirty, so a later flush can retry). */
int ofile_wb_flush(struct store *s, struct ofile *f);

/* Write nh as the new header (gen+1, into the other slot) and make it
 * current.  Caller holds the content lock exclusive.  Returns 0 or -errno. */
int ofile_commit_header(struct store *s, struct ofile *f, struct file_header *nh);

/* Remember block range [start, end) for garbage collection. */
void ofile_gc_add(struct ofile *f, uint64_t start, uint64_t end);

/* fdatasync, then punch superseded records and cut blocks past the end.
 * Caller holds the content lock exclusive.  Returns 0 or -errno. */
int ofile_gc_run(struct store *s, struct ofile *f);

/* Report the change of the backing file's allocation to the totals.
 * Caller holds the content lock exclusive. */
void ofile_account(struct store *s, struct ofile *f);

static inline uint64_t ofile_nblocks(uint64_t size, uint32_t bs)
{
	return size / bs + (size % bs != 0);
}

#endif
