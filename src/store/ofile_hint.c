/* ofile_hint.c - the size hint attribute of regular backing files
 * (docs/FORMAT.md "Size hint"): written from the header, checked against it
 * at open, read without opening for stat, listxattr and unlink. */
#include "ofile_int.h"

#include <errno.h>
#include <string.h>

#include "backend.h"
#include "util.h"

/* A copy of the header's size, flags and compression algorithm kept as an
 * attribute of the backing file, so that stat, listxattr and unlink need
 * not read (from disk, for a cold tree) and authenticate the header.  It is
 * only a hint: opening a file checks it against the authenticated header,
 * repairs it and, when it was wrong, makes the kernel fetch the
 * authenticated size (docs/CORE.md). */
#define HINT_LEN 11     /* size (le64), header flags (le16), algorithm */
#define HINT_LEN_V1 10  /* without the algorithm: still read */
#define HINT_LEN_GEN 19 /* v2 files: then the header generation (le64) */

/* The hint of header h of f into out; returns its length.  A v2 file's
 * hint carries the generation of a header that is durable (hint_gen of its
 * v2 state: 0 until its first sync point, raised only by v2commit.c
 * sync_done), so that a crash never leaves a hint newer than the header. */
static size_t hint_encode(const struct file_header *h, const struct ofile *f, uint8_t *out)
{
	/* A v2 hint is never below the durable header's size either, so
	 * that a crash which loses a newer, smaller header (a truncate not
	 * yet synced) leaves no hint that looks shrunk by tampering. */
	util_put_le64(out, f->v2 && f->v2->durable_size > h->size ? f->v2->durable_size
								: h->size);
	out[8] = (uint8_t)h->flags;
	out[9] = (uint8_t)(h->flags >> 8);
	out[10] = f->v2 ? f->v2->disk_algo : h->codec.algo;
	if (!f->v2)
		return HINT_LEN;
	util_put_le64(out + HINT_LEN, f->v2->hint_gen);
	return HINT_LEN_GEN;
}

void ofile_hint_write(struct ofile *f, const struct file_header *h)
{
	uint8_t v[HINT_LEN_GEN];
	size_t n = hint_encode(h, f, v);

	backend_fsetxattr(f->be, f->fd, HINT_XATTR, v, n, 0);
}

void ofile_hint_update(struct ofile *f)
{
	ofile_hint_write(f, &f->hdr);
}

/* Check the hint against the authenticated header at open.  For a v1 file
 * the hint is written before the header when a file grows and after it when
 * it shrinks,
 * so a crash leaves it too large at worst.  A hint smaller than the real
 * size would make the kernel stop reading early (it trusts the size it was
 * given at lookup), so that can only be tampering: -EIO.  Anything else
 * (missing after a copy without xattrs, too large after a crash, the
 * shorter form without the algorithm) is repaired. */
int ofile_hint_check(struct ofile *f)
{
	uint8_t have[HINT_LEN_GEN], want[HINT_LEN_GEN];
	size_t len = hint_encode(&f->hdr, f, want);
	ssize_t n;

	n = backend_fgetxattr(f->be, f->fd, HINT_XATTR, have, sizeof(have));
	/* A backing filesystem without user attributes (probe.h): no hint,
	 * and stat reads the header instead (ofile_stat_size). */
	if (n == -ENOTSUP || n == -EOPNOTSUPP)
		return 0;
	if (f->v2) {
		/* The generation a v2 hint names is one that was durable
		 * (v2commit.c sync_done): a header older than that was put
		 * back from an older copy.  The size and flags follow every
		 * header; a crash can leave them larger or, after a header
		 * newer than the generation named, smaller: repaired.
		 * The generation is kept as found, never raised here: the
		 * header just read may not be durable yet. */
		uint64_t gen = n == HINT_LEN_GEN ? util_get_le64(have + HINT_LEN) : 0;

		if (gen > f->hdr.gen)
			return -ESTALE;
		/* Below the size of the durable header it names: edited, since
		 * the hint's size is never below that.  A hint naming 0 (never
		 * synced) or an older header proves nothing: a crash may have
		 * lost a newer, smaller header after it. */
		if (n == HINT_LEN_GEN && gen && gen == f->hdr.gen &&
		    util_get_le64(have) < f->hdr.size)
			return -EIO;
		/* The header just read may not be durable: the size a hint of
		 * an older generation names stays a floor, so that a crash
		 * which brings that header back does not see a shrunk hint. */
		if (n == HINT_LEN_GEN && gen != f->hdr.gen &&
		    util_get_le64(have) > f->v2->durable_size)
			f->v2->durable_size = util_get_le64(have);
		f->v2->hint_gen = gen;
		len = hint_encode(&f->hdr, f, want);
		if ((size_t)n == len && memcmp(have, want, len) == 0)
			return 0;
	} else if (n == HINT_LEN || n == HINT_LEN_V1) {
		if (util_get_le64(have) < f->hdr.size)
			return -EIO;
		if ((size_t)n == len && memcmp(have, want, len) == 0)
			return 0;
	}
	backend_fsetxattr(f->be, f->fd, HINT_XATTR, want, len, 0);
	f->hint_fixed = 1;
	return 0;
}

uint64_t ofile_hint_gen(struct ofile *f)
{
	uint8_t have[HINT_LEN_GEN];

	return backend_fgetxattr(f->be, f->fd, HINT_XATTR, have, sizeof(have)) == HINT_LEN_GEN
		       ? util_get_le64(have + HINT_LEN)
		       : 0;
}

int ofile_hint_fixed(struct ofile *f)
{
	return __atomic_exchange_n(&f->hint_fixed, 0, __ATOMIC_RELAXED);
}

/* The hint of rel in dirfd; *algo is -1 for the shorter form. */
int ofile_hint_get(struct store *s, int dirfd, const char *name, uint64_t *size,
		    uint16_t *flags, int *algo, uint64_t *packed)
{
	uint8_t v[PACK_HINT_LEN];
	/* Through the directory descriptor: no whole backing path. */
	ssize_t n = backend_getxattrat(s->be, dirfd, name, HINT_XATTR, v, sizeof(v));

	/* A packed file's hint (pack.h) begins as a v2 hint. */
	if (n != HINT_LEN && n != HINT_LEN_V1 && n != HINT_LEN_GEN && n != PACK_HINT_LEN)
		return -ENODATA;
	*size = util_get_le64(v);
	*flags = (uint16_t)(v[8] | v[9] << 8);
	*algo = n >= HINT_LEN ? v[10] : -1;
	if (packed) {
		struct pack_ref r;

		*packed = n == PACK_HINT_LEN && pack_ref_decode(v, (size_t)n, &r) == 0
				  ? pack_ref_stored(&r)
				  : 0;
	}
	return 0;
}

int ofile_hint(struct store *s, int dirfd, const char *name, uint64_t *size,
	       uint16_t *flags, uint64_t *packed)
{
	int algo;

	return ofile_hint_get(s, dirfd, name, size, flags, &algo, packed);
}
