/* fsck_file.c - fsck of one regular file in format v1: both header slots,
 * the size hint, the attribute flag, and every block inside the size that
 * is not a listed hole (see fsck_int.h); and what the v2 check
 * (fsck_file2.c), which a v2 file is handed to, shares with it: the size
 * hint, the block ranges of a problem line, a destroyed header. */
#include "fsck_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "fallback.h"
#include "blockfmt.h"
#include "fh2rec.h"
#include "fh2.h"
#include "fileheader.h"
#include "ofile.h"
#include "util.h"

/* docs/FORMAT.md, "Size hint": size (le64), header flags (le16), the
 * compression algorithm (ofile_hint.c writes and reads it; the first 10 bytes
 * alone are an older form, still read); a v2 file's hint may also carry
 * the header generation (le64) that wrote it. */
#define HINT_LEN 11
#define HINT_LEN_OLD 10
#define HINT_LEN_GEN 19
/* Report progress at most every this many blocks of one file. */
#define PROGRESS_BLOCKS 64

/* A file being checked. */
struct fcheck {
	const struct walk_entry *e;
	int fd;                          /* read-only, the store's backend */
	uint8_t area[FH_AREA];           /* both header slots */
	struct file_header h[2];
	int rc[2];                       /* fh_open of each slot */
	int cur;                         /* the current slot, or -1 */
};

int fsck_bufs_fit(struct fsck *k, uint32_t bs)
{
	size_t need = blk_slot_size(bs) > fh2rec_max(bs) ? blk_slot_size(bs) : fh2rec_max(bs);

	if (k->bufcap >= need)
		return 0;
	free(k->rec);
	free(k->plain);
	free(k->scratch);
	k->rec = malloc(need);
	k->plain = malloc(need);
	k->scratch = malloc(need);
	k->bufcap = k->rec && k->plain && k->scratch ? need : 0;
	return k->bufcap ? 0 : -ENOMEM;
}

/* Verify block b.  Returns 0 when its newest record opens, 1 when only the
 * older one does (reads return the previous version), 2 when none does
 * (reads fail with EIO), or -errno. */
static int block_check(struct fsck *k, struct fcheck *c, uint64_t b)
{
	struct backend *be = k->s->be;
	const struct file_header *h = &c->h[c->cur];
	uint32_t bs = h->block_size;
	struct blk_prefix p[2];
	int ok[2], first;

	for (int i = 0; i < 2; i++) {
		uint8_t pre[BLK_PREFIX_LEN];
		ssize_t n = backend_pread_full(be, c->fd, pre, sizeof(pre),
					       blk_slot_offset(bs, b, i));

		if (n < 0)
			return (int)n;
		memset(pre + n, 0, sizeof(pre) - (size_t)n);
		ok[i] = blk_peek(pre, bs, &p[i]) == 0;
	}
	first = ok[1] && (!ok[0] || p[1].gen > p[0].gen);
	for (int t = 0; t < 2; t++) {
		int i = t ? !first : first;
		ssize_t n;

		if (!ok[i])
			continue;
		n = backend_pread_full(be, c->fd, k->rec, BLK_PREFIX_LEN + p[i].stored_len,
				       blk_slot_offset(bs, b, i));
		if (n < 0)
			return (int)n;
		if (blk_open(k->s->key, h->file_id, b, k->rec, (size_t)n, bs, k->plain,
			     k->scratch) >= 0)
			return t;
	}
	return 2;
}

void fsck_ranges_flush(struct fsck_ranges *g)
{
	size_t len = strlen(g->text);

	if (g->end == g->start)
		return;
	if (g->shown == FSCK_RANGES_SHOWN)
		snprintf(g->text + len, sizeof(g->text) - len, ", ...");
	else if (g->shown < FSCK_RANGES_SHOWN && g->end - g->start == 1)
		snprintf(g->text + len, sizeof(g->text) - len, "%s%llu", g->shown ? ", " : "",
			 (unsigned long long)g->start);
	else if (g->shown < FSCK_RANGES_SHOWN)
		snprintf(g->text + len, sizeof(g->text) - len, "%s%llu-%llu", g->shown ? ", " : "",
			 (unsigned long long)g->start, (unsigned long long)g->end - 1);
	g->shown++;
}

void fsck_ranges_add(struct fsck_ranges *g, uint64_t b)
{
	g->count++;
	if (g->end != g->start && b == g->end) {
		g->end++;
		return;
	}
	fsck_ranges_flush(g);
	g->start = b;
	g->end = b + 1;
}

static void check_blocks(struct fsck *k, struct fcheck *c)
{
	const struct file_header *h = &c->h[c->cur];
	uint64_t nblk = h->size / h->block_size + (h->size % h->block_size != 0);
	struct fsck_ranges bad, old;
	uint64_t base = k->prog.bytes_done;
	int r = fsck_bufs_fit(k, h->block_size);

	memset(&bad, 0, sizeof(bad));
	memset(&old, 0, sizeof(old));
	for (uint64_t b = 0; b < nblk && r >= 0; b++) {
		if (fh_is_hole(h, b))
			continue;
		r = block_check(k, c, b);
		k->sum->blocks++;
		if (r == 1)
			fsck_ranges_add(&old, b);
		else if (r == 2)
			fsck_ranges_add(&bad, b);
		if (b % PROGRESS_BLOCKS == PROGRESS_BLOCKS - 1) {
			uint64_t done = (b + 1) * blk_slot_size(h->block_size);

			k->prog.bytes_done = base + (done < (uint64_t)c->e->st.st_blocks * 512 ?
						     done : (uint64_t)c->e->st.st_blocks * 512);
			fsck_progress(k);
		}
	}
	k->prog.bytes_done = base;
	if (r < 0) {
		fsck_problem(k, c->e->path, FSCK_LEFT, "cannot read the backing file: %s", strerror(-r));
		return;
	}
	fsck_ranges_flush(&bad);
	fsck_ranges_flush(&old);
	k->sum->blocks_bad += bad.count;
	if (bad.count)
		fsck_problem(k, c->e->path, FSCK_LEFT, "%llu block(s) of %u bytes missing or do not "
			"authenticate: %s (reads there fail with EIO)",
			(unsigned long long)bad.count, h->block_size, bad.text);
	if (old.count)
		fsck_problem(k, c->e->path, FSCK_LEFT, "the newest record of %llu block(s) does not "
			"authenticate: %s (reads return the previous version)",
			(unsigned long long)old.count, old.text);
}

/* The size hint of e into v (room for 64 bytes): its length, or -errno
 * (-ENODATA: none). */
static ssize_t hint_read(struct fsck *k, const struct walk_entry *e, uint8_t *v)
{
	return backend_getxattrat(k->s->be, e->dfd, e->bname, FSCK_HINT_XATTR, v, 64);
}

int fsck_hint_write(struct fsck *k, const struct walk_entry *e, const struct file_header *h,
		    int with_gen)
{
	uint8_t v[HINT_LEN_GEN];

	util_put_le64(v, h->size);
	v[8] = (uint8_t)h->flags;
	v[9] = (uint8_t)(h->flags >> 8);
	v[10] = h->codec.algo;
	util_put_le64(v + HINT_LEN, h->gen);
	return backend_setxattrat(k->s->be, e->dfd, e->bname, FSCK_HINT_XATTR, v,
				  with_gen ? HINT_LEN_GEN : HINT_LEN, 0);
}

int fsck_hint_has_gen(struct fsck *k, const struct walk_entry *e)
{
	uint8_t v[64];

	return hint_read(k, e, v) == HINT_LEN_GEN;
}

uint64_t fsck_hint_gen(struct fsck *k, const struct walk_entry *e)
{
	uint8_t v[64];

	return hint_read(k, e, v) == HINT_LEN_GEN ? util_get_le64(v + HINT_LEN) : 0;
}

/* Write header nh into the slot that is not current (generation + 1),
 * as every header write does, keeping the file's times. */
static int header_rewrite(struct fsck *k, struct fcheck *c, struct file_header *nh)
{
	struct backend *be = k->s->be;
	uint8_t buf[FH_SLOT_SIZE];
	struct timespec tv[2];
	struct stat st;
	int fd, r;

	nh->gen = c->h[c->cur].gen + 1;
	r = fh_seal(k->s->key, nh, buf);
	if (r < 0)
		return r;
	fd = backend_openat(be, c->e->dfd, c->e->bname, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	r = backend_fstat(be, fd, &st);
	if (r == 0)
		r = backend_pwrite_full(be, fd, buf, sizeof(buf), fh_slot_offset(1 - c->cur));
	if (r == 0)
		r = backend_fsync(be, fd, 1);
	if (r == 0) {
		/* A repair is not a modification by the user. */
		tv[0] = st.st_atim;
		tv[1] = st.st_mtim;
		backend_futimens(be, fd, tv);
		c->h[1 - c->cur] = *nh;
		c->rc[1 - c->cur] = 0;
		c->cur = 1 - c->cur;
	}
	backend_close(be, fd);
	/* The hint follows the header's flags, as every header write keeps
	 * it; a file that had none gets one. */
	return r < 0 ? r : fsck_hint_write(k, c->e, &c->h[c->cur], 0);
}

/* Both header slots: the current one must verify; the other may be empty
 * (a file whose header was written once) but not damaged. */
static void check_slots(struct fsck *k, struct fcheck *c)
{
	int other = 1 - c->cur;
	uint64_t gen, size;
	struct file_header nh;
	char what[256];

	if (c->rc[other] != -EBADMSG)
		return;
	snprintf(what, sizeof(what), "header slot %d does not authenticate%s", other,
		 fh_peek(c->area + fh_slot_offset(other), &gen, &size) == 0 &&
		 gen > c->h[c->cur].gen ? "; it claims to be newer, so the file reads as it "
		 "was before its last size or hole change" : "");
	nh = c->h[c->cur];
	fsck_repairable(k, c->e->path, k->o->repair ? header_rewrite(k, c, &nh) : 0, what);
}

/* The size hint (docs/FORMAT.md) against the current header h: missing is
 * normal (a copy without xattrs) and left for the next open to add; wrong
 * is a problem.  v2: the hint may name the generation of the header that
 * wrote it, and one newer than h means h was put back from an older copy. */
void fsck_hint_check(struct fsck *k, const struct walk_entry *e, const struct file_header *h,
		     int v2)
{
	uint8_t v[64];
	ssize_t n = hint_read(k, e, v);
	uint64_t size, gen = 0;
	uint16_t flags;
	char what[320], done[320];
	int r;

	if (n == -ERANGE)
		n = 64; /* longer than any form: malformed */
	if (n < 0)
		return;
	if (n != HINT_LEN && n != HINT_LEN_OLD && n != HINT_LEN_GEN) {
		snprintf(what, sizeof(what), "size hint is malformed (%zd bytes): stat reads the "
			 "header instead until the file is opened", n);
		fsck_repairable(k, e->path, k->o->repair ? fsck_hint_write(k, e, h, 0) : 0, what);
		return;
	}
	size = util_get_le64(v);
	flags = (uint16_t)(v[8] | v[9] << 8);
	if (n == HINT_LEN_GEN)
		gen = util_get_le64(v + HINT_LEN);
	if (size < h->size && (!v2 || (gen && gen == h->gen))) {
		snprintf(what, sizeof(what), "size hint (%llu) below the authenticated size "
			 "(%llu): opening the file fails (EIO)", (unsigned long long)size,
			 (unsigned long long)h->size);
	} else if (v2 && gen > h->gen) {
		snprintf(what, sizeof(what), "its size hint was written by header generation %llu, "
			 "but the header is generation %llu: the file was put back from an older "
			 "copy (rolled back), and opening it fails (EIO); --repair accepts the "
			 "older version", (unsigned long long)gen, (unsigned long long)h->gen);
		snprintf(done, sizeof(done), "ROLLED BACK to an older version: its size hint was "
			 "written by header generation %llu, but only generation %llu is left (the "
			 "file was put back from an older copy); the hint now follows the older "
			 "header, so the file opens again as it was then (%llu bytes)",
			 (unsigned long long)gen, (unsigned long long)h->gen,
			 (unsigned long long)h->size);
		r = k->o->repair ? fsck_hint_write(k, e, h, 1) : 0;
		if (k->o->repair && r == 0)
			fsck_problem(k, e->path, FSCK_FIXED, "%s", done);
		else
			fsck_repairable(k, e->path, r, what);
		return;
	} else if (size != h->size) {
		snprintf(what, sizeof(what), "size hint (%llu) differs from the authenticated "
			 "size (%llu): stat shows the wrong size until the file is opened",
			 (unsigned long long)size, (unsigned long long)h->size);
	} else if (flags != h->flags) {
		snprintf(what, sizeof(what), "size hint's flags (%#x) differ from the header's "
			 "(%#x)", flags, h->flags);
	} else if (n >= HINT_LEN && v[10] != h->codec.algo) {
		snprintf(what, sizeof(what), "size hint's compression algorithm (%u) differs from "
			 "the header's (%u): the store totals would count the file's removal under "
			 "the wrong algorithm", v[10], h->codec.algo);
	} else {
		return;
	}
	{
		/* The generation the hint names stays: only a sync point
		 * raises it (a header fsck reads may not be durable yet). */
		struct file_header named = *h;

		named.gen = gen;
		fsck_repairable(k, e->path,
				k->o->repair ? fsck_hint_write(k, e, &named, n == HINT_LEN_GEN) : 0,
				what);
	}
}

/* The file's attributes: its blob (if any) must authenticate, and the
 * header must say it has one, or listxattr (which trusts the header's
 * flag) would not show them. */
static void check_file_xattrs(struct fsck *k, struct fcheck *c)
{
	struct file_header nh = c->h[c->cur];
	uint8_t id[XATTRS_ID_LEN];

	id[0] = 'f';
	memcpy(id + 1, nh.file_id, FH_ID_LEN);
	if (!fsck_xattrs_own(k, id, c->e->path) || (nh.flags & FH_FLAG_XATTRS))
		return;
	nh.flags |= FH_FLAG_XATTRS;
	fsck_repairable(k, c->e->path, k->o->repair ? header_rewrite(k, c, &nh) : 0,
		   "has extended attributes that its header does not mention: "
		   "listxattr does not show them");
}

void fsck_file_lost(struct fsck *k, const struct walk_entry *e, const uint8_t *const *slots,
		    int nslots, const char *cause)
{
	struct store *s = k->s;
	char name[64], what[320];
	int claimed = 0, r = 0;

	for (int i = 0; i < nslots; i++) {
		uint8_t id[XATTRS_ID_LEN];

		if (memcmp(slots[i], "RSFH", 4) != 0)
			continue;
		id[0] = 'f';
		memcpy(id + 1, slots[i] + 16, FH_ID_LEN);
		claimed += fsck_xattrs_own(k, id, NULL);
	}
	if (!claimed)
		k->unknown_ids++;
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)e->st.st_ino);
	if (e->st.st_nlink > 1 || !k->o->repair) {
		fsck_problem(k, e->path, e->st.st_nlink > 1 ? FSCK_LEFT : FSCK_FIXABLE,
			"%s: the file cannot be opened (EIO)%s", cause,
			e->st.st_nlink > 1 ? " (it has several names: left in place)"
			: "; --repair moves it out of the tree to BACKING/" FSCK_LOST_FOUND);
		return;
	}
	r = backend_mkdirat(s->be, s->rootfd, "../" FSCK_LOST_FOUND, 0700);
	if (r == 0 || r == -EEXIST) {
		char dst[80];

		snprintf(dst, sizeof(dst), "../" FSCK_LOST_FOUND "/%s", name);
		r = fallback_renameat2(s->be, &s->probe, e->dfd, e->bname, s->rootfd, dst,
				       RENAME_NOREPLACE);
	}
	if (r == 0 && name_is_long(e->bname)) {
		char side[NAME_LONG_LEN + 1];

		memcpy(side, e->bname, sizeof(side));
		side[1] = 'N';
		backend_unlinkat(s->be, e->dfd, side, 0);
	}
	if (r == 0)
		k->sum->lost_found++;
	snprintf(what, sizeof(what), "%s: the file could not be opened (EIO); moved out of the "
		 "tree to BACKING/" FSCK_LOST_FOUND "/%s", cause, name);
	fsck_repairable(k, e->path, r, what);
}

/* A v1 file none of whose header slots verifies.  The ids its slots claim
 * keep its attributes from being taken for orphans.  Repair moves it
 * (if it has one name) to BACKING/lost+found, out of the user's tree. */
static void header_destroyed(struct fsck *k, struct fcheck *c)
{
	const uint8_t *slots[2] = { c->area + fh_slot_offset(0), c->area + fh_slot_offset(1) };

	fsck_file_lost(k, c->e, slots, 2, "file header missing or damaged");
}

void fsck_file_check(struct fsck *k, const struct walk_entry *e)
{
	struct fcheck *c = calloc(1, sizeof(*c));
	struct backend *be = k->s->be;
	ssize_t n;

	k->sum->files++;
	if (!c) {
		fsck_problem(k, e->path, FSCK_LEFT, "not checked: out of memory");
		return;
	}
	c->e = e;
	c->fd = backend_open_noatime(be, e->dfd, e->bname);
	if (c->fd < 0) {
		fsck_problem(k, e->path, FSCK_LEFT, "cannot open the backing file: %s", strerror(-c->fd));
		free(c);
		return;
	}
	n = backend_pread_full(be, c->fd, c->area, sizeof(c->area), 0);
	if (n < 0) {
		fsck_problem(k, e->path, FSCK_LEFT, "cannot read the backing file: %s",
			strerror((int)-n));
		goto out;
	}
	memset(c->area + n, 0, sizeof(c->area) - (size_t)n);
	/* A packed file's backing file is empty, or holds only what a crash
	 * left of its content from before it was packed: its hint rules. */
	if (fsck_pack_file(k, e, c->fd))
		goto out;
	/* A v2 file has its second slot at 512, inside a v1 first slot (as
	 * ofile_hint.c tells them apart). */
	if (fh2_is_v2(c->area) || fh2_is_v2(c->area + FH2_SLOT)) {
		fsck_file2_check(k, e, c->fd, c->area);
		goto out;
	}
	c->cur = -1;
	for (int i = 0; i < 2; i++) {
		c->rc[i] = fh_open(k->s->key, c->area + fh_slot_offset(i), &c->h[i]);
		if (c->rc[i] == 0 && (c->cur < 0 || c->h[i].gen > c->h[c->cur].gen))
			c->cur = i;
	}
	if (c->cur < 0) {
		header_destroyed(k, c);
		goto out;
	}
	check_slots(k, c);
	check_file_xattrs(k, c);
	fsck_hint_check(k, c->e, &c->h[c->cur], 0);
	check_blocks(k, c);
out:
	backend_close(be, c->fd);
	k->prog.files_done++;
	k->prog.bytes_done += (uint64_t)e->st.st_blocks * 512;
	fsck_progress(k);
	free(c);
}

