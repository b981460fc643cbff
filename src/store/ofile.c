/* ofile.c - the open-file table, opening files (v1 and v2), v1 header I/O,
 * and per-file metadata (times, compression, flags, the totals at removal).
 * Creating files is in ofile_create.c, the size hint in ofile_hint.c, v1
 * garbage collection in ofile_gc.c, the v2 data path in v2*.c. */
#include "ofile_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "blockfmt.h"
#include "fallback.h"
#include "log.h"
#include "packer.h"
#include "policy.h"
#include "shared.h"
#include "stats.h"
#include "util.h"

#define TABLE_BUCKETS 1024

struct ofile_table {
	pthread_mutex_t mu; /* guards buckets and every ofile's refs/next; refs
			       is also read without it (ofile_flush), so it
			       is written with atomic operations */
	struct ofile *buckets[TABLE_BUCKETS];
	/* Held shared by an open from before it reads the size hint until
	 * its entry is in the table, and exclusive by the packer's switch
	 * (ofile_pack_switch_alone): an open never inserts the state of a
	 * file that was packed while it read it. */
	pthread_rwlock_t packing;
};

struct ofile_table *ofile_table_new(void)
{
	struct ofile_table *t = calloc(1, sizeof(*t));

	if (t) {
		pthread_mutex_init(&t->mu, NULL);
		pthread_rwlock_init(&t->packing, NULL);
	}
	return t;
}

static struct ofile **table_slot(struct ofile_table *t, dev_t dev, ino_t ino)
{
	struct ofile **p = &t->buckets[(ino ^ dev) % TABLE_BUCKETS];

	while (*p && ((*p)->ino != ino || (*p)->dev != dev))
		p = &(*p)->next;
	return p;
}

void ofile_free(struct ofile *f)
{
	free(f->wb);
	free(f->path);
	v2open_free(f);
	ofile_pack_free(f);
	if (f->fd >= 0)
		backend_close(f->be, f->fd);
	pthread_rwlock_destroy(&f->lock);
	free(f);
}

void ofile_table_free(struct store *s, struct ofile_table *t)
{
	for (int i = 0; i < TABLE_BUCKETS; i++) {
		while (t->buckets[i]) {
			struct ofile *f = t->buckets[i];

			t->buckets[i] = f->next;
			ofile_lock(s, f, 1);
			if (f->v2)
				v2commit_commit(s, f, 1); /* what is in memory goes out */
			else if (!f->pk)
				ofile_gc_run(s, f);
			ofile_unlock(s, f);
			ofile_free(f);
		}
	}
	pthread_mutex_destroy(&t->mu);
	pthread_rwlock_destroy(&t->packing);
	free(t);
}

/* Read both header slots and keep the newest that verifies.  A newer slot
 * that fails is what a torn header write leaves behind. */
int ofile_header_load(struct store *s, struct ofile *f, struct file_header *h, int *slot)
{
	uint8_t buf[FH_AREA];
	struct file_header *cand;
	ssize_t n = backend_pread_full(s->be, f->fd, buf, sizeof(buf), 0);
	int ok[2], best = -1;

	if (n < 0)
		return (int)n;
	if (n < FH_AREA)
		memset(buf + n, 0, FH_AREA - (size_t)n);
	/* A v2 file has its second slot at 512, inside a v1 first slot. */
	if (fh2_is_v2(buf) || fh2_is_v2(buf + FH2_SLOT))
		return v2open_load(s, f, buf, f->bsize);
	cand = malloc(2 * sizeof(*cand));
	if (!cand)
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		ok[i] = fh_open(s->key, buf + fh_slot_offset(i), &cand[i]) == 0;
		if (ok[i] && (best < 0 || cand[i].gen > cand[best].gen))
			best = i;
	}
	if (best >= 0) {
		*h = cand[best];
		*slot = best;
	}
	free(cand);
	return best >= 0 ? 0 : -EIO;
}

int ofile_commit_header(struct store *s, struct ofile *f, struct file_header *nh)
{
	uint8_t buf[FH_SLOT_SIZE];
	int slot = 1 - f->hdr_slot;
	int r;

	if (f->v2) {
		/* Only metadata changes come here for a v2 file. */
		f->hdr.flags = nh->flags;
		f->hdr.codec = nh->codec;
		f->v2->dirty = 1;
		return v2commit_commit(s, f, 0);
	}
	fh_clip_holes(nh, ofile_nblocks(nh->size, nh->block_size));
	nh->gen = f->hdr.gen + 1;
	r = fh_seal(s->key, nh, buf);
	/* The hint never falls below the size in the header (ofile_hint_check). */
	if (r == 0 && nh->size > f->hdr.size)
		ofile_hint_write(f, nh);
	if (r == 0)
		r = backend_pwrite_full(f->be, f->fd, buf, sizeof(buf), fh_slot_offset(slot));
	if (r < 0) {
		log_msg(LOG_LVL_ERROR, "inode %lu: header write failed: %s",
			(unsigned long)f->ino, strerror(-r));
		return r;
	}
	if (f->counted && nh->codec.algo != f->hdr.codec.algo) {
		/* Totals are grouped by each file's compression setting. */
		stats_file_delta(s->stats, f->hdr.codec.algo, -1, -(int64_t)f->hdr.size,
				 -(int64_t)f->stored);
		stats_file_delta(s->stats, nh->codec.algo, 1, (int64_t)nh->size,
				 (int64_t)f->stored);
	} else if (f->counted) {
		stats_file_delta(s->stats, nh->codec.algo, 0,
				 (int64_t)nh->size - (int64_t)f->hdr.size, 0);
	}
	if (nh->size < f->hdr.size || nh->flags != f->hdr.flags)
		ofile_hint_write(f, nh);
	f->hdr = *nh;
	f->hdr_slot = slot;
	__atomic_store_n(&f->size, nh->size, __ATOMIC_RELAXED);
	__atomic_store_n(&f->csize, nh->size, __ATOMIC_RELAXED);
	return 0;
}

struct ofile *ofile_new(struct backend *be, int fd, const struct stat *st)
{
	struct ofile *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->be = be;
	f->fd = fd;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->refs = 1;
	f->counted = 1;
	f->stored = (uint64_t)st->st_blocks * 512;
	f->bsize = (uint64_t)st->st_size;
	f->wb_mtime = st->st_mtim;
	pthread_rwlock_init(&f->lock, NULL);
	return f;
}

/* Insert f, or take a reference on the entry another thread inserted for the
 * same inode first (then f is freed). */
struct ofile *ofile_table_insert(struct store *s, struct ofile *f)
{
	struct ofile **p;
	struct ofile *have;

	pthread_mutex_lock(&s->files->mu);
	p = table_slot(s->files, f->dev, f->ino);
	have = *p;
	if (have) {
		__atomic_add_fetch(&have->refs, 1, __ATOMIC_RELAXED);
	} else {
		*p = f;
	}
	pthread_mutex_unlock(&s->files->mu);
	if (have) {
		ofile_free(f);
		return have;
	}
	return f;
}

static struct ofile *table_get(struct store *s, const struct stat *st)
{
	struct ofile *f;

	pthread_mutex_lock(&s->files->mu);
	f = *table_slot(s->files, st->st_dev, st->st_ino);
	if (f)
		__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->files->mu);
	return f;
}

static int open_backing(struct backend *be, int dirfd, const char *rel, int flags)
{
	int fd = backend_openat(be, dirfd, rel, O_RDWR | O_NOFOLLOW | O_CLOEXEC | flags, 0);

	/* A daemon run by an ordinary user cannot open a read-only file
	 * for writing; reading is still possible. */
	if (fd == -EACCES || fd == -EROFS)
		fd = backend_openat(be, dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | flags, 0);
	return fd;
}

int ofile_find(struct store *s, dev_t dev, ino_t ino, struct ofile **out)
{
	struct stat st;

	st.st_dev = dev;
	st.st_ino = ino;
	*out = table_get(s, &st);
	return *out ? 0 : -ENOENT;
}

int ofile_open(struct store *s, int dirfd, const char *rel, struct ofile **out)
{
	return ofile_open_for(s, dirfd, rel, NULL, 1, out);
}

int ofile_open_path(struct store *s, int dirfd, const char *rel, const char *path,
		    struct ofile **out)
{
	return ofile_open_for(s, dirfd, rel, path, 1, out);
}

/* A packed file (pack.h) opens from its directory's pack. */
static int open_packed(struct store *s, struct ofile *f, int dirfd, const char *rel,
		       const char *path, const struct pack_ref *pr, struct ofile **out)
{
	int r = ofile_pack_load(s, f, dirfd, rel, pr, path);

	if (r < 0) {
		ofile_free(f);
		return r;
	}
	f->size = f->hdr.size;
	f->csize = f->hdr.size;
	*out = ofile_table_insert(s, f);
	return 0;
}

static int open_entry(struct store *s, int dirfd, const char *rel, const char *path,
		      struct ofile **out);

/* One opened to be written gets its own content back first
 * (ofile_unpack), outside the packing lock (the packer takes a file's
 * content lock before it). */
int ofile_open_for(struct store *s, int dirfd, const char *rel, const char *path, int write,
		   struct ofile **out)
{
	int r;

	pthread_rwlock_rdlock(&s->files->packing);
	r = open_entry(s, dirfd, rel, path, out);
	pthread_rwlock_unlock(&s->files->packing);
	if (r == 0 && write && (r = ofile_unpack(s, *out)) < 0)
		ofile_release(s, *out);
	return r;
}

static int open_entry(struct store *s, int dirfd, const char *rel, const char *path,
		      struct ofile **out)
{
	struct pack_ref pr;
	struct stat st;
	struct ofile *f;
	int fd = open_backing(s->be, dirfd, rel, 0);
	int r;

	if (fd < 0)
		return fd;
	if (backend_fstat(s->be, fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EIO;
		backend_close(s->be, fd);
		return r;
	}
	f = table_get(s, &st);
	if (f) {
		backend_close(s->be, fd);
		*out = f;
		return 0;
	}
	f = ofile_new(s->be, fd, &st);
	if (!f) {
		backend_close(s->be, fd);
		return -ENOMEM;
	}
	if (ofile_pack_hint(f, &pr))
		return open_packed(s, f, dirfd, rel, path, &pr, out);
	/* Shared mode: the header and its hint are read as one state, not
	 * halfway through another daemon's commit. */
	r = s->shared ? shared_open_begin(s, fd) : 0;
	if (r == 0 && s->shared && backend_fstat(s->be, fd, &st) == 0) {
		f->bsize = (uint64_t)st.st_size;
		f->stored = (uint64_t)st.st_blocks * 512;
	}
	if (r == 0)
		r = ofile_header_load(s, f, &f->hdr, &f->hdr_slot);
	if (r < 0) {
		if (s->shared)
			shared_open_end(s, fd);
		/* An empty backing file is a packed file whose hint is gone:
		 * BACKING copied without extended attributes (pack.h). */
		const char *why = st.st_size == 0 && s->names
					  ? "packed file without its size hint attribute (backing "
					    "copied without extended attributes?)"
					  : "file header missing or damaged";

		log_msg(LOG_LVL_ERROR, "%s (%s): %s", path ? path : "?", rel, why);
		if (r == -EIO)
			stats_error(s->stats, 1, path, -1, why);
		ofile_free(f);
		return r;
	}
	r = ofile_hint_check(f);
	/* As shared.c's reload: another daemon's newer header, with the
	 * older slot still valid, is made durable before this daemon can
	 * write over the older one. */
	if (s->shared && r == 0 && f->v2 && f->v2->other_valid)
		r = backend_fsync(s->be, fd, 1) < 0 ? -EIO : 0;
	if (s->shared)
		shared_open_end(s, fd);
	if (r < 0) {
		const char *why = r == -ESTALE ? "header older than its generation hint (rolled back)"
					       : "size hint below the authenticated size (tampered)";

		log_msg(LOG_LVL_ERROR, "%s (%s): %s", path ? path : "?", rel, why);
		stats_error(s->stats, 1, path, -1, why);
		ofile_free(f);
		return -EIO;
	}
	f->size = f->hdr.size;
	f->csize = f->hdr.size;
	f->synced_nblk = ofile_nblocks(f->hdr.size, f->hdr.block_size);
	*out = ofile_table_insert(s, f);
	return 0;
}

int ofile_release(struct store *s, struct ofile *f)
{
	int err, last, pack;

	pthread_mutex_lock(&s->files->mu);
	if (f->refs > 1) {
		__atomic_sub_fetch(&f->refs, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&s->files->mu);
		return 0;
	}
	pthread_mutex_unlock(&s->files->mu);

	/* Last user: collect garbage while still holding the reference, so an
	 * open that arrives meanwhile shares this entry instead of racing it.
	 * Whether this is still the last reference is decided before the
	 * content lock is let go: one taken meanwhile is released after us,
	 * and whatever its holder changed (a truncate by path right after a
	 * close) is committed by that release.  Deciding after the unlock lost
	 * such a change: its holder saw our reference and did not commit, and
	 * we freed the entry (tests/soak/truncate_race.py).  The table lock is
	 * a leaf: nothing waits for a content lock while holding it. */
	ofile_lock(s, f, 1);
	if (f->pk) {
		err = 0;
	} else if (f->v2) {
		err = v2commit_commit(s, f, 1);
		ofile_account(s, f);
	} else {
		err = ofile_gc_run(s, f);
	}
	if (f->err)
		err = f->err;
	f->err = 0;
	/* A file that may fit a pack goes to the packer (packer.h), which
	 * looks again under the content lock. */
	pack = !err && f->v2 && s->packer && f->v2->n <= 1 && f->hdr.size <= f->hdr.block_size &&
	       !(f->hdr.flags & FH_FLAG_XATTRS);
	pthread_mutex_lock(&s->files->mu);
	last = __atomic_sub_fetch(&f->refs, 1, __ATOMIC_RELAXED) == 0;
	if (last)
		*table_slot(s->files, f->dev, f->ino) = f->next;
	pthread_mutex_unlock(&s->files->mu);
	ofile_unlock(s, f);
	if (last) {
		if (pack)
			packer_note(s->packer, f->dev, f->ino);
		ofile_free(f);
	}
	return err;
}

void ofile_packing_excl(struct store *s, int on)
{
	if (on)
		pthread_rwlock_wrlock(&s->files->packing);
	else
		pthread_rwlock_unlock(&s->files->packing);
}

/* Under the table mutex, and only while the caller's is the only
 * reference: a thread that took one before may have looked at f->v2
 * without the content lock and be waiting for it; one that takes one
 * after sees the file packed. */
int ofile_pack_switch_alone(struct store *s, struct ofile *f, struct ofile_pk *pk)
{
	int r = -EBUSY;

	pthread_rwlock_wrlock(&s->files->packing);
	pthread_mutex_lock(&s->files->mu);
	if (f->refs == 1)
		r = ofile_pack_switch(s, f, pk);
	pthread_mutex_unlock(&s->files->mu);
	pthread_rwlock_unlock(&s->files->packing);
	if (r == -EBUSY) {
		f->pk = pk; /* only to free it */
		ofile_pack_free(f);
	}
	return r;
}

uint64_t ofile_stat_size(struct store *s, int dirfd, const char *rel, const struct stat *st)
{
	uint8_t buf[FH_AREA];
	uint64_t gen[2], size[2], result = 0;
	struct ofile *f;
	ssize_t n;
	int fd, best = -1;

	/* An open file: the authenticated size of its header, which is what
	 * the totals hold (data still in its write-behind block is counted
	 * when the header that covers it is written). */
	pthread_mutex_lock(&s->files->mu);
	f = *table_slot(s->files, st->st_dev, st->st_ino);
	if (f)
		result = __atomic_load_n(&f->csize, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->files->mu);
	if (f)
		return result;
	if (ofile_hint(s, dirfd, rel, &result, &(uint16_t){ 0 }, NULL) == 0)
		return result;
	fd = backend_open_noatime(s->be, dirfd, rel);
	if (fd < 0)
		return 0;
	n = backend_pread_full(s->be, fd, buf, sizeof(buf), 0);
	backend_close(s->be, fd);
	if (n < (ssize_t)FH2_SLOT)
		return 0;
	if (n < FH_AREA)
		memset(buf + n, 0, FH_AREA - (size_t)n);
	if (v2open_peek(buf, &result, &(uint8_t){ 0 }) == 0)
		return result;
	for (int i = 0; i < 2; i++)
		if (fh_peek(buf + fh_slot_offset(i), &gen[i], &size[i]) == 0 &&
		    (best < 0 || gen[i] > gen[best]))
			best = i;
	return best < 0 ? 0 : size[best];
}

int ofile_futimens(struct store *s, struct ofile *f, const struct timespec tv[2])
{
	int r;

	ofile_lock(s, f, 1);
	/* Buffered data goes out first, or writing it would move the time
	 * set here. */
	if (f->v2) {
		r = v2commit_futimens(s, f, tv);
	} else {
		r = ofile_wb_flush(s, f);
		if (r == 0)
			r = backend_futimens(f->be, f->fd, tv);
	}
	ofile_unlock(s, f);
	return r;
}

int ofile_utimens(struct store *s, int dirfd, const char *rel, const struct timespec tv[2])
{
	struct stat st;
	struct ofile *f = NULL;
	int r;

	r = backend_fstatat(s->be, dirfd, rel, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return r;
	if (S_ISREG(st.st_mode))
		f = table_get(s, &st);
	if (f)
		ofile_lock(s, f, 1);
	if (f && f->v2) {
		r = v2commit_futimens(s, f, tv);
	} else {
		r = f ? ofile_wb_flush(s, f) : 0;
		if (r == 0)
			r = fallback_lutimens(s->be, &s->probe, dirfd, rel, tv);
	}
	if (f) {
		ofile_unlock(s, f);
		ofile_release(s, f);
	}
	return r;
}

void ofile_account(struct store *s, struct ofile *f)
{
	struct stat st;
	uint64_t now;

	if (backend_fstat(f->be, f->fd, &st) < 0)
		return;
	now = (uint64_t)st.st_blocks * 512;
	if (f->counted && now != f->stored)
		stats_file_delta(s->stats, ofile_acct_algo(f), 0, 0,
				 (int64_t)now - (int64_t)f->stored);
	f->stored = now;
}

void ofile_set_path(struct ofile *f, const char *path)
{
	char *p = strdup(path);

	if (!p)
		return;
	pthread_rwlock_wrlock(&f->lock);
	free(f->path);
	f->path = p;
	pthread_rwlock_unlock(&f->lock);
}

/* A header change that is an attribute change, not a write: like setxattr
 * on ext4 it must leave the modification time alone. */
static int commit_keep_times(struct store *s, struct ofile *f, struct file_header *nh)
{
	struct timespec times[2];
	struct stat st;
	int r, have = backend_fstat(f->be, f->fd, &st) == 0;

	r = ofile_commit_header(s, f, nh);
	if (have) {
		times[0] = st.st_atim;
		times[1] = st.st_mtim;
		backend_futimens(f->be, f->fd, times);
	}
	return r;
}

int ofile_set_flag(struct store *s, struct ofile *f, uint16_t flag, int on)
{
	struct file_header *nh = malloc(sizeof(*nh));
	int r = 0;

	if (!nh)
		return -ENOMEM;
	if (f->pk && (r = ofile_unpack(s, f)) < 0) {
		free(nh);
		return r;
	}
	ofile_lock(s, f, 1);
	r = ofile_wb_flush(s, f);
	*nh = f->hdr;
	nh->flags = (uint16_t)(on ? nh->flags | flag : nh->flags & ~flag);
	if (r == 0 && nh->flags != f->hdr.flags)
		r = commit_keep_times(s, f, nh);
	ofile_unlock(s, f);
	free(nh);
	return r;
}

int ofile_set_codec(struct store *s, struct ofile *f, const struct codec_spec *spec,
		    int user_set)
{
	struct file_header *nh = malloc(sizeof(*nh));
	int r;

	if (!nh)
		return -ENOMEM;
	if (f->pk && (r = ofile_unpack(s, f)) < 0) {
		free(nh);
		return r;
	}
	ofile_lock(s, f, 1);
	r = ofile_wb_flush(s, f);
	*nh = f->hdr;
	nh->codec = *spec;
	nh->flags = (uint16_t)((nh->flags & ~FH_FLAG_CODEC_SET) |
			       (user_set ? FH_FLAG_CODEC_SET : 0));
	if (r == 0)
		r = commit_keep_times(s, f, nh);
	ofile_unlock(s, f);
	free(nh);
	return r;
}

int ofile_apply_policy(struct store *s, struct ofile *f, const struct policy *p, int writing)
{
	struct codec_spec cur;
	int user;

	__atomic_store_n(&f->max_size, p->max_file_size, __ATOMIC_RELAXED);
	if (!writing)
		return 0;
	ofile_codec(f, &cur, &user);
	if (user || (cur.algo == p->codec.algo && cur.level == p->codec.level))
		return 0;
	return ofile_set_codec(s, f, &p->codec, 0);
}

void ofile_codec(struct ofile *f, struct codec_spec *spec, int *user_set)
{
	pthread_rwlock_rdlock(&f->lock);
	*spec = f->hdr.codec;
	*user_set = (f->hdr.flags & FH_FLAG_CODEC_SET) != 0;
	pthread_rwlock_unlock(&f->lock);
}

uint32_t ofile_block_size(struct ofile *f)
{
	return f->hdr.block_size; /* never changes after creation */
}

void ofile_file_id(struct ofile *f, uint8_t *out)
{
	pthread_rwlock_rdlock(&f->lock);
	memcpy(out, f->hdr.file_id, FH_ID_LEN);
	pthread_rwlock_unlock(&f->lock);
}

uint64_t ofile_dirty_bytes(struct store *s)
{
	struct ofile_table *t = s->files;
	uint64_t sum = 0;

	pthread_mutex_lock(&t->mu);
	for (int i = 0; i < TABLE_BUCKETS; i++)
		for (struct ofile *f = t->buckets[i]; f; f = f->next)
			if (pthread_rwlock_tryrdlock(&f->lock) == 0) {
				sum += f->wb_dirty ? f->wb_len : 0;
				ofile_unlock(s, f);
			}
	pthread_mutex_unlock(&t->mu);
	return sum;
}

uint64_t ofile_size(struct ofile *f)
{
	return __atomic_load_n(&f->size, __ATOMIC_RELAXED);
}

int ofile_fd(struct ofile *f)
{
	return f->fd;
}

int ofile_xattr_check(struct store *s, struct ofile *f, const uint8_t *tag)
{
	int r = 0;

	ofile_lock(s, f, 0);
	if (f->v2)
		r = v2commit_xattr_check(f, tag);
	ofile_unlock(s, f);
	return r;
}

int ofile_xattr_bind(struct store *s, struct ofile *f, const uint8_t *cur, const uint8_t *next,
		     int sync)
{
	int r = 0;

	ofile_lock(s, f, 1);
	if (f->v2)
		r = v2commit_xattr_bind(s, f, cur, next, sync);
	ofile_unlock(s, f);
	return r;
}
