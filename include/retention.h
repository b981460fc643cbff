/* retention.h - `cleanup`: removal of regular files whose policy has
 * retention_days > 0 and whose mtime is older than that (SPEC section 7).
 * Nothing is ever removed but by retention_run with dry == 0, which the
 * control command `cleanup` calls; `cleanup --dry-run` lists the same files
 * and removes none.  Each removal goes through the namespace (ns_unlink),
 * so the totals, attributes and inode table stay right, and is logged.
 * Knows nothing of FUSE: the caller is told of each removed name (to drop
 * the kernel's cached entry).
 *
 * The report of the last run (dry or not) is kept for /.ragstore/cleanup
 * and for the health recommendations.  One store per process. */
#ifndef RAGSTORE_RETENTION_H
#define RAGSTORE_RETENTION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

struct store;
struct inode;
struct policy;

/* 1 if a regular file with lstat st under policy p is due at time now. */
int retention_due(const struct policy *p, const struct stat *st, time_t now);

/* Called after name was removed from directory dir. */
typedef void (*retention_gone_fn)(void *arg, struct inode *dir, const char *name);

/* Walk the store and remove (dry: only list) every file that is due.
 * Returns the number of files removed (or, dry, due), or -errno when the
 * walk failed (what was removed before stays removed and reported). */
long retention_run(struct store *s, int dry, retention_gone_fn gone, void *arg);

/* The last run's report, for /.ragstore/cleanup: a malloc'd text the caller
 * frees (a line saying none ran yet if none did), its length in *len;
 * NULL when out of memory. */
char *retention_report(size_t *len);

/* The last run's figures: 0 and *when (0: none ran), *dry, *files, *bytes. */
void retention_last(time_t *when, int *dry, uint64_t *files, uint64_t *bytes);

/* Drop the kept report (at unmount). */
void retention_reset(void);

#endif
