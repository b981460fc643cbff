/* v2commit.c - commits and sync points of v2 (packed) files: the header
 * written from the in-memory state, fsync, compaction at the last close,
 * the xattr binding, and fsck's block removal.
 *
 * Memory is the truth while a file is open: writes seal records into the
 * data area and update the in-memory index; the header (size, index) goes
 * to disk only at a commit: close (flush), fsync, release, or a metadata
 * change.  Rules that keep every block old-or-new after a crash and leave
 * no older authenticated copy behind (docs/FORMAT.md, "v2 write rules"):
 *
 *  R1  A header that is not yet durable may name records that are not
 *      either: after a crash both slots authenticate, and the newer header
 *      wins only if every record (and the index blob) it names that the
 *      older one does not authenticates (v2pick.c); else the older one,
 *      the durable header, is what the file opens with.  So no fdatasync
 *      comes between records and the header that names them.
 *  R2  Space a header that can still win after a crash refers to is never
 *      overwritten: superseded extents wait in `pending' until the next
 *      sync point, and only `free' extents are reused.
 *  R3  The slot of the durable header is never overwritten before another
 *      header is durable; after a sync point the other slot is zeroed, so
 *      at rest exactly one authenticated header exists.
 *
 * A file created by this mount has no durable content until its first
 * sync point (durable_slot -1): its header is rewritten in place and
 * superseded space is reused at once, as a crash may lose such a file's
 * unsynced data anyway (as on ext4).  A sync point (fsync, step 1 of an
 * xattr change, the last close of a file that had durable content, fsck's
 * block repair) is: fdatasync, the slot becomes durable, the size hint
 * names its generation, the other slot is zeroed, pending extents become
 * free. */
#include "ofile_int.h"
#include "v2_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "pool.h"
#include "stats.h"
#include "util.h"

/* How late a commit may come after the last write and still leave the
 * mtime the backing file got from that write (10 ms: below what tools
 * show). */
#define MTIME_SLACK_NS 10000000LL

static int tag_zero(const uint8_t *t)
{
	for (int i = 0; i < CRYPTO_TAG_LEN; i++)
		if (t[i])
			return 0;
	return 1;
}

/* Write the index blob for the current entries (files of more than
 * FH2_INLINE_ENTS blocks) into fresh space; x gets its place. */
static int index_write(struct store *s, struct ofile *f, struct fh2_extra *x)
{
	struct v2state *v = f->v2;
	uint64_t len = fh2_ix_len(v->n);
	uint8_t *blob = malloc(len + CRYPTO_TAG_LEN);
	int r;

	if (!blob)
		return -ENOMEM;
	r = fh2_ix_seal(s->key, f->hdr.file_id, v->ents, v->n, blob, x->ix_tag);
	if (r == 0)
		r = v2map_alloc(v, len, &x->ix_off);
	if (r == 0) {
		r = backend_pwrite_full(f->be, f->fd, blob, len, (off_t)x->ix_off);
		if (r < 0)
			v2map_list_add(&v->free, x->ix_off, len);
	}
	free(blob);
	x->ix_len = (uint32_t)len;
	return r;
}

/* The totals follow the header just written: its size, and the row of
 * the algorithm its records are mostly stored with (fh2_acct_algo), which
 * the file moves to whole when that changes. */
static void account_size(struct store *s, struct ofile *f, uint8_t old_algo, uint8_t new_algo)
{
	uint64_t old = f->csize;

	if (!f->counted)
		return;
	if (old_algo != new_algo) {
		stats_file_delta(s->stats, old_algo, -1, -(int64_t)old, -(int64_t)f->stored);
		stats_file_delta(s->stats, new_algo, 1, (int64_t)f->hdr.size, (int64_t)f->stored);
	} else {
		stats_file_delta(s->stats, new_algo, 0, (int64_t)f->hdr.size - (int64_t)old, 0);
	}
}

/* Write the in-memory header (gen + 1) to disk. */
static int header_write(struct store *s, struct ofile *f)
{
	struct v2state *v = f->v2;
	struct fh2_extra x = v->disk;
	uint8_t slot[FH2_SLOT];
	int target, r = 0, new_ix = 0;
	uint64_t gen = f->hdr.gen + 1;
	struct file_header h;

	if (v->n > FH2_INLINE_ENTS && (v->ix_dirty || v->disk.nents <= FH2_INLINE_ENTS)) {
		r = index_write(s, f, &x);
		if (r < 0)
			return r;
		new_ix = 1;
	} else if (v->n <= FH2_INLINE_ENTS) {
		x.ix_off = 0;
		x.ix_len = 0;
		memset(x.ix_tag, 0, sizeof(x.ix_tag));
	}
	/* The index blob the header on disk names is superseded. */
	if (v->disk.nents > FH2_INLINE_ENTS && (new_ix || v->n <= FH2_INLINE_ENTS)) {
		v2map_release(v, v->disk.ix_off, v->disk.ix_len, v->ix_state);
		v->ix_state = 0;
		v->disk.nents = 0;
	}
	if (v->durable_slot < 0)
		v2map_trim_tail(v);
	x.nents = v->n;
	x.data_end = v->data_end;
	memcpy(x.xattr_mac, v->xmac, CRYPTO_TAG_LEN);
	memcpy(x.xattr_next, v->xnext, CRYPTO_TAG_LEN);
	fh2_usage_of(v->ents, v->n, &x);
	h = f->hdr;
	h.gen = gen;
	h.nholes = 0;
	r = fh2_seal(s->key, &h, &x, v->ents, slot);
	if (r < 0)
		goto fail;
	target = v->durable_slot < 0 ? v->disk_slot : 1 - v->durable_slot;
	r = backend_pwrite_full(f->be, f->fd, slot, sizeof(slot), (off_t)target * FH2_SLOT);
	if (r < 0)
		goto fail;
	if (target != v->disk_slot)
		v->other_valid = 1;
	v->disk_slot = target;
	f->hdr.gen = gen;
	/* The hint keeps naming a durable generation (raised at sync
	 * points only): a header not yet durable may be lost in a crash. */
	v->disk = x;
	v->ix_dirty = 0;
	v2map_mark_all(v, V2_COMMITTED);
	v->dirty = 0;
	account_size(s, f, v->disk_algo, fh2_acct_algo(&h, &x));
	__atomic_store_n(&f->csize, h.size, __ATOMIC_RELAXED);
	v->disk_algo = fh2_acct_algo(&h, &x);
	/* After the header (ofile_hint.c): its size, flags and algorithm
	 * follow the header; its generation stays the durable one. */
	ofile_hint_update(f);
	if (v->durable_slot < 0 && v->blen > v->data_end &&
	    backend_ftruncate(f->be, f->fd, (off_t)v->data_end) == 0)
		v->blen = v->data_end;
	if (v->data_end > v->blen)
		v->blen = v->data_end;
	return 0;
fail:
	if (new_ix)
		v2map_list_add(&v->free, x.ix_off, x.ix_len);
	log_msg(LOG_LVL_ERROR, "%s (inode %lu): header write failed: %s",
		f->path ? f->path : "?", (unsigned long)f->ino, strerror(-r));
	return r;
}

/* The backing file's mtime is the file's: the time of the last write, or
 * what utimens set, not the time of a later commit. */
static void mtime_restore(struct ofile *f)
{
	struct timespec now, tv[2] = { { .tv_nsec = UTIME_OMIT }, f->wb_mtime };

	clock_gettime(CLOCK_REALTIME, &now);
	if (f->v2->mtime_keep || (now.tv_sec - f->wb_mtime.tv_sec) * 1000000000LL +
					     (now.tv_nsec - f->wb_mtime.tv_nsec) >
				     MTIME_SLACK_NS)
		backend_futimens(f->be, f->fd, tv);
}

/* After the fdatasync of a sync point: the header on disk is durable.  The
 * only place the hint's generation is raised (ofile_hint.c).  Returns 1 if
 * it wrote (zeroed the older slot). */
static int sync_done(struct ofile *f)
{
	struct v2state *v = f->v2;
	int wrote = 0;

	v->durable_slot = v->disk_slot;
	v->durable_gen = f->hdr.gen;
	v->durable_size = f->csize;
	v2map_mark_all(v, V2_DURABLE);
	if (v->hint_gen != v->durable_gen) {
		v->hint_gen = v->durable_gen;
		ofile_hint_update(f);
	}
	for (uint32_t i = 0; i < v->pending.n; i++)
		v2map_list_add(&v->free, v->pending.v[i].off, v->pending.v[i].len);
	v->pending.n = 0;
	if (v->other_valid) {
		uint8_t zero[FH2_SLOT];

		memset(zero, 0, sizeof(zero));
		if (backend_pwrite_full(f->be, f->fd, zero, sizeof(zero),
					(off_t)(1 - v->disk_slot) * FH2_SLOT) == 0)
			v->other_valid = 0;
		wrote = 1;
	}
	return wrote;
}

/* Commit (content lock held exclusive).  sync: then make it a sync point
 * (datasync: fdatasync rather than fsync). */
static int commit_locked(struct store *s, struct ofile *f, int sync, int datasync)
{
	struct v2state *v = f->v2;
	struct iobufs *io = bufs_get(f->hdr.block_size);
	int r, wrote = 0;

	if (!io)
		return -ENOMEM;
	/* Shared mode: memory that is not the disk's state must not become
	 * a header (shared.c). */
	if (f->shstale)
		return -EIO;
	r = v2io_wb_out(s, f, io);
	if (r == 0 && v->dirty) {
		r = header_write(s, f);
		wrote = r == 0;
	}
	if (r == 0 && sync) {
		r = backend_fsync(f->be, f->fd, datasync);
		if (r == 0)
			wrote |= sync_done(f);
	}
	if (wrote)
		mtime_restore(f);
	return r;
}

/* A sync point is due at the last close when an older authenticated header
 * is still on disk: it must not outlive the close (R3). */
static int close_due(const struct v2state *v)
{
	return v->durable_slot >= 0 && (v->other_valid || v->disk_slot != v->durable_slot);
}

/* Bytes the records and the index take. */
static uint64_t live_bytes(const struct v2state *v)
{
	uint64_t n = v->disk.nents > FH2_INLINE_ENTS ? v->disk.ix_len : 0;

	for (uint32_t i = 0; i < v->n; i++)
		n += fh2_rec_len(v->ents[i].stored);
	return n;
}

/* qsort_r order of entry indexes: record offset, highest first. */
static int by_offset_desc(const void *a, const void *b, void *arg)
{
	const struct v2state *v = arg;
	uint64_t x = v->ents[*(const uint32_t *)a].off, y = v->ents[*(const uint32_t *)b].off;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Right after a sync point: cut what lies past the last record.  The
 * durable header still names the old data end (and maybe an index blob
 * near it), so one more header, durable, comes before the cut.  The index
 * blob is written anew below the records' end when a free extent there
 * holds it; a new blob never lands on the old one, which the durable
 * header names (R2). */
static int cut_tail(struct store *s, struct ofile *f)
{
	struct v2state *v = f->v2;
	uint64_t top = FH2_DATA_START, ix_end = 0, off;
	int r;

	for (uint32_t k = 0; k < v->n; k++)
		if (v->ents[k].off + fh2_rec_len(v->ents[k].stored) > top)
			top = v->ents[k].off + fh2_rec_len(v->ents[k].stored);
	if (v->disk.nents > FH2_INLINE_ENTS)
		ix_end = v->disk.ix_off + v->disk.ix_len;
	if (ix_end > top) {
		uint64_t len = fh2_ix_len(v->n);

		int fits = v2map_list_take(&v->free, len, &off) == 0;

		if (fits)
			v2map_list_add(&v->free, off, len); /* only looked */
		if (fits && off + len <= top)
			v->ix_dirty = 1; /* header_write takes that extent */
		else
			top = ix_end;
	}
	if (((top + 4095) & ~4095ULL) >= ((v->data_end + 4095) & ~4095ULL))
		return 0;
	v->data_end = top;
	v2map_free_clip(v);
	v->dirty = 1;
	r = commit_locked(s, f, 1, 1);
	/* The old blob, past the new end, came back as free space. */
	v2map_free_clip(v);
	if (r == 0 && backend_ftruncate(f->be, f->fd, (off_t)v->data_end) == 0) {
		v->blen = v->data_end;
		mtime_restore(f);
	}
	return r;
}

/* Right after a sync point, with every unreferenced extent free: move the
 * records nearest the end into free space lower down (records do not
 * depend on their offset), then make that a new durable header with a
 * smaller data end, and cut the file.  What the durable header refers to
 * is never overwritten (moved-from space goes to pending, R2), and the cut
 * waits until the new header is durable.  Done at the last close when the
 * file would occupy fewer 4 KiB blocks and at least an eighth of its data
 * area would come back. */
static int compact(struct store *s, struct ofile *f)
{
	struct v2state *v = f->v2;
	uint64_t live = live_bytes(v), end = v->data_end;
	struct iobufs *io = bufs_get(f->hdr.block_size);
	uint32_t *order;
	uint64_t ix_len, ix_res = 0;
	int moved = 0, r = 0;

	/* Worth it when the file would occupy fewer 4 KiB blocks and at
	 * least an eighth of its data area comes back. */
	if (!io || ((end + 4095) & ~4095ULL) <= ((FH2_DATA_START + live + 4095) & ~4095ULL) ||
	    end - FH2_DATA_START - live < (end - FH2_DATA_START) / 8)
		return 0;
	/* From the last record down, each into the lowest free extent below
	 * it that fits; one that fits nowhere stays. */
	order = malloc((v->n ? v->n : 1) * sizeof(*order));
	if (!order)
		return 0;
	for (uint32_t k = 0; k < v->n; k++)
		order[k] = k;
	qsort_r(order, v->n, sizeof(*order), by_offset_desc, v);
	/* Room for the index blob the next header writes is kept low first,
	 * or it would land past the moved records. */
	ix_len = v->n > FH2_INLINE_ENTS ? fh2_ix_len(v->n) : 0;
	if (ix_len && v2map_list_take(&v->free, ix_len, &ix_res) < 0)
		ix_len = 0;
	for (uint32_t k = 0; k < v->n; k++) {
		struct fh2_ent *e = &v->ents[order[k]];
		uint64_t len = fh2_rec_len(e->stored), to;
		ssize_t n;

		if (v2map_list_take(&v->free, len, &to) < 0)
			continue;
		if (to > e->off) {
			v2map_list_add(&v->free, to, len);
			continue;
		}
		n = backend_pread_full(f->be, f->fd, io->rec, len, (off_t)e->off);
		r = n == (ssize_t)len ? backend_pwrite_full(f->be, f->fd, io->rec, len, (off_t)to)
				      : -EIO;
		if (r < 0) {
			v2map_list_add(&v->free, to, len);
			break;
		}
		v2map_release(v, e->off, len, e->state);
		e->off = to;
		e->state = 0;
		v->ix_dirty = 1;
		moved = 1;
	}
	free(order);
	if (ix_len)
		v2map_list_add(&v->free, ix_res, ix_len);
	if (moved) {
		/* A sync point: after a crash before it, the older header
		 * wins (R1), and the moved-from space it names is pending. */
		v->dirty = 1;
		r = commit_locked(s, f, 1, 1);
		if (r < 0)
			return r;
	}
	return cut_tail(s, f);
}

int v2commit_commit(struct store *s, struct ofile *f, int last)
{
	int r;

	r = commit_locked(s, f, 0, 1);
	if (r == 0 && last && close_due(f->v2)) {
		r = commit_locked(s, f, 1, 1);
		if (r == 0)
			r = compact(s, f);
	}
	return r;
}

int v2commit_compact(struct store *s, struct ofile *f)
{
	int r;

	ofile_lock(s, f, 1);
	r = commit_locked(s, f, 1, 1);
	if (r == 0)
		r = compact(s, f);
	ofile_account(s, f);
	ofile_unlock(s, f);
	return r;
}

int v2commit_fsync(struct store *s, struct ofile *f, int datasync)
{
	int r;

	ofile_lock(s, f, 1);
	r = commit_locked(s, f, 1, datasync);
	ofile_unlock(s, f);
	return r;
}

/* No commit: the time goes on the backing file now and is kept as the
 * file's (mtime_keep), so that the next commit, whose writes move the
 * backing file's mtime, puts it back (mtime_restore).  With the kernel's
 * write-back cache every flush of a file's pages ends with such a call. */
int v2commit_futimens(struct store *s, struct ofile *f, const struct timespec tv[2])
{
	struct stat st;
	int r = backend_futimens(f->be, f->fd, tv);

	if (r == 0 && backend_fstat(f->be, f->fd, &st) == 0) {
		f->wb_mtime = st.st_mtim;
		f->v2->mtime_keep = 1;
	}
	return r;
}

int v2commit_xattr_bind(struct store *s, struct ofile *f, const uint8_t *cur, const uint8_t *next,
		    int sync)
{
	memcpy(f->v2->xmac, cur, CRYPTO_TAG_LEN);
	memcpy(f->v2->xnext, next, CRYPTO_TAG_LEN);
	f->v2->dirty = 1;
	return commit_locked(s, f, sync, 1);
}

int v2commit_xattr_check(struct ofile *f, const uint8_t *tag)
{
	return memcmp(tag, f->v2->xmac, CRYPTO_TAG_LEN) == 0 ||
	       (!tag_zero(f->v2->xnext) && memcmp(tag, f->v2->xnext, CRYPTO_TAG_LEN) == 0)
		       ? 0
		       : -EIO;
}

int v2commit_pending(struct ofile *f)
{
	return f->wb_dirty || f->v2->dirty || close_due(f->v2);
}

/* ---- repair (fsck) ---- */

int v2commit_drop_blocks(struct store *s, struct ofile *f, const uint64_t *blocks, size_t n)
{
	int r;

	if (!f->v2)
		return -EINVAL;
	ofile_lock(s, f, 1);
	for (size_t i = 0; i < n; i++)
		v2map_drop(f->v2, blocks[i], blocks[i] + 1);
	/* A sync point: the header without those entries is durable before
	 * the older slot is zeroed, and nothing refers to their space. */
	r = commit_locked(s, f, 1, 1);
	ofile_unlock(s, f);
	return r;
}
