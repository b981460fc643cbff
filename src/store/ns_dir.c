/* ns_dir.c - directory listings by inode: open, read (with or without
 * each entry's inode and attributes), fsync and release.  See ns.h. */
#include "ns_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "log.h"
#include "names.h"
#include "stats.h"

/* An open directory: the backing stream and the value its names use. */
struct ns_dir {
	struct inode *in;
	struct backend_dir *d;
	uint8_t iv[NAME_IV_LEN];
};

int ns_opendir(struct store *s, struct inode *in, struct ns_dir **out)
{
	struct ns_dir *d = calloc(1, sizeof(*d));
	int r = 0;

	if (!d)
		return -ENOMEM;
	if (s->names)
		r = inode_dir_iv(s, in, d->iv);
	if (r == 0) {
		int dfd = inode_dirfd(s, in);

		r = dfd < 0 ? dfd : backend_opendirat(s->be, dfd, ".", 0, &d->d);
		if (dfd >= 0)
			inode_dirfd_put(s, in);
	}
	if (r < 0) {
		free(d);
		return r;
	}
	inode_pin(s, in);
	d->in = in;
	*out = d;
	return 0;
}

/* One entry of a listing with plus: its inode and stat, looked up. */
static int entry_plus(struct store *s, struct ns_dir *d, const char *bname, const char *name,
		      struct stat *st, struct inode **in)
{
	return ns_hand_out_at(s, d->in, backend_dirfd(s->be, d->d), bname, name, in, st);
}

int ns_readdir(struct store *s, struct ns_dir *d, off_t off, int plus, ns_fill_fn fill,
	       void *arg)
{
	struct dirent *e;
	int r = 0;

	if (off == 0)
		backend_rewinddir(s->be, d->d);
	else
		backend_seekdir(s->be, d->d, off);
	if (plus)
		inode_ns_rdlock(s);
	while (backend_readdir(s->be, d->d, &e) == 1) {
		char name[NAME_PLAIN_MAX + 1];
		struct inode *in = NULL;
		struct stat st;
		off_t next = backend_telldir(s->be, d->d);
		int k = pathmap_entry_name(s, backend_dirfd(s->be, d->d), d->iv, e->d_name, name);

		if (k == 0)
			continue;
		if (k < 0) {
			log_msg(LOG_LVL_ERROR, "backing entry %s: name does not authenticate; skipped",
				e->d_name);
			stats_error(s->stats, 1, NULL, -1, "name does not authenticate");
			continue;
		}
		memset(&st, 0, sizeof(st));
		st.st_ino = e->d_ino;
		st.st_mode = (mode_t)DTTOIF(e->d_type);
		if (plus && strcmp(name, ".") && strcmp(name, "..")) {
			int pr = entry_plus(s, d, e->d_name, name, &st, &in);

			if (pr == -ENOENT && !s->shared)
				continue; /* removed meanwhile; shared: listed bare, see SHARED.md */
			if (pr < 0 && pr != -ENOENT) {
				r = pr;
				break;
			}
		}
		if (fill(arg, name, &st, in, next)) {
			if (in)
				inode_forget(s, in, 1);
			break;
		}
	}
	if (plus)
		inode_ns_unlock(s);
	return r;
}

int ns_fsyncdir(struct store *s, struct ns_dir *d, int datasync)
{
	return backend_fsync(s->be, backend_dirfd(s->be, d->d), datasync);
}

void ns_releasedir(struct store *s, struct ns_dir *d)
{
	if (!d)
		return;
	backend_closedir(s->be, d->d);
	inode_put(s, d->in);
	free(d);
}
