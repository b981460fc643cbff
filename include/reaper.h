/* reaper.h - the last close of unlinked backing files, on a thread of its
 * own (docs/CORE.md, "Unlink returns before the blocks are freed").
 *
 * unlinkat(2) of a file's last name frees its blocks and its inode inside
 * the system call (on ext4 mounted with discard, with a synchronous
 * discard); a descriptor held across the unlinkat moves that work to its
 * close, which this thread does, so `rm -rf` does not wait for it.  At most
 * max descriptors wait; past that the caller closes inline, so the daemon's
 * descriptor use stays bounded.  reaper_free closes every waiting one. */
#ifndef RAGSTORE_REAPER_H
#define RAGSTORE_REAPER_H

struct backend;
struct reaper;

/* The bound of a store's reaper: descriptors waiting to be closed. */
#define REAPER_MAX 256

/* A reaper of at most max waiting descriptors of be; NULL on failure (the
 * callers then close inline). */
struct reaper *reaper_new(struct backend *be, unsigned max);
/* Close fd (a descriptor of be) on the reaper's thread, or now if r is
 * NULL or full. */
void reaper_close(struct reaper *r, struct backend *be, int fd);
/* Wait until every descriptor handed over so far is closed. */
void reaper_drain(struct reaper *r);
void reaper_free(struct reaper *r);

#endif
