/* v2open.c - opening a v2 file (both header slots, the index, the free
 * space rebuilt from it), creating one, and reading its size unverified. */
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

static void state_free(struct v2state *v)
{
	if (!v)
		return;
	free(v->ents);
	free(v->lz.old);
	free(v->free.v);
	free(v->pending.v);
	free(v);
}

void v2open_free(struct ofile *f)
{
	state_free(f->v2);
	f->v2 = NULL;
}

/* The entries of header h (extra fields x; ninl of them inline) into a
 * new array *out (at least one element), read from the index blob when
 * they are not inline.  0, -ENOMEM, or -EBADMSG / -EIO for a blob that
 * cannot be read or does not authenticate. */
static int ents_load(struct store *s, struct ofile *f, const struct file_header *h,
		     const struct fh2_extra *x, const struct fh2_ent *inl, uint32_t ninl,
		     struct fh2_ent **out)
{
	struct fh2_ent *ents = calloc(x->nents ? x->nents : 1, sizeof(*ents));
	uint8_t *blob = NULL, *scratch = NULL;
	ssize_t n;
	int r = 0;

	if (!ents)
		return -ENOMEM;
	if (ninl == x->nents) {
		memcpy(ents, inl, ninl * sizeof(*ents));
		*out = ents;
		return 0;
	}
	blob = malloc(x->ix_len);
	scratch = malloc(x->ix_len + CRYPTO_TAG_LEN);
	if (!blob || !scratch)
		r = -ENOMEM;
	if (r == 0) {
		n = backend_pread_full(f->be, f->fd, blob, x->ix_len, (off_t)x->ix_off);
		r = n < 0 ? (int)n : n < (ssize_t)x->ix_len ? -EBADMSG
			   : fh2_ix_open(s->key, h, x, blob, x->ix_len, ents, scratch);
	}
	free(blob);
	free(scratch);
	if (r < 0)
		free(ents);
	else
		*out = ents;
	return r;
}

/* Both slots authenticate (a crash before a sync point): the newer one,
 * best, whose entries are *ents, gives way to the older one when its
 * index blob could not be read (r < 0) or a record only it names does not
 * authenticate (v2pick.c).  Returns 0 with *best and *ents those of the
 * winner, or -errno. */
static int newer_or_older(struct store *s, struct ofile *f, const struct file_header *h,
			  const struct fh2_extra *x, struct fh2_ent (*inl)[FH2_INLINE_ENTS],
			  const uint32_t *ninl, int *best, struct fh2_ent **ents, int r)
{
	int o = 1 - *best, w;
	struct fh2_ent *other = NULL;
	struct iobufs *io;
	const char *why = "its index blob cannot be read";

	if (r == -ENOMEM)
		return r;
	if (v2pick_hint_binds(ofile_hint_gen(f), &h[*best]))
		return r;
	if (r == 0) {
		if (ents_load(s, f, &h[o], &x[o], inl[o], ninl[o], &other) < 0)
			return 0; /* no older version to fall back on */
		io = bufs_get(h[*best].block_size);
		w = io ? v2pick_newer_whole(s->key, f->be, f->fd, &h[*best], *ents, x[*best].nents,
					    other, x[o].nents, io)
		       : -ENOMEM;
		if (w != 0) {
			free(other);
			return w < 0 ? w : 0;
		}
		why = "records it names never reached the disk";
		free(*ents);
		*ents = NULL;
	} else {
		r = ents_load(s, f, &h[o], &x[o], inl[o], ninl[o], &other);
		if (r < 0)
			return r;
	}
	log_msg(LOG_LVL_WARN, "%s: the newest header (generation %llu) was written just before "
		"a crash and %s: the file is its version of generation %llu, as at its last "
		"sync point", f->path ? f->path : "a file", (unsigned long long)h[*best].gen, why,
		(unsigned long long)h[o].gen);
	*best = o;
	*ents = other;
	return 0;
}

int v2open_load(struct store *s, struct ofile *f, const uint8_t *area, uint64_t blen)
{
	struct file_header h[2];
	struct fh2_extra x[2];
	struct fh2_ent inl[2][FH2_INLINE_ENTS], *ents = NULL;
	uint32_t ninl[2];
	int ok[2], best = -1, r;
	struct v2state *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		ok[i] = fh2_open(s->key, area + i * FH2_SLOT, &h[i], &x[i], inl[i], &ninl[i]) == 0;
		if (ok[i] && (best < 0 || h[i].gen > h[best].gen))
			best = i;
	}
	/* A backing file shorter than the data end (cut, or a crash that
	 * kept a header but not the records appended before it) is no
	 * reason to refuse the file: each record past the end fails when it
	 * is read, the others still serve. */
	r = best < 0 ? -EBADMSG : ents_load(s, f, &h[best], &x[best], inl[best], ninl[best], &ents);
	if (best >= 0 && ok[1 - best])
		r = newer_or_older(s, f, h, x, inl, ninl, &best, &ents, r);
	if (r == 0) {
		v->ents = ents;
		v->cap = x[best].nents ? x[best].nents : 1;
		v->n = x[best].nents;
	} else {
		free(ents);
	}
	if (r == 0) {
		v->disk = x[best];
		memcpy(v->xmac, x[best].xattr_mac, CRYPTO_TAG_LEN);
		memcpy(v->xnext, x[best].xattr_next, CRYPTO_TAG_LEN);
		v->data_end = x[best].data_end;
		v->disk_slot = v->durable_slot = best;
		/* hint_gen is the hint's, kept by ofile_hint_check. */
		v->durable_gen = h[best].gen;
		v->durable_size = h[best].size;
		v->bs = h[best].block_size;
		v->other_valid = ok[1 - best];
		v->blen = blen;
		v2map_mark_all(v, V2_COMMITTED | V2_DURABLE);
		/* After a crash both slots may verify: what the older one
		 * refers to stays untouched until a sync point. */
		r = v2map_gaps_to(v, v->other_valid ? &v->pending : &v->free);
		if (v->other_valid && blen > v->data_end) {
			v2map_list_add(&v->pending, v->data_end, blen - v->data_end);
			v->data_end = blen;
		}
	}
	if (r < 0) {
		state_free(v);
		return r == -ENOMEM ? r : -EIO;
	}
	f->hdr = h[best];
	fh2_levels_apply(&h[best], &x[best], v->ents, v->n);
	v->disk_algo = fh2_acct_algo(&h[best], &x[best]);
	f->v2 = v;
	return 0;
}

int v2open_header_new(struct store *s, const struct codec_spec *codec, uint32_t block_size,
		      struct file_header *h, uint8_t *area)
{
	struct fh2_extra x;
	struct fh2_ent none[1];
	uint32_t ninl;

	memset(h, 0, sizeof(*h));
	memset(&x, 0, sizeof(x));
	h->gen = 1;
	crypto_random(h->file_id, FH_ID_LEN);
	h->block_size = block_size ? block_size : s->desc.block_size;
	h->codec = *codec;
	x.data_end = FH2_DATA_START;
	fh2_usage_of(none, 0, &x);
	memset(area, 0, FH2_DATA_START);
	if (fh2_seal(s->key, h, &x, none, area) < 0)
		return -EIO;
	/* What a later open will read: decoded from the very bytes written. */
	return fh2_open(s->key, area, h, &x, none, &ninl) == 0 ? 0 : -EIO;
}

int v2open_attach_new(struct ofile *f)
{
	struct v2state *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->data_end = FH2_DATA_START;
	v->disk.data_end = FH2_DATA_START;
	fh2_usage_of(NULL, 0, &v->disk); /* as v2open_header_new wrote it */
	v->durable_slot = -1;
	v->bs = f->hdr.block_size;
	v->hint_gen = 0; /* nothing durable yet */
	v->blen = FH2_DATA_START;
	v->disk_algo = fh2_acct_algo(&f->hdr, &v->disk);
	f->v2 = v;
	return 0;
}

int v2open_peek(const uint8_t *area, uint64_t *size, uint8_t *algo)
{
	uint64_t gen[2], sz[2];
	int best = -1;

	for (int i = 0; i < 2; i++)
		if (fh2_peek(area + i * FH2_SLOT, &gen[i], &sz[i]) == 0 &&
		    (best < 0 || gen[i] > gen[best]))
			best = i;
	if (best < 0)
		return -EBADMSG;
	*size = sz[best];
	*algo = fh2_peek_acct_algo(area + best * FH2_SLOT);
	return 0;
}
