/* fsck_pack.c - fsck of packed small files and of the packs that hold
 * their records (pack.h, docs/FORMAT.md "Packed small files"; see
 * fsck_int.h and docs/FSCK.md).
 *
 * A packed file has an empty backing file and a size hint in the packed
 * form, which names its one record in the pack of its directory (the
 * directory's value file, after the value).  Checked here: the hint
 * decodes; the record is read whole and opens with the binder of its
 * place; the backing file holds nothing (bytes left there by a crash
 * between setting the hint and truncating the file are ignored by a mount,
 * and --repair truncates them).  A record that does not open becomes a
 * hole, as a v2 file's bad block does: --repair rewrites the hint without
 * a record, so the file reads as zeros.  Once a directory is done, its
 * pack's bytes that no file references are counted as dead (a note, not a
 * problem), and records that two files reference at once are reported. */
#include "fsck_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "fh2rec.h"
#include "pack.h"

/* One record of a pack that a packed file references. */
struct fsck_pext {
	int dfd;        /* the directory (open until its dir_done) */
	uint64_t off, len;
	char *path;     /* the file, for messages */
};

static int pext_add(struct fsck *k, const struct walk_entry *e, const struct pack_ref *ref)
{
	struct fsck_pext *p;

	if (k->npexts == k->cappexts) {
		size_t ncap = k->cappexts ? 2 * k->cappexts : 64;

		p = realloc(k->pexts, ncap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		k->pexts = p;
		k->cappexts = ncap;
	}
	p = &k->pexts[k->npexts];
	p->dfd = e->dfd;
	p->off = ref->e.off;
	p->len = fh2_rec_len(ref->e.stored);
	p->path = strdup(e->path);
	if (!p->path)
		return -ENOMEM;
	k->npexts++;
	return 0;
}

/* ---- one packed file ---------------------------------------------------- */

/* Report a repairable problem: found is what a check says, done what a
 * successful repair (r == 0) says. */
static void report(struct fsck *k, const char *path, int r, const char *found, const char *done)
{
	if (k->o->repair && r == 0)
		fsck_problem(k, path, FSCK_FIXED, "%s", done);
	else
		fsck_repairable(k, path, r, found);
}

/* Truncate the backing file of e to nothing, keeping its times (a repair
 * is not a modification by the user). */
static int leftovers_drop(struct fsck *k, const struct walk_entry *e)
{
	struct backend *be = k->s->be;
	struct timespec tv[2];
	struct stat st;
	int fd = backend_openat(be, e->dfd, e->bname, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0), r;

	if (fd < 0)
		return fd;
	r = backend_fstat(be, fd, &st);
	if (r == 0)
		r = backend_ftruncate(be, fd, 0);
	if (r == 0)
		r = backend_fsync(be, fd, 0);
	if (r == 0) {
		tv[0] = st.st_atim;
		tv[1] = st.st_mtim;
		r = backend_futimens(be, fd, tv);
	}
	backend_close(be, fd);
	return r;
}

/* Read and open the record of ref in the pack of e's directory.  Returns
 * NULL when it opens, else why it does not (a static string). */
static const char *record_check(struct fsck *k, const struct walk_entry *e,
				const struct pack_ref *ref)
{
	struct backend *be = k->s->be;
	uint64_t len = fh2_rec_len(ref->e.stored);
	uint8_t bind[FH_ID_LEN];
	const char *why = NULL;
	ssize_t n;
	int fd;

	if (fsck_bufs_fit(k, ref->block_size) < 0)
		return "could not be checked (out of memory)";
	fd = backend_open_noatime(be, e->dfd, NAME_DIRIV_FILE);
	if (fd < 0)
		return "is missing (the directory's value file cannot be opened)";
	n = backend_pread_full(be, fd, k->rec, (size_t)len, (off_t)ref->e.off);
	backend_close(be, fd);
	if (n < 0)
		return "cannot be read";
	if ((uint64_t)n < len)
		return n ? "is cut short (it lies past the end of the pack)"
			 : "is missing (it lies past the end of the pack)";
	pack_binder(e->iv, ref->e.off, bind);
	if (fh2rec_open(k->s->key, bind, &ref->e, k->rec, ref->block_size, k->plain,
			k->scratch) < 0)
		why = "does not authenticate";
	return why;
}

/* ref's record does not open (why): report it as a bad block, and with
 * --repair make the file a hole of the same size.  Returns 1 if the hint
 * no longer names the record. */
static int record_bad(struct fsck *k, const struct walk_entry *e, const struct pack_ref *ref,
		      const char *why)
{
	char found[512], done[512];
	uint8_t hint[PACK_HINT_LEN];
	struct pack_ref nr = *ref;
	int r = 0;

	snprintf(found, sizeof(found), "1 block(s) of %u bytes missing or do not authenticate: 0 "
		 "(its record in the directory's pack, at %llu, %s; reads there fail with EIO); "
		 "--repair makes them holes, which read as zeros", ref->block_size,
		 (unsigned long long)ref->e.off, why);
	snprintf(done, sizeof(done), "1 block(s) of %u bytes missing or did not authenticate: 0 "
		 "(its record in the directory's pack, at %llu, %s); made holes: they now read "
		 "as zeros, their data is lost", ref->block_size, (unsigned long long)ref->e.off,
		 why);
	if (k->o->repair) {
		/* The same file without its record: ref->size zero bytes.  A
		 * file without records counts as "none" in the totals
		 * (docs/STATS.md). */
		nr.has_rec = 0;
		memset(&nr.e, 0, sizeof(nr.e));
		nr.main_algo = CODEC_NONE;
		pack_ref_encode(&nr, hint);
		r = backend_setxattrat(k->s->be, e->dfd, e->bname, FSCK_HINT_XATTR, hint,
				       sizeof(hint), 0);
	}
	report(k, e->path, r, found, done);
	return k->o->repair && r == 0;
}

int fsck_pack_file(struct fsck *k, const struct walk_entry *e, int fd)
{
	uint8_t v[64];
	ssize_t n = backend_getxattrat(k->s->be, e->dfd, e->bname, FSCK_HINT_XATTR, v, sizeof(v));
	struct pack_ref ref;
	const char *why = NULL;
	struct stat st;
	uint64_t blen;

	if (n != PACK_HINT_LEN || v[19] != PACK_FORM)
		return 0; /* not packed: a v1 or v2 file, checked as such */
	if (pack_ref_decode(v, (size_t)n, &ref) < 0) {
		fsck_problem(k, e->path, FSCK_LEFT, "its size hint has the packed form but is "
			     "malformed: the file cannot be opened (EIO)");
		return 1;
	}
	if (!k->s->names || k->s->desc.version < 3) {
		fsck_problem(k, e->path, FSCK_LEFT, "its size hint says it is packed, but %s has "
			     "no packs: the file cannot be opened (EIO)", !k->s->names ?
			     "a store with plaintext names" : "a store older than version 3");
		return 1;
	}
	/* The hint does not carry the file id its attribute blob is named
	 * by: keep every blob rather than take this file's for an orphan. */
	if (ref.flags & FH_FLAG_XATTRS)
		k->unknown_ids++;

	blen = backend_fstat(k->s->be, fd, &st) == 0 ? (uint64_t)st.st_size
						     : (uint64_t)e->st.st_size;
	if (blen) {
		char found[320], done[320];

		snprintf(found, sizeof(found), "leftover bytes after packing: the backing file "
			 "still holds %llu bytes of its content from before it was packed (left by "
			 "a crash; reads ignore them)", (unsigned long long)blen);
		snprintf(done, sizeof(done), "leftover bytes after packing: the backing file held "
			 "%llu bytes of its content from before it was packed (left by a crash); "
			 "truncated", (unsigned long long)blen);
		report(k, e->path, k->o->repair ? leftovers_drop(k, e) : 0, found, done);
	}

	if (!ref.has_rec)
		return 1;
	if (e->iv_unknown) {
		/* The binder needs the directory value, whose loss is
		 * reported: the record cannot be told good or bad. */
		if (pext_add(k, e, &ref) < 0)
			fsck_problem(k, e->path, FSCK_LEFT, "not checked: out of memory");
		return 1;
	}
	k->sum->blocks++;
	why = record_check(k, e, &ref);
	if (why)
		k->sum->blocks_bad++;
	if ((!why || !record_bad(k, e, &ref, why)) && pext_add(k, e, &ref) < 0)
		fsck_problem(k, e->path, FSCK_LEFT, "pack space not counted: out of memory");
	return 1;
}

/* ---- the pack of a directory -------------------------------------------- */

static int pext_cmp(const void *a, const void *b)
{
	const struct fsck_pext *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

void fsck_pack_dir_done(struct fsck *k, int dfd)
{
	const struct fsck_pext *last = NULL;
	uint64_t plen = 0, covered = 0, end = PACK_START;
	struct stat st;
	size_t m = 0;

	/* This directory's records to the front (its subdirectories are
	 * done before it, so the others are those of its ancestors). */
	for (size_t i = 0; i < k->npexts; i++)
		if (k->pexts[i].dfd == dfd) {
			struct fsck_pext t = k->pexts[i];

			k->pexts[i] = k->pexts[m];
			k->pexts[m++] = t;
		}
	if (k->s->names && backend_fstatat(k->s->be, dfd, NAME_DIRIV_FILE, &st,
					   AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		plen = (uint64_t)st.st_size;
	if (m) /* qsort of NULL, even of 0 elements, is undefined */
		qsort(k->pexts, m, sizeof(*k->pexts), pext_cmp);
	for (size_t i = 0; i < m; i++) {
		const struct fsck_pext *p = &k->pexts[i];
		uint64_t a = p->off, b = p->off + p->len;

		/* last: the record reaching furthest so far. */
		if (last && a < last->off + last->len)
			fsck_problem(k, p->path, FSCK_LEFT, "its record in the directory's pack (at "
				     "%llu) overlaps the record of %s: two files share pack space, "
				     "so at most one of them keeps its own data",
				     (unsigned long long)p->off, last->path);
		if (!last || b > last->off + last->len)
			last = p;
		/* The union of the records inside the pack (a record past its
		 * end is reported as cut short). */
		if (a < end)
			a = end;
		if (b > plen)
			b = plen;
		if (b > a) {
			covered += b - a;
			end = b;
		}
	}
	if (plen > PACK_START) {
		k->sum->packs++;
		k->sum->pack_bytes += plen - PACK_START;
		k->sum->pack_dead += plen - PACK_START - covered;
	}
	for (size_t i = 0; i < m; i++)
		free(k->pexts[i].path);
	if (m)
		memmove(k->pexts, k->pexts + m, (k->npexts - m) * sizeof(*k->pexts));
	k->npexts -= m;
}

void fsck_pack_done(struct fsck *k)
{
	if (k->sum->pack_dead)
		fsck_problem(k, "/", FSCK_NOTE, "%llu of the %llu record bytes in the packs of "
			     "%llu director(ies) are dead: records no file references any more "
			     "(files unlinked, rewritten or unpacked since); removing a directory "
			     "reclaims its pack", (unsigned long long)k->sum->pack_dead,
			     (unsigned long long)k->sum->pack_bytes,
			     (unsigned long long)k->sum->packs);
	for (size_t i = 0; i < k->npexts; i++)
		free(k->pexts[i].path);
	free(k->pexts);
	k->pexts = NULL;
	k->npexts = k->cappexts = 0;
}
