/* ofile_removal.c - a regular file leaving the store totals when its last
 * name is removed (unlink, rename over it).  See ofile.h. */
#include "ofile_int.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "stats.h"
#include "v2_int.h"

int ofile_removal_begin(struct store *s, int dirfd, const char *rel,
			const struct stat *stp, struct ofile_removal *rm)
{
	struct stat st = *stp;
	struct ofile *f;

	rm->valid = 0;
	rm->no_xattrs = 0;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		return 0;
	rm->valid = 1;
	rm->dev = st.st_dev;
	rm->ino = st.st_ino;
	if (ofile_find(s, st.st_dev, st.st_ino, &f) == 0) {
		ofile_lock(s, f, 0);
		rm->algo = ofile_acct_algo(f);
		rm->size = __atomic_load_n(&f->csize, __ATOMIC_RELAXED);
		rm->stored = f->stored;
		ofile_unlock(s, f);
		ofile_release(s, f);
	} else {
		uint16_t flags;
		uint64_t packed = 0;
		int algo = -1;

		/* The hint knows size and algorithm; only its shorter form
		 * (or none) sends us to the header. */
		int hinted = ofile_hint_get(s, dirfd, rel, &rm->size, &flags, &algo, &packed) == 0;

		rm->no_xattrs = hinted && !(flags & FH_FLAG_XATTRS);
		if (!hinted || algo < 0) {
			uint8_t buf[FH_AREA];
			int fd = backend_open_noatime(s->be, dirfd, rel);

			memset(buf, 0, sizeof(buf));
			if (fd >= 0) {
				backend_pread_full(s->be, fd, buf, sizeof(buf), 0);
				backend_close(s->be, fd);
			}
			if (v2open_peek(buf, &(uint64_t){ 0 }, &rm->algo) == 0)
				algo = rm->algo;
			else
				algo = fh_peek_algo(buf);
			rm->size = ofile_stat_size(s, dirfd, rel, &st);
		}
		rm->algo = (uint8_t)algo;
		/* A packed file stores its record (its hint's algorithm). */
		rm->stored = (uint64_t)st.st_blocks * 512 + packed;
	}
	return 0;
}

void ofile_removal_done(struct store *s, const struct ofile_removal *rm)
{
	struct stat st;
	struct ofile *f;

	if (!rm->valid)
		return;
	memset(&st, 0, sizeof(st));
	st.st_dev = rm->dev;
	st.st_ino = rm->ino;
	if (ofile_find(s, st.st_dev, st.st_ino, &f) == 0) {
		/* Still open: it leaves the totals now, and its further
		 * changes must not count. */
		ofile_lock(s, f, 1);
		if (f->counted)
			stats_file_delta(s->stats, ofile_acct_algo(f), -1,
					 -(int64_t)f->csize, -(int64_t)f->stored);
		f->counted = 0;
		ofile_unlock(s, f);
		ofile_release(s, f);
		return;
	}
	stats_file_delta(s->stats, rm->algo, -1, -(int64_t)rm->size, -(int64_t)rm->stored);
}
