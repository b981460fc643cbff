/* backend_mem_data.c - the contents of the memory backend's regular
 * files: 4 KiB pages, holes where no page is held, and the data operations
 * (pread, pwrite, truncate, fallocate with its punched holes, the syncs). */
#include "backend_mem_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- file contents ------------------------------------------------------------ */

/* Index in n->pages of the first page with index >= idx. */
static size_t page_pos(const struct mnode *n, uint64_t idx)
{
	size_t lo = 0, hi = n->npages;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n->pages[mid].index < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint8_t *page_find(const struct mnode *n, uint64_t idx)
{
	size_t i = page_pos(n, idx);

	return i < n->npages && n->pages[i].index == idx ? n->pages[i].data : NULL;
}

/* The page idx of n, made (zero-filled) if it is a hole. */
static uint8_t *page_get(struct mem *m, struct mnode *n, uint64_t idx)
{
	size_t i = page_pos(n, idx);
	uint8_t *data;

	if (i < n->npages && n->pages[i].index == idx)
		return n->pages[i].data;
	if (n->npages == n->cappages) {
		size_t ncap = n->cappages ? 2 * n->cappages : 16;
		struct mpage *np = realloc(n->pages, ncap * sizeof(*np));

		if (!np)
			return NULL;
		n->pages = np;
		n->cappages = ncap;
	}
	data = calloc(1, PAGE);
	if (!data)
		return NULL;
	memmove(n->pages + i + 1, n->pages + i, (n->npages - i) * sizeof(n->pages[0]));
	n->pages[i].index = idx;
	n->pages[i].data = data;
	n->npages++;
	m->pages_held++;
	return data;
}

/* Give back the pages [first, end) of n. */
static void pages_drop(struct mem *m, struct mnode *n, uint64_t first, uint64_t end)
{
	size_t i = page_pos(n, first), j = i;

	while (j < n->npages && n->pages[j].index < end)
		free(n->pages[j++].data);
	memmove(n->pages + i, n->pages + j, (n->npages - j) * sizeof(n->pages[0]));
	n->npages -= j - i;
	m->pages_held -= j - i;
}

/* Zero [off, end) of n, dropping the whole pages in it: what a punched
 * hole is. */
static void range_zero(struct mem *m, struct mnode *n, uint64_t off, uint64_t end)
{
	uint64_t first_full = (off + PAGE - 1) / PAGE, end_full = end / PAGE;

	if (off >= end)
		return;
	for (uint64_t pos = off; pos < end;) {
		uint64_t idx = pos / PAGE, o = pos % PAGE;
		uint64_t stop = (idx + 1) * PAGE < end ? (idx + 1) * PAGE : end;
		uint8_t *p = page_find(n, idx);

		if (p && (o != 0 || stop - pos != PAGE))
			memset(p + o, 0, stop - pos);
		pos = stop;
	}
	if (end_full > first_full)
		pages_drop(m, n, first_full, end_full);
}

void mem_data_set_size(struct mem *m, struct mnode *n, uint64_t size)
{
	if (size < n->size) {
		range_zero(m, n, size, (size + PAGE - 1) / PAGE * PAGE);
		pages_drop(m, n, (size + PAGE - 1) / PAGE, UINT64_MAX);
	}
	n->size = size;
}

/* ---- operations: data ------------------------------------------------------- */

ssize_t mem_data_pread(struct backend *be, int fd, void *buf, size_t len, off_t off)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	struct mnode *n;
	uint64_t end;
	ssize_t r;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	r = mem_file_io(m, fd, &f);
	if (r == 0 && !mem_can_read(f))
		r = -EBADF;
	if (r == 0 && S_ISDIR(f->node->mode))
		r = -EISDIR;
	if (r == 0 && !S_ISREG(f->node->mode))
		r = -EINVAL;
	if (r < 0)
		goto out;
	n = f->node;
	end = (uint64_t)off >= n->size ? (uint64_t)off :
	      len < n->size - (uint64_t)off ? (uint64_t)off + len : n->size;
	for (uint64_t pos = (uint64_t)off; pos < end;) {
		uint64_t idx = pos / PAGE, o = pos % PAGE;
		size_t k = PAGE - o < end - pos ? PAGE - o : end - pos;
		const uint8_t *p = page_find(n, idx);

		if (p)
			memcpy((char *)buf + (pos - (uint64_t)off), p + o, k);
		else
			memset((char *)buf + (pos - (uint64_t)off), 0, k);
		pos += k;
	}
	r = (ssize_t)(end - (uint64_t)off);
out:
	pthread_mutex_unlock(&m->mu);
	return r;
}

ssize_t mem_data_pwrite(struct backend *be, int fd, const void *buf, size_t len, off_t off)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	struct mnode *n;
	ssize_t r;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	r = mem_file_for_change(m, fd, -EBADF, off, len, &f);
	if (r < 0 || len == 0)
		goto out;
	n = f->node;
	for (uint64_t pos = (uint64_t)off; pos < (uint64_t)off + len;) {
		uint64_t idx = pos / PAGE, o = pos % PAGE;
		size_t k = PAGE - o < (uint64_t)off + len - pos ? PAGE - o
							       : (uint64_t)off + len - pos;
		uint8_t *p = page_get(m, n, idx);

		if (!p) {
			/* What was written so far stays written, as a short
			 * write of a full disk. */
			r = pos > (uint64_t)off ? (ssize_t)(pos - (uint64_t)off) : -ENOSPC;
			if (pos > n->size)
				n->size = pos;
			goto out;
		}
		memcpy(p + o, (const char *)buf + (pos - (uint64_t)off), k);
		pos += k;
	}
	if ((uint64_t)off + len > n->size)
		n->size = (uint64_t)off + len;
	mem_node_touch_modify(n);
	r = (ssize_t)len;
out:
	pthread_mutex_unlock(&m->mu);
	return r;
}

/* Everything is as durable as it will ever be: fsync, syncfs and fadvise
 * only check their descriptor. */
int mem_data_fsync(struct backend *be, int fd, int datasync)
{
	return mem_on_fd(be, fd, 0, NULL, NULL);
}

int mem_data_syncfs(struct backend *be, int fd)
{
	return mem_on_fd(be, fd, 0, NULL, NULL);
}

int mem_data_fadvise(struct backend *be, int fd, off_t off, off_t len, int advice)
{
	return mem_on_fd(be, fd, 0, NULL, NULL);
}

int mem_data_ftruncate(struct backend *be, int fd, off_t len)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	int r;

	if (len < 0)
		return -EINVAL;
	pthread_mutex_lock(&m->mu);
	r = mem_file_for_change(m, fd, -EINVAL, 0, (uint64_t)len, &f);
	if (r == 0) {
		mem_data_set_size(m, f->node, (uint64_t)len);
		mem_node_touch_modify(f->node);
	}
	pthread_mutex_unlock(&m->mu);
	return r;
}

int mem_data_fallocate(struct backend *be, int fd, int mode, off_t off, off_t len)
{
	struct mem *m = mem_of(be);
	struct mfile *f;
	struct mnode *n;
	int r;

	if (off < 0 || len <= 0)
		return -EINVAL;
	if (mem_past_max(off, (uint64_t)len))
		return -EFBIG;
	if (mode != 0 && mode != FALLOC_FL_KEEP_SIZE &&
	    mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	pthread_mutex_lock(&m->mu);
	r = mem_file_io(m, fd, &f);
	if (r == 0 && !mem_can_write(f))
		r = -EBADF;
	if (r == 0 && !S_ISREG(f->node->mode))
		r = S_ISDIR(f->node->mode) ? -EISDIR : -ENODEV;
	if (r < 0)
		goto out;
	n = f->node;
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		uint64_t end = (uint64_t)off + (uint64_t)len;

		range_zero(m, n, (uint64_t)off, end < n->size ? end : n->size);
		/* Pages past the size can exist after a KEEP_SIZE allocation. */
		if (end > n->size)
			pages_drop(m, n, (n->size + PAGE - 1) / PAGE, end / PAGE);
		mem_node_touch_modify(n);
		goto out;
	}
	for (uint64_t idx = (uint64_t)off / PAGE; idx * PAGE < (uint64_t)(off + len); idx++) {
		if (!page_get(m, n, idx)) {
			r = -ENOSPC;
			goto out;
		}
	}
	if (mode == 0 && (uint64_t)(off + len) > n->size) {
		n->size = (uint64_t)(off + len);
		mem_node_touch_modify(n);
	}
out:
	pthread_mutex_unlock(&m->mu);
	return r;
}

