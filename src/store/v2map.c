/* v2map.c - the in-memory map of a v2 file: free and pending extents of its
 * data area and the sorted block index, with the space rules of v2commit.c
 * (R2: superseded space that a header which can still win names waits in
 * pending until the next sync point). */
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

/* ---- extent lists (sorted by offset, merged) ---- */

void v2map_list_add(struct v2list *l, uint64_t off, uint64_t len)
{
	uint32_t i = 0;

	if (len == 0)
		return;
	while (i < l->n && l->v[i].off < off)
		i++;
	if (i > 0 && l->v[i - 1].off + l->v[i - 1].len == off) {
		l->v[i - 1].len += len;
		if (i < l->n && off + len == l->v[i].off) {
			l->v[i - 1].len += l->v[i].len;
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
			l->n--;
		}
		return;
	}
	if (i < l->n && off + len == l->v[i].off) {
		l->v[i].off = off;
		l->v[i].len += len;
		return;
	}
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? 2 * l->cap : 16;
		struct v2ext *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return; /* the space leaks until the next open */
		l->v = v;
		l->cap = cap;
	}
	memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(l->v[0]));
	l->v[i].off = off;
	l->v[i].len = len;
	l->n++;
}

/* First fit.  Returns 0 and *off, or -ENOSPC when nothing fits. */
int v2map_list_take(struct v2list *l, uint64_t len, uint64_t *off)
{
	for (uint32_t i = 0; i < l->n; i++) {
		if (l->v[i].len < len)
			continue;
		*off = l->v[i].off;
		l->v[i].off += len;
		l->v[i].len -= len;
		if (l->v[i].len == 0) {
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
			l->n--;
		}
		return 0;
	}
	return -ENOSPC;
}

/* ---- space ---- */

int v2map_alloc(struct v2state *v, uint64_t len, uint64_t *off)
{
	if (v2map_list_take(&v->free, len, off) == 0)
		return 0;
	if (v->data_end + len > FH2_OFF_MAX)
		return -EFBIG;
	*off = v->data_end;
	v->data_end += len;
	if (v->data_end > v->blen)
		v->blen = v->data_end;
	return 0;
}

/* Forget free space at or past the data end (it is cut off). */
void v2map_free_clip(struct v2state *v)
{
	while (v->free.n && v->free.v[v->free.n - 1].off >= v->data_end)
		v->free.n--;
	if (v->free.n && v->free.v[v->free.n - 1].off + v->free.v[v->free.n - 1].len > v->data_end)
		v->free.v[v->free.n - 1].len = v->data_end - v->free.v[v->free.n - 1].off;
}

/* Space that held a record (or index) with the given V2_* state. */
void v2map_release(struct v2state *v, uint64_t off, uint64_t len, uint8_t state)
{
	/* Space no header on disk names, or that only the header of a file
	 * without durable content names (a crash may cost that file its
	 * unsynced data anyway), is free at once. */
	if (!(state & V2_COMMITTED) || v->durable_slot < 0) {
		v2map_list_add(&v->free, off, len);
		return;
	}
	v2map_list_add(&v->pending, off, len);
}

/* ---- the in-memory index ---- */

long v2map_find_in(const struct fh2_ent *ents, uint32_t n, uint64_t b)
{
	long lo = 0, hi = (long)n - 1;

	while (lo <= hi) {
		long mid = (lo + hi) / 2;

		if (ents[mid].block == b)
			return mid;
		if (ents[mid].block < b)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

/* Index of the entry of block b, or -(insertion point) - 1. */
long v2map_find(const struct v2state *v, uint64_t b)
{
	return v2map_find_in(v->ents, v->n, b);
}

static void ent_release(struct v2state *v, const struct fh2_ent *e)
{
	v2map_release(v, e->off, fh2_rec_len(e->stored), e->state);
}

int v2map_set(struct v2state *v, const struct fh2_ent *e)
{
	long i = v2map_find(v, e->block);

	v->ix_dirty = 1;
	if (i >= 0) {
		ent_release(v, &v->ents[i]);
		v->ents[i] = *e;
		return 0;
	}
	i = -i - 1;
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? 2 * v->cap : 16;
		struct fh2_ent *n = realloc(v->ents, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		v->ents = n;
		v->cap = cap;
	}
	memmove(&v->ents[i + 1], &v->ents[i], (v->n - (uint32_t)i) * sizeof(v->ents[0]));
	v->ents[i] = *e;
	v->n++;
	return 0;
}

/* Remove the entries of blocks [start, end): they become holes. */
void v2map_drop(struct v2state *v, uint64_t start, uint64_t end)
{
	long i = v2map_find(v, start);
	uint32_t a, b;

	a = (uint32_t)(i >= 0 ? i : -i - 1);
	for (b = a; b < v->n && v->ents[b].block < end; b++)
		ent_release(v, &v->ents[b]);
	if (b == a)
		return;
	memmove(&v->ents[a], &v->ents[b], (v->n - b) * sizeof(v->ents[0]));
	v->n -= b - a;
	v->dirty = 1;
	v->ix_dirty = 1;
}

void v2map_mark_all(struct v2state *v, uint8_t bit)
{
	for (uint32_t i = 0; i < v->n; i++)
		v->ents[i].state |= bit;
	v->ix_state |= bit;
}

/* Give back free space at the end of the data area (only for a file with
 * no durable content: nothing older can refer to it). */
void v2map_trim_tail(struct v2state *v)
{
	while (v->free.n && v->free.v[v->free.n - 1].off + v->free.v[v->free.n - 1].len ==
				    v->data_end) {
		v->data_end = v->free.v[v->free.n - 1].off;
		v->free.n--;
	}
}

static int ext_cmp(const void *a, const void *b)
{
	const struct v2ext *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Space in the data area that the header does not refer to goes to list. */
int v2map_gaps_to(struct v2state *v, struct v2list *list)
{
	uint32_t n = v->n + (v->disk.nents > FH2_INLINE_ENTS);
	struct v2ext *used = malloc((n ? n : 1) * sizeof(*used));
	uint64_t at = FH2_DATA_START;

	if (!used)
		return -ENOMEM;
	for (uint32_t i = 0; i < v->n; i++) {
		used[i].off = v->ents[i].off;
		used[i].len = fh2_rec_len(v->ents[i].stored);
	}
	if (n > v->n) {
		used[v->n].off = v->disk.ix_off;
		used[v->n].len = v->disk.ix_len;
	}
	qsort(used, n, sizeof(*used), ext_cmp);
	for (uint32_t i = 0; i < n; i++) {
		if (used[i].off < at) {
			free(used);
			return -EBADMSG; /* overlapping records */
		}
		v2map_list_add(list, at, used[i].off - at);
		at = used[i].off + used[i].len;
	}
	v2map_list_add(list, at, v->data_end - at);
	free(used);
	return 0;
}
