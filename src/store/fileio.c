/* fileio.c - the block data path: read, write, truncate, fallocate and
 * SEEK_DATA/SEEK_HOLE on an open file.  Every operation touches only the
 * blocks in its range, plus the header when size or holes change. */
#include "ofile_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "blockfmt.h"
#include "fh2rec.h"
#include "log.h"
#include "stats.h"
#include "util.h"

static pthread_key_t bufs_key;
static pthread_once_t bufs_once = PTHREAD_ONCE_INIT;

static void bufs_free(void *p)
{
	struct iobufs *b = p;

	free(b->rec);
	free(b->plain);
	free(b->scratch);
	free(b->span);
	free(b);
}

void bufs_copy_out(char *dst, uint8_t *plain, size_t have, uint32_t o, size_t n)
{
	if (have < o + n)
		memset(plain + have, 0, o + n - have);
	memcpy(dst, plain + o, n);
}

uint8_t *bufs_span(struct iobufs *b, size_t need)
{
	if (b->span_cap < need) {
		free(b->span);
		b->span = malloc(need);
		b->span_cap = b->span ? need : 0;
	}
	return b->span;
}

static void bufs_key_init(void)
{
	pthread_key_create(&bufs_key, bufs_free);
}

struct iobufs *bufs_get(uint32_t bs)
{
	/* A v1 slot or a v2 record, whichever is larger. */
	size_t need = blk_slot_size(bs) > fh2rec_max(bs) ? blk_slot_size(bs) : fh2rec_max(bs);
	struct iobufs *b;

	pthread_once(&bufs_once, bufs_key_init);
	b = pthread_getspecific(bufs_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		pthread_setspecific(bufs_key, b);
	}
	if (b->cap < need) {
		free(b->rec);
		free(b->plain);
		free(b->scratch);
		b->rec = malloc(need);
		b->plain = malloc(need);
		b->scratch = malloc(need);
		b->cap = (b->rec && b->plain && b->scratch) ? need : 0;
		if (!b->cap)
			return NULL;
	}
	return b;
}

int is_zero(const uint8_t *p, size_t len)
{
	if (len < 16) {
		for (size_t i = 0; i < len; i++)
			if (p[i])
				return 0;
		return 1;
	}
	for (int i = 0; i < 16; i++)
		if (p[i])
			return 0;
	return memcmp(p, p + 16, len - 16) == 0;
}

/* Blocks of a hole range that can no longer be listed (the list is full) are
 * written as explicit zero records instead: correct, just not free. */
static int materialize(struct store *s, struct ofile *f, const struct file_header *h,
		       uint64_t start, uint64_t count, struct iobufs *io)
{
	uint32_t bs = h->block_size;

	/* The zeros come from the scratch buffer: io->plain may hold the
	 * block a write is about to store (unset_hole runs in between). */
	memset(io->scratch, 0, bs);
	for (uint64_t b = start; b < start + count; b++) {
		uint64_t left = h->size - b * bs;
		int r = v1blk_store(s, f, h, b, io->scratch,
				    left < bs ? (uint32_t)left : bs, io);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Mark [start, start+count) as holes, or write zeros if the list is full.
 * Blocks that held records (inside the size before this operation) have
 * them released by the next garbage collection; blocks past the old end
 * have none (a truncate already queued any stale ones). */
static int set_holes(struct store *s, struct ofile *f, struct file_header *h,
		     uint64_t start, uint64_t count, struct iobufs *io)
{
	uint64_t had = ofile_nblocks(f->hdr.size, h->block_size);

	if (count == 0)
		return 0;
	if (fh_add_holes(h, start, count) == 0) {
		ofile_gc_add(f, start, start + count < had ? start + count : had);
		return 0;
	}
	return materialize(s, f, h, start, count, io);
}

/* Block b is about to hold data: take it out of the hole list.  If the split
 * would overflow the list, the whole range is written out as zeros first. */
static int unset_hole(struct store *s, struct ofile *f, struct file_header *h,
		      uint64_t b, struct iobufs *io)
{
	int r;

	if (!fh_is_hole(h, b))
		return 0;
	if (fh_remove_holes(h, b, 1) == 0)
		return 0;
	for (uint32_t i = 0; i < h->nholes; i++) {
		struct fh_hole rg = h->holes[i];

		if (rg.start <= b && b < rg.start + rg.count) {
			r = fh_remove_holes(h, rg.start, rg.count);
			if (r == 0)
				r = materialize(s, f, h, rg.start, rg.count, io);
			return r;
		}
	}
	return -EIO;
}

ssize_t ofile_read(struct store *s, struct ofile *f, char *buf, size_t len, off_t off)
{
	struct iobufs *io;
	uint32_t bs;
	uint64_t size, pos = (uint64_t)off, end;
	size_t done = 0;
	ssize_t r = 0;

	if (off < 0)
		return -EINVAL;
	if (f->v2)
		return v2io_read(s, f, buf, len, off);
	ofile_lock(s, f, 0);
	if (f->pk || f->v2) {
		/* Packed (pack.h), or unpacked since f->v2 was looked at. */
		if (!f->pk) {
			ofile_unlock(s, f);
			return v2io_read(s, f, buf, len, off);
		}
		if ((uint64_t)off < f->pk->ref.size) {
			done = f->pk->ref.size - (uint64_t)off < len ? f->pk->ref.size - (uint64_t)off
								      : len;
			memcpy(buf, f->pk->plain + off, done);
		}
		ofile_unlock(s, f);
		return (ssize_t)done;
	}
	bs = f->hdr.block_size;
	size = f->size;
	io = bufs_get(bs);
	if (!io) {
		r = -ENOMEM;
		goto out;
	}
	if (pos >= size)
		goto out;
	end = size - pos < len ? size : pos + len;
	/* The slots of consecutive blocks are interleaved with the spare
	 * slots, which the kernel's readahead does not take for sequential
	 * access: ask for the whole span of this request at once. */
	if (end - pos > bs)
		backend_fadvise(f->be, f->fd, blk_slot_offset(bs, pos / bs, 0),
				blk_slot_offset(bs, (end - 1) / bs + 1, 0) -
					blk_slot_offset(bs, pos / bs, 0),
				POSIX_FADV_WILLNEED);
	while (pos < end) {
		uint64_t b = pos / bs;
		uint32_t o = (uint32_t)(pos % bs);
		size_t n = bs - o < end - pos ? bs - o : (size_t)(end - pos);
		ssize_t have;

		if (f->wb_dirty && b == f->wb_block) {
			have = f->wb_len;
			memcpy(io->plain, f->wb, f->wb_len);
		} else {
			have = v1blk_load(s, f, &f->hdr, b, io->plain, io);
		}
		if (have < 0) {
			r = have;
			break;
		}
		bufs_copy_out(buf + done, io->plain, (size_t)have, o, n);
		done += n;
		pos += n;
	}
out:
	ofile_unlock(s, f);
	/* No short read on error: FUSE takes a short read for the end of the
	 * file and would shrink its cached size.  The kernel retries the pages
	 * it needs one by one, so only the damaged block's range fails. */
	return r < 0 ? r : (ssize_t)done;
}

/* Write one block's part of a write: read-modify-write when the write covers
 * only part of the existing data. */
static int write_block(struct store *s, struct ofile *f, struct file_header *nh,
		       uint64_t b, uint32_t o, const char *src, size_t n,
		       uint64_t old_size, struct iobufs *io)
{
	uint32_t bs = nh->block_size;
	uint64_t bstart = b * bs;
	uint32_t old_len = bstart < old_size ?
		(old_size - bstart < bs ? (uint32_t)(old_size - bstart) : bs) : 0;
	uint32_t new_len = o + n > old_len ? o + (uint32_t)n : old_len;
	ssize_t have = 0;

	if (old_len > 0 && (o > 0 || o + n < old_len)) {
		have = v1blk_load(s, f, nh, b, io->plain, io);
		if (have < 0)
			return (int)have;
	}
	if ((uint32_t)have < new_len)
		memset(io->plain + have, 0, new_len - (size_t)have);
	memcpy(io->plain + o, src, n);
	if (is_zero(io->plain, new_len) && fh_add_holes(nh, b, 1) == 0) {
		if (old_len > 0)
			ofile_gc_add(f, b, b + 1);
		return 0;
	}
	if (unset_hole(s, f, nh, b, io) < 0)
		return -EIO;
	return v1blk_store(s, f, nh, b, io->plain, new_len, io);
}

/* How late a flush may come after the last buffered write and still leave
 * the mtime the backing file got from it (10 ms: below what tools show). */
#define WB_MTIME_SLACK_NS 10000000LL

/* A write that lies within one block, leaves it partial and ends at or
 * past the end of the file, into a block that has no gap before it: it
 * goes to the write-behind buffer.  Returns 1 if taken, 0 if the direct
 * path must serve, or -errno. */
static int wb_write(struct store *s, struct ofile *f, const char *buf, size_t len,
		    uint64_t pos, struct iobufs *io)
{
	uint32_t bs = f->hdr.block_size, o = (uint32_t)(pos % bs);
	uint64_t b = pos / bs, committed = ofile_nblocks(f->hdr.size, bs);

	if (o + len >= bs || pos + len < f->size || b > committed ||
	    (f->wb_dirty && b != f->wb_block))
		return 0;
	if (!f->wb) {
		f->wb = malloc(bs);
		if (!f->wb)
			return 0;
	}
	if (!f->wb_dirty) {
		/* Start from the block's committed content. */
		uint64_t bstart = b * bs;
		uint32_t old_len = bstart < f->hdr.size ?
			(f->hdr.size - bstart < bs ? (uint32_t)(f->hdr.size - bstart) : bs) : 0;
		ssize_t have = 0;

		if (old_len > 0) {
			have = v1blk_load(s, f, &f->hdr, b, io->plain, io);
			if (have < 0)
				return (int)have;
			memcpy(f->wb, io->plain, (size_t)have);
		}
		if ((uint32_t)have < old_len)
			memset(f->wb + have, 0, old_len - (size_t)have);
		f->wb_block = b;
		f->wb_len = old_len;
		f->wb_dirty = 1;
	}
	if (o > f->wb_len)
		memset(f->wb + f->wb_len, 0, o - f->wb_len);
	memcpy(f->wb + o, buf, len);
	if (o + len > f->wb_len)
		f->wb_len = o + (uint32_t)len;
	__atomic_store_n(&f->size, f->wb_block * bs + f->wb_len, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_REALTIME, &f->wb_mtime);
	return 1;
}

int ofile_wb_flush(struct store *s, struct ofile *f)
{
	struct file_header *nh;
	struct iobufs *io;
	uint32_t bs = f->hdr.block_size;
	int r;

	if (f->v2)
		return v2commit_commit(s, f, 0);
	if (!f->wb_dirty)
		return 0;
	io = bufs_get(bs);
	nh = malloc(sizeof(*nh));
	if (!io || !nh) {
		free(nh);
		return -ENOMEM;
	}
	*nh = f->hdr;
	r = write_block(s, f, nh, f->wb_block, 0, (const char *)f->wb, f->wb_len, f->hdr.size,
			io);
	if (r == 0) {
		if (f->wb_block * bs + f->wb_len > nh->size)
			nh->size = f->wb_block * bs + f->wb_len;
		r = ofile_commit_header(s, f, nh);
	}
	free(nh);
	if (r < 0) {
		log_msg(LOG_LVL_ERROR, "%s (inode %lu): writing buffered data failed: %s",
			f->path ? f->path : "?", (unsigned long)f->ino, strerror(-r));
		return r;
	}
	f->wb_dirty = 0;
	ofile_account(s, f);
	/* The data was written when it was buffered, not now.  Within
	 * WB_MTIME_SLACK_NS (what a close right after the last write takes)
	 * the backing file's own mtime is as good, and no call is needed. */
	{
		struct timespec now, tv[2] = { { .tv_nsec = UTIME_OMIT }, f->wb_mtime };

		clock_gettime(CLOCK_REALTIME, &now);
		if ((now.tv_sec - f->wb_mtime.tv_sec) * 1000000000LL +
		    (now.tv_nsec - f->wb_mtime.tv_nsec) > WB_MTIME_SLACK_NS)
			backend_futimens(f->be, f->fd, tv);
	}
	return 0;
}

/* r, or else the first write error recorded for f (then forgotten), as
 * close and fsync report it.  Caller holds the content lock exclusive. */
static int take_error(struct ofile *f, int r)
{
	if (r == 0 && f->err) {
		r = f->err;
		f->err = 0;
	}
	return r;
}

int ofile_changes_pending(struct ofile *f)
{
	int r;

	/* Memory only: no need to see the disk (shared mode). */
	pthread_rwlock_rdlock(&f->lock);
	r = f->pk ? 0 : f->v2 ? v2commit_pending(f) : f->wb_dirty || f->ngc > 0 || f->gc_overflow;
	pthread_rwlock_unlock(&f->lock);
	return r;
}

int ofile_flush(struct store *s, struct ofile *f)
{
	int r;

	ofile_lock(s, f, 1);
	if (f->pk) {
		ofile_unlock(s, f);
		return 0;
	}
	if (f->v2) {
		r = take_error(f, v2commit_commit(s, f, __atomic_load_n(&f->refs, __ATOMIC_RELAXED) == 1));
		ofile_account(s, f);
		ofile_unlock(s, f);
		return r;
	}
	r = ofile_wb_flush(s, f);
	/* The close of the only open handle: release superseded records now,
	 * so that st_blocks is final when close() returns (the release that
	 * follows runs after close has returned).  refs is read without the
	 * table mutex: a stale value only defers this to the release. */
	if (r == 0 && __atomic_load_n(&f->refs, __ATOMIC_RELAXED) == 1)
		r = ofile_gc_run(s, f);
	r = take_error(f, r);
	ofile_unlock(s, f);
	return r;
}

/* 1 if a file of end bytes would be past f's policy's max_file_size. */
static int over_limit(struct ofile *f, uint64_t end)
{
	uint64_t max = __atomic_load_n(&f->max_size, __ATOMIC_RELAXED);

	return max && end > max;
}

ssize_t ofile_write(struct store *s, struct ofile *f, const char *buf, size_t len, off_t off)
{
	struct file_header *nh = NULL;
	struct iobufs *io;
	uint64_t pos = (uint64_t)off, old_size, first, old_nblk;
	uint32_t bs;
	size_t done = 0;
	int r = 0;

	if (off < 0)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (f->pk && (r = ofile_unpack(s, f)) < 0)
		return r;
	/* As with RLIMIT_FSIZE (POSIX write()): what fits below the limit
	 * is written, a write that starts at it fails. */
	if (over_limit(f, (uint64_t)off + 1))
		return -EFBIG;
	if (over_limit(f, (uint64_t)off + len))
		len = (size_t)(__atomic_load_n(&f->max_size, __ATOMIC_RELAXED) - (uint64_t)off);
	if (f->v2)
		return v2io_write(s, f, buf, len, off);
	/* v1 files (stores made before format v2) are read-only in shared
	 * mode: their in-place slots cannot be revalidated (docs/SHARED.md). */
	if (s->shared)
		return -EROFS;
	ofile_lock(s, f, 1);
	bs = f->hdr.block_size;
	io = bufs_get(bs);
	if (!io) {
		r = -ENOMEM;
		goto out;
	}
	r = wb_write(s, f, buf, len, pos, io);
	if (r != 0) {
		ofile_unlock(s, f);
		return r < 0 ? r : (ssize_t)len;
	}
	/* The direct path starts from a current header. */
	r = ofile_wb_flush(s, f);
	nh = r == 0 ? malloc(sizeof(*nh)) : NULL;
	if (!nh) {
		r = r < 0 ? r : -ENOMEM;
		goto out;
	}
	*nh = f->hdr;
	old_size = nh->size;
	old_nblk = ofile_nblocks(old_size, bs);
	first = pos / bs;
	/* Blocks skipped over by a write past the end become holes. */
	if (first > old_nblk) {
		nh->size = first * bs;
		r = set_holes(s, f, nh, old_nblk, first - old_nblk, io);
		nh->size = old_size;
		if (r < 0)
			goto out;
	}
	while (done < len) {
		uint64_t b = pos / bs;
		uint32_t o = (uint32_t)(pos % bs);
		size_t n = bs - o < len - done ? bs - o : len - done;

		r = write_block(s, f, nh, b, o, buf + done, n, old_size, io);
		if (r < 0)
			break;
		done += n;
		pos += n;
	}
	if (pos > nh->size && done > 0)
		nh->size = pos;
	if (nh->size != f->hdr.size || nh->nholes != f->hdr.nholes ||
	    memcmp(nh->holes, f->hdr.holes, nh->nholes * sizeof(nh->holes[0])) != 0) {
		int hr = ofile_commit_header(s, f, nh);

		if (hr < 0) {
			done = 0;
			r = hr;
		}
	}
out:
	ofile_account(s, f);
	ofile_unlock(s, f);
	free(nh);
	return done > 0 ? (ssize_t)done : r;
}

int ofile_truncate(struct store *s, struct ofile *f, uint64_t size)
{
	struct file_header *nh = malloc(sizeof(*nh));
	struct iobufs *io;
	uint32_t bs;
	uint64_t old_nblk, new_nblk;
	int r = 0;

	if (!nh || over_limit(f, size)) {
		free(nh);
		return nh ? -EFBIG : -ENOMEM;
	}
	if (f->pk && (r = ofile_unpack(s, f)) < 0) {
		free(nh);
		return r;
	}
	if (f->v2) {
		free(nh);
		return v2io_truncate(s, f, size);
	}
	if (s->shared) {
		free(nh);
		return -EROFS; /* v1, see ofile_write */
	}
	ofile_lock(s, f, 1);
	r = ofile_wb_flush(s, f);
	if (r < 0)
		goto out;
	*nh = f->hdr;
	bs = nh->block_size;
	io = bufs_get(bs);
	if (!io) {
		r = -ENOMEM;
		goto out;
	}
	if (size == nh->size)
		goto out;
	old_nblk = ofile_nblocks(nh->size, bs);
	new_nblk = ofile_nblocks(size, bs);
	if (size > nh->size) {
		uint64_t old = nh->size;

		nh->size = size;
		r = set_holes(s, f, nh, old_nblk, new_nblk - old_nblk, io);
		if (r < 0)
			nh->size = old;
	} else {
		/* The new last block must not keep bytes past the new end,
		 * or they would reappear when the file grows again. */
		if (size % bs && !fh_is_hole(nh, size / bs)) {
			ssize_t have = v1blk_load(s, f, nh, size / bs, io->plain, io);

			if (have < 0)
				r = (int)have;
			else if ((uint64_t)have > size % bs)
				r = v1blk_store(s, f, nh, size / bs, io->plain,
						(uint32_t)(size % bs), io);
		}
		if (r == 0) {
			nh->size = size;
			ofile_gc_add(f, new_nblk, old_nblk);
		}
	}
	if (r == 0)
		r = ofile_commit_header(s, f, nh);
out:
	ofile_account(s, f);
	ofile_unlock(s, f);
	free(nh);
	return r;
}

int ofile_fsync(struct store *s, struct ofile *f, int datasync)
{
	int r;

	/* A packed file's content is durable in its pack (packer.h). */
	if (__atomic_load_n(&f->pk, __ATOMIC_ACQUIRE) && !f->v2)
		return 0;
	if (f->v2) {
		r = v2commit_fsync(s, f, datasync);
		ofile_lock(s, f, 1);
		r = take_error(f, r);
		ofile_account(s, f);
		ofile_unlock(s, f);
		return r;
	}
	ofile_lock(s, f, 1);
	r = ofile_wb_flush(s, f);
	if (r == 0)
		r = backend_fsync(f->be, f->fd, datasync);
	if (r == 0) {
		f->synced_nblk = ofile_nblocks(f->hdr.size, f->hdr.block_size);
		r = ofile_gc_run(s, f);
	}
	r = take_error(f, r);
	ofile_unlock(s, f);
	return r;
}

/* Zero [off, off+len) inside the file: whole blocks become holes, the
 * partial blocks at either end are rewritten with zeros. */
int ofile_punch(struct store *s, struct ofile *f, uint64_t off, uint64_t len)
{
	uint32_t bs = f->hdr.block_size; /* fixed for the file's life */
	uint64_t size = ofile_size(f);
	uint64_t end = off + len > size ? size : off + len;
	uint64_t first_full = (off + bs - 1) / bs, end_full = end / bs;
	struct file_header *nh;
	struct iobufs *io;
	char *zeros;
	ssize_t w = 0;
	int r;

	uint64_t head_end = first_full * bs < end ? first_full * bs : end;
	uint64_t tail_start = end_full > first_full ? end_full * bs : head_end;

	if (off >= end)
		return 0;
	if (f->pk && (r = ofile_unpack(s, f)) < 0)
		return r;
	if (f->v2)
		return v2io_punch(s, f, off, len);
	zeros = calloc(1, bs);
	if (!zeros)
		return -ENOMEM;
	/* Each zero write below is shorter than one block. */
	if (off < head_end)
		w = ofile_write(s, f, zeros, (size_t)(head_end - off), (off_t)off);
	if (w >= 0 && tail_start < end)
		w = ofile_write(s, f, zeros, (size_t)(end - tail_start), (off_t)tail_start);
	free(zeros);
	if (w < 0)
		return (int)w;
	if (end_full <= first_full)
		return 0;
	nh = malloc(sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	ofile_lock(s, f, 1);
	io = bufs_get(bs);
	r = ofile_wb_flush(s, f);
	*nh = f->hdr;
	if (r == 0)
		r = io ? set_holes(s, f, nh, first_full, end_full - first_full, io) : -ENOMEM;
	if (r == 0)
		r = ofile_commit_header(s, f, nh);
	ofile_account(s, f);
	ofile_unlock(s, f);
	free(nh);
	return r;
}

int ofile_verify(struct store *s, struct ofile *f,
		 void (*bad)(void *arg, uint64_t block), void *arg)
{
	int nbad = 0;

	/* A packed file's record was opened (authenticated) at its open. */
	if (__atomic_load_n(&f->pk, __ATOMIC_ACQUIRE) && !f->v2)
		return 0;
	if (!f->v2) {
		ofile_lock(s, f, 1);
		ofile_wb_flush(s, f);
		ofile_unlock(s, f);
	}
	/* The lock is taken per block, so a scrub never holds up writers for
	 * longer than one block.  k counts blocks (v1) or entries (v2). */
	for (uint64_t k = 0;; k++) {
		uint64_t b = k;
		int r;

		ofile_lock(s, f, 0);
		if (f->v2) {
			r = v2io_verify_one(s, f, k, &b);
		} else if (b >= ofile_nblocks(f->hdr.size, f->hdr.block_size)) {
			r = 1;
		} else {
			struct iobufs *io = bufs_get(f->hdr.block_size);

			r = io ? (int)v1blk_load(s, f, &f->hdr, b, io->plain, io) : -ENOMEM;
			r = r < 0 ? r : 0;
		}
		ofile_unlock(s, f);
		if (r == 1)
			break;
		if (r == -ENOMEM)
			return -ENOMEM;
		if (r < 0) {
			nbad++;
			if (bad)
				bad(arg, b);
		}
	}
	return nbad;
}
