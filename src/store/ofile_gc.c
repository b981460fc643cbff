/* ofile_gc.c - garbage collection of a v1 file's superseded block records:
 * after fdatasync, the slot that no longer holds the newest record is
 * punched out, and so is everything past the end after a truncate. */
#include "ofile_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "blockfmt.h"
#include "log.h"
#include "stats.h"

void ofile_gc_add(struct ofile *f, uint64_t start, uint64_t end)
{
	if (start >= end)
		return;
	if (f->ngc > 0 && f->gc[f->ngc - 1].end >= start &&
	    f->gc[f->ngc - 1].start <= end) {
		struct gc_range *g = &f->gc[f->ngc - 1];

		if (start < g->start)
			g->start = start;
		if (end > g->end)
			g->end = end;
		return;
	}
	if (f->ngc == OFILE_GC_MAX) {
		f->gc_overflow = 1;
		for (unsigned i = 0; i < f->ngc; i++)
			if (f->gc[i].end > f->gc_all_end)
				f->gc_all_end = f->gc[i].end;
		if (end > f->gc_all_end)
			f->gc_all_end = end;
		return;
	}
	f->gc[f->ngc].start = start;
	f->gc[f->ngc].end = end;
	f->ngc++;
}

static int punch(struct backend *be, int fd, off_t off, off_t len)
{
	int r;

	if (len <= 0)
		return 0;
	r = backend_fallocate(be, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	return r == -EOPNOTSUPP ? 0 : r;
}

/* Keep only the newest record of one block inside the file and release the
 * rest of its two slots. */
static int gc_block(struct ofile *f, uint64_t b)
{
	uint32_t bs = f->hdr.block_size;
	size_t slot = blk_slot_size(bs);
	uint8_t pre[2][BLK_PREFIX_LEN];
	struct blk_prefix p[2];
	int ok[2], keep, r;
	off_t used;

	if (fh_is_hole(&f->hdr, b))
		return punch(f->be, f->fd, blk_slot_offset(bs, b, 0), 2 * (off_t)slot);
	for (int i = 0; i < 2; i++) {
		ssize_t n = backend_pread_full(f->be, f->fd, pre[i], BLK_PREFIX_LEN,
					       blk_slot_offset(bs, b, i));

		if (n < 0)
			return (int)n;
		if (n < BLK_PREFIX_LEN)
			memset(pre[i] + n, 0, BLK_PREFIX_LEN - (size_t)n);
		ok[i] = blk_peek(pre[i], bs, &p[i]) == 0;
	}
	if (!ok[0] && !ok[1])
		return 0; /* nothing we wrote; leave it for fsck to see */
	keep = !ok[0] || (ok[1] && p[1].gen > p[0].gen);
	used = ((off_t)BLK_PREFIX_LEN + p[keep].stored_len + 4095) & ~(off_t)4095;
	r = punch(f->be, f->fd, blk_slot_offset(bs, b, 1 - keep), (off_t)slot);
	if (r < 0)
		return r;
	return punch(f->be, f->fd, blk_slot_offset(bs, b, keep) + used, (off_t)slot - used);
}

int ofile_gc_run(struct store *s, struct ofile *f)
{
	uint32_t bs = f->hdr.block_size;
	uint64_t nblk;
	off_t keep_len;
	struct timespec times[2];
	struct stat st;
	int r;

	if (f->v2)
		return 0; /* nothing to collect: v2 reuses space itself */
	r = ofile_wb_flush(s, f);
	if (r < 0)
		return r;
	nblk = ofile_nblocks(f->hdr.size, bs);
	keep_len = blk_slot_offset(bs, nblk, 0);
	if (f->ngc == 0 && !f->gc_overflow)
		return 0;
	r = backend_fstat(f->be, f->fd, &st);
	if (r < 0)
		return r;
	/* The superseded records are the only copy of the old data until the
	 * new records and header are on disk, unless all of them were written
	 * after the file was last durable (a file being written in pieces). */
	{
		int need_sync = f->gc_overflow;

		for (unsigned i = 0; i < f->ngc && !need_sync; i++)
			need_sync = f->gc[i].start < f->synced_nblk;
		if (need_sync) {
			r = backend_fsync(f->be, f->fd, 1);
			if (r < 0)
				return r;
			f->synced_nblk = nblk;
		}
	}
	if (f->gc_overflow) {
		f->gc[0].start = 0;
		f->gc[0].end = f->gc_all_end;
		f->ngc = 1;
	}
	for (unsigned i = 0; i < f->ngc && r == 0; i++)
		for (uint64_t b = f->gc[i].start; b < f->gc[i].end && b < nblk && r == 0; b++)
			r = gc_block(f, b);
	if (r == 0 && st.st_size > keep_len) {
		r = backend_ftruncate(f->be, f->fd, keep_len);
		if (r == 0)
			f->bsize = (uint64_t)keep_len;
	}
	ofile_account(s, f);
	/* Collecting garbage is not a modification the user made. */
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	backend_futimens(f->be, f->fd, times);
	f->ngc = 0;
	f->gc_overflow = 0;
	f->gc_all_end = 0;
	if (r < 0)
		log_msg(LOG_LVL_WARN, "inode %lu: releasing old records failed: %s",
			(unsigned long)f->ino, strerror(-r));
	return r;
}
