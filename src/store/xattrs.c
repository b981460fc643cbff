/* xattrs.c - user extended attributes as one sealed blob per object. */
#include "xattrs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "backend.h"
#include "shared.h"
#include "stats.h"
#include "fileheader.h"
#include "log.h"
#include "names.h"
#include "ofile.h"
#include "pathmap.h"
#include "util.h"

#define ID_LEN XATTRS_ID_LEN  /* kind byte + 16 id bytes */
#define BLOB_MAGIC "RSX1"
#define BLOB_MAX (4 << 20)     /* all attributes of one object */
#define NAME_MAX_LEN 255
#define VALUE_MAX 65536
#define LIST_MAX 65536
#define DIR_ID_XATTR "user.ragstore.id"

/* Set, get and remove of one object are read-modify-write of its blob. */
static pthread_mutex_t xattrs_mu = PTHREAD_MUTEX_INITIALIZER;

struct blob {
	size_t len, cap;
	uint8_t *data; /* magic, u32 count, entries: u16 nlen name u32 vlen value */
};

/* The id of the object at rel; create asks for one to be made if the
 * object has none yet (directories of plaintext-name stores). */
static int object_id(struct store *s, int dirfd, const char *rel, int create, uint8_t *id,
		     struct ofile **fp)
{
	struct stat st;
	struct ofile *f;
	ssize_t n;
	int r;

	r = backend_fstatat(s->be, dirfd, rel, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return r;
	if (S_ISREG(st.st_mode)) {
		r = ofile_open(s, dirfd, rel, &f);
		if (r < 0)
			return r;
		id[0] = 'f';
		ofile_file_id(f, id + 1);
		if (fp)
			*fp = f;
		else
			ofile_release(s, f);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return -ENOTSUP;
	id[0] = 'd';
	if (s->names)
		return pathmap_dir_iv(s, dirfd, rel, id + 1);
	n = backend_getxattrat(s->be, dirfd, rel, DIR_ID_XATTR, id + 1, ID_LEN - 1);
	r = n == ID_LEN - 1 ? 0 : -ENODATA;
	if (r < 0 && create) {
		crypto_random(id + 1, ID_LEN - 1);
		r = backend_setxattrat(s->be, dirfd, rel, DIR_ID_XATTR, id + 1, ID_LEN - 1,
				       XATTR_CREATE);
		/* Another daemon (shared mode) gave it one first: that one. */
		if (r == -EEXIST)
			r = backend_getxattrat(s->be, dirfd, rel, DIR_ID_XATTR, id + 1,
					       ID_LEN - 1) == ID_LEN - 1 ? 0 : -EIO;
	}
	return r;
}

static int blob_path(const uint8_t *id, char *out, size_t len)
{
	char hex[2 * ID_LEN + 1];

	util_hex_encode(id, ID_LEN, hex);
	return snprintf(out, len, "../" XATTRS_DIR "/%s", hex) < (int)len ? 0 : -ENAMETOOLONG;
}

static void blob_ad(const uint8_t *id, uint8_t *ad)
{
	memcpy(ad, "ragstore xattrs", 15);
	memcpy(ad + 15, id, ID_LEN);
}

/* Load the blob of object id; an object without one has an empty blob.
 * tag: the blob's AEAD tag, zeros when there is none. */
static int blob_load(struct store *s, const uint8_t *id, struct blob *b, uint8_t *tag)
{
	char path[128];
	uint8_t ad[15 + ID_LEN];
	uint8_t *raw = NULL;
	struct stat st;
	ssize_t n;
	int fd, r;

	memset(b, 0, sizeof(*b));
	memset(tag, 0, CRYPTO_TAG_LEN);
	r = blob_path(id, path, sizeof(path));
	if (r < 0)
		return r;
	fd = backend_openat(s->be, s->rootfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	r = -EIO;
	if (backend_fstat(s->be, fd, &st) < 0 ||
	    st.st_size < CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN + 8 ||
	    st.st_size > BLOB_MAX + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
		goto out;
	raw = malloc((size_t)st.st_size);
	b->data = malloc((size_t)st.st_size);
	if (!raw || !b->data) {
		r = -ENOMEM;
		goto out;
	}
	n = backend_pread_full(s->be, fd, raw, (size_t)st.st_size, 0);
	if (n != st.st_size)
		goto out;
	blob_ad(id, ad);
	if (crypto_open(s->key, b->data, raw + CRYPTO_NONCE_LEN,
			(size_t)n - CRYPTO_NONCE_LEN, ad, sizeof(ad), raw) < 0 ||
	    memcmp(b->data, BLOB_MAGIC, 4) != 0)
		goto out;
	b->len = b->cap = (size_t)n - CRYPTO_NONCE_LEN - CRYPTO_TAG_LEN;
	memcpy(tag, raw + n - CRYPTO_TAG_LEN, CRYPTO_TAG_LEN);
	r = 0;
out:
	backend_close(s->be, fd);
	free(raw);
	if (r < 0) {
		free(b->data);
		memset(b, 0, sizeof(*b));
		if (r == -EIO)
			log_msg(LOG_LVL_ERROR, "extended attributes of an object do not authenticate");
	}
	return r;
}

/* fsync of BACKING/xattrs, so that a rename or unlink in it is durable. */
static int dir_sync(struct store *s)
{
	int fd = backend_openat(s->be, s->rootfd, "../" XATTRS_DIR,
				O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return fd;
	r = backend_fsync(s->be, fd, 0);
	backend_close(s->be, fd);
	return r;
}

/* Write the blob atomically (temporary file, fsync, rename); an empty one
 * removes the file.  For a regular file f, whose header binds its blob
 * (ofile_xattr_bind), the header first names both the blob on disk (tag
 * old) and the new one, durably, and afterwards only the new one, so that a
 * crash in between leaves a blob the header accepts. */
static int blob_store(struct store *s, const uint8_t *id, const struct blob *b,
		      struct ofile *f, const uint8_t *old)
{
	static const uint8_t none[CRYPTO_TAG_LEN];
	char path[128], tmp[160];
	uint8_t ad[15 + ID_LEN];
	uint8_t *raw;
	size_t len = CRYPTO_NONCE_LEN + b->len + CRYPTO_TAG_LEN;
	int fd, r = blob_path(id, path, sizeof(path));

	if (r < 0)
		return r;
	if (b->len <= 8 && (b->len < 8 || util_get_le32(b->data + 4) == 0)) {
		/* While the blob goes, the header accepts it or none: "none"
		 * as the bound blob, the old one as the one in flight. */
		r = f ? ofile_xattr_bind(s, f, none, old, 1) : 0;
		if (r == 0)
			r = backend_unlinkat(s->be, s->rootfd, path, 0);
		if (r == -ENOENT)
			r = 0;
		if (r == 0)
			r = dir_sync(s);
		return r == 0 && f ? ofile_xattr_bind(s, f, none, none, 0) : r;
	}
	r = backend_mkdirat(s->be, s->rootfd, "../" XATTRS_DIR, 0700);
	if (r < 0 && r != -EEXIST)
		return r;
	raw = malloc(len);
	if (!raw)
		return -ENOMEM;
	blob_ad(id, ad);
	if (crypto_seal(s->key, raw + CRYPTO_NONCE_LEN, b->data, b->len, ad, sizeof(ad),
			raw) < 0 ||
	    (f && ofile_xattr_bind(s, f, old, raw + len - CRYPTO_TAG_LEN, 1) < 0)) {
		free(raw);
		return -EIO;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = backend_openat(s->be, s->rootfd, tmp,
			    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(raw);
		return fd;
	}
	r = backend_pwrite_full(s->be, fd, raw, len, 0);
	if (r == 0)
		r = backend_fsync(s->be, fd, 1);
	backend_close(s->be, fd);
	if (r == 0)
		r = backend_renameat2(s->be, s->rootfd, tmp, s->rootfd, path, 0);
	/* The rename durable before the header names only the new blob. */
	if (r == 0 && f)
		r = dir_sync(s);
	if (r < 0)
		backend_unlinkat(s->be, s->rootfd, tmp, 0);
	else if (f)
		r = ofile_xattr_bind(s, f, raw + len - CRYPTO_TAG_LEN, none, 0);
	free(raw);
	return r;
}

/* Offset of entry name in b, or -1.  *vlen and *voff describe its value. */
static ssize_t blob_find(const struct blob *b, const char *name, uint32_t *vlen,
			 size_t *voff)
{
	size_t nlen = strlen(name), p = 8;

	while (b->len >= 8 && p + 6 <= b->len) {
		size_t el = b->data[p] | (size_t)b->data[p + 1] << 8;
		uint32_t vl = util_get_le32(b->data + p + 2 + el);

		if (el == nlen && memcmp(b->data + p + 2, name, nlen) == 0) {
			*vlen = vl;
			*voff = p + 6 + el;
			return (ssize_t)p;
		}
		p += 6 + el + vl;
	}
	return -1;
}

/* Check the structure of a decrypted blob once, so walks need no checks. */
static int blob_valid(const struct blob *b)
{
	size_t p = 8;
	uint32_t count, i;

	if (b->len == 0)
		return 1;
	if (b->len < 8)
		return 0;
	count = util_get_le32(b->data + 4);
	for (i = 0; i < count; i++) {
		size_t el;

		if (p + 2 > b->len)
			return 0;
		el = b->data[p] | (size_t)b->data[p + 1] << 8;
		if (el == 0 || el > NAME_MAX_LEN || p + 6 + el > b->len)
			return 0;
		p += 6 + el + util_get_le32(b->data + p + 2 + el);
		if (p > b->len)
			return 0;
	}
	return p == b->len;
}

/* Keep a file's FH_FLAG_XATTRS in step with its blob, so that listxattr of
 * the (many) files without attributes can answer from the header hint. */
static void mark_file(struct store *s, int dirfd, const char *rel, const struct blob *b)
{
	struct ofile *f;
	struct stat st;

	if (backend_fstatat(s->be, dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || ofile_open(s, dirfd, rel, &f) < 0)
		return;
	ofile_set_flag(s, f, FH_FLAG_XATTRS, b->len > 8 && util_get_le32(b->data + 4) > 0);
	ofile_release(s, f);
}

int xattrs_hint_none(struct store *s, int dirfd, const char *rel)
{
	uint64_t size;
	uint16_t flags;

	return ofile_hint(s, dirfd, rel, &size, &flags, NULL) == 0 && !(flags & FH_FLAG_XATTRS);
}

/* The object at rel: its id, its blob, and for a regular file the open
 * file (*fp, to release; NULL otherwise) and the blob's tag, which must be
 * the one its header binds. */
static int blob_open_obj(struct store *s, int dirfd, const char *rel, int create, uint8_t *id,
			 struct blob *b, struct ofile **fp, uint8_t *tag, long long *lk)
{
	int r;

	memset(b, 0, sizeof(*b));
	*fp = NULL;
	*lk = -1;
	r = object_id(s, dirfd, rel, create, id, fp);
	if (r == -ENODATA && !create)
		return 0; /* a directory that never had attributes */
	if (r < 0)
		return r;
	/* Shared mode: the blob and the header that binds it are read and
	 * rewritten by one daemon at a time (docs/SHARED.md). */
	if (s->shared)
		*lk = shared_key_lock(s, id, ID_LEN);
	r = blob_load(s, id, b, tag);
	if (r == 0 && !blob_valid(b)) {
		free(b->data);
		r = -EIO;
	}
	if (r == 0 && *fp && ofile_xattr_check(s, *fp, tag) < 0) {
		log_msg(LOG_LVL_ERROR, "extended attributes of a file are not the ones its header "
				       "names (an older or a removed blob)");
		stats_error(s->stats, 1, NULL, -1, "xattr blob not bound to its file header");
		free(b->data);
		r = -EIO;
	}
	if (r < 0 && *fp) {
		ofile_release(s, *fp);
		*fp = NULL;
	}
	if (r < 0) {
		shared_name_unlock(s, *lk);
		*lk = -1;
	}
	return r;
}

int xattrs_set(struct store *s, int dirfd, const char *rel, const char *name,
	       const char *value, size_t size, int flags)
{
	uint8_t id[ID_LEN], tag[CRYPTO_TAG_LEN];
	struct ofile *f = NULL;
	long long lk = -1;
	struct blob b;
	size_t nlen = strlen(name), voff, need;
	uint32_t vlen;
	ssize_t at;
	uint8_t *nd;
	int r;

	if (nlen == 0 || nlen > NAME_MAX_LEN)
		return -ERANGE;
	if (size > VALUE_MAX)
		return -E2BIG;
	pthread_mutex_lock(&xattrs_mu);
	r = blob_open_obj(s, dirfd, rel, 1, id, &b, &f, tag, &lk);
	if (r < 0)
		goto out_unlock;
	at = blob_find(&b, name, &vlen, &voff);
	if ((flags & XATTR_CREATE) && at >= 0) {
		r = -EEXIST;
		goto out;
	}
	if ((flags & XATTR_REPLACE) && at < 0) {
		r = -ENODATA;
		goto out;
	}
	need = (b.len ? b.len : 8) + 6 + nlen + size;
	if (need > BLOB_MAX) {
		r = -ENOSPC;
		goto out;
	}
	nd = malloc(need);
	if (!nd) {
		r = -ENOMEM;
		goto out;
	}
	/* Copy everything but the old entry, then append the new one. */
	memcpy(nd, BLOB_MAGIC, 4);
	util_put_le32(nd + 4, (b.len ? util_get_le32(b.data + 4) : 0) + (at < 0));
	{
		size_t out = 8, end = at >= 0 ? voff + vlen : 0;

		if (b.len > 8) {
			size_t head = at >= 0 ? (size_t)at : b.len;

			memcpy(nd + out, b.data + 8, head - 8);
			out += head - 8;
			if (at >= 0) {
				memcpy(nd + out, b.data + end, b.len - end);
				out += b.len - end;
			}
		}
		nd[out] = (uint8_t)nlen;
		nd[out + 1] = (uint8_t)(nlen >> 8);
		memcpy(nd + out + 2, name, nlen);
		util_put_le32(nd + out + 2 + nlen, (uint32_t)size);
		memcpy(nd + out + 6 + nlen, value, size);
		need = out + 6 + nlen + size;
	}
	free(b.data);
	b.data = nd;
	b.len = need;
	r = blob_store(s, id, &b, f, tag);
	if (r == 0)
		mark_file(s, dirfd, rel, &b);
out:
	free(b.data);
	if (f)
		ofile_release(s, f);
	shared_name_unlock(s, lk);
out_unlock:
	pthread_mutex_unlock(&xattrs_mu);
	return r;
}

ssize_t xattrs_get(struct store *s, int dirfd, const char *rel, const char *name, char *value,
		   size_t size)
{
	uint8_t id[ID_LEN], tag[CRYPTO_TAG_LEN];
	struct ofile *f = NULL;
	long long lk = -1;
	struct blob b;
	size_t voff;
	uint32_t vlen;
	ssize_t r;

	if (xattrs_hint_none(s, dirfd, rel))
		return -ENODATA;
	pthread_mutex_lock(&xattrs_mu);
	r = blob_open_obj(s, dirfd, rel, 0, id, &b, &f, tag, &lk);
	if (r < 0)
		goto out_unlock;
	if (blob_find(&b, name, &vlen, &voff) < 0)
		r = -ENODATA;
	else if (size == 0)
		r = vlen;
	else if (size < vlen)
		r = -ERANGE;
	else {
		memcpy(value, b.data + voff, vlen);
		r = vlen;
	}
	free(b.data);
	if (f)
		ofile_release(s, f);
	shared_name_unlock(s, lk);
out_unlock:
	pthread_mutex_unlock(&xattrs_mu);
	return r;
}

ssize_t xattrs_list(struct store *s, int dirfd, const char *rel, char *list, size_t size)
{
	uint8_t id[ID_LEN], tag[CRYPTO_TAG_LEN];
	struct ofile *f = NULL;
	long long lk = -1;
	struct blob b;
	size_t p = 8, total = 0;
	ssize_t r;

	if (xattrs_hint_none(s, dirfd, rel))
		return 0;
	pthread_mutex_lock(&xattrs_mu);
	r = blob_open_obj(s, dirfd, rel, 0, id, &b, &f, tag, &lk);
	if (r == -ENOTSUP)
		r = 0; /* symlinks and special files have no attributes */
	if (r < 0)
		goto out_unlock;
	while (b.len >= 8 && p < b.len) {
		size_t el = b.data[p] | (size_t)b.data[p + 1] << 8;

		if (size) {
			if (total + el + 1 > size) {
				r = -ERANGE;
				break;
			}
			memcpy(list + total, b.data + p + 2, el);
			list[total + el] = '\0';
		}
		total += el + 1;
		p += 6 + el + util_get_le32(b.data + p + 2 + el);
	}
	if (r == 0)
		r = total > LIST_MAX ? -E2BIG : (ssize_t)total;
	free(b.data);
	if (f)
		ofile_release(s, f);
	shared_name_unlock(s, lk);
out_unlock:
	pthread_mutex_unlock(&xattrs_mu);
	return r;
}

int xattrs_remove(struct store *s, int dirfd, const char *rel, const char *name)
{
	uint8_t id[ID_LEN], tag[CRYPTO_TAG_LEN];
	struct ofile *f = NULL;
	long long lk = -1;
	struct blob b;
	size_t voff;
	uint32_t vlen;
	ssize_t at;
	int r;

	pthread_mutex_lock(&xattrs_mu);
	r = blob_open_obj(s, dirfd, rel, 0, id, &b, &f, tag, &lk);
	if (r < 0)
		goto out_unlock;
	at = blob_find(&b, name, &vlen, &voff);
	if (at < 0) {
		r = -ENODATA;
	} else {
		memmove(b.data + at, b.data + voff + vlen, b.len - voff - vlen);
		b.len -= voff + vlen - (size_t)at;
		util_put_le32(b.data + 4, util_get_le32(b.data + 4) - 1);
		r = blob_store(s, id, &b, f, tag);
		if (r == 0)
			mark_file(s, dirfd, rel, &b);
	}
	free(b.data);
	if (f)
		ofile_release(s, f);
	shared_name_unlock(s, lk);
out_unlock:
	pthread_mutex_unlock(&xattrs_mu);
	return r;
}

int xattrs_object_id(struct store *s, int dirfd, const char *rel, uint8_t *id)
{
	return object_id(s, dirfd, rel, 0, id, NULL);
}

void xattrs_forget(struct store *s, const uint8_t *id)
{
	char path[128];

	if (blob_path(id, path, sizeof(path)) == 0)
		backend_unlinkat(s->be, s->rootfd, path, 0);
}
