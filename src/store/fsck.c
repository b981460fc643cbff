/* fsck.c - the offline check and repair of a store (see fsck.h and
 * docs/FSCK.md).
 *
 * One walk of the user's tree (walk.h) checks every directory value, name,
 * symlink target, file header and block record, and notes the identity of
 * every object; the extended-attribute blobs are then matched against those
 * identities, and a totals walk is compared with BACKING/ragstore.stats.
 * Everything is read through the format layer's pure functions rather than
 * through ofile_open, which would repair a size hint as it opens: a check
 * must change nothing. */
#include "fsck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "blockfmt.h"
#include "crypto.h"
#include "fileheader.h"
#include "names.h"
#include "ofile.h"
#include "pathmap.h"
#include "stats.h"
#include "util.h"
#include "walk.h"
#include "xattrs.h"

/* docs/FORMAT.md, "Size hint". */
#define HINT_XATTR "user.ragstore.h"
#define HINT_LEN 10
/* docs/XATTRS.md: the blob of an object, and the plaintext store's
 * directory id. */
#define BLOB_MAGIC "RSX1"
#define BLOB_AD "ragstore xattrs"
#define BLOB_MAX ((4 << 20) + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
#define DIR_ID_XATTR "user.ragstore.id"
#define STATS_FILE "ragstore.stats"
/* Report progress at most every this many blocks of one file. */
#define PROGRESS_BLOCKS 64
/* Damaged block ranges named in one problem line. */
#define RANGES_SHOWN 8

struct blob {
	uint8_t id[XATTRS_ID_LEN];
	int owned;            /* an object of the tree has this id */
};

/* An entry to move into /lost+found once its directory is done. */
struct move {
	int dfd;              /* the directory (open until its dir_done) */
	char *bname, *path;
	const char *cause;    /* why the name does not decode (static) */
	ino_t ino;
};

struct fsck {
	struct store *s;
	const struct fsck_opts *o;
	struct fsck_summary *sum;
	struct fsck_progress prog;
	struct blob *blobs;   /* sorted by id */
	size_t nblobs;
	int unknown_ids;      /* objects whose identity is unknown */
	int bad_dirivs;       /* directories a mount cannot list (their value
				 file is missing or damaged, and not repaired) */
	struct move *moves;
	size_t nmoves, capmoves;
	int lf_fd;            /* /lost+found in the user's tree, or -1 */
	uint8_t lf_iv[NAME_IV_LEN];
	/* Block buffers, for the largest block size seen so far. */
	size_t bufcap;
	uint8_t *rec, *plain, *scratch;
};

/* ---- reporting ---------------------------------------------------------- */

static void problem(struct fsck *k, const char *path, int state, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void problem(struct fsck *k, const char *path, int state, const char *fmt, ...)
{
	struct fsck_problem p = { .path = path, .state = state };
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	p.what = what;
	if (state != FSCK_NOTE)
		k->sum->problems++;
	if (state == FSCK_NOTE)
		k->sum->notes++;
	else if (state == FSCK_FIXED)
		k->sum->fixed++;
	else if (state == FSCK_FIXABLE)
		k->sum->fixable++;
	else
		k->sum->left++;
	k->o->report(k->o->arg, &p);
}

/* A repairable problem: fixed by fix() (0 or -errno) under --repair,
 * FSCK_FIXABLE otherwise.  Returns 1 if it was fixed. */
static int repairable(struct fsck *k, const char *path, int r, const char *what)
{
	if (!k->o->repair) {
		problem(k, path, FSCK_FIXABLE, "%s", what);
		return 0;
	}
	if (r < 0) {
		problem(k, path, FSCK_FAILED, "%s; repair failed: %s", what, strerror(-r));
		return 0;
	}
	problem(k, path, FSCK_FIXED, "%s", what);
	return 1;
}

static void progress(struct fsck *k)
{
	if (k->o->progress)
		k->o->progress(k->o->arg, &k->prog);
}

/* ---- extended-attribute blobs ------------------------------------------- */

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
	int fd, ok;

	blob_rel(id, rel);
	fd = backend_openat(be, k->s->rootfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd >= 0 && backend_fstat(be, fd, &st) == 0 && st.st_size <= BLOB_MAX &&
	    (raw = malloc((size_t)st.st_size + 1)) != NULL)
		n = backend_pread_full(be, fd, raw, (size_t)st.st_size, 0);
	if (fd >= 0)
		backend_close(be, fd);
	ok = n >= 0 && blob_authentic(k->s, id, raw, (size_t)n);
	free(raw);
	return ok;
}

/* Object id belongs to the tree (path: where).  Returns 1 if it has a blob. */
static int own(struct fsck *k, const uint8_t *id, const char *path)
{
	struct blob *b = blob_find(k, id);

	if (!b)
		return 0;
	if (!b->owned && path && !blob_check(k, id)) {
		char rel[16 + 2 * XATTRS_ID_LEN];

		blob_rel(id, rel);
		problem(k, path, FSCK_LEFT, "extended attributes do not authenticate (%s): "
			"reading them fails (EIO)", rel + 3);
	}
	b->owned = 1;
	return 1;
}

/* List BACKING/xattrs.  Leftover temporaries of an interrupted write are
 * removed by repair; what is not ours is reported and left. */
static int blobs_list(struct fsck *k)
{
	struct backend *be = k->s->be;
	struct backend_dir *d;
	struct dirent *e;
	int fd, r;

	fd = backend_openat(be, k->s->rootfd, "../" XATTRS_DIR,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	r = backend_fdopendir(be, fd, &d);
	if (r < 0) {
		backend_close(be, fd);
		return r;
	}
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
			repairable(k, where, k->o->repair ?
				   backend_unlinkat(be, backend_dirfd(be, d), nm, 0) : 0,
				   "leftover of an interrupted attribute write");
		} else {
			problem(k, where, FSCK_LEFT, "not a file ragstore makes; left alone");
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
static void blobs_orphans(struct fsck *k)
{
	for (size_t i = 0; i < k->nblobs; i++) {
		char where[16 + 2 * XATTRS_ID_LEN];
		int r = 0;

		if (k->blobs[i].owned)
			continue;
		memcpy(where, XATTRS_DIR "/", sizeof(XATTRS_DIR));
		util_hex_encode(k->blobs[i].id, XATTRS_ID_LEN, where + sizeof(XATTRS_DIR));
		if (k->unknown_ids) {
			problem(k, where, FSCK_LEFT,
				"extended attributes of no object found; kept, since %d object(s) "
				"have an unknown identity", k->unknown_ids);
			continue;
		}
		if (k->o->repair) {
			char rel[16 + 2 * XATTRS_ID_LEN];

			blob_rel(k->blobs[i].id, rel);
			r = backend_unlinkat(k->s->be, k->s->rootfd, rel, 0);
		}
		repairable(k, where, r, "orphaned extended attributes (their object is gone)");
	}
}

/* ---- directories -------------------------------------------------------- */

/* The MAC of a directory value as docs/FORMAT.md defines it. */
static void diriv_seal(const struct name_keys *nk, const uint8_t *iv, uint8_t *file)
{
	uint8_t msg[1 + NAME_IV_LEN], full[32];

	msg[0] = 'D';
	memcpy(msg + 1, iv, NAME_IV_LEN);
	crypto_mac(nk->mac, msg, sizeof(msg), full);
	memcpy(file, iv, NAME_IV_LEN);
	memcpy(file + NAME_IV_LEN, full, NAME_TAG_LEN);
}

/* Replace the value file of directory dfd with file (temporary, fsync,
 * rename, like every value file is written). */
static int diriv_write(struct backend *be, int dfd, const uint8_t *file)
{
	char tmp[32];
	uint8_t rnd[8];
	int fd, r;

	crypto_random(rnd, sizeof(rnd));
	memcpy(tmp, ".tmp", 4);
	util_hex_encode(rnd, sizeof(rnd), tmp + 4);
	fd = backend_openat(be, dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0400);
	if (fd < 0)
		return fd;
	r = backend_pwrite_full(be, fd, file, NAME_DIRIV_SIZE, 0);
	if (r == 0)
		r = backend_fsync(be, fd, 0);
	backend_close(be, fd);
	if (r == 0)
		r = backend_renameat2(be, dfd, tmp, dfd, NAME_DIRIV_FILE, 0);
	if (r < 0)
		backend_unlinkat(be, dfd, tmp, 0);
	return r;
}

/* 1 if iv is proven to be the value of directory dfd: a name in it
 * decrypts with it (a name's tag covers the value), or the directory's
 * attribute blob opens with it.  2 if nothing in the directory depends on
 * the value.  0 if it is not proven. */
static int diriv_proven(struct fsck *k, int dfd, const uint8_t *iv)
{
	struct backend *be = k->s->be;
	struct backend_dir *d;
	struct dirent *e;
	uint8_t id[XATTRS_ID_LEN];
	int fd, names = 0, proven = 0;

	id[0] = 'd';
	memcpy(id + 1, iv, NAME_IV_LEN);
	if (blob_find(k, id) && blob_check(k, id))
		return 1;
	fd = backend_openat(be, dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0 || backend_fdopendir(be, fd, &d) < 0) {
		if (fd >= 0)
			backend_close(be, fd);
		return 0;
	}
	while (!proven && backend_readdir(be, d, &e) == 1) {
		char out[NAME_PLAIN_MAX + 1];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    name_is_internal(e->d_name))
			continue;
		names++;
		proven = pathmap_entry_name(k->s, backend_dirfd(be, d), iv, e->d_name, out) == 1;
	}
	backend_closedir(be, d);
	return proven ? 1 : names ? 0 : 2;
}

/* walk_ops.dir_iv: check the value file of each directory. */
static int fsck_dir_iv(void *arg, int dfd, const char *path, uint8_t *iv)
{
	struct fsck *k = arg;
	struct store *s = k->s;
	uint8_t file[NAME_DIRIV_SIZE + 1], id[XATTRS_ID_LEN];
	ssize_t n;
	int fd, p;

	id[0] = 'd';
	if (!s->names) {
		/* Plaintext names: the directory's id, if it ever had
		 * attributes, is an attribute of its own. */
		if (backend_getxattrat(s->be, dfd, ".", DIR_ID_XATTR, id + 1, XATTRS_ID_LEN - 1) ==
		    XATTRS_ID_LEN - 1)
			own(k, id, path);
		return 0;
	}
	fd = backend_openat(s->be, dfd, NAME_DIRIV_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		k->unknown_ids++;
		k->bad_dirivs++;
		problem(k, path, FSCK_LEFT, "directory value file %s missing: no name in this "
			"directory can be read", NAME_DIRIV_FILE);
		return 1;
	}
	n = backend_pread_full(s->be, fd, file, sizeof(file), 0);
	backend_close(s->be, fd);
	if (n >= 0 && name_diriv_open(s->names, file, (size_t)n, iv) == 0) {
		memcpy(id + 1, iv, NAME_IV_LEN);
		own(k, id, path);
		return 0;
	}
	/* The value itself may be intact and only its MAC damaged: if the
	 * names prove the value, the file can be written again. */
	p = n == NAME_DIRIV_SIZE ? diriv_proven(k, dfd, file) : 0;
	if (!p) {
		k->unknown_ids++;
		k->bad_dirivs++;
		problem(k, path, FSCK_LEFT, "directory value file %s damaged: no name in this "
			"directory can be read", NAME_DIRIV_FILE);
		return 1;
	}
	memcpy(iv, file, NAME_IV_LEN);
	memcpy(id + 1, iv, NAME_IV_LEN);
	own(k, id, path);
	if (k->o->repair)
		diriv_seal(s->names, iv, file);
	if (!repairable(k, path, k->o->repair ? diriv_write(s->be, dfd, file) : 0,
		   p == 1 ? "directory value file " NAME_DIRIV_FILE " damaged, but the value it "
			    "holds is proven by the names it decrypts (its MAC is rewritten)"
			  : "directory value file " NAME_DIRIV_FILE " damaged in an empty "
			    "directory (its MAC is rewritten)"))
		k->bad_dirivs++;
	return 0;
}

/* ---- /lost+found --------------------------------------------------------- */

/* Open (making it if needed) /lost+found in the user's tree. */
static int lf_open(struct fsck *k)
{
	struct store *s = k->s;
	uint8_t iv[NAME_IV_LEN];
	struct bname bn;
	int r;

	if (k->lf_fd >= 0)
		return 0;
	r = s->names ? pathmap_dir_iv(s, s->rootfd, ".", iv) : 0;
	if (r == 0)
		r = pathmap_encode(s, iv, FSCK_LOST_FOUND, &bn);
	if (r < 0)
		return r;
	r = pathmap_mkdir(s, s->rootfd, &bn, 0700);
	if (r < 0 && r != -EEXIST)
		return r;
	r = backend_openat(s->be, s->rootfd, bn.leaf, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
			   0);
	if (r < 0)
		return r == -ENOTDIR ? -EEXIST : r;
	k->lf_fd = r;
	r = s->names ? pathmap_dir_iv(s, k->lf_fd, ".", k->lf_iv) : 0;
	if (r < 0) {
		backend_close(s->be, k->lf_fd);
		k->lf_fd = -1;
	}
	return r;
}

/* Move entry bname of dfd (whose name does not decode) into /lost+found
 * as "#INO" (or "#INO.N" if that is taken); its old long-name side file,
 * if any, goes.  The name is written to *out. */
static int lf_move(struct fsck *k, const struct move *m, char *out, size_t cap)
{
	struct store *s = k->s;
	struct bname bn;
	int r = lf_open(k);

	for (int i = 0; r == 0 && i < 100; i++) {
		if (i == 0)
			snprintf(out, cap, "#%llu", (unsigned long long)m->ino);
		else
			snprintf(out, cap, "#%llu.%d", (unsigned long long)m->ino, i);
		r = pathmap_encode(s, k->lf_iv, out, &bn);
		if (r == 0)
			r = pathmap_side_write(s, k->lf_fd, &bn);
		if (r == 0)
			r = backend_renameat2(s->be, m->dfd, m->bname, k->lf_fd, bn.leaf,
					      RENAME_NOREPLACE);
		if (r == -EEXIST) {
			r = 0;
			continue;
		}
		if (r < 0)
			pathmap_side_drop(s, k->lf_fd, &bn);
		break;
	}
	if (r == 0 && name_is_long(m->bname)) {
		char side[NAME_LONG_LEN + 1];

		memcpy(side, m->bname, sizeof(side));
		side[1] = 'N';
		backend_unlinkat(s->be, m->dfd, side, 0);
	}
	return r;
}

/* walk_ops.dir_done: move the entries of dfd whose names do not decode. */
static int fsck_dir_done(void *arg, int dfd, const char *path)
{
	struct fsck *k = arg;
	size_t keep = 0;

	for (size_t i = 0; i < k->nmoves; i++) {
		struct move *m = &k->moves[i];
		char name[64], what[200];
		int r;

		if (m->dfd != dfd) {
			k->moves[keep++] = *m;
			continue;
		}
		r = lf_move(k, m, name, sizeof(name));
		if (r == -ENOENT) /* its damaged header sent it out of the tree */
			snprintf(what, sizeof(what), "%s", m->cause);
		else
			snprintf(what, sizeof(what), "%s: moved to /%s/%s", m->cause,
				 FSCK_LOST_FOUND, name);
		repairable(k, m->path, r == -ENOENT ? 0 : r, what);
		free(m->bname);
		free(m->path);
	}
	k->nmoves = keep;
	return 0;
}

/* ---- entries ------------------------------------------------------------ */

/* Why the backing name of e does not decode. */
static const char *badname_cause(struct fsck *k, const struct walk_entry *e)
{
	char side[NAME_LONG_LEN + 1], enc[NAME_ENC_CAP], entry[NAME_LONG_LEN + 1];
	ssize_t n;
	int fd;

	if (!name_is_long(e->bname))
		return "backing name does not decrypt (altered, or moved from another directory)";
	memcpy(side, e->bname, sizeof(side));
	side[1] = 'N';
	fd = backend_openat(k->s->be, e->dfd, side, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return "long name's side file is missing: the entry has no name";
	n = backend_pread_full(k->s->be, fd, enc, sizeof(enc) - 1, 0);
	backend_close(k->s->be, fd);
	if (n <= 0)
		return "long name's side file is empty: the entry has no name";
	name_long(enc, (size_t)n, entry, side);
	if (strcmp(entry, e->bname))
		return "long name's side file holds another name";
	return "long name does not decrypt (altered, or moved from another directory)";
}

/* A leftover of an interrupted mkdir, rmdir or directory rename: a hidden
 * directory that holds only the store's own files. */
static int tmpdir_remove(struct store *s, int dfd, const char *name)
{
	struct backend_dir *d;
	struct dirent *e;
	int fd, r;

	fd = backend_openat(s->be, dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	r = backend_fdopendir(s->be, fd, &d);
	if (r < 0) {
		backend_close(s->be, fd);
		return r;
	}
	while (r == 0 && backend_readdir(s->be, d, &e) == 1) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!name_is_internal(e->d_name))
			r = -ENOTEMPTY;
		else
			r = backend_unlinkat(s->be, backend_dirfd(s->be, d), e->d_name, 0);
	}
	backend_closedir(s->be, d);
	return r < 0 ? r : backend_unlinkat(s->be, dfd, name, AT_REMOVEDIR);
}

/* One of the store's own files in a directory (encrypted names only). */
static void check_internal(struct fsck *k, const struct walk_entry *e)
{
	struct store *s = k->s;
	const char *b = e->bname;
	char where[PATH_MAX];

	walk_path(where, sizeof(where), e->dir, b);
	if (!strcmp(b, NAME_DIRIV_FILE))
		return; /* checked by fsck_dir_iv */
	if (b[1] == 'N' && strlen(b) == NAME_LONG_LEN) {
		char entry[NAME_LONG_LEN + 1];
		struct stat st;

		memcpy(entry, b, sizeof(entry));
		entry[1] = 'L';
		if (backend_fstatat(s->be, e->dfd, entry, &st, AT_SYMLINK_NOFOLLOW) != -ENOENT)
			return;
		repairable(k, where, k->o->repair ? backend_unlinkat(s->be, e->dfd, b, 0) : 0,
			   "orphaned long-name side file (its entry is gone)");
		return;
	}
	if (!strncmp(b, ".tmp", 4)) {
		int r = 0;

		if (k->o->repair)
			r = S_ISDIR(e->st.st_mode) ? tmpdir_remove(s, e->dfd, b)
						    : backend_unlinkat(s->be, e->dfd, b, 0);
		if (r == -ENOTEMPTY)
			problem(k, where, FSCK_LEFT, "hidden temporary directory holds entries; "
				"left alone");
		else
			repairable(k, where, r, "leftover of an interrupted mkdir, rmdir or rename");
		return;
	}
	problem(k, where, FSCK_LEFT, "not a file ragstore makes; left alone");
}

static void check_symlink(struct fsck *k, const struct walk_entry *e)
{
	struct store *s = k->s;
	char *enc = malloc(NAME_LINK_ENC_CAP + 1), *out = malloc(NAME_LINK_MAX + 1);
	ssize_t n;

	k->sum->symlinks++;
	if (!s->names || !enc || !out)
		goto out;
	n = backend_readlinkat(s->be, e->dfd, e->bname, enc, NAME_LINK_ENC_CAP);
	if (n < 0)
		problem(k, e->path, FSCK_LEFT, "cannot read the symlink: %s", strerror((int)-n));
	else if (name_link_decrypt(s->key, enc, (size_t)n, out, NAME_LINK_MAX + 1) < 0)
		problem(k, e->path, FSCK_LEFT, "symlink target does not authenticate: "
			"readlink fails (EIO)");
out:
	free(enc);
	free(out);
}

/* ---- regular files ------------------------------------------------------ */

/* A file being checked. */
struct fcheck {
	const struct walk_entry *e;
	int fd;                          /* read-only, the store's backend */
	uint8_t area[FH_AREA];           /* both header slots */
	struct file_header h[2];
	int rc[2];                       /* fh_open of each slot */
	int cur;                         /* the current slot, or -1 */
};

static int bufs_fit(struct fsck *k, uint32_t bs)
{
	size_t need = blk_slot_size(bs);

	if (k->bufcap >= need)
		return 0;
	free(k->rec);
	free(k->plain);
	free(k->scratch);
	k->rec = malloc(need);
	k->plain = malloc(need);
	k->scratch = malloc(need);
	k->bufcap = k->rec && k->plain && k->scratch ? need : 0;
	return k->bufcap ? 0 : -ENOMEM;
}

/* Verify block b.  Returns 0 when its newest record opens, 1 when only the
 * older one does (reads return the previous version), 2 when none does
 * (reads fail with EIO), or -errno. */
static int block_check(struct fsck *k, struct fcheck *c, uint64_t b)
{
	struct backend *be = k->s->be;
	const struct file_header *h = &c->h[c->cur];
	uint32_t bs = h->block_size;
	struct blk_prefix p[2];
	int ok[2], first;

	for (int i = 0; i < 2; i++) {
		uint8_t pre[BLK_PREFIX_LEN];
		ssize_t n = backend_pread_full(be, c->fd, pre, sizeof(pre),
					       blk_slot_offset(bs, b, i));

		if (n < 0)
			return (int)n;
		memset(pre + n, 0, sizeof(pre) - (size_t)n);
		ok[i] = blk_peek(pre, bs, &p[i]) == 0;
	}
	first = ok[1] && (!ok[0] || p[1].gen > p[0].gen);
	for (int t = 0; t < 2; t++) {
		int i = t ? !first : first;
		ssize_t n;

		if (!ok[i])
			continue;
		n = backend_pread_full(be, c->fd, k->rec, BLK_PREFIX_LEN + p[i].stored_len,
				       blk_slot_offset(bs, b, i));
		if (n < 0)
			return (int)n;
		if (blk_open(k->s->key, h->file_id, b, k->rec, (size_t)n, bs, k->plain,
			     k->scratch) >= 0)
			return t;
	}
	return 2;
}

/* Block ranges for one problem line: "3, 7-9, ...". */
struct ranges {
	char text[256];
	uint64_t count, start, end; /* the open range [start, end) */
	int shown;
};

static void ranges_flush(struct ranges *g)
{
	size_t len = strlen(g->text);

	if (g->end == g->start)
		return;
	if (g->shown == RANGES_SHOWN)
		snprintf(g->text + len, sizeof(g->text) - len, ", ...");
	else if (g->shown < RANGES_SHOWN && g->end - g->start == 1)
		snprintf(g->text + len, sizeof(g->text) - len, "%s%llu", g->shown ? ", " : "",
			 (unsigned long long)g->start);
	else if (g->shown < RANGES_SHOWN)
		snprintf(g->text + len, sizeof(g->text) - len, "%s%llu-%llu", g->shown ? ", " : "",
			 (unsigned long long)g->start, (unsigned long long)g->end - 1);
	g->shown++;
}

static void ranges_add(struct ranges *g, uint64_t b)
{
	g->count++;
	if (g->end != g->start && b == g->end) {
		g->end++;
		return;
	}
	ranges_flush(g);
	g->start = b;
	g->end = b + 1;
}

static void check_blocks(struct fsck *k, struct fcheck *c)
{
	const struct file_header *h = &c->h[c->cur];
	uint64_t nblk = h->size / h->block_size + (h->size % h->block_size != 0);
	struct ranges bad, old;
	uint64_t base = k->prog.bytes_done;
	int r = bufs_fit(k, h->block_size);

	memset(&bad, 0, sizeof(bad));
	memset(&old, 0, sizeof(old));
	for (uint64_t b = 0; b < nblk && r >= 0; b++) {
		if (fh_is_hole(h, b))
			continue;
		r = block_check(k, c, b);
		k->sum->blocks++;
		if (r == 1)
			ranges_add(&old, b);
		else if (r == 2)
			ranges_add(&bad, b);
		if (b % PROGRESS_BLOCKS == PROGRESS_BLOCKS - 1) {
			uint64_t done = (b + 1) * blk_slot_size(h->block_size);

			k->prog.bytes_done = base + (done < (uint64_t)c->e->st.st_blocks * 512 ?
						     done : (uint64_t)c->e->st.st_blocks * 512);
			progress(k);
		}
	}
	k->prog.bytes_done = base;
	if (r < 0) {
		problem(k, c->e->path, FSCK_LEFT, "cannot read the backing file: %s", strerror(-r));
		return;
	}
	ranges_flush(&bad);
	ranges_flush(&old);
	k->sum->blocks_bad += bad.count;
	if (bad.count)
		problem(k, c->e->path, FSCK_LEFT, "%llu block(s) of %u bytes missing or do not "
			"authenticate: %s (reads there fail with EIO)",
			(unsigned long long)bad.count, h->block_size, bad.text);
	if (old.count)
		problem(k, c->e->path, FSCK_LEFT, "the newest record of %llu block(s) does not "
			"authenticate: %s (reads return the previous version)",
			(unsigned long long)old.count, old.text);
}

/* Set the size hint of the file to its current header. */
static int hint_write(struct fsck *k, struct fcheck *c)
{
	const struct file_header *h = &c->h[c->cur];
	uint8_t v[HINT_LEN];

	util_put_le64(v, h->size);
	v[8] = (uint8_t)h->flags;
	v[9] = (uint8_t)(h->flags >> 8);
	return backend_setxattrat(k->s->be, c->e->dfd, c->e->bname, HINT_XATTR, v, sizeof(v), 0);
}

/* Write header nh into the slot that is not current (generation + 1),
 * as every header write does, keeping the file's times. */
static int header_rewrite(struct fsck *k, struct fcheck *c, struct file_header *nh)
{
	struct backend *be = k->s->be;
	uint8_t buf[FH_SLOT_SIZE];
	struct timespec tv[2];
	struct stat st;
	int fd, r;

	nh->gen = c->h[c->cur].gen + 1;
	r = fh_seal(k->s->key, nh, buf);
	if (r < 0)
		return r;
	fd = backend_openat(be, c->e->dfd, c->e->bname, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	r = backend_fstat(be, fd, &st);
	if (r == 0)
		r = backend_pwrite_full(be, fd, buf, sizeof(buf), fh_slot_offset(1 - c->cur));
	if (r == 0)
		r = backend_fsync(be, fd, 1);
	if (r == 0) {
		/* A repair is not a modification by the user. */
		tv[0] = st.st_atim;
		tv[1] = st.st_mtim;
		backend_futimens(be, fd, tv);
		c->h[1 - c->cur] = *nh;
		c->rc[1 - c->cur] = 0;
		c->cur = 1 - c->cur;
	}
	backend_close(be, fd);
	/* The hint follows the header's flags, as every header write keeps
	 * it; a file that had none gets one. */
	return r < 0 ? r : hint_write(k, c);
}

/* Both header slots: the current one must verify; the other may be empty
 * (a file whose header was written once) but not damaged. */
static void check_slots(struct fsck *k, struct fcheck *c)
{
	int other = 1 - c->cur;
	uint64_t gen, size;
	struct file_header nh;
	char what[256];

	if (c->rc[other] != -EBADMSG)
		return;
	snprintf(what, sizeof(what), "header slot %d does not authenticate%s", other,
		 fh_peek(c->area + fh_slot_offset(other), &gen, &size) == 0 &&
		 gen > c->h[c->cur].gen ? "; it claims to be newer, so the file reads as it "
		 "was before its last size or hole change" : "");
	nh = c->h[c->cur];
	repairable(k, c->e->path, k->o->repair ? header_rewrite(k, c, &nh) : 0, what);
}

/* The size hint (docs/FORMAT.md): missing is normal (a copy without
 * xattrs) and left for the next open to add; wrong is a problem. */
static void check_hint(struct fsck *k, struct fcheck *c)
{
	const struct file_header *h = &c->h[c->cur];
	uint64_t size;
	uint16_t flags;
	char what[256];

	if (ofile_hint(k->s, c->e->dfd, c->e->bname, &size, &flags) < 0)
		return;
	if (size == h->size && flags == h->flags)
		return;
	if (size < h->size)
		snprintf(what, sizeof(what), "size hint (%llu) below the authenticated size "
			 "(%llu): opening the file fails (EIO)", (unsigned long long)size,
			 (unsigned long long)h->size);
	else if (size != h->size)
		snprintf(what, sizeof(what), "size hint (%llu) differs from the authenticated "
			 "size (%llu): stat shows the wrong size until the file is opened",
			 (unsigned long long)size, (unsigned long long)h->size);
	else
		snprintf(what, sizeof(what), "size hint's flags (%#x) differ from the header's "
			 "(%#x)", flags, h->flags);
	repairable(k, c->e->path, k->o->repair ? hint_write(k, c) : 0, what);
}

/* The file's attributes: its blob (if any) must authenticate, and the
 * header must say it has one, or listxattr (which trusts the header's
 * flag) would not show them. */
static void check_file_xattrs(struct fsck *k, struct fcheck *c)
{
	struct file_header nh = c->h[c->cur];
	uint8_t id[XATTRS_ID_LEN];

	id[0] = 'f';
	memcpy(id + 1, nh.file_id, FH_ID_LEN);
	if (!own(k, id, c->e->path) || (nh.flags & FH_FLAG_XATTRS))
		return;
	nh.flags |= FH_FLAG_XATTRS;
	repairable(k, c->e->path, k->o->repair ? header_rewrite(k, c, &nh) : 0,
		   "has extended attributes that its header does not mention: "
		   "listxattr does not show them");
}

/* A file none of whose header slots verifies.  The ids its slots claim
 * keep its attributes from being taken for orphans.  Repair moves it
 * (if it has one name) to BACKING/lost+found, out of the user's tree. */
static void header_destroyed(struct fsck *k, struct fcheck *c)
{
	struct store *s = k->s;
	const struct walk_entry *e = c->e;
	char name[64], what[256];
	int claimed = 0, r = 0;

	for (int i = 0; i < 2; i++) {
		const uint8_t *slot = c->area + fh_slot_offset(i);
		uint8_t id[XATTRS_ID_LEN];

		if (memcmp(slot, "RSFH", 4) != 0)
			continue;
		id[0] = 'f';
		memcpy(id + 1, slot + 16, FH_ID_LEN);
		claimed += own(k, id, NULL);
	}
	if (!claimed)
		k->unknown_ids++;
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)e->st.st_ino);
	if (e->st.st_nlink > 1 || !k->o->repair) {
		problem(k, e->path, e->st.st_nlink > 1 ? FSCK_LEFT : FSCK_FIXABLE,
			"file header missing or damaged: the file cannot be opened (EIO)%s",
			e->st.st_nlink > 1 ? " (it has several names: left in place)"
			: "; --repair moves it out of the tree to BACKING/" FSCK_LOST_FOUND);
		return;
	}
	r = backend_mkdirat(s->be, s->rootfd, "../" FSCK_LOST_FOUND, 0700);
	if (r == 0 || r == -EEXIST) {
		char dst[80];

		snprintf(dst, sizeof(dst), "../" FSCK_LOST_FOUND "/%s", name);
		r = backend_renameat2(s->be, e->dfd, e->bname, s->rootfd, dst, RENAME_NOREPLACE);
	}
	if (r == 0 && name_is_long(e->bname)) {
		char side[NAME_LONG_LEN + 1];

		memcpy(side, e->bname, sizeof(side));
		side[1] = 'N';
		backend_unlinkat(s->be, e->dfd, side, 0);
	}
	if (r == 0)
		k->sum->lost_found++;
	snprintf(what, sizeof(what), "file header missing or damaged: the file could not be "
		 "opened (EIO); moved out of the tree to BACKING/" FSCK_LOST_FOUND "/%s", name);
	repairable(k, e->path, r, what);
}

static void check_file(struct fsck *k, const struct walk_entry *e)
{
	struct fcheck *c = calloc(1, sizeof(*c));
	struct backend *be = k->s->be;
	ssize_t n;

	k->sum->files++;
	if (!c) {
		problem(k, e->path, FSCK_LEFT, "not checked: out of memory");
		return;
	}
	c->e = e;
	c->fd = backend_open_noatime(be, e->dfd, e->bname);
	if (c->fd < 0) {
		problem(k, e->path, FSCK_LEFT, "cannot open the backing file: %s", strerror(-c->fd));
		free(c);
		return;
	}
	n = backend_pread_full(be, c->fd, c->area, sizeof(c->area), 0);
	if (n < 0) {
		problem(k, e->path, FSCK_LEFT, "cannot read the backing file: %s",
			strerror((int)-n));
		goto out;
	}
	memset(c->area + n, 0, sizeof(c->area) - (size_t)n);
	c->cur = -1;
	for (int i = 0; i < 2; i++) {
		c->rc[i] = fh_open(k->s->key, c->area + fh_slot_offset(i), &c->h[i]);
		if (c->rc[i] == 0 && (c->cur < 0 || c->h[i].gen > c->h[c->cur].gen))
			c->cur = i;
	}
	if (c->cur < 0) {
		header_destroyed(k, c);
		goto out;
	}
	check_slots(k, c);
	check_file_xattrs(k, c);
	check_hint(k, c);
	check_blocks(k, c);
out:
	backend_close(be, c->fd);
	k->prog.files_done++;
	k->prog.bytes_done += (uint64_t)e->st.st_blocks * 512;
	progress(k);
	free(c);
}

static int queue_move(struct fsck *k, const struct walk_entry *e)
{
	struct move *m;

	if (k->nmoves == k->capmoves) {
		size_t ncap = k->capmoves ? 2 * k->capmoves : 16;

		m = realloc(k->moves, ncap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		k->moves = m;
		k->capmoves = ncap;
	}
	m = &k->moves[k->nmoves];
	m->dfd = e->dfd;
	m->ino = e->st.st_ino;
	m->cause = badname_cause(k, e);
	m->bname = strdup(e->bname);
	m->path = strdup(e->path);
	if (!m->bname || !m->path) {
		free(m->bname);
		free(m->path);
		return -ENOMEM;
	}
	k->nmoves++;
	return 0;
}

static int fsck_entry(void *arg, const struct walk_entry *e)
{
	struct fsck *k = arg;

	if (e->type == WALK_INTERNAL) {
		check_internal(k, e);
		return 1;
	}
	if (e->type == WALK_BADNAME && !e->iv_unknown) {
		/* Checked below like any object, then moved (with --repair)
		 * once its directory is done. */
		if (k->o->repair) {
			int r = queue_move(k, e);

			if (r < 0)
				return r;
		} else {
			problem(k, e->path, FSCK_FIXABLE, "%s; --repair moves it to /%s",
				badname_cause(k, e), FSCK_LOST_FOUND);
		}
	}
	if (S_ISDIR(e->st.st_mode))
		k->sum->dirs++;
	else if (S_ISREG(e->st.st_mode) && !e->seen)
		check_file(k, e);
	else if (S_ISLNK(e->st.st_mode))
		check_symlink(k, e);
	else if (!S_ISREG(e->st.st_mode))
		k->sum->specials++;
	return 0;
}

static int fsck_error(void *arg, const char *path, int r)
{
	struct fsck *k = arg;

	if (r == -ENOMEM)
		return r;
	problem(k, path, FSCK_LEFT, "cannot be read: %s", strerror(-r));
	return 0;
}

/* ---- BACKING itself ----------------------------------------------------- */

/* Leftovers at the top of BACKING (temporaries of the descriptor and of the
 * totals file), and the files repair kept in BACKING/lost+found, whose
 * claimed ids keep their attributes. */
static int check_top(struct fsck *k)
{
	struct backend *be = k->s->be;
	struct backend_dir *d;
	struct dirent *e;
	int fd, r;

	fd = backend_openat(be, k->s->rootfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	r = backend_fdopendir(be, fd, &d);
	if (r < 0) {
		backend_close(be, fd);
		return r;
	}
	while (backend_readdir(be, d, &e) == 1) {
		const char *nm = e->d_name;

		if (!strcmp(nm, STATS_FILE ".tmp") ||
		    !strncmp(nm, "." DESC_FILE ".tmp.", sizeof("." DESC_FILE ".tmp.") - 1))
			repairable(k, nm, k->o->repair ?
				   backend_unlinkat(be, backend_dirfd(be, d), nm, 0) : 0,
				   "leftover temporary file of an interrupted update");
	}
	backend_closedir(be, d);
	return 0;
}

static void lost_found_claims(struct fsck *k)
{
	struct backend *be = k->s->be;
	struct backend_dir *d;
	struct dirent *e;
	int fd;

	fd = backend_openat(be, k->s->rootfd, "../" FSCK_LOST_FOUND,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0 || backend_fdopendir(be, fd, &d) < 0) {
		if (fd >= 0)
			backend_close(be, fd);
		return;
	}
	while (backend_readdir(be, d, &e) == 1) {
		uint8_t area[FH_AREA], id[XATTRS_ID_LEN];
		int f;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		k->sum->lost_found++;
		f = backend_open_noatime(be, backend_dirfd(be, d), e->d_name);
		if (f < 0)
			continue;
		memset(area, 0, sizeof(area));
		backend_pread_full(be, f, area, sizeof(area), 0);
		backend_close(be, f);
		for (int i = 0; i < 2; i++) {
			if (memcmp(area + fh_slot_offset(i), "RSFH", 4) != 0)
				continue;
			id[0] = 'f';
			memcpy(id + 1, area + fh_slot_offset(i) + 16, FH_ID_LEN);
			own(k, id, NULL);
		}
	}
	backend_closedir(be, d);
}

/* ---- the totals --------------------------------------------------------- */

/* What BACKING/ragstore.stats holds, read as a mount reads it, but in a
 * memory backend of its own, so that loading (which marks the file in use)
 * changes nothing on disk.  *state is an enum stats_load_result. */
static int totals_saved(struct fsck *k, struct stats_totals *t, int *state)
{
	struct backend *mem = backend_mem_new();
	struct stats *st = stats_new();
	struct stats_snapshot *snap = malloc(sizeof(*snap));
	char *buf = malloc(8192);
	ssize_t n = 0;
	int fd, r = -ENOMEM;

	if (!mem || !st || !snap || !buf)
		goto out;
	fd = backend_openat(k->s->be, k->s->rootfd, "../" STATS_FILE,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd >= 0) {
		n = backend_pread_full(k->s->be, fd, buf, 8192, 0);
		backend_close(k->s->be, fd);
		r = (int)(n < 0 ? n : 0);
		if (r == 0) {
			fd = backend_openat(mem, AT_FDCWD, STATS_FILE,
					    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			r = fd < 0 ? fd : backend_pwrite_full(mem, fd, buf, (size_t)n, 0);
			if (fd >= 0)
				backend_close(mem, fd);
		}
	} else {
		r = fd == -ENOENT ? 0 : fd;
	}
	if (r < 0)
		goto out;
	stats_use_backend(st, mem);
	r = stats_load(st, ".");
	if (r >= 0) {
		stats_snapshot(st, snap);
		*t = snap->totals;
		*state = snap->totals_load;
		r = 0;
	}
out:
	stats_free(st);
	backend_free(mem);
	free(snap);
	free(buf);
	return r;
}

static int totals_differ(const struct stats_totals *a, const struct stats_totals *b,
			 char *out, size_t cap)
{
	if (a->files != b->files || a->dirs != b->dirs || a->logical != b->logical ||
	    a->stored != b->stored) {
		snprintf(out, cap, "store totals are stale: the file says %lld files, %lld "
			 "directories, %lld logical and %lld stored bytes; the tree holds %lld, "
			 "%lld, %lld and %lld", (long long)a->files, (long long)a->dirs,
			 (long long)a->logical, (long long)a->stored, (long long)b->files,
			 (long long)b->dirs, (long long)b->logical, (long long)b->stored);
		return 1;
	}
	for (int i = 0; i < STATS_ALGO_COUNT; i++) {
		if (a->algo[i].files != b->algo[i].files ||
		    a->algo[i].logical != b->algo[i].logical ||
		    a->algo[i].stored != b->algo[i].stored) {
			snprintf(out, cap, "store totals are stale: the figures per compression "
				 "algorithm do not match the tree");
			return 1;
		}
	}
	return 0;
}

/* Save walked as the store's totals, keeping the scrub history. */
static int totals_rebuild(struct fsck *k, struct stats *walked)
{
	int r = stats_load(k->s->stats, k->s->backing);

	if (r < 0)
		return r;
	stats_set_totals(k->s->stats, walked);
	return stats_save(k->s->stats, k->s->backing);
}

static int check_totals(struct fsck *k)
{
	struct stats *walked = stats_new();
	struct stats_snapshot *snap = malloc(sizeof(*snap));
	struct stats_totals saved;
	char what[512];
	int state = STATS_LOAD_NONE, r = -ENOMEM;

	memset(&saved, 0, sizeof(saved));
	if (k->bad_dirivs) {
		/* The totals count what a mount shows, and a mount cannot list
		 * those directories: the daemon could not rebuild them either. */
		problem(k, STATS_FILE, FSCK_NOTE, "store totals not checked: %d directory(ies) "
			"cannot be listed", k->bad_dirivs);
		r = 0;
		goto out;
	}
	if (!walked || !snap)
		goto out;
	/* What the backing filesystem allocates for data still in its page
	 * cache (a repair's writes) is final only after writeback. */
	if (k->o->repair)
		syncfs(k->s->rootfd);
	r = walk_totals(k->s, walked, NULL);
	if (r == 0)
		r = totals_saved(k, &saved, &state);
	if (r < 0)
		goto out;
	stats_snapshot(walked, snap);
	switch (state) {
	case STATS_LOAD_MISSING:
		goto out; /* a new store, or one older than the file: the mount walks */
	case STATS_LOAD_UNCLEAN:
		/* The daemon itself distrusts such totals and rebuilds them at
		 * the next mount: nothing is wrong. */
		r = k->o->repair ? totals_rebuild(k, walked) : 0;
		problem(k, STATS_FILE, r < 0 ? FSCK_FAILED : FSCK_NOTE,
			"store totals were not saved by a clean unmount (the daemon stopped "
			"without unmounting, or before it had rebuilt them); %s",
			!k->o->repair ? "the next mount rebuilds them" :
			r < 0 ? "rebuilding them failed" : "rebuilt from the tree");
		r = 0;
		goto out;
	case STATS_LOAD_BAD:
		snprintf(what, sizeof(what), "store totals file is unreadable; it is rebuilt "
			 "from the tree");
		break;
	default:
		if (!totals_differ(&saved, &snap->totals, what, sizeof(what)))
			goto out;
	}
	repairable(k, STATS_FILE, k->o->repair ? totals_rebuild(k, walked) : 0, what);
out:
	stats_free(walked);
	free(snap);
	return r;
}

/* ---- the run ------------------------------------------------------------ */

static int count_entry(void *arg, const struct walk_entry *e)
{
	struct fsck_progress *p = arg;

	if (S_ISREG(e->st.st_mode) && !e->seen) {
		p->files_total++;
		p->bytes_total += (uint64_t)e->st.st_blocks * 512;
	}
	return 0;
}

static int count_dir_iv(void *arg, int dfd, const char *path, uint8_t *iv)
{
	return 1; /* names do not matter for counting */
}

int fsck_run(struct store *s, const struct fsck_opts *o, struct fsck_summary *sum)
{
	struct fsck k = { .s = s, .o = o, .sum = sum, .lf_fd = -1 };
	struct walk_ops ops = { .dir_iv = fsck_dir_iv, .entry = fsck_entry,
				.dir_done = fsck_dir_done, .error = fsck_error, .arg = &k,
				.internal = 1, .descend_bad = 1 };
	int r;

	memset(sum, 0, sizeof(*sum));
	if (o->progress) {
		struct walk_ops count = { .dir_iv = count_dir_iv, .entry = count_entry,
					  .arg = &k.prog, .descend_bad = 1 };

		r = walk_tree(s, &count);
		if (r < 0)
			return r;
		progress(&k);
	}
	r = check_top(&k);
	if (r == 0)
		r = blobs_list(&k);
	if (r == 0) {
		lost_found_claims(&k);
		r = walk_tree(s, &ops);
	}
	if (r == 0) {
		blobs_orphans(&k);
		r = check_totals(&k);
	}
	for (size_t i = 0; i < k.nmoves; i++) {
		free(k.moves[i].bname);
		free(k.moves[i].path);
	}
	free(k.moves);
	free(k.blobs);
	free(k.rec);
	free(k.plain);
	free(k.scratch);
	if (k.lf_fd >= 0)
		backend_close(s->be, k.lf_fd);
	return r;
}

int fsck_busy(const char *backing)
{
	struct backend *be = backend_posix();
	char root[PATH_MAX];
	int fd, r;

	if (snprintf(root, sizeof(root), "%s/%s", backing, STORE_ROOT) >= (int)sizeof(root))
		return -ENAMETOOLONG;
	fd = backend_openat(be, AT_FDCWD, root, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd; /* store_open says what is wrong */
	r = backend_flock(be, fd, LOCK_EX | LOCK_NB);
	if (r == 0)
		backend_flock(be, fd, LOCK_UN);
	backend_close(be, fd);
	return r == -EWOULDBLOCK ? 1 : r < 0 ? r : 0;
}
