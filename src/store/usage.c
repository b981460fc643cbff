/* usage.c - the algorithms a file's records are stored with.  See usage.h. */
#include "usage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "fh2rec.h"
#include "ofile_int.h"

int usage_file(struct store *s, struct ofile *f, struct usage *u)
{
	struct stat st;
	int r, packed;

	memset(u, 0, sizeof(*u));
	ofile_lock(s, f, 0);
	u->logical = f->size;
	packed = f->pk != NULL;
	if (f->pk) {
		/* Packed: its record lies in the directory's pack. */
		const struct pack_ref *pr = &f->pk->ref;

		if (pr->has_rec) {
			int a = fh2_ent_codec(&pr->e);

			u->algo[a].blocks++;
			u->algo[a].logical += pr->e.plain;
			u->algo[a].stored += fh2_rec_len(pr->e.stored);
			u->live += fh2_rec_len(pr->e.stored);
		}
	} else if (!f->v2) {
		u->v1 = 1;
	} else {
		for (uint32_t i = 0; i < f->v2->n; i++) {
			const struct fh2_ent *e = &f->v2->ents[i];
			int a = fh2_ent_codec(e); /* chunked: raw */

			u->algo[a].blocks++;
			u->algo[a].logical += e->plain;
			u->algo[a].stored += fh2_rec_len(e->stored);
			u->live += fh2_rec_len(e->stored);
		}
		if (f->v2->n > FH2_INLINE_ENTS)
			u->live += fh2_ix_len(f->v2->n);
		if (f->v2->data_end > FH2_DATA_START + u->live)
			u->slack = f->v2->data_end - FH2_DATA_START - u->live;
	}
	r = backend_fstat(s->be, f->fd, &st);
	if (u->v1) {
		int a = f->hdr.codec.algo < USAGE_ALGOS ? f->hdr.codec.algo : CODEC_NONE;

		u->algo[a].blocks = ofile_nblocks(u->logical, f->hdr.block_size);
	}
	ofile_unlock(s, f);
	if (r < 0)
		return r;
	u->stored = (uint64_t)st.st_blocks * 512 + (packed ? u->live : 0);
	return 0;
}

int usage_main_algo(const struct usage *u)
{
	uint64_t blocks[USAGE_ALGOS], stored[USAGE_ALGOS];

	/* The rule the header records (fh2_usage_of), so that du and the
	 * store's per-algorithm totals put a file in the same row. */
	for (int a = 0; a < USAGE_ALGOS; a++) {
		blocks[a] = u->algo[a].blocks;
		stored[a] = u->algo[a].stored;
	}
	return fh2_main_algo(blocks, stored);
}

int usage_format(const struct usage *u, char *buf, size_t cap)
{
	int main_algo = usage_main_algo(u);
	uint64_t logical = 0, stored = 0;
	size_t n = 0;

	/* Everything but the main algorithm's rows as they are; the main one
	 * takes the rest, so the rows add up to the file exactly. */
	for (int a = 0; a < USAGE_ALGOS; a++)
		if (a != main_algo) {
			logical += u->algo[a].logical;
			stored += u->algo[a].stored;
		}
	for (int a = 0; a < USAGE_ALGOS; a++) {
		uint64_t l = u->algo[a].logical, st = u->algo[a].stored;
		int w;

		if (a == main_algo) {
			l = u->logical > logical ? u->logical - logical : 0;
			st = u->stored > stored ? u->stored - stored : 0;
		} else if (!u->algo[a].blocks) {
			continue;
		}
		w = snprintf(buf + n, cap - n, "%s %llu %llu\n", codec_name((uint8_t)a),
			     (unsigned long long)l, (unsigned long long)st);
		if (w < 0 || (size_t)w >= cap - n)
			return -ERANGE;
		n += (size_t)w;
	}
	return (int)n;
}
