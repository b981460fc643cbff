/* v2_int.h - what the v2 files of src/store share (v2io.c, v2map.c,
 * v2commit.c, v2open.c).  The API the rest of the store uses is in
 * ofile_int.h. */
#ifndef RAGSTORE_V2_INT_H
#define RAGSTORE_V2_INT_H

#include "fh2rec.h"
#include "ofile_int.h"

/* State bits of an entry (struct fh2_ent.state) and of the index blob. */
#define V2_COMMITTED 1 /* referenced by a header written to disk */
#define V2_DURABLE 2   /* referenced by the durable header */

/* v2map.c: extent lists, sorted by offset and merged. */
void v2map_list_add(struct v2list *l, uint64_t off, uint64_t len);
/* First fit: 0 and *off, or -ENOSPC. */
int v2map_list_take(struct v2list *l, uint64_t len, uint64_t *off);
/* Space for len bytes: a free extent, else appended at the data end. */
int v2map_alloc(struct v2state *v, uint64_t len, uint64_t *off);
/* Space that held a record or index blob of the given V2_* state goes
 * to free or to pending (R2), and may call for R1. */
void v2map_release(struct v2state *v, uint64_t off, uint64_t len, uint8_t state);
/* Forget free space at or past the data end. */
void v2map_free_clip(struct v2state *v);
/* Give back free space at the end of the data area. */
void v2map_trim_tail(struct v2state *v);
/* Index of block b's entry, or -(insertion point) - 1; _in: in any n
 * entries sorted by block. */
long v2map_find(const struct v2state *v, uint64_t b);
long v2map_find_in(const struct fh2_ent *ents, uint32_t n, uint64_t b);
/* Set block e->block's entry (the old one's space is released). */
int v2map_set(struct v2state *v, const struct fh2_ent *e);
/* Remove the entries of blocks [start, end): they become holes. */
void v2map_drop(struct v2state *v, uint64_t start, uint64_t end);
void v2map_mark_all(struct v2state *v, uint8_t bit);
/* The data area's space no entry or index blob takes goes to list. */
int v2map_gaps_to(struct v2state *v, struct v2list *list);

/* v2pick.c: after a crash both header slots may authenticate.  1 if every
 * record the newer header names (nw, nn entries) that the older one (old,
 * no entries, both sorted by block) does not name identically reads and
 * authenticates from fd, so the newer header may win; 0 if one does not
 * (the older header wins); -errno if the backing file cannot be read. */
/* 1 if the size hint's generation hint_gen shows the newer header durable
 * (a sync point came after it, with everything it names): it never gives
 * way, and what it lacks is damage (EIO), not a crash to recover from. */
int v2pick_hint_binds(uint64_t hint_gen, const struct file_header *newer);
int v2pick_newer_whole(const struct crypto_key *k, struct backend *be, int fd,
		       const struct file_header *h, const struct fh2_ent *nw, uint32_t nn,
		       const struct fh2_ent *old, uint32_t no, struct iobufs *io);

/* v2io.c: store the write-behind block (content lock held). */
int v2io_wb_out(struct store *s, struct ofile *f, struct iobufs *io);
/* Log and count a block that fails its integrity check. */
void v2io_integrity_error(struct store *s, struct ofile *f, uint64_t b, const char *cause);
/* Write record rec (n bytes) of entry e (all but off and state filled)
 * and put it in the index.  0 or -errno. */
int v2io_place(struct store *s, struct ofile *f, struct fh2_ent *e, const uint8_t *rec,
	       size_t n);

/* v2chunk.c: chunked records (fh2rec.h) a chunk at a time.
 * Bytes [from, to) of block e (to <= block size) into dst, opening only the
 * chunks they cover.  0 or -errno. */
int v2chunk_read(struct store *s, struct ofile *f, const struct fh2_ent *e, uint32_t from,
		 uint32_t to, char *dst, struct iobufs *io);
/* wb (room for a block) becomes block e->block taken from its chunked
 * record e, nothing opened yet (f->v2->lz).  0 or -errno. */
int v2chunk_take(struct store *s, struct ofile *f, const struct fh2_ent *e);
/* Before wb bytes [o, o+n) change: open the chunks they do not cover
 * whole, and mark them all changed.  0 or -errno. */
int v2chunk_prepare(struct store *s, struct ofile *f, uint32_t o, uint32_t n);
/* The write-behind block's wb_len bytes into out, unopened chunks opened
 * from the base record.  0 or -errno. */
int v2chunk_fill(struct store *s, struct ofile *f, uint8_t *out);
/* Store the write-behind block as a record that copies its unchanged
 * chunks: 1 done, 0 when it must be stored whole (wb then holds all of
 * it), -errno. */
int v2chunk_out(struct store *s, struct ofile *f, struct iobufs *io);

#endif
