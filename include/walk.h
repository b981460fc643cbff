/* walk.h - a walk of the user's tree in the backing store, as the mount
 * shows it: every directory, then each of its entries with the user's name,
 * the user's path and the lstat of the backing object.  Knows nothing of
 * FUSE.  The scrub, the rebuild of the store totals and fsck are walks.
 *
 * A directory's listing is read whole and its stream closed before the
 * walk descends, so a deep tree holds only one O_PATH descriptor per level.
 * Names go through pathmap (one decryption per entry); entries that are not
 * the user's (the directory value file, long-name side files, temporaries)
 * are reported only to walks that ask for them.  Paths are for messages:
 * one longer than PATH_MAX is cut short rather than failing the walk. */
#ifndef RAGSTORE_WALK_H
#define RAGSTORE_WALK_H

#include <stdint.h>
#include <sys/stat.h>

#include "names.h"
#include "store.h"

enum walk_type {
	WALK_NAMED,    /* a user entry whose backing name decodes */
	WALK_BADNAME,  /* a backing name that does not decode (altered, copied
			  from another directory, a long name whose side file
			  is missing or not its own) */
	WALK_INTERNAL, /* one of the store's own files (name_is_internal) */
};

struct walk_entry {
	int type;            /* enum walk_type */
	int dfd;             /* the backing directory holding the entry */
	const char *bname;   /* backing name in dfd */
	const char *name;    /* the user's name (WALK_NAMED), else NULL */
	const char *dir;     /* user path of the directory ("/" for the root) */
	const char *path;    /* user path of the entry; for a bad name the
				directory's path, "/?" and the backing name */
	const uint8_t *iv;   /* the directory's value (zeros: plaintext names) */
	int iv_unknown;      /* dir_iv could not establish it: no name of this
				directory decodes (each is WALK_BADNAME) */
	struct stat st;      /* lstat of the backing entry */
	int seen;            /* a regular file with several links that the walk
				has already reported under another name */
};

/* What a walk does.  Every callback but entry may be NULL. */
struct walk_ops {
	/* The value of the backing directory dfd (path: its user path), for
	 * decoding its names.  NULL: pathmap_dir_iv.  Returns 0; 1 when the
	 * value is unknown but the walk should go on (the entries are then
	 * reported with iv_unknown set); or -errno, which goes to error() like
	 * any failure to list the directory. */
	int (*dir_iv)(void *arg, int dfd, const char *path, uint8_t *iv);
	/* One entry.  Returns 0 to go on (into it, if it is a directory of a
	 * named or, with descend_bad, a bad-named entry), 1 to go on without
	 * descending, or -errno to stop the walk with that error. */
	int (*entry)(void *arg, const struct walk_entry *e);
	/* Once a directory's entries are done (dfd still open). */
	int (*dir_done)(void *arg, int dfd, const char *path);
	/* A directory (path) that could not be listed, or an entry that could
	 * not be examined, with the error r.  Returns 0 to go on without it or
	 * -errno to stop the walk.  NULL: stop with r. */
	int (*error)(void *arg, const char *path, int r);
	void *arg;
	const int *stop;     /* polled between entries: nonzero stops the walk
				with -ECANCELED; NULL: never */
	int internal;        /* report WALK_INTERNAL entries too */
	int descend_bad;     /* descend into directories with bad names */
};

/* Walk the tree of s from its root directory (which is not itself an
 * entry; dir_iv, dir_done and error see it with the path "/").  Returns 0,
 * -ECANCELED, or the first error a callback chose to stop with. */
int walk_tree(struct store *s, const struct walk_ops *ops);

/* Add what the user's tree holds to walked, as the store totals count it
 * (docs/STATS.md): each regular file once by inode with its logical size,
 * its header's compression and its backing allocation; each directory but
 * the root.  Entries whose names do not decode are not counted.  Stops
 * with -ECANCELED when *stop (if stop is not NULL) becomes nonzero, and
 * at the first error.  Returns 0 or -errno. */
struct stats;
int walk_totals(struct store *s, struct stats *walked, const int *stop);

/* The user path of name in directory dir, into out (cap bytes); cut short
 * when it does not fit. */
void walk_path(char *out, size_t cap, const char *dir, const char *name);

#endif
