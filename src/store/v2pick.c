/* v2pick.c - which of two authenticated headers of a v2 file wins after a
 * crash (docs/FORMAT.md, "Writing: rules R1-R3").
 *
 * A commit writes a file's new records, then its header into the slot that
 * is not the durable one; only the fdatasync of the next sync point orders
 * them on disk.  A power loss before it can keep the newer header and lose
 * some of the records it names.  Both slots then authenticate (R3 keeps
 * the older header until the sync point), and what the older one names is
 * intact (R2 keeps its space).  So the newer header wins only when every
 * record it names that the older one does not name identically
 * authenticates; otherwise the file opens as the older header describes,
 * as a crash may lose what was written since a sync point.  The size hint
 * (ofile_hint.c) still refuses an older header than one a sync point made
 * durable, so no header that was fsynced can lose this way unnoticed. */
#include "v2_int.h"

#include <errno.h>
#include <string.h>

#include "backend.h"

/* 1 if old (no entries, sorted by block) names e's record identically. */
static int named(const struct fh2_ent *e, const struct fh2_ent *old, uint32_t no)
{
	long i = v2map_find_in(old, no, e->block);

	return i >= 0 && old[i].off == e->off && old[i].stored == e->stored &&
	       old[i].plain == e->plain && old[i].algo == e->algo &&
	       !memcmp(old[i].tag, e->tag, CRYPTO_TAG_LEN);
}

int v2pick_hint_binds(uint64_t hint_gen, const struct file_header *newer)
{
	return hint_gen >= newer->gen;
}

int v2pick_newer_whole(const struct crypto_key *k, struct backend *be, int fd,
		       const struct file_header *h, const struct fh2_ent *nw, uint32_t nn,
		       const struct fh2_ent *old, uint32_t no, struct iobufs *io)
{
	for (uint32_t j = 0; j < nn; j++) {
		const struct fh2_ent *e = &nw[j];
		uint64_t len = fh2_rec_len(e->stored);
		ssize_t n;

		if (named(e, old, no))
			continue;
		if (len > io->cap)
			return 0;
		n = backend_pread_full(be, fd, io->rec, len, (off_t)e->off);
		if (n < 0 && n != -EIO)
			return (int)n;
		if (n < (ssize_t)len ||
		    fh2rec_open(k, h->file_id, e, io->rec, h->block_size, io->plain, io->scratch) < 0)
			return 0;
	}
	return 1;
}
