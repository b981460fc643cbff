/* scrub.h - background work over the whole store: the scrub (verify every
 * block of every file) and the rebuild of the store totals by a walk of the
 * backing tree.  Each runs in its own thread; at most one of each at a time.
 * Both walks take no lock across files and the scrub takes each file's
 * content lock one block at a time, so normal I/O goes on meanwhile.
 *
 * The threads belong to the mounted store; the state that tracks them is
 * module-wide behind a mutex (one daemon serves one store). */
#ifndef RAGSTORE_SCRUB_H
#define RAGSTORE_SCRUB_H

#include "store.h"

struct stats;

/* Start a scrub of s in the background, verifying at most limit logical
 * bytes per second (0: no limit; the pace is kept file by file).  Returns
 * 0, -EBUSY when one is already running, or -errno. */
int scrub_start(struct store *s, uint64_t limit);

/* Stop a running scrub (scrub --stop) and wait for it: it ends after the
 * file it is verifying, recorded as stopped.  Returns 0, or -ENOENT when
 * no scrub runs (one that has just finished counts as running until this
 * has joined it: its figures stand as they are). */
int scrub_cancel(void);

/* Rebuild the totals of s->stats in the background (they are marked as
 * being rebuilt before this returns).  Returns 0 or -errno. */
int scrub_rebuild_start(struct store *s);

/* Ask both threads to stop, and join them.  A scrub stopped this way is
 * recorded as aborted; an unfinished rebuild leaves the totals untrusted. */
void scrub_stop(void);

/* Walk the backing tree of s and add what the user's tree holds to walked
 * (files by inode, directories, logical and stored bytes per algorithm; see
 * docs/STATS.md).  Stops early with -ECANCELED when *stop becomes nonzero.
 * Returns 0 or -errno. */
int scrub_walk_totals(struct store *s, struct stats *walked, const int *stop);

#endif
