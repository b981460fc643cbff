/* fsck_file2.c - fsck of one regular file in format v2 (fh2.h): both header
 * slots, the index, the backing file's length, the size hint, the attribute
 * flag and every record the index lists (see fsck_int.h, docs/FSCK.md).
 *
 * The check reads through the format layer's pure functions (fh2.c), as
 * v2open_load and v2io_verify_one read, so that without repair nothing is
 * written (ofile_open would already fix a size hint, and its last release
 * would zero an older header slot).  Repairs that only take away what
 * cannot be read (a damaged header slot, an older header left by a crash)
 * or give back the length the header needs are written here, keeping the
 * file's times; those that change the index (blocks whose records do not
 * authenticate become holes, the attribute flag) go through the store
 * layer (ofile_open, v2commit_drop_blocks, ofile_set_flag, ofile_release),
 * which follows the v2 write rules of v2commit.c. */
#include "fsck_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "fh2.h"
#include "fh2rec.h"
#include "ofile.h"
#include "ofile_int.h"
#include "v2_int.h"

/* Report progress at most every this many records of one file. */
#define PROGRESS_RECORDS 64

/* One header slot. */
struct slot2 {
	int rc;                  /* fh2_open: 0, -ENOENT (all zero), -EBADMSG */
	int peek;                /* magic and fields parse (fh2_peek) */
	uint64_t pgen;           /* the generation it claims, when peek */
	const char *why;         /* rc == 0, but a mount could not use it */
	int ixbad;               /* why: its index blob cannot be used */
	int lost;                /* why: the index blob or records it names
				    never reached the disk, so a mount takes
				    the older slot */
	struct file_header h;
	struct fh2_extra x;
	struct fh2_ent *ents;    /* x.nents entries once the index is read */
};

/* A file being checked. */
struct f2 {
	struct fsck *k;
	const struct walk_entry *e;
	int fd;                  /* read-only */
	const uint8_t *area;     /* both slots */
	uint64_t blen;           /* the backing file's length */
	struct slot2 sl[2];
	int cur;                 /* the newest usable slot, or -1 */
};

static int usable(const struct slot2 *sl)
{
	return sl->rc == 0 && !sl->why;
}

/* sl's header as its size hint copies it: the algorithm in a v2 hint is
 * the row of the totals (fh2_acct_algo), not the setting. */
static struct file_header hint_view(const struct slot2 *sl)
{
	struct file_header h = sl->h;

	h.codec.algo = fh2_acct_algo(&sl->h, &sl->x);
	return h;
}

/* ---- reading ------------------------------------------------------------ */

static int ext_cmp(const void *a, const void *b)
{
	const struct v2ext *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* 1 if the records (and the index blob) of sl overlap: v2open_load refuses
 * such a header.  0, or -ENOMEM. */
static int overlap(const struct slot2 *sl)
{
	uint32_t n = sl->x.nents, m = n + (n > FH2_INLINE_ENTS);
	struct v2ext *v = malloc((m ? m : 1) * sizeof(*v));
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		v[i].off = sl->ents[i].off;
		v[i].len = fh2_rec_len(sl->ents[i].stored);
	}
	if (m > n) {
		v[n].off = sl->x.ix_off;
		v[n].len = sl->x.ix_len;
	}
	qsort(v, m, sizeof(*v), ext_cmp);
	for (uint32_t i = 1; i < m && !r; i++)
		r = v[i].off < v[i - 1].off + v[i - 1].len;
	free(v);
	return r;
}

/* The index blob of sl (sl->ents has room).  0 (sl->why says what is
 * wrong, if anything) or -ENOMEM. */
static int index_read(struct f2 *c, struct slot2 *sl)
{
	struct backend *be = c->k->s->be;
	uint8_t *blob, *scratch;
	ssize_t n;

	blob = malloc(sl->x.ix_len);
	scratch = malloc((size_t)sl->x.ix_len + CRYPTO_TAG_LEN);
	if (!blob || !scratch) {
		free(blob);
		free(scratch);
		return -ENOMEM;
	}
	n = backend_pread_full(be, c->fd, blob, sl->x.ix_len, (off_t)sl->x.ix_off);
	if (n < 0)
		sl->why = "its index blob cannot be read";
	else if (n < (ssize_t)sl->x.ix_len)
		sl->why = "its index blob lies past the end of the backing file";
	else if (fh2_ix_open(c->k->s->key, &sl->h, &sl->x, blob, sl->x.ix_len, sl->ents,
			     scratch) < 0)
		sl->why = "its index blob does not authenticate";
	free(blob);
	free(scratch);
	return 0;
}

/* Verify slot i and read its index.  0 or -ENOMEM. */
static int slot_load(struct f2 *c, int i)
{
	struct slot2 *sl = &c->sl[i];
	const uint8_t *buf = c->area + i * FH2_SLOT;
	struct fh2_ent inl[FH2_INLINE_ENTS];
	uint64_t size;
	uint32_t ninl;
	int r;

	sl->peek = fh2_peek(buf, &sl->pgen, &size) == 0;
	sl->rc = fh2_open(c->k->s->key, buf, &sl->h, &sl->x, inl, &ninl);
	if (sl->rc < 0)
		return 0;
	if (ninl != sl->x.nents && sl->x.ix_off + sl->x.ix_len > c->blen) {
		/* Not even read: its length alone says it is cut away. */
		sl->why = "its index blob lies past the end of the backing file";
		sl->ixbad = 1;
		return 0;
	}
	sl->ents = calloc(sl->x.nents ? sl->x.nents : 1, sizeof(*sl->ents));
	if (!sl->ents)
		return -ENOMEM;
	if (ninl == sl->x.nents)
		memcpy(sl->ents, inl, ninl * sizeof(*sl->ents));
	else if ((r = index_read(c, sl)) < 0)
		return r;
	sl->ixbad = sl->why != NULL;
	if (!sl->why) {
		r = overlap(sl);
		if (r < 0)
			return r;
		if (r)
			sl->why = "its records overlap";
	}
	return 0;
}

/* ---- writing (repair only) ---------------------------------------------- */

/* Open the backing file for writing; *st: its times to put back. */
static int wopen(struct f2 *c, struct stat *st)
{
	struct backend *be = c->k->s->be;
	int fd = backend_openat(be, c->e->dfd, c->e->bname, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return fd;
	r = backend_fstat(be, fd, st);
	if (r < 0) {
		backend_close(be, fd);
		return r;
	}
	return fd;
}

/* Make r's writes durable, put the times back (a repair is not a
 * modification by the user), close.  Returns r or the error of the sync. */
static int wclose(struct f2 *c, int fd, const struct stat *st, int r)
{
	struct backend *be = c->k->s->be;
	struct timespec tv[2] = { st->st_atim, st->st_mtim };

	if (r == 0)
		r = backend_fsync(be, fd, 1);
	if (r == 0)
		backend_futimens(be, fd, tv);
	backend_close(be, fd);
	return r;
}

/* Zero header slot i.  What the other slot describes is made durable
 * first, so a crash cannot leave neither (the rule R3 of v2commit.c). */
static int slot_clear(struct f2 *c, int i)
{
	struct backend *be = c->k->s->be;
	uint8_t zero[FH2_SLOT];
	struct stat st;
	int fd = wopen(c, &st), r;

	if (fd < 0)
		return fd;
	memset(zero, 0, sizeof(zero));
	r = backend_fsync(be, fd, 0);
	if (r == 0)
		r = backend_pwrite_full(be, fd, zero, sizeof(zero), (off_t)i * FH2_SLOT);
	return wclose(c, fd, &st, r);
}

/* Give the backing file the length len (zeros at its end). */
static int extend(struct f2 *c, uint64_t len)
{
	struct stat st;
	int fd = wopen(c, &st);

	if (fd < 0)
		return fd;
	return wclose(c, fd, &st, backend_ftruncate(c->k->s->be, fd, (off_t)len));
}

/* Report a repairable problem: found is what a check says, done what a
 * successful repair (r == 0) says. */
static void report(struct f2 *c, int r, const char *found, const char *done)
{
	if (c->k->o->repair && r == 0)
		fsck_problem(c->k, c->e->path, FSCK_FIXED, "%s", done);
	else
		fsck_repairable(c->k, c->e->path, r, found);
}

/* ---- the checks --------------------------------------------------------- */

/* The slot that is not current: at rest it is all zero (v2commit.c, R3). */
static void check_slots(struct f2 *c)
{
	struct fsck *k = c->k;
	int i = 1 - c->cur, rollback, r = 0;
	const struct slot2 *o = &c->sl[i], *cu = &c->sl[c->cur];
	unsigned long long cgen = cu->h.gen, csize = cu->h.size;
	char found[512], done[512];

	if (o->rc == -ENOENT)
		return;
	if (usable(o)) {
		snprintf(found, sizeof(found), "an older header (slot %d, generation %llu, %llu "
			 "bytes) still verifies beside the current one (generation %llu): left by a "
			 "crash before the file's last sync point, it would let the file be rolled "
			 "back to that version unnoticed; --repair zeroes it", i,
			 (unsigned long long)o->h.gen, (unsigned long long)o->h.size, cgen);
		snprintf(done, sizeof(done), "an older header (slot %d, generation %llu) still "
			 "verified beside the current one (generation %llu), left by a crash; "
			 "zeroed", i, (unsigned long long)o->h.gen, cgen);
		report(c, k->o->repair ? slot_clear(c, i) : 0, found, done);
		return;
	}
	rollback = o->rc == 0 ? o->h.gen > cu->h.gen : o->peek && o->pgen > cu->h.gen;
	if (!rollback) {
		if (o->rc == 0)
			snprintf(found, sizeof(found), "an older header (slot %d, generation %llu) "
				 "is left by a crash, and %s; the current header is generation %llu; "
				 "--repair zeroes the older one", i, (unsigned long long)o->h.gen,
				 o->why, cgen);
		else
			snprintf(found, sizeof(found), "header slot %d is damaged (neither empty nor "
				 "a header that verifies); the current header is slot %d, generation "
				 "%llu; --repair zeroes the damaged slot", i, c->cur, cgen);
		snprintf(done, sizeof(done), "header slot %d was damaged (%s); zeroed", i,
			 o->rc == 0 ? o->why : "it did not authenticate");
		report(c, k->o->repair ? slot_clear(c, i) : 0, found, done);
		return;
	}
	if (o->lost) {
		snprintf(found, sizeof(found), "the newest header (slot %d, generation %llu) was "
			 "written just before a crash and %s: the file opens as its version of "
			 "generation %llu (%llu bytes), as at its last sync point; --repair zeroes "
			 "the newer header", i, (unsigned long long)o->h.gen, o->why, cgen, csize);
		snprintf(done, sizeof(done), "the newest header (slot %d, generation %llu) was "
			 "written just before a crash and %s; zeroed: the file is its version of "
			 "generation %llu (%llu bytes), as at its last sync point", i,
			 (unsigned long long)o->h.gen, o->why, cgen, csize);
	} else if (o->rc == 0) {
		snprintf(found, sizeof(found), "the newest header (slot %d, generation %llu) "
			 "verifies, but %s: the file cannot be opened (EIO); the older header (slot "
			 "%d, generation %llu, %llu bytes) verifies: --repair rolls the file back to "
			 "it", i, (unsigned long long)o->h.gen, o->why, c->cur, cgen, csize);
		snprintf(done, sizeof(done), "ROLLED BACK to an older version: the newest header "
			 "(slot %d, generation %llu) verified, but %s; the file is now its older "
			 "version (generation %llu, %llu bytes), and what its last changes wrote is "
			 "lost", i, (unsigned long long)o->h.gen, o->why, cgen, csize);
	} else {
		snprintf(found, sizeof(found), "the newest header (slot %d, claiming generation "
			 "%llu) does not authenticate: only the older header (slot %d, generation "
			 "%llu, %llu bytes) is left, an older version of the file; --repair rolls "
			 "the file back to it", i, (unsigned long long)o->pgen, c->cur, cgen, csize);
		snprintf(done, sizeof(done), "ROLLED BACK to an older version: the newest header "
			 "(slot %d, claiming generation %llu) does not authenticate; the file is now "
			 "its older version (generation %llu, %llu bytes), and what its last changes "
			 "wrote is lost", i, (unsigned long long)o->pgen, cgen, csize);
	}
	if (k->o->repair) {
		/* The hint goes with the header that is left: a hint that saw
		 * the newer generation would keep the file from opening. */
		int gen_form = fsck_hint_has_gen(k, c->e);

		struct file_header hv = hint_view(cu);

		r = slot_clear(c, i);
		if (r == 0)
			r = fsck_hint_write(k, c->e, &hv, gen_form);
	}
	report(c, r, found, done);
}

/* The backing file must be at least as long as the header's data end; in
 * a shorter one the records past the end read as EIO. */
static void check_length(struct f2 *c)
{
	uint64_t need = c->sl[c->cur].x.data_end;
	char found[384], done[384];
	int r = 0;

	if (c->blen >= need)
		return;
	snprintf(found, sizeof(found), "backing file cut short: %llu bytes, but its header "
		 "needs %llu: the blocks whose records lie past the end read as EIO; --repair "
		 "restores the length "
		 "(zeros), and the blocks whose records are lost become holes",
		 (unsigned long long)c->blen, (unsigned long long)need);
	snprintf(done, sizeof(done), "backing file was cut short (%llu bytes, its header "
		 "needs %llu): length restored with zeros",
		 (unsigned long long)c->blen, (unsigned long long)need);
	if (c->k->o->repair) {
		r = extend(c, need);
		if (r == 0)
			c->blen = need;
	}
	report(c, r, found, done);
}

/* Read and authenticate every record of the current header.  Bad blocks
 * go to bad (room for every entry) and g.  Returns how many, or -errno. */
static long check_records(struct f2 *c, uint64_t *bad, struct fsck_ranges *g)
{
	struct fsck *k = c->k;
	const struct slot2 *cu = &c->sl[c->cur];
	uint64_t base = k->prog.bytes_done, alloc = (uint64_t)c->e->st.st_blocks * 512;
	long nbad = 0;
	int r = fsck_bufs_fit(k, cu->h.block_size);

	if (r < 0)
		return r;
	for (uint32_t j = 0; j < cu->x.nents; j++) {
		const struct fh2_ent *en = &cu->ents[j];
		size_t len = fh2_rec_len(en->stored);
		ssize_t n = backend_pread_full(k->s->be, c->fd, k->rec, len, (off_t)en->off);

		if (n < 0) {
			k->prog.bytes_done = base;
			return n;
		}
		k->sum->blocks++;
		if ((size_t)n < len || fh2rec_open(k->s->key, cu->h.file_id, en, k->rec,
						    cu->h.block_size, k->plain, k->scratch) < 0) {
			bad[nbad++] = en->block;
			fsck_ranges_add(g, en->block);
		}
		if (j % PROGRESS_RECORDS == PROGRESS_RECORDS - 1) {
			uint64_t done = en->off + len;

			k->prog.bytes_done = base + (done < alloc ? done : alloc);
			fsck_progress(k);
		}
	}
	k->prog.bytes_done = base;
	fsck_ranges_flush(g);
	return nbad;
}

/* The xattr blob the current header binds (fh2.h): the tag of the blob on
 * disk (zeros for none) must be the bound one, or the one being written.
 * Returns 1 (and *had: whether a blob exists) when the header must be
 * bound to tag instead, else 0.  A blob that does not open is reported as
 * such (fsck_xattrs_own) and not looked at here. */
static int check_binding(struct f2 *c, const uint8_t *id, uint8_t *tag, int *had)
{
	static const uint8_t none[CRYPTO_TAG_LEN];
	const struct fh2_extra *x = &c->sl[c->cur].x;
	int r = fsck_xattrs_tag(c->k, id, tag);

	if (r < 0 || (r == 1 && !fsck_xattrs_opens(c->k, id)))
		return 0;
	if (memcmp(tag, x->xattr_mac, CRYPTO_TAG_LEN) == 0 ||
	    (memcmp(x->xattr_next, none, CRYPTO_TAG_LEN) != 0 &&
	     memcmp(tag, x->xattr_next, CRYPTO_TAG_LEN) == 0))
		return 0;
	*had = r;
	return 1;
}

/* The repairs that change the header's index or fields, through the store
 * layer: the bad blocks become holes, the attribute flag is set, the
 * xattr blob on disk (tag; zeros: none) is bound.  0 or -errno. */
static int store_repair(struct f2 *c, const uint64_t *bad, size_t nbad, int flag,
			const uint8_t *tag)
{
	static const uint8_t none[CRYPTO_TAG_LEN];
	struct store *s = c->k->s;
	struct ofile *f;
	int r = ofile_open(s, c->e->dfd, c->e->bname, &f), r2;

	if (r < 0)
		return r;
	ofile_set_path(f, c->e->path);
	if (nbad)
		r = v2commit_drop_blocks(s, f, bad, nbad);
	if (r == 0 && flag)
		r = ofile_set_flag(s, f, FH_FLAG_XATTRS, 1);
	if (r == 0 && tag)
		r = ofile_xattr_bind(s, f, tag, none, 1);
	r2 = ofile_release(s, f);
	return r < 0 ? r : r2;
}

/* The newest slot a mount could use, or -1.  When both are usable, the
 * newer gives way as v2open_load makes it give way (v2pick.c). */
static int pick(struct f2 *c)
{
	uint64_t hint = fsck_hint_gen(c->k, c->e);
	int best = -1;

	for (int i = 0; i < 2; i++) {
		if (usable(&c->sl[i]) && (best < 0 || c->sl[i].h.gen > c->sl[best].h.gen))
			best = i;
		c->sl[i].lost = c->sl[i].ixbad && usable(&c->sl[1 - i]) &&
				c->sl[i].h.gen > c->sl[1 - i].h.gen &&
				!v2pick_hint_binds(hint, &c->sl[i].h);
	}
	if (best >= 0 && usable(&c->sl[1 - best]) && !v2pick_hint_binds(hint, &c->sl[best].h)) {
		struct slot2 *nw = &c->sl[best], *old = &c->sl[1 - best];
		struct iobufs *io = bufs_get(nw->h.block_size);

		if (io && v2pick_newer_whole(c->k->s->key, c->k->s->be, c->fd, &nw->h, nw->ents,
					     nw->x.nents, old->ents, old->x.nents, io) == 0) {
			nw->why = "records it names never reached the disk";
			nw->lost = 1;
			best = 1 - best;
		}
	}
	return best;
}

/* No slot a mount could use: the file goes the way of a v1 file whose
 * header is destroyed. */
static void destroyed(struct f2 *c)
{
	const uint8_t *slots[2] = { c->area, c->area + FH2_SLOT };
	char cause[256];
	int v = c->sl[0].rc == 0 ? 0 : c->sl[1].rc == 0 ? 1 : -1;

	if (v < 0)
		snprintf(cause, sizeof(cause), "file header missing or damaged (no header slot "
			 "verifies)");
	else
		snprintf(cause, sizeof(cause), "file header missing or damaged (header slot %d, "
			 "generation %llu, verifies, but %s)", v,
			 (unsigned long long)c->sl[v].h.gen, c->sl[v].why);
	fsck_file_lost(c->k, c->e, slots, 2, cause);
}

void fsck_file2_check(struct fsck *k, const struct walk_entry *e, int fd, const uint8_t *area)
{
	struct f2 c = { .k = k, .e = e, .fd = fd, .area = area, .cur = -1 };
	struct fsck_ranges g;
	const struct slot2 *cu;
	struct file_header hv;
	uint8_t id[XATTRS_ID_LEN], tag[CRYPTO_TAG_LEN];
	uint64_t *bad = NULL;
	char found[512], done[512];
	struct stat st;
	long nbad;
	int flag, bind, had = 0, r = 0;

	c.blen = backend_fstat(k->s->be, fd, &st) == 0 ? (uint64_t)st.st_size
						       : (uint64_t)e->st.st_size;
	for (int i = 0; i < 2 && r == 0; i++)
		r = slot_load(&c, i);
	if (r < 0) {
		fsck_problem(k, e->path, FSCK_LEFT, "not checked: out of memory");
		goto out;
	}
	c.cur = pick(&c);
	if (c.cur < 0) {
		destroyed(&c);
		goto out;
	}
	cu = &c.sl[c.cur];
	check_slots(&c);
	check_length(&c);
	hv = hint_view(cu);
	fsck_hint_check(k, e, &hv, 1);

	bad = malloc((cu->x.nents ? cu->x.nents : 1) * sizeof(*bad));
	if (!bad) {
		fsck_problem(k, e->path, FSCK_LEFT, "blocks not checked: out of memory");
		goto out;
	}
	memset(&g, 0, sizeof(g));
	nbad = check_records(&c, bad, &g);
	if (nbad < 0) {
		fsck_problem(k, e->path, FSCK_LEFT, "cannot read the backing file: %s",
			     strerror((int)-nbad));
		nbad = 0;
	}
	k->sum->blocks_bad += (uint64_t)nbad;

	id[0] = 'f';
	memcpy(id + 1, cu->h.file_id, FH_ID_LEN);
	flag = fsck_xattrs_own(k, id, e->path) && !(cu->h.flags & FH_FLAG_XATTRS);
	bind = check_binding(&c, id, tag, &had);
	if (k->o->repair && (nbad || flag || bind))
		r = store_repair(&c, bad, (size_t)nbad, flag, bind ? tag : NULL);
	if (flag)
		fsck_repairable(k, e->path, r, "has extended attributes that its header does not "
				"mention: listxattr does not show them");
	if (bind && had)
		report(&c, r, "its extended attributes are not the ones its header names (an older "
		       "copy of their blob, or another file's): reading them fails (EIO); --repair "
		       "makes the header name the blob that is there",
		       "its extended attributes were not the ones its header names: the header now "
		       "names the blob that is there (if that is an older copy, the attributes are "
		       "ROLLED BACK to it)");
	else if (bind)
		report(&c, r, "its header names extended attributes whose blob is gone: reading "
		       "them fails (EIO); --repair records that it has none",
		       "its header named extended attributes whose blob is gone: it now has none "
		       "(they are lost)");
	if (nbad) {
		snprintf(found, sizeof(found), "%ld block(s) of %u bytes missing or do not "
			 "authenticate: %s (reads there fail with EIO); --repair makes them holes, "
			 "which read as zeros", nbad, cu->h.block_size, g.text);
		snprintf(done, sizeof(done), "%ld block(s) of %u bytes missing or did not "
			 "authenticate: %s; made holes: they now read as zeros, their data is lost",
			 nbad, cu->h.block_size, g.text);
		report(&c, r, found, done);
	}
out:
	free(bad);
	for (int i = 0; i < 2; i++)
		free(c.sl[i].ents);
}
