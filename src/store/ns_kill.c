/* ns_kill.c - clearing the set-user-ID and set-group-ID bits of a file
 * (not a directory) that is written, truncated or given away, when the
 * kernel leaves that to the daemon (HANDLE_KILLPRIV_V2, src/fs/wire.c).
 * The rule is the kernel's own for ext4 (setattr_should_drop_suidgid):
 * S_ISUID always goes; S_ISGID goes when the file is group-executable, or
 * when the caller is neither privileged nor a member of the file's group
 * (without group execute it marks mandatory locking, which a member
 * keeps).  The daemon cannot see the caller's capabilities: uid 0 counts
 * as privileged.  ragstore keeps no security.capability, so there is none
 * to drop. */
#include "ns.h"

#include <sys/stat.h>

#include "backend.h"
#include "ofile.h"

mode_t ns_kill_bits(const struct stat *st, const struct ns_caller *c)
{
	mode_t kill = st->st_mode & S_ISUID;

	if (S_ISDIR(st->st_mode) || !(st->st_mode & S_ISGID))
		return S_ISDIR(st->st_mode) ? 0 : kill;
	if ((st->st_mode & S_IXGRP) ||
	    (c->uid != 0 && c->gid != st->st_gid &&
	     !(c->in_group && c->in_group(c->arg, st->st_gid))))
		kill |= S_ISGID;
	return kill;
}

int ns_kill_suidgid(struct store *s, struct inode *in, struct ofile *f,
		    const struct ns_caller *c, struct stat *st)
{
	struct stat cur, attr = { 0 };
	mode_t kill;
	int r;

	if (S_ISDIR(inode_type(in)))
		return 0;
	r = f ? backend_fstat(s->be, ofile_fd(f), &cur) : ns_getattr(s, in, &cur);
	if (r < 0)
		return r;
	kill = ns_kill_bits(&cur, c);
	if (!kill)
		return 0;
	attr.st_mode = cur.st_mode & ~kill;
	r = ns_setattr(s, in, f, &attr, NS_SET_MODE, st ? st : &cur);
	return r < 0 ? r : 1;
}
