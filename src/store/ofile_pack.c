/* ofile_pack.c - packed small files in the open-file table: opening one
 * from its directory's pack, giving it its own content back before it is
 * written (unpack), and the packer's two steps that move a file into the
 * pack (ofile_int.h; the format is pack.h, docs/FORMAT.md "Packed small
 * files").
 *
 * Crash safety rests on one rule: the hint attribute says where the data
 * is.  Packing writes the record into the pack and makes the pack durable
 * before the hint takes the packed form, and empties the backing file only
 * after; unpacking writes the v2 content and makes it durable before the
 * hint takes the ordinary form.  So at every moment the hint names content
 * that is on disk, and a packed hint on a backing file that still has
 * bytes (a crash between the two steps) means those bytes are leftovers. */
#include "ofile_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fh2rec.h"
#include "log.h"
#include "names.h"
#include "stats.h"
#include "util.h"

int ofile_pack_hint(struct ofile *f, struct pack_ref *r)
{
	uint8_t v[PACK_HINT_LEN + 1];
	ssize_t n = backend_fgetxattr(f->be, f->fd, HINT_XATTR, v, sizeof(v));

	return n == PACK_HINT_LEN && pack_ref_decode(v, (size_t)n, r) == 0;
}

int ofile_pack_dir_open(struct store *s, int dirfd, const char *rel, int flags, uint8_t *iv)
{
	const char *slash = strrchr(rel, '/');
	uint8_t v[NAME_DIRIV_SIZE];
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	if (!s->names)
		return -EIO;
	if (slash && snprintf(p, sizeof(p), "%.*s/" NAME_DIRIV_FILE, (int)(slash - rel), rel) >=
			     (int)sizeof(p))
		return -ENAMETOOLONG;
	if (!slash)
		strcpy(p, NAME_DIRIV_FILE);
	fd = backend_openat(s->be, dirfd, p, flags | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	n = backend_pread_full(s->be, fd, v, sizeof(v), 0);
	if (n != NAME_DIRIV_SIZE || name_diriv_open(s->names, v, (size_t)n, iv) < 0) {
		backend_close(s->be, fd);
		return -EIO;
	}
	return fd;
}

void ofile_pack_free(struct ofile *f)
{
	if (!f->pk)
		return;
	if (f->pk->plain)
		crypto_wipe(f->pk->plain, f->pk->ref.size);
	free(f->pk->plain);
	free(f->pk);
	f->pk = NULL;
}

static void hdr_from_ref(struct ofile *f, const struct pack_ref *r)
{
	memset(&f->hdr, 0, sizeof(f->hdr));
	f->hdr.gen = r->gen;
	f->hdr.block_size = r->block_size;
	f->hdr.codec = r->codec;
	f->hdr.flags = r->flags;
	f->hdr.size = r->size;
}

/* Open the record of r from the pack fd (directory value iv) into out
 * (r->size bytes).  0, or the cause of the failure. */
static const char *rec_read(struct store *s, int fd, const uint8_t *iv, const struct pack_ref *r,
			    uint8_t *out)
{
	uint32_t bs = r->block_size;
	size_t len = (size_t)fh2_rec_len(r->e.stored);
	uint8_t *rec = malloc(len), *plain = malloc(bs), *scratch = malloc(bs + CRYPTO_TAG_LEN);
	uint8_t bid[FH_ID_LEN];
	const char *why = NULL;
	ssize_t n;

	if (!rec || !plain || !scratch) {
		why = "out of memory";
		goto out;
	}
	n = backend_pread_full(s->be, fd, rec, len, (off_t)r->e.off);
	if (n < (ssize_t)len) {
		why = n < 0 ? "packed record cannot be read" : "packed record cut short";
		goto out;
	}
	pack_binder(iv, r->e.off, bid);
	if (fh2rec_open(s->key, bid, &r->e, rec, bs, plain, scratch) != (ssize_t)r->size)
		why = "packed record does not authenticate";
	else
		memcpy(out, plain, r->size);
out:
	if (plain)
		crypto_wipe(plain, bs);
	free(rec);
	free(plain);
	free(scratch);
	return why;
}

int ofile_pack_load(struct store *s, struct ofile *f, int dirfd, const char *rel,
		    const struct pack_ref *r, const char *path)
{
	struct ofile_pk *pk = calloc(1, sizeof(*pk));
	uint8_t iv[NAME_IV_LEN];
	const char *why = NULL;

	if (!pk || (r->size && !(pk->plain = calloc(1, r->size)))) {
		free(pk);
		return -ENOMEM;
	}
	pk->ref = *r;
	if (r->has_rec) {
		int fd = ofile_pack_dir_open(s, dirfd, rel, O_RDONLY, iv);

		if (fd < 0) {
			why = "directory pack missing or damaged";
		} else {
			why = rec_read(s, fd, iv, r, pk->plain);
			backend_close(s->be, fd);
		}
	}
	if (why) {
		log_msg(LOG_LVL_ERROR, "%s (%s): %s", path ? path : "?", rel, why);
		if (strcmp(why, "out of memory"))
			stats_error(s->stats, 1, path, 0, why);
		f->pk = pk;
		ofile_pack_free(f);
		return strcmp(why, "out of memory") ? -EIO : -ENOMEM;
	}
	hdr_from_ref(f, r);
	f->pk = pk;
	return 0;
}

/* The v2 image of packed file f (header slot 0, an empty slot 1, the
 * record) into a new buffer *img of *len bytes. */
static int unpack_image(struct store *s, struct ofile *f, uint8_t **img, size_t *len)
{
	const struct pack_ref *r = &f->pk->ref;
	uint32_t bs = r->block_size;
	struct file_header *h = calloc(1, sizeof(*h));
	uint8_t *buf = malloc(FH2_DATA_START + fh2rec_max(bs));
	struct fh2_extra x;
	struct fh2_ent e;
	uint32_t n = 0;
	ssize_t rl = 0;
	int ret = -EIO;

	if (!h || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	memset(&x, 0, sizeof(x));
	memset(&e, 0, sizeof(e));
	h->gen = r->gen + 1;
	crypto_random(h->file_id, FH_ID_LEN);
	h->block_size = bs;
	h->codec = r->codec;
	h->flags = r->flags;
	h->size = r->size;
	if (r->size && !is_zero(f->pk->plain, r->size)) {
		rl = fh2rec_seal(s->key, h->file_id, &h->codec, 0, f->pk->plain, (uint32_t)r->size,
				 bs, buf + FH2_DATA_START, &e);
		if (rl < 0) {
			ret = (int)rl;
			goto out;
		}
		e.off = FH2_DATA_START;
		n = 1;
	}
	x.data_end = FH2_DATA_START + (uint64_t)rl;
	x.nents = n;
	fh2_usage_of(&e, n, &x);
	memset(buf, 0, FH2_DATA_START);
	if (fh2_seal(s->key, h, &x, &e, buf) < 0)
		goto out;
	*img = buf;
	*len = FH2_DATA_START + (size_t)rl;
	buf = NULL;
	ret = 0;
out:
	free(h);
	free(buf);
	return ret;
}

int ofile_unpack(struct store *s, struct ofile *f)
{
	struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT } };
	uint8_t *img = NULL, row;
	uint64_t rec;
	struct stat st;
	size_t len = 0;
	int r;

	pthread_rwlock_wrlock(&f->lock);
	if (!f->pk) {
		pthread_rwlock_unlock(&f->lock);
		return 0;
	}
	row = f->pk->ref.main_algo;
	rec = f->pk->ref.has_rec ? fh2_rec_len(f->pk->ref.e.stored) : 0;
	r = backend_fstat(f->be, f->fd, &st);
	if (r == 0)
		r = unpack_image(s, f, &img, &len);
	if (r == 0)
		r = backend_pwrite_full(f->be, f->fd, img, len, 0);
	if (r == 0 && (uint64_t)st.st_size > len)
		r = backend_ftruncate(f->be, f->fd, (off_t)len);
	/* Durable before the hint stops naming the pack. */
	if (r == 0)
		r = backend_fsync(f->be, f->fd, 1);
	free(img);
	if (r == 0) {
		f->bsize = len;
		r = ofile_header_load(s, f, &f->hdr, &f->hdr_slot);
	}
	if (r < 0) {
		/* Still packed: the hint names the pack, which is intact. */
		if (f->v2)
			v2open_free(f);
		hdr_from_ref(f, &f->pk->ref);
		pthread_rwlock_unlock(&f->lock);
		log_msg(LOG_LVL_ERROR, "%s: cannot unpack a packed file: %s",
			f->path ? f->path : "?", strerror(-r));
		return r < 0 ? r : -EIO;
	}
	/* The header just written is durable: the hint names it. */
	f->v2->hint_gen = f->hdr.gen;
	ofile_hint_update(f);
	tv[1] = st.st_mtim;
	backend_futimens(f->be, f->fd, tv);
	ofile_pack_free(f);
	/* Its record is no longer stored (dead space in the pack, which
	 * the totals do not count); the file moves to its header's row. */
	if (f->counted) {
		stats_file_delta(s->stats, row, -1, -(int64_t)f->hdr.size, -(int64_t)rec);
		stats_file_delta(s->stats, ofile_acct_algo(f), 1, (int64_t)f->hdr.size, 0);
	}
	f->stored = 0;
	f->size = f->hdr.size;
	f->csize = f->hdr.size;
	f->synced_nblk = ofile_nblocks(f->hdr.size, f->hdr.block_size);
	ofile_account(s, f);
	pthread_rwlock_unlock(&f->lock);
	return 0;
}

/* Block 0 of v2 file f into out (f->hdr.size bytes, zeros past its
 * record).  0 or -errno. */
static int v2_content(struct store *s, struct ofile *f, uint8_t *out)
{
	const struct fh2_ent *e = f->v2->n ? &f->v2->ents[0] : NULL;
	uint32_t bs = f->hdr.block_size;
	size_t len = e ? (size_t)fh2_rec_len(e->stored) : 0;
	uint8_t *rec = malloc(len + 1), *plain = malloc(bs), *scratch = malloc(bs + CRYPTO_TAG_LEN);
	int r = 0;

	memset(out, 0, f->hdr.size);
	if (!rec || !plain || !scratch)
		r = -ENOMEM;
	else if (e && backend_pread_full(f->be, f->fd, rec, len, (off_t)e->off) != (ssize_t)len)
		r = -EIO;
	else if (e && fh2rec_open(s->key, f->hdr.file_id, e, rec, bs, plain, scratch) !=
			      (ssize_t)e->plain)
		r = -EIO;
	else if (e)
		memcpy(out, plain, e->plain);
	if (plain)
		crypto_wipe(plain, bs);
	free(rec);
	free(plain);
	free(scratch);
	return r;
}

static int packable(struct store *s, struct ofile *f, struct stat *st)
{
	static const uint8_t zero[CRYPTO_TAG_LEN];
	const struct v2state *v = f->v2;

	if (!v || f->pk || v->dirty || f->wb_dirty || f->err || v->n > 1 ||
	    f->hdr.size > f->hdr.block_size || (f->hdr.flags & FH_FLAG_XATTRS) ||
	    memcmp(v->xmac, zero, sizeof(zero)) || memcmp(v->xnext, zero, sizeof(zero)))
		return 0;
	if (v->n && (v->ents[0].block != 0 || v->ents[0].stored > PACK_STORED_MAX))
		return 0;
	return backend_fstat(f->be, f->fd, st) == 0 && st->st_nlink == 1 && S_ISREG(st->st_mode);
}

ssize_t ofile_pack_out(struct store *s, struct ofile *f, int packfd, const uint8_t *iv,
		       uint64_t off, struct ofile_pk **out)
{
	struct ofile_pk *pk;
	uint32_t bs = f->hdr.block_size;
	uint8_t bid[FH_ID_LEN], *rec = NULL;
	struct stat st;
	ssize_t n = 0;
	int r;

	*out = NULL;
	if (!packable(s, f, &st))
		return 0;
	pk = calloc(1, sizeof(*pk));
	if (!pk || (f->hdr.size && !(pk->plain = malloc(f->hdr.size)))) {
		free(pk);
		return -ENOMEM;
	}
	/* Reading the file below may move its atime (relatime). */
	pk->times[0] = st.st_atim;
	pk->times[1] = st.st_mtim;
	pk->ref.size = f->hdr.size;
	pk->ref.gen = f->hdr.gen;
	pk->ref.flags = f->hdr.flags;
	pk->ref.block_size = bs;
	pk->ref.codec = f->hdr.codec;
	r = f->hdr.size ? v2_content(s, f, pk->plain) : 0;
	if (r == 0 && f->hdr.size && !is_zero(pk->plain, f->hdr.size)) {
		rec = malloc(fh2rec_max(bs));
		pack_binder(iv, off, bid);
		n = rec ? fh2rec_seal(s->key, bid, &f->hdr.codec, 0, pk->plain,
				      (uint32_t)f->hdr.size, bs, rec, &pk->ref.e)
			: -ENOMEM;
		if (n >= 0 && pk->ref.e.stored > PACK_STORED_MAX)
			n = 0, r = 1; /* does not compress enough: stays */
		else if (n < 0)
			r = (int)n;
		if (r == 0) {
			pk->ref.e.off = off;
			pk->ref.has_rec = 1;
			pk->ref.main_algo = fh2_ent_codec(&pk->ref.e);
			r = backend_pwrite_full(s->be, packfd, rec, (size_t)n, (off_t)off);
		}
	}
	free(rec);
	if (r != 0) {
		f->pk = pk; /* only to free it */
		ofile_pack_free(f);
		return r < 0 ? r : 0;
	}
	*out = pk;
	return n;
}

int ofile_pack_switch(struct store *s, struct ofile *f, struct ofile_pk *pk)
{
	uint8_t v[PACK_HINT_LEN];
	int r;

	pack_ref_encode(&pk->ref, v);
	r = backend_fsetxattr(f->be, f->fd, HINT_XATTR, v, sizeof(v), 0);
	if (r < 0) {
		f->pk = pk;
		ofile_pack_free(f);
		return r;
	}
	/* From here the file is packed: what follows only frees space. */
	if (backend_ftruncate(f->be, f->fd, 0) == 0)
		backend_futimens(f->be, f->fd, pk->times);
	/* The totals: the file moves to its record's row, its backing
	 * blocks are gone and its record is what it stores. */
	if (f->counted) {
		stats_file_delta(s->stats, ofile_acct_algo(f), -1, -(int64_t)f->hdr.size,
				 -(int64_t)f->stored);
		stats_file_delta(s->stats, pk->ref.main_algo, 1, (int64_t)f->hdr.size,
				 pk->ref.has_rec ? (int64_t)fh2_rec_len(pk->ref.e.stored) : 0);
	}
	v2open_free(f);
	f->pk = pk;
	hdr_from_ref(f, &pk->ref);
	f->bsize = 0;
	f->stored = 0;
	ofile_account(s, f);
	return 0;
}

int ofile_packed(struct ofile *f)
{
	int r;

	pthread_rwlock_rdlock(&f->lock);
	r = f->pk != NULL;
	pthread_rwlock_unlock(&f->lock);
	return r;
}

int ofile_unpack_at(struct store *s, int dirfd, const char *name)
{
	uint8_t v[PACK_HINT_LEN + 1];
	struct ofile *f;
	int r;

	if (!s->names || backend_getxattrat(s->be, dirfd, name, HINT_XATTR, v, sizeof(v)) !=
				 PACK_HINT_LEN)
		return 0;
	r = ofile_open(s, dirfd, name, &f); /* opened to be written: unpacks */
	return r < 0 ? r : ofile_release(s, f);
}

uint64_t ofile_packed_stored(struct store *s, int dirfd, const char *name, uint8_t *algo)
{
	uint8_t v[PACK_HINT_LEN + 1];
	struct pack_ref r;

	if (backend_getxattrat(s->be, dirfd, name, HINT_XATTR, v, sizeof(v)) != PACK_HINT_LEN ||
	    pack_ref_decode(v, PACK_HINT_LEN, &r) < 0)
		return 0;
	*algo = r.main_algo;
	return r.has_rec ? fh2_rec_len(r.e.stored) : 0;
}
