/* log.h - diagnostics: stderr in the foreground, syslog once daemonized
 * (unless the daemon keeps stderr, see docs/ragstore.1), or a log file
 * given with -o logfile.  Never pass a key
 * or a passphrase to these functions. */
#ifndef RAGSTORE_LOG_H
#define RAGSTORE_LOG_H

/* LOG_LVL_SILENT drops everything: for a command that reports a failure in
 * its own one line (the store layer's messages would add more). */
enum log_level { LOG_LVL_SILENT = -1, LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO,
		 LOG_LVL_DEBUG };

/* Send messages to syslog (1) or stderr (0, the default). */
void log_use_syslog(int on);
/* Append messages to the file at absolute path (created 0600 if missing),
 * from now on, in place of stderr and syslog.  Returns 0 or -errno. */
int log_use_file(const char *path);
/* The log file's absolute path once log_use_file succeeded, else NULL. */
const char *log_file_path(void);
/* Open the log file's path again and write there from now on (SIGHUP,
 * after logrotate).  Async-signal-safe; a no-op without a log file. */
void log_reopen(void);
/* 1 if a syslog daemon accepts connections on /dev/log, else 0.  Where
 * none listens (a container, say) syslog() drops every message without a
 * word, so a caller asks this before choosing syslog. */
int log_syslog_reachable(void);
/* Messages above this level are dropped; default LOG_LVL_INFO. */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
