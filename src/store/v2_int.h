/* v2_int.h - what the v2 files of src/store share (v2io.c, v2map.c,
 * v2commit.c, v2open.c).  The API the rest of the store uses is in
 * ofile_int.h. */
#ifndef RAGSTORE_V2_INT_H
#define RAGSTORE_V2_INT_H

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
/* Index of block b's entry, or -(insertion point) - 1. */
long v2map_find(const struct v2state *v, uint64_t b);
/* Set block e->block's entry (the old one's space is released). */
int v2map_set(struct v2state *v, const struct fh2_ent *e);
/* Remove the entries of blocks [start, end): they become holes. */
void v2map_drop(struct v2state *v, uint64_t start, uint64_t end);
void v2map_mark_all(struct v2state *v, uint8_t bit);
/* The data area's space no entry or index blob takes goes to list. */
int v2map_gaps_to(struct v2state *v, struct v2list *list);

/* v2io.c: store the write-behind block (content lock held). */
int v2io_wb_out(struct store *s, struct ofile *f, struct iobufs *io);

#endif
