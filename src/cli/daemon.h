/* daemon.h - how the mount process leaves its caller once the filesystem is
 * ready, and where its messages go from then on (docs/ragstore.1, section
 * MESSAGES). */
#ifndef RAGSTORE_DAEMON_H
#define RAGSTORE_DAEMON_H

/* Call in the daemon (after setsid, before telling the parent that the
 * mount is ready).  Changes to /, points stdin and stdout at /dev/null and
 * chooses the messages' way (no_syslog: -o nosyslog or -o logfile, whose
 * file the messages already go to; keep_stderr: -o nosyslog):
 *   keep_stderr               stderr is kept and the messages go there;
 *   no_syslog only            stderr goes to /dev/null;
 *   a syslog daemon listens   syslog, and stderr goes to /dev/null;
 *   no syslog, stderr a file  stderr is kept (say `2>>FILE`);
 *   no syslog otherwise       one warning on stderr (unless quiet) says that
 *                             the messages are discarded, then /dev/null.
 * A terminal or a pipe is never kept without nosyslog: holding it would
 * keep a shell session or a caller that reads to the end waiting.
 * Returns 0, or -errno when /dev/null or / cannot be opened (the
 * descriptors are then left as they were). */
int daemon_detach(int no_syslog, int keep_stderr, int quiet);

#endif
