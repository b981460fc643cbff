/* ns_int.h - what the files of the namespace layer share (ns.c,
 * ns_rename.c, ns_dir.c): a user's name resolved in its backing directory,
 * and the steps every operation on a name starts and ends with. */
#ifndef RAGSTORE_NS_INT_H
#define RAGSTORE_NS_INT_H

#include "ns.h"
#include "pathmap.h"

/* A user's name resolved in its backing directory: the directory's
 * descriptor (held until ns_name_put) and the backing name. */
struct nsname {
	struct inode *dir;
	int dirfd;
	struct bname bn;
};

int ns_name_get(struct store *s, struct inode *dir, const char *name, struct nsname *n);
void ns_name_put(struct store *s, struct nsname *n);
/* st of backing entry name in dirfd as the user sees it; *noxattr (when
 * given) set to 1 if the object is known to have no extended attributes. */
int ns_stat_at(struct store *s, int dirfd, const char *name, struct stat *st, int *noxattr);
/* Stat backing entry bname of dir and hand out its inode with a kernel
 * reference (uname is the user's name of it). */
int ns_hand_out_at(struct store *s, struct inode *dir, int dirfd, const char *bname,
		   const char *uname, struct inode **out, struct stat *st);

#endif
