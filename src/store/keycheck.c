/* keycheck.c - is this the store's master key?  See keycheck.h. */
#include "keycheck.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "ofile.h"
#include "walk.h"

/* Files (or names) that fail to authenticate before the key is taken for
 * a wrong one: a damaged file or two must not hide a right key, and a big
 * tree must not be walked to the end for a wrong one. */
#define KEYCHECK_TRIES 8

struct keyprobe {
	struct store *s;
	int good;        /* something authenticated under the key */
	int bad;         /* things that did not */
	int root_bad;    /* the root directory's value did not */
};

static int probe_entry(void *arg, const struct walk_entry *e)
{
	struct keyprobe *p = arg;
	struct ofile *f;

	if (e->type == WALK_BADNAME) {
		p->bad++;
	} else if (e->type == WALK_NAMED && p->s->names) {
		/* An encrypted name decodes only under its store's key. */
		p->good = 1;
	} else if (e->type == WALK_NAMED && S_ISREG(e->st.st_mode) && !e->seen) {
		int r = ofile_open_for(p->s, e->dfd, e->bname, NULL, 0, &f);

		if (r == 0) {
			ofile_release(p->s, f);
			p->good = 1;
		} else if (r == -EIO) {
			p->bad++;
		}
	}
	return p->good || p->bad >= KEYCHECK_TRIES ? -ECANCELED : 0;
}

static int probe_error(void *arg, const char *path, int r)
{
	struct keyprobe *p = arg;

	if (!strcmp(path, "/")) {
		p->root_bad = 1;
		return r;
	}
	p->bad++;
	return p->bad >= KEYCHECK_TRIES ? -ECANCELED : 0;
}

int keycheck_run(struct store *s)
{
	struct keyprobe p = { .s = s };
	struct walk_ops ops = { .entry = probe_entry, .error = probe_error, .arg = &p };
	int r = walk_tree(s, &ops);

	if (p.good)
		return 1;
	if (p.root_bad || p.bad)
		return -EKEYREJECTED;
	/* With encrypted names a walk that got past the root has verified its
	 * value file. */
	if (s->names && r == 0)
		return 1;
	return r < 0 && r != -ECANCELED ? r : 0;
}
