/* fuselog.h - libfuse's own messages (fuse_log), routed through log.h so
 * that they follow ours: to syslog once daemonized, filtered by -q.  While
 * a mount is being set up they are held back instead, so that the caller
 * can fold the reason libfuse gave into its one line of failure. */
#ifndef RAGSTORE_FUSELOG_H
#define RAGSTORE_FUSELOG_H

/* Install the routing (once, before any other libfuse call). */
void fuselog_install(void);

/* hold 1: keep the last message instead of logging it; 0: log again. */
void fuselog_hold(int hold);

/* The last message held since fuselog_hold(1) (without libfuse's "fuse: "
 * prefix and the newline), or "" when there was none.  Static storage,
 * valid until the next message. */
const char *fuselog_held(void);

#endif
