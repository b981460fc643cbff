/* glusterfs.h - the settings of the GlusterFS client that holds BACKING,
 * read from the client itself (docs/BACKING.md, "GlusterFS settings").
 *
 * A GlusterFS FUSE client serves a hidden `.meta` directory at the root
 * of its mount (its meta translator): `.meta/cmdline` holds the client's
 * command line, with the mount options attribute-timeout, entry-timeout
 * and negative-timeout, and `.meta/graphs/active/NAME/type` names each
 * translator of the client's active graph, so a caching translator that
 * the volume's options turned on shows up there.  That is what this
 * client does, whatever the volume's options say to other clients.
 *
 * The mount root is the topmost directory above BACKING on the same
 * device; a GlusterFS client is recognised by its `.meta/cmdline` there
 * naming the glusterfs program.  Everything goes through the store's
 * backend, so a memory backend is simply "not GlusterFS". */
#ifndef RAGSTORE_GLUSTERFS_H
#define RAGSTORE_GLUSTERFS_H

#include <stddef.h>

struct backend;
struct strbuf;

/* The settings ragstore depends on, one bit each in glusterfs_check.wrong. */
enum glusterfs_setting {
	GLUSTERFS_WRITE_BEHIND,  /* needed off by every mount */
	GLUSTERFS_IO_CACHE,      /* the rest: needed by -o shared only */
	GLUSTERFS_READ_AHEAD,
	GLUSTERFS_QUICK_READ,
	GLUSTERFS_STAT_PREFETCH, /* md-cache */
	GLUSTERFS_OPEN_BEHIND,
	GLUSTERFS_READDIR_AHEAD,
	GLUSTERFS_NL_CACHE,
	GLUSTERFS_ATTRIBUTE_TIMEOUT,
	GLUSTERFS_ENTRY_TIMEOUT,
	GLUSTERFS_NEGATIVE_TIMEOUT,
	GLUSTERFS_NSETTINGS
};

struct glusterfs_check {
	int found;       /* 1: BACKING is on a GlusterFS client mount */
	int read;        /* 1: found, and its settings below were read */
	unsigned wrong;  /* 1 << enum glusterfs_setting: not as ragstore needs */
	double timeout[GLUSTERFS_NSETTINGS]; /* of the *_TIMEOUT settings, s */
	char why[96];    /* found but not read: why; else "" */
};

/* Look at the filesystem holding directory dirfd of be.  Never fails:
 * whatever cannot be looked at leaves found (or read) 0. */
void glusterfs_check(struct backend *be, int dirfd, struct glusterfs_check *c);

/* The settings that c says are wrong for a mount (shared: with -o shared)
 * as GlusterFS spells them ("performance.write-behind on, entry-timeout
 * 1"), comma-separated, into buf (len bytes, truncated to fit).  Returns
 * how many there are: 0 when nothing known is wrong. */
int glusterfs_wrong(const struct glusterfs_check *c, int shared, char *buf, size_t len);

/* "key = value" lines for the [backing] section: nothing unless found;
 * each setting with a "# needed ..." comment after a wrong one; prefix
 * goes before every line. */
void glusterfs_render(const struct glusterfs_check *c, struct strbuf *sb, const char *prefix);

#endif
