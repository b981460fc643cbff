/* v1blk.c - the two slots of a v1 file's block: peek at their prefixes,
 * load the newest record that opens, store a new record in the other slot,
 * and (for the optimizer) recompress a block in place.  See ofile_int.h. */
#include "ofile_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "blockfmt.h"
#include "log.h"
#include "stats.h"

/* Prefixes of both slots of block b; ok[i] tells which hold a record. */
static int slots_peek(struct ofile *f, uint64_t b, struct blk_prefix p[2], int ok[2])
{
	uint32_t bs = f->hdr.block_size;

	for (int i = 0; i < 2; i++) {
		uint8_t pre[BLK_PREFIX_LEN];
		ssize_t n = backend_pread_full(f->be, f->fd, pre, sizeof(pre),
					       blk_slot_offset(bs, b, i));

		if (n < 0)
			return (int)n;
		if (n < BLK_PREFIX_LEN)
			memset(pre + n, 0, sizeof(pre) - (size_t)n);
		ok[i] = blk_peek(pre, bs, &p[i]) == 0;
	}
	return 0;
}

/* Load block b into out.  Returns the number of bytes the record holds (the
 * rest of the block reads as zeros), 0 for a hole, or -EIO when no slot holds
 * a record that opens: tampered, moved, truncated or punched out. */
ssize_t v1blk_load(struct store *s, struct ofile *f, const struct file_header *h,
			  uint64_t b, uint8_t *out, struct iobufs *io)
{
	uint32_t bs = h->block_size;
	struct blk_prefix p[2];
	int ok[2], r, order[2];

	if (fh_is_hole(h, b))
		return 0;
	r = slots_peek(f, b, p, ok);
	if (r < 0)
		return r;
	/* Newest first; the older record only serves when the newer one is
	 * torn (a crash during its write). */
	order[0] = ok[1] && (!ok[0] || p[1].gen > p[0].gen);
	order[1] = !order[0];
	for (int k = 0; k < 2; k++) {
		int i = order[k];
		size_t len;
		ssize_t n;

		if (!ok[i])
			continue;
		len = BLK_PREFIX_LEN + p[i].stored_len;
		n = backend_pread_full(f->be, f->fd, io->rec, len, blk_slot_offset(bs, b, i));
		if (n < 0) {
			stats_error(s->stats, 0, f->path, (int64_t)b, strerror((int)-n));
			return n;
		}
		n = blk_open(s->key, h->file_id, b, io->rec, (size_t)n, bs, out, io->scratch);
		if (n >= 0) {
			if (k == 1)
				log_msg(LOG_LVL_WARN,
					"inode %lu block %llu: newest record unreadable, using the previous one",
					(unsigned long)f->ino, (unsigned long long)b);
			return n;
		}
	}
	{
		const char *cause = ok[0] || ok[1] ? "record does not authenticate"
						   : "record missing";

		log_msg(LOG_LVL_ERROR, "%s (inode %lu) block %llu: integrity check failed (%s)",
			f->path ? f->path : "?", (unsigned long)f->ino,
			(unsigned long long)b, cause);
		stats_error(s->stats, 1, f->path, (int64_t)b, cause);
	}
	return -EIO;
}

/* Write plain[0..len) as the new record of block b, into the slot that does
 * not hold the newest record, with the next generation. */
int v1blk_store(struct store *s, struct ofile *f, const struct file_header *h,
		       uint64_t b, const uint8_t *plain, uint32_t len, struct iobufs *io)
{
	uint32_t bs = h->block_size;
	struct blk_prefix p[2];
	int ok[2] = { 0, 0 }, target;
	uint64_t g0, g1;
	ssize_t n;
	int r = 0;

	/* Slots past the end of the backing file hold nothing (the common
	 * case of a file being written for the first time): no need to read
	 * their prefixes. */
	if ((uint64_t)blk_slot_offset(bs, b, 0) < f->bsize)
		r = slots_peek(f, b, p, ok);
	if (r < 0)
		return r;
	g0 = ok[0] ? p[0].gen : 0;
	g1 = ok[1] ? p[1].gen : 0;
	target = g0 > g1;
	if ((g0 > g1 ? g0 : g1) == UINT64_MAX)
		return -EIO;
	n = blk_seal(s->key, h->file_id, b, (g0 > g1 ? g0 : g1) + 1, &h->codec, plain,
		     len, bs, io->rec);
	if (n < 0)
		return (int)n;
	r = backend_pwrite_full(f->be, f->fd, io->rec, (size_t)n,
				blk_slot_offset(bs, b, target));
	if (r < 0) {
		/* A part may have landed: look before every write from now. */
		f->bsize = UINT64_MAX;
		stats_error(s->stats, 0, f->path, (int64_t)b, strerror(-r));
		return r;
	}
	if ((uint64_t)blk_slot_offset(bs, b, target) + (uint64_t)n > f->bsize)
		f->bsize = (uint64_t)blk_slot_offset(bs, b, target) + (uint64_t)n;
	if (ok[1 - target] || g0 || g1)
		ofile_gc_add(f, b, b + 1);
	return 0;
}


int v1blk_algo(struct ofile *f, uint64_t b)
{
	struct blk_prefix p[2];
	int ok[2], r;

	pthread_rwlock_rdlock(&f->lock);
	if (fh_is_hole(&f->hdr, b) || b >= ofile_nblocks(f->hdr.size, f->hdr.block_size))
		r = -ENOENT;
	else
		r = slots_peek(f, b, p, ok);
	pthread_rwlock_unlock(&f->lock);
	if (r < 0)
		return r;
	if (!ok[0] && !ok[1])
		return -ENOENT;
	return ok[1] && (!ok[0] || p[1].gen > p[0].gen) ? p[1].algo : p[0].algo;
}

int v1blk_recompress(struct store *s, struct ofile *f, uint64_t b)
{
	struct iobufs *io;
	struct stat st;
	ssize_t have = 0;
	int r;

	if (s->shared)
		return -EROFS; /* v1 files are read-only in shared mode (fileio.c) */
	pthread_rwlock_wrlock(&f->lock);
	io = bufs_get(f->hdr.block_size);
	if (!io)
		have = -ENOMEM;
	else if (!(f->wb_dirty && f->wb_block == b))
		have = v1blk_load(s, f, &f->hdr, b, io->plain, io);
	r = have <= 0 ? (int)have : backend_fstat(f->be, f->fd, &st);
	if (have > 0 && r == 0) {
		/* Not a change of content: the file's mtime (the backing
		 * file's) stays. */
		struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT }, st.st_mtim };

		r = v1blk_store(s, f, &f->hdr, b, io->plain, (uint32_t)have, io);
		backend_futimens(f->be, f->fd, tv);
		ofile_account(s, f);
	}
	pthread_rwlock_unlock(&f->lock);
	return r < 0 ? r : have > 0;
}
