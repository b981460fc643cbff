/* ofile_space.c - fallocate (extend, keep size, punch hole) and
 * SEEK_DATA/SEEK_HOLE of an open file, over the v1 and v2 data paths.
 * See ofile.h. */
#include "ofile_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <unistd.h>

int ofile_fallocate(struct store *s, struct ofile *f, int mode, off_t off, off_t len)
{
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return ofile_punch(s, f, (uint64_t)off, (uint64_t)len);
	if (mode == FALLOC_FL_KEEP_SIZE)
		return 0; /* compressed blocks cannot be reserved ahead */
	if (mode != 0)
		return -EOPNOTSUPP;
	if ((uint64_t)off + (uint64_t)len > ofile_size(f))
		return ofile_truncate(s, f, (uint64_t)off + (uint64_t)len);
	return 0;
}

off_t ofile_lseek(struct store *s, struct ofile *f, off_t off, int whence)
{
	uint64_t size, b, pos;
	uint32_t bs;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (f->v2)
		return v2io_lseek(s, f, off, whence);
	ofile_lock(s, f, 1);
	if (f->pk || f->v2) {
		/* Packed: data from 0 to the size (v2: unpacked meanwhile). */
		size = f->hdr.size;
		ofile_unlock(s, f);
		if (!f->pk)
			return v2io_lseek(s, f, off, whence);
		if (off < 0 || (uint64_t)off >= size)
			return -ENXIO;
		return whence == SEEK_HOLE ? (off_t)size : off;
	}
	if (ofile_wb_flush(s, f) < 0) {
		ofile_unlock(s, f);
		return -EIO;
	}
	size = f->hdr.size;
	bs = f->hdr.block_size;
	if (off < 0 || (uint64_t)off >= size) {
		ofile_unlock(s, f);
		return -ENXIO;
	}
	b = fh_next(&f->hdr, (uint64_t)off / bs, whence == SEEK_HOLE);
	ofile_unlock(s, f);
	if (b == UINT64_MAX || b * bs >= size)
		return whence == SEEK_HOLE ? (off_t)size : -ENXIO;
	pos = b * bs;
	return (off_t)(pos > (uint64_t)off ? pos : (uint64_t)off);
}
