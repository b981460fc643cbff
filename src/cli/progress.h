/* progress.h - the progress display of long commands (fsck, scrub): a bar
 * redrawn in place on a terminal (done/total, rate, time left), or plain
 * lines every few seconds otherwise.  Writes to stderr. */
#ifndef RAGSTORE_PROGRESS_H
#define RAGSTORE_PROGRESS_H

#include <stdint.h>
#include <time.h>

struct progress {
	int bar;                 /* a bar on a terminal, else plain lines */
	int shown;               /* a bar is drawn now (to be cleared) */
	double every;            /* plain lines: seconds between two */
	const char *label;       /* plain lines start with it */
	struct timespec start, last;
};

/* Start now.  bar: draw a bar (stderr is a terminal); else a line at most
 * every `every` seconds, beginning with label. */
void progress_start(struct progress *p, int bar, double every, const char *label);

/* Seconds since progress_start. */
double progress_elapsed(const struct progress *p);

/* Show bytes done of total and files done of total at rate (bytes per
 * second; 0: unknown), at most ten times a second for a bar, every `every`
 * seconds for lines, and always when final is set. */
void progress_show(struct progress *p, uint64_t done, uint64_t total, uint64_t files_done,
		   uint64_t files_total, double rate, int final);

/* Take the bar off the screen, before other output. */
void progress_clear(struct progress *p);

#endif
