/* fsck_names.c - fsck of what makes names readable: each directory's value
 * file, the names and long-name side files in it, the store's temporaries,
 * and the move of undecodable names to /lost+found (see fsck_int.h). */
#include "fsck_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "fallback.h"
#include "backfile.h"
#include "ofile.h"
#include "pathmap.h"
#include "util.h"

/* docs/XATTRS.md: a directory's id in a store with plaintext names. */
#define DIR_ID_XATTR "user.ragstore.id"

/* Replace the value file of directory dfd with one whose first
 * NAME_DIRIV_SIZE bytes are value (temporary, fsync, rename, like every
 * value file is written).  The records of packed files that follow the
 * value in a pack (pack.h) are kept, and so is the file's mode. */
static int diriv_write(struct backend *be, int dfd, const uint8_t *value)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int r;

	if (backend_fstatat(be, dfd, NAME_DIRIV_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size <= NAME_DIRIV_SIZE)
		return backfile_replace(be, dfd, NAME_DIRIV_FILE, value, NAME_DIRIV_SIZE, 0400);
	buf = malloc((size_t)st.st_size);
	if (!buf)
		return -ENOMEM;
	n = backfile_read(be, dfd, NAME_DIRIV_FILE, buf, (size_t)st.st_size);
	r = n < 0 ? (int)n : n < st.st_size ? -EIO : 0;
	if (r == 0) {
		memcpy(buf, value, NAME_DIRIV_SIZE);
		r = backfile_replace(be, dfd, NAME_DIRIV_FILE, buf, (size_t)n, st.st_mode & 07777);
	}
	free(buf);
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
	int names = 0, proven = 0;

	id[0] = 'd';
	memcpy(id + 1, iv, NAME_IV_LEN);
	if (fsck_xattrs_opens(k, id))
		return 1;
	if (backend_opendirat(be, dfd, ".", O_NOFOLLOW, &d) < 0)
		return 0;
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
int fsck_names_dir_iv(void *arg, int dfd, const char *path, uint8_t *iv)
{
	struct fsck *k = arg;
	struct store *s = k->s;
	uint8_t file[NAME_DIRIV_SIZE + 1], id[XATTRS_ID_LEN];
	ssize_t n;
	int p;

	id[0] = 'd';
	if (!s->names) {
		/* Plaintext names: the directory's id, if it ever had
		 * attributes, is an attribute of its own. */
		if (backend_getxattrat(s->be, dfd, ".", DIR_ID_XATTR, id + 1, XATTRS_ID_LEN - 1) ==
		    XATTRS_ID_LEN - 1)
			fsck_xattrs_own(k, id, path);
		return 0;
	}
	n = backfile_read(s->be, dfd, NAME_DIRIV_FILE, file, sizeof(file));
	if (n < 0) {
		k->unknown_ids++;
		k->bad_dirivs++;
		fsck_problem(k, path, FSCK_LEFT, "directory value file %s missing: no name in this "
			"directory can be read", NAME_DIRIV_FILE);
		return 1;
	}
	/* Past the value, a pack's records may follow in a store of version
	 * 3 on (pack.h; as pathmap.c reads it): they are checked with the
	 * packed files that reference them. */
	if (n > NAME_DIRIV_SIZE && s->desc.version >= 3)
		n = NAME_DIRIV_SIZE;
	if (name_diriv_open(s->names, file, (size_t)n, iv) == 0) {
		memcpy(id + 1, iv, NAME_IV_LEN);
		fsck_xattrs_own(k, id, path);
		return 0;
	}
	/* The value itself may be intact and only its MAC damaged: if the
	 * names prove the value, the file can be written again. */
	p = n == NAME_DIRIV_SIZE ? diriv_proven(k, dfd, file) : 0;
	if (!p) {
		k->unknown_ids++;
		k->bad_dirivs++;
		fsck_problem(k, path, FSCK_LEFT, "directory value file %s damaged: no name in this "
			"directory can be read", NAME_DIRIV_FILE);
		return 1;
	}
	memcpy(iv, file, NAME_IV_LEN);
	memcpy(id + 1, iv, NAME_IV_LEN);
	fsck_xattrs_own(k, id, path);
	if (k->o->repair)
		name_diriv_seal(s->names, iv, file);
	if (!fsck_repairable(k, path, k->o->repair ? diriv_write(s->be, dfd, file) : 0,
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

	/* A pack serves its own directory's files only: a packed file gets
	 * its own content back before it moves, as before a rename into
	 * another directory (its times are kept). */
	if (r == 0 && s->names)
		r = ofile_unpack_at(s, m->dfd, m->bname);
	for (int i = 0; r == 0 && i < 100; i++) {
		if (i == 0)
			snprintf(out, cap, "#%llu", (unsigned long long)m->ino);
		else
			snprintf(out, cap, "#%llu.%d", (unsigned long long)m->ino, i);
		r = pathmap_encode(s, k->lf_iv, out, &bn);
		if (r == 0)
			r = pathmap_side_write(s, k->lf_fd, &bn);
		if (r == 0)
			r = fallback_renameat2(s->be, &s->probe, m->dfd, m->bname, k->lf_fd,
					       bn.leaf, RENAME_NOREPLACE);
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
int fsck_names_dir_done(void *arg, int dfd, const char *path)
{
	struct fsck *k = arg;
	size_t keep = 0;

	fsck_pack_dir_done(k, dfd);
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
		fsck_repairable(k, m->path, r == -ENOENT ? 0 : r, what);
		free(m->bname);
		free(m->path);
	}
	k->nmoves = keep;
	return 0;
}

/* ---- entries ------------------------------------------------------------ */

/* Why the backing name of e does not decode. */
const char *fsck_names_cause(struct fsck *k, const struct walk_entry *e)
{
	char side[NAME_LONG_LEN + 1], enc[NAME_ENC_CAP], entry[NAME_LONG_LEN + 1];
	ssize_t n;

	if (!name_is_long(e->bname))
		return "backing name does not decrypt (altered, or moved from another directory)";
	memcpy(side, e->bname, sizeof(side));
	side[1] = 'N';
	n = backfile_read(k->s->be, e->dfd, side, enc, sizeof(enc) - 1);
	if (n < 0)
		return "long name's side file is missing: the entry has no name";
	if (n == 0)
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
	int r = backend_opendirat(s->be, dfd, name, O_NOFOLLOW, &d);

	if (r < 0)
		return r;
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
void fsck_names_internal(struct fsck *k, const struct walk_entry *e)
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
		fsck_repairable(k, where, k->o->repair ? backend_unlinkat(s->be, e->dfd, b, 0) : 0,
			   "orphaned long-name side file (its entry is gone)");
		return;
	}
	if (!strncmp(b, ".tmp", 4)) {
		int r = 0;

		if (k->o->repair)
			r = S_ISDIR(e->st.st_mode) ? tmpdir_remove(s, e->dfd, b)
						    : backend_unlinkat(s->be, e->dfd, b, 0);
		if (r == -ENOTEMPTY)
			fsck_problem(k, where, FSCK_LEFT, "hidden temporary directory holds entries; "
				"left alone");
		else
			fsck_repairable(k, where, r, "leftover of an interrupted mkdir, rmdir or rename");
		return;
	}
	fsck_problem(k, where, FSCK_LEFT, "not a file ragstore makes; left alone");
}

int fsck_names_queue(struct fsck *k, const struct walk_entry *e)
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
	m->cause = fsck_names_cause(k, e);
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
