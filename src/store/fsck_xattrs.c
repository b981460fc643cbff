/* fsck_xattrs.c - fsck of BACKING/xattrs: every blob must open under its
 * object's id and belong to an object of the tree (see fsck_int.h). */
#include "fsck_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "backfile.h"
#include "crypto.h"
#include "fh2.h"
#include "fileheader.h"
#include "util.h"

/* docs/XATTRS.md: the blob of an object. */
#define BLOB_MAGIC "RSX1"
#define BLOB_AD "ragstore xattrs"
#define BLOB_MAX ((4 << 20) + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)

static int blob_cmp(const void *a, const void *b)
{
	return memcmp(((const struct blob *)a)->id, ((const struct blob *)b)->id, XATTRS_ID_LEN);
}

static struct blob *blob_find(struct fsck *k, const uint8_t *id)
{
	struct blob key;

	memcpy(key.id, id, XATTRS_ID_LEN);
	return k->nblobs ? bsearch(&key, k->blobs, k->nblobs, sizeof(key), blob_cmp) : NULL;
}

/* 1 if the blob bytes raw[0..len) open under id and hold a well-formed list
 * of attributes, else 0. */
static int blob_authentic(struct store *s, const uint8_t *id, const uint8_t *raw, size_t len)
{
	uint8_t ad[sizeof(BLOB_AD) - 1 + XATTRS_ID_LEN];
	size_t plen, p = 8;
	uint8_t *plain;
	uint32_t count;
	int ok = 0;

	if (len < CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN + 8)
		return 0;
	plen = len - CRYPTO_NONCE_LEN - CRYPTO_TAG_LEN;
	plain = malloc(plen);
	if (!plain)
		return 0;
	memcpy(ad, BLOB_AD, sizeof(BLOB_AD) - 1);
	memcpy(ad + sizeof(BLOB_AD) - 1, id, XATTRS_ID_LEN);
	if (crypto_open(s->key, plain, raw + CRYPTO_NONCE_LEN, len - CRYPTO_NONCE_LEN, ad,
			sizeof(ad), raw) < 0 || memcmp(plain, BLOB_MAGIC, 4) != 0)
		goto out;
	/* Entries: u16 name length, name, u32 value length, value. */
	count = util_get_le32(plain + 4);
	for (uint32_t i = 0; i < count; i++) {
		size_t nl;

		if (p + 6 > plen)
			goto out;
		nl = plain[p] | (size_t)plain[p + 1] << 8;
		if (nl == 0 || p + 6 + nl > plen)
			goto out;
		p += 6 + nl;
		if (util_get_le32(plain + p - 4) > plen - p)
			goto out;
		p += util_get_le32(plain + p - 4);
	}
	ok = p == plen;
out:
	free(plain);
	return ok;
}

/* The path of object id's blob relative to the store's root directory
 * ("../xattrs/HEX"), into rel (16 + 2 * XATTRS_ID_LEN bytes). */
static void blob_rel(const uint8_t *id, char *rel)
{
	memcpy(rel, "../" XATTRS_DIR "/", sizeof(XATTRS_DIR) + 3);
	util_hex_encode(id, XATTRS_ID_LEN, rel + sizeof(XATTRS_DIR) + 3);
}

/* 1 if the blob of object id opens, else 0. */
static int blob_check(struct fsck *k, const uint8_t *id)
{
	struct backend *be = k->s->be;
	char rel[16 + 2 * XATTRS_ID_LEN];
	uint8_t *raw = NULL;
	struct stat st;
	ssize_t n = -EIO;
	int ok;

	blob_rel(id, rel);
	/* Lengths on disk are not trusted: one larger than any blob is not one. */
	if (backend_fstatat(be, k->s->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_size <= BLOB_MAX &&
	    (raw = malloc((size_t)st.st_size + 1)) != NULL)
		n = backfile_read(be, k->s->rootfd, rel, raw, (size_t)st.st_size);
	ok = n >= 0 && blob_authentic(k->s, id, raw, (size_t)n);
	free(raw);
	return ok;
}

int fsck_xattrs_tag(struct fsck *k, const uint8_t *id, uint8_t *tag)
{
	char rel[16 + 2 * XATTRS_ID_LEN];
	uint8_t *raw;
	struct stat st;
	ssize_t n;
	int r;

	memset(tag, 0, CRYPTO_TAG_LEN);
	if (!blob_find(k, id))
		return 0;
	blob_rel(id, rel);
	r = backend_fstatat(k->s->be, k->s->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	if (!S_ISREG(st.st_mode) || st.st_size > BLOB_MAX)
		return -EIO;
	raw = malloc((size_t)st.st_size + 1);
	if (!raw)
		return -ENOMEM;
	n = backfile_read(k->s->be, k->s->rootfd, rel, raw, (size_t)st.st_size);
	r = n < 0 ? (int)n : n < CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN ? -EIO : 1;
	if (r == 1)
		memcpy(tag, raw + n - CRYPTO_TAG_LEN, CRYPTO_TAG_LEN);
	free(raw);
	return r;
}

/* Object id belongs to the tree (path: where).  Returns 1 if it has a blob. */
int fsck_xattrs_own(struct fsck *k, const uint8_t *id, const char *path)
{
	struct blob *b = blob_find(k, id);

	if (!b)
		return 0;
	if (!b->owned && path && !blob_check(k, id)) {
		char rel[16 + 2 * XATTRS_ID_LEN];

		blob_rel(id, rel);
		fsck_problem(k, path, FSCK_LEFT, "extended attributes do not authenticate (%s): "
			"reading them fails (EIO)", rel + 3);
	}
	b->owned = 1;
	return 1;
}

/* List BACKING/xattrs.  Leftover temporaries of an interrupted write are
 * removed by repair; what is not ours is reported and left. */
int fsck_xattrs_list(struct fsck *k)
{
	struct backend *be = k->s->be;
	struct backend_dir *d;
	struct dirent *e;
	int r = backend_opendirat(be, k->s->rootfd, "../" XATTRS_DIR, O_NOFOLLOW, &d);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	while ((r = backend_readdir(be, d, &e)) == 1) {
		const char *nm = e->d_name;
		size_t len = strlen(nm);
		char where[300];
		uint8_t id[XATTRS_ID_LEN];

		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		snprintf(where, sizeof(where), XATTRS_DIR "/%s", nm);
		if (len == 2 * XATTRS_ID_LEN && util_hex_decode(nm, id, sizeof(id)) == 0 &&
		    (id[0] == 'f' || id[0] == 'd')) {
			struct blob *nb;

			if (k->nblobs % 256 == 0) {
				nb = realloc(k->blobs, (k->nblobs + 256) * sizeof(*nb));
				if (!nb) {
					r = -ENOMEM;
					break;
				}
				k->blobs = nb;
			}
			memcpy(k->blobs[k->nblobs].id, id, sizeof(id));
			k->blobs[k->nblobs++].owned = 0;
		} else if (len > 4 && !strcmp(nm + len - 4, ".tmp")) {
			fsck_repairable(k, where, k->o->repair ?
				   backend_unlinkat(be, backend_dirfd(be, d), nm, 0) : 0,
				   "leftover of an interrupted attribute write");
		} else {
			fsck_problem(k, where, FSCK_LEFT, "not a file ragstore makes; left alone");
		}
	}
	backend_closedir(be, d);
	if (r < 0)
		return r;
	k->sum->xattr_blobs = k->nblobs;
	qsort(k->blobs, k->nblobs, sizeof(*k->blobs), blob_cmp);
	return 0;
}

/* After the walk: every blob that no object owns is an orphan, left by a
 * crash between removing an object and its attributes.  They are only
 * removed when every object's identity is known, so the attributes of a
 * file with a damaged header are never taken for an orphan. */
void fsck_xattrs_orphans(struct fsck *k)
{
	for (size_t i = 0; i < k->nblobs; i++) {
		char where[16 + 2 * XATTRS_ID_LEN];
		int r = 0;

		if (k->blobs[i].owned)
			continue;
		memcpy(where, XATTRS_DIR "/", sizeof(XATTRS_DIR));
		util_hex_encode(k->blobs[i].id, XATTRS_ID_LEN, where + sizeof(XATTRS_DIR));
		if (k->unknown_ids) {
			fsck_problem(k, where, FSCK_LEFT,
				"extended attributes of no object found; kept, since %d object(s) "
				"have an unknown identity", k->unknown_ids);
			continue;
		}
		if (k->o->repair) {
			char rel[16 + 2 * XATTRS_ID_LEN];

			blob_rel(k->blobs[i].id, rel);
			r = backend_unlinkat(k->s->be, k->s->rootfd, rel, 0);
		}
		fsck_repairable(k, where, r, "orphaned extended attributes (their object is gone)");
	}
}

int fsck_xattrs_opens(struct fsck *k, const uint8_t *id)
{
	return blob_find(k, id) && blob_check(k, id);
}

void fsck_xattrs_claims(struct fsck *k)
{
	struct backend *be = k->s->be;
	struct backend_dir *d;
	struct dirent *e;

	if (backend_opendirat(be, k->s->rootfd, "../" FSCK_LOST_FOUND, O_NOFOLLOW, &d) < 0)
		return;
	while (backend_readdir(be, d, &e) == 1) {
		uint8_t area[FH_AREA], id[XATTRS_ID_LEN];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		k->sum->lost_found++;
		memset(area, 0, sizeof(area));
		if (backfile_read(be, backend_dirfd(be, d), e->d_name, area, sizeof(area)) < 0)
			continue;
		/* The slots of v1 (0, 2048) and of v2 (0, 512) files. */
		for (int i = 0; i < 3; i++) {
			const uint8_t *slot = area + (i == 2 ? FH2_SLOT : fh_slot_offset(i));

			if (memcmp(slot, "RSFH", 4) != 0)
				continue;
			id[0] = 'f';
			memcpy(id + 1, slot + 16, FH_ID_LEN);
			fsck_xattrs_own(k, id, NULL);
		}
	}
	backend_closedir(be, d);
}

