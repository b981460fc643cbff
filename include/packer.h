/* packer.h - the thread that moves small files into their directory's
 * pack (pack.h; docs/FORMAT.md "Packed small files").
 *
 * The last close of a regular file that may fit a pack (one block, no user
 * attributes) notes its backing inode here.  The thread takes the notes in
 * batches: for each file still closed, with one link, whose one record
 * seals to at most PACK_STORED_MAX bytes, it appends the record to the pack
 * (.diriv) of the file's directory; then it makes every pack it wrote
 * durable (one fdatasync each); only then does each file's hint take the
 * packed form and its backing file become empty.  A file opened meanwhile
 * is left alone (its last close notes it again).  At most PACKER_MAX notes
 * wait; past that, notes are dropped (the file simply stays unpacked).
 *
 * Only a mount runs a packer, and only where packing is possible: a store
 * with encrypted names (the pack is the directory value file), not in
 * shared mode, on a local backing filesystem with user attributes. */
#ifndef RAGSTORE_PACKER_H
#define RAGSTORE_PACKER_H

#include <sys/types.h>

struct store;
struct packer;

#define PACKER_MAX 8192

/* Start s's packer (s->packer) if the store and its backing filesystem
 * allow packing (after store_probe); 1 started, 0 not possible. */
int packer_start(struct store *s);
/* Note backing inode dev:ino for packing; a no-op for a NULL packer and
 * on the packer's own thread. */
void packer_note(struct packer *p, dev_t dev, ino_t ino);
/* Wait until every note so far is dealt with (statfs, and tests). */
void packer_drain(struct packer *p);
/* Deal with every waiting note, stop the thread, free.  NULL: no-op. */
void packer_free(struct packer *p);
/* Files packed since start. */
unsigned long long packer_packed(const struct packer *p);

#endif
