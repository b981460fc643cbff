/* wire.h - what ragstore adds on the FUSE wire to what libfuse 3.14
 * negotiates: the kernel's HANDLE_KILLPRIV_V2 capability, and the
 * "clear set-user-ID and set-group-ID" flags the requests then carry
 * (docs/CORE.md, "Set-user-ID bits and the capability check"). */
#ifndef RAGSTORE_WIRE_H
#define RAGSTORE_WIRE_H

#include "fs.h"

/* Read and write the session's channels through wire.c, which watches the
 * requests and amends the INIT reply; after fuse_session_mount.  Returns 0
 * or -1 (the session then talks to the kernel as libfuse alone would). */
int wire_install(struct fuse_session *se);
/* close(2) returns before the kernel's RELEASE of the file reaches the
 * daemon, so a statfs right after a close can be served first.  Every
 * RELEASE read is counted until fs_release calls wire_release_done;
 * wire_releases_wait returns when none is left, so that statfs sees what
 * the releases before it started (the packer's notes, packer.h). */
void wire_release_done(void);
void wire_releases_wait(void);

/* Whether the kernel agreed to HANDLE_KILLPRIV_V2 at INIT: then it leaves
 * clearing the bits to the daemon (wire_kill_suidgid) and no longer asks
 * for security.capability at every write. */
int wire_killpriv(void);

/* Whether the request this thread is answering asked the daemon to clear
 * the set-user-ID and set-group-ID bits: a write, an open with O_TRUNC or
 * a truncate by a process without CAP_FSETID, or a chown (docs/CORE.md). */
int wire_kill_suidgid(void);

#endif
