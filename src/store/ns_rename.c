/* ns_rename.c - rename by inode: plain, RENAME_NOREPLACE and
 * RENAME_EXCHANGE, with what a replaced target takes with it (its totals,
 * its attributes, a directory's value file).  See ns.h. */
#include "ns_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* RENAME_NOREPLACE, RENAME_EXCHANGE */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fallback.h"
#include "ofile.h"
#include "stats.h"
#include "xattrs.h"

static int exchange(struct store *s, struct nsname *a, struct nsname *b,
		    const struct stat *ast, const char *aname, const char *bname)
{
	struct stat bst;
	int r = backend_fstatat(s->be, b->dirfd, b->bn.leaf, &bst, AT_SYMLINK_NOFOLLOW);

	if (r < 0)
		return r;
	/* The entries keep their names (and side files); the objects behind
	 * them swap. */
	r = fallback_renameat2(s->be, &s->probe, a->dirfd, a->bn.leaf, b->dirfd, b->bn.leaf,
			       RENAME_EXCHANGE);
	if (r < 0)
		return r;
	inode_name_moved(s, ast->st_dev, ast->st_ino, a->dir, a->bn.leaf, b->dir, b->bn.leaf,
			 bname);
	inode_name_moved(s, bst.st_dev, bst.st_ino, b->dir, b->bn.leaf, a->dir, a->bn.leaf,
			 aname);
	return 0;
}

/* What a rename replaces, noted before it and settled after it. */
struct replaced {
	int exists;
	struct stat st;
	struct ofile_removal rm;
	int has_x;
	uint8_t xid[XATTRS_ID_LEN];
	int prepared;           /* a directory moved aside */
	char aside[64];
};

static int replace_begin(struct store *s, struct nsname *t, const struct stat *sst,
			 unsigned flags, struct replaced *rp)
{
	memset(rp, 0, sizeof(*rp));
	if (backend_fstatat(s->be, t->dirfd, t->bn.leaf, &rp->st, AT_SYMLINK_NOFOLLOW) == 0)
		rp->exists = 1;
	if (rp->exists) {
		ofile_removal_begin(s, t->dirfd, t->bn.leaf, &rp->st, &rp->rm);
		rp->has_x = (rp->rm.valid || S_ISDIR(rp->st.st_mode)) && !rp->rm.no_xattrs &&
			    xattrs_object_id(s, t->dirfd, t->bn.leaf, rp->xid) == 0;
	}
	/* A directory replacing an empty directory: the target's own value
	 * file must go first, or the backing rename sees it as not empty. */
	if (S_ISDIR(sst->st_mode) && !(flags & RENAME_NOREPLACE))
		return pathmap_replace_prepare(s, t->dirfd, &t->bn, rp->aside, sizeof(rp->aside),
					       &rp->prepared);
	return 0;
}

static void replace_done(struct store *s, struct nsname *t, struct replaced *rp)
{
	if (!rp->exists)
		return;
	ofile_removal_done(s, &rp->rm);
	if (rp->has_x)
		xattrs_forget(s, rp->xid);
	if (rp->prepared)
		pathmap_replace_finish(s, t->dirfd, rp->aside);
	/* Moved aside (encrypted names) or replaced by the rename itself
	 * (plaintext names), a directory went either way. */
	if (S_ISDIR(rp->st.st_mode))
		stats_dir_delta(s->stats, -1);
	inode_name_gone(s, rp->st.st_dev, rp->st.st_ino, t->dir, t->bn.leaf);
}

int ns_rename(struct store *s, struct inode *dir, const char *name, struct inode *ndir,
	      const char *nname, unsigned flags)
{
	struct nsname f, t;
	struct replaced *rp = NULL;
	struct stat sst;
	int r;

	if ((flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
	    ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)))
		return -EINVAL;
	inode_ns_wrlock(s);
	r = ns_name_get(s, dir, name, &f);
	if (r < 0)
		goto out_unlock;
	r = ns_name_get(s, ndir, nname, &t);
	if (r < 0)
		goto out_from;
	r = backend_fstatat(s->be, f.dirfd, f.bn.leaf, &sst, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		goto out;
	/* Into another directory: a packed file (pack.h) leaves its pack
	 * first (the packer waits for the namespace lock held here). */
	if (dir != ndir && S_ISREG(sst.st_mode))
		r = ofile_unpack_at(s, f.dirfd, f.bn.leaf);
	if (r == 0 && dir != ndir && (flags & RENAME_EXCHANGE))
		r = ofile_unpack_at(s, t.dirfd, t.bn.leaf);
	if (r < 0)
		goto out;
	if (flags & RENAME_EXCHANGE) {
		r = exchange(s, &f, &t, &sst, name, nname);
		goto out;
	}
	rp = malloc(sizeof(*rp));
	if (!rp) {
		r = -ENOMEM;
		goto out;
	}
	r = replace_begin(s, &t, &sst, flags, rp);
	if (r == 0 && rp->exists && rp->st.st_ino == sst.st_ino && rp->st.st_dev == sst.st_dev)
		goto out; /* two names of one file: rename does nothing */
	if (r == 0)
		r = pathmap_side_write(s, t.dirfd, &t.bn);
	if (r == 0)
		r = fallback_renameat2(s->be, &s->probe, f.dirfd, f.bn.leaf, t.dirfd,
				       t.bn.leaf, flags);
	if (r < 0) {
		if (rp->prepared)
			pathmap_replace_undo(s, t.dirfd, &t.bn, rp->aside);
		if (!rp->exists)
			pathmap_side_drop(s, t.dirfd, &t.bn);
		goto out;
	}
	replace_done(s, &t, rp);
	inode_name_moved(s, sst.st_dev, sst.st_ino, dir, f.bn.leaf, ndir, t.bn.leaf, nname);
	if (dir != ndir || strcmp(f.bn.leaf, t.bn.leaf))
		pathmap_side_drop(s, f.dirfd, &f.bn);
out:
	free(rp);
	ns_name_put(s, &t);
out_from:
	ns_name_put(s, &f);
out_unlock:
	inode_ns_unlock(s);
	return r;
}
