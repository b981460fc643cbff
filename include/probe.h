/* probe.h - what the backing filesystem can do, found out at mount by trying
 * it (docs/BACKING.md).
 *
 * A network or distributed filesystem (GlusterFS, sshfs, NFS, CephFS) often
 * lacks something a local one has: O_TMPFILE, renameat2 flags, user extended
 * attributes, punching holes, nanosecond times.  probe_run tries each of
 * them once, in a scratch directory made at the top of BACKING and removed
 * afterwards, and the store picks a documented fallback for each missing
 * one (fallback.h, ofile_create, ofile_hint_check).  Nothing is guessed
 * from the filesystem's name.
 *
 * The scratch directory is named PROBE_PREFIX followed by random hex; one
 * that a killed probe left behind is removed by the next probe_run and by
 * fsck --repair, and is never part of the store. */
#ifndef RAGSTORE_PROBE_H
#define RAGSTORE_PROBE_H

#include <stddef.h>

#include "glusterfs.h"

struct backend;
struct strbuf;

#define PROBE_PREFIX ".ragstore-probe."

/* The result.  Each feature is 1 (works as on ext4) or 0 (missing: the
 * fallback of docs/BACKING.md is used). */
struct probe {
	int done;             /* 1 once probed; 0: not probed, every feature
				 assumed present (the values below say so) */
	int tmpfile;          /* O_TMPFILE, then naming the file (linkat) */
	int rename_noreplace; /* renameat2 RENAME_NOREPLACE refuses an existing
				 target and moves to a free one */
	int rename_exchange;  /* renameat2 RENAME_EXCHANGE */
	int user_xattr;       /* user.* extended attributes on files */
	size_t xattr_max;     /* largest value of one attribute accepted (up
				 to 65536); 0 without user_xattr */
	int sparse;           /* a write far past the end leaves a hole */
	int punch_hole;       /* FALLOC_FL_PUNCH_HOLE, reading back zeros */
	int flock;            /* flock(2) */
	int fcntl_lock;       /* open-file-description fcntl record locks */
	long time_ns;         /* granularity of times set by utimensat, in
				 nanoseconds: 1 ... 1000000000 */
	int hardlink;         /* linkat of a file, and st_nlink counting it */
	int symlink;
	int symlink_attrs;    /* utimensat/fchownat with AT_SYMLINK_NOFOLLOW
				 change a symlink itself, not its target */
	int fifo;             /* mknodat of a FIFO */
	struct glusterfs_check gluster; /* a GlusterFS client's settings, read
					   from it (glusterfs.h); not a
					   feature: found 0 elsewhere */
	char error[128];      /* why probing failed (done stays 0), or "" */
};

/* Every feature present, done 0: what a store assumes until probed. */
void probe_assume_all(struct probe *p);

/* Probe the filesystem of directory dirfd of be (BACKING's top), in a
 * scratch directory made in it and removed before returning; leftover
 * scratch directories of earlier probes are removed first.  Returns 0 with
 * *p filled (done 1), or -errno when no scratch directory can be made
 * there (read-only, full, no permission): then *p assumes every feature
 * (probe_assume_all) and p->error says why. */
int probe_run(struct backend *be, int dirfd, struct probe *p);

/* 1 if name (an entry at the top of BACKING) is a probe's scratch
 * directory. */
int probe_is_scratch(const char *name);

/* Remove scratch directory name (probe_is_scratch) and everything in it,
 * in dirfd.  Returns 0 or -errno. */
int probe_remove_scratch(struct backend *be, int dirfd, const char *name);

/* Append the result as "key = value" lines, one per feature, with
 * "# fallback: ..." comment lines after each missing one, then a GlusterFS
 * client's settings (glusterfs_render) (ini form, for /.ragstore/config);
 * prefix goes before every line (e.g. "" or "  "). */
void probe_render(const struct probe *p, struct strbuf *sb, const char *prefix);

#endif
