/* ofile_create.c - creating a regular backing file: its header written
 * before it has a name (an O_TMPFILE linked in, or a temporary name renamed
 * into place where the backing filesystem lacks O_TMPFILE), then its entry
 * in the open-file table. */
#include "ofile_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "fallback.h"
#include "names.h"
#include "shared.h"
#include "stats.h"
#include "store.h"
#include "util.h"

/* Write a fresh header into slot 0 and zeros into slot 1, which shares its
 * 4 KiB block, so later header writes never need new space. */
static int header_init(struct store *s, int fd, const struct ofile_layout *lay,
		       struct file_header *out)
{
	struct file_header *h;
	uint8_t buf[FH_AREA];
	int r;

	if (!s->v1_files) {
		r = store_upgrade(s);
		if (r == 0)
			r = v2open_header_new(s, &lay->codec, lay->block_size, out, buf);
		return r < 0 ? r : backend_pwrite_full(s->be, fd, buf, FH2_DATA_START, 0);
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->gen = 1;
	crypto_random(h->file_id, FH_ID_LEN);
	h->block_size = lay->block_size ? lay->block_size : s->desc.block_size;
	h->codec = lay->codec;
	memset(buf, 0, sizeof(buf));
	r = fh_seal(s->key, h, buf);
	free(h);
	/* What a later open will read: decoded from the very bytes written. */
	if (r == 0 && fh_open(s->key, buf + fh_slot_offset(0), out) < 0)
		r = -EIO;
	if (r == 0)
		r = backend_pwrite_full(s->be, fd, buf, sizeof(buf), 0);
	return r;
}

/* Header, owner and mode of a file being created; *st is its stat after.
 * The owner and mode are only set where the new file does not have them
 * already (the daemon's umask is 0, and a root daemon's files are root's). */
static int new_file_setup(struct store *s, int fd, mode_t mode, uid_t uid, gid_t gid,
			  const struct ofile_layout *lay, struct file_header *h,
			  struct stat *st)
{
	int r = header_init(s, fd, lay, h), changed = 0;

	if (r == 0)
		r = backend_fstat(s->be, fd, st);
	if (r == 0 && ((uid != (uid_t)-1 && uid != st->st_uid) ||
		       (gid != (gid_t)-1 && gid != st->st_gid))) {
		r = backend_fchown(s->be, fd, uid, gid);
		changed = 1;
	}
	/* fchown clears setuid/setgid bits; put the requested mode back. */
	if (r == 0 && (changed || (st->st_mode & 07777) != (mode & 07777))) {
		r = backend_fchmod(s->be, fd, mode);
		changed = 1;
	}
	if (r == 0 && changed)
		r = backend_fstat(s->be, fd, st);
	return r;
}

/* Create via an unnamed O_TMPFILE that is linked in only once its header is
 * written, so a crash never leaves a named file without a header. */
static int create_tmpfile(struct store *s, int dirfd, const char *name, mode_t mode,
			  uid_t uid, gid_t gid, const struct ofile_layout *lay,
			  struct file_header *h, struct stat *st)
{
	const char *slash = strrchr(name, '/');
	char dir[4096];
	int fd, r;

	if (slash) {
		if ((size_t)(slash - name) >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, name, (size_t)(slash - name));
		dir[slash - name] = '\0';
		if (!dir[0])
			strcpy(dir, "/");
	} else {
		strcpy(dir, ".");
	}
	fd = backend_openat(s->be, dirfd, dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (fd < 0)
		return fd;
	r = new_file_setup(s, fd, mode, uid, gid, lay, h, st);
	if (r == 0)
		r = backend_linkfd(s->be, fd, dirfd, name);
	if (r < 0) {
		backend_close(s->be, fd);
		return r;
	}
	return fd;
}

/* Where the backing filesystem has no O_TMPFILE (probe.h): the file is made
 * under a hidden temporary name (name_tmp: never listed, removed by fsck if
 * a crash leaves it) in the same directory and renamed to its name only once
 * its header is written, without replacing one that exists, so a crash never
 * leaves a named file without a header here either. */
static int create_named(struct store *s, int dirfd, const char *name, mode_t mode,
			uid_t uid, gid_t gid, const struct ofile_layout *lay,
			struct file_header *h, struct stat *st)
{
	const char *slash = strrchr(name, '/');
	size_t dlen = slash ? (size_t)(slash - name) + 1 : 0;
	char tmp[PATH_MAX];
	int fd, r;

	if (dlen + NAME_TMP_LEN > sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, name, dlen);
	name_tmp(tmp + dlen);
	fd = backend_openat(s->be, dirfd, tmp, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC,
			    mode);
	if (fd < 0)
		return fd;
	r = new_file_setup(s, fd, mode, uid, gid, lay, h, st);
	if (r == 0)
		r = fallback_renameat2(s->be, &s->probe, dirfd, tmp, dirfd, name,
				       RENAME_NOREPLACE);
	if (r < 0) {
		backend_close(s->be, fd);
		backend_unlinkat(s->be, dirfd, tmp, 0);
		return r;
	}
	return fd;
}

int ofile_create(struct store *s, int dirfd, const char *name, mode_t mode,
		 uid_t uid, gid_t gid, const struct ofile_layout *lay,
		 int exclusive, struct ofile **out)
{
	struct stat st;
	struct ofile *f;
	struct file_header *h = malloc(sizeof(*h));
	/* Shared mode: one daemon at a time makes this name (shared.h). */
	long long lk = s->shared ? shared_name_lock(s, dirfd, name) : -1;
	int fd = !h ? -ENOMEM : s->probe.tmpfile ?
		 create_tmpfile(s, dirfd, name, mode, uid, gid, lay, h, &st) : -EOPNOTSUPP;

	/* Not probed, or the probe was wrong: the fallback all the same. */
	if (fd == -EOPNOTSUPP || fd == -EISDIR || fd == -EINVAL)
		fd = create_named(s, dirfd, name, mode, uid, gid, lay, h, &st);
	shared_name_unlock(s, lk);
	if (fd == -EEXIST && !exclusive) {
		free(h);
		return ofile_open(s, dirfd, name, out);
	}
	if (fd < 0) {
		free(h);
		return fd;
	}
	f = ofile_new(s->be, fd, &st);
	if (!f) {
		free(h);
		backend_close(s->be, fd);
		return -ENOMEM;
	}
	f->hdr = *h;
	f->hdr_slot = 0;
	free(h);
	if (!s->v1_files && v2open_attach_new(f) < 0) {
		/* The file exists and is valid (empty); only this open fails. */
		ofile_free(f);
		return -ENOMEM;
	}
	ofile_hint_write(f, &f->hdr);
	f->size = 0;
	f->csize = 0;
	f->stored = (uint64_t)st.st_blocks * 512;
	stats_file_delta(s->stats, ofile_acct_algo(f), 1, 0, (int64_t)f->stored);
	*out = ofile_table_insert(s, f);
	return 0;
}
