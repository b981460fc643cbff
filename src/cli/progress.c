/* progress.c - see progress.h. */
#include "progress.h"

#include <stdio.h>
#include <string.h>

#define BAR_WIDTH 30

static double since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void progress_start(struct progress *p, int bar, double every, const char *label)
{
	memset(p, 0, sizeof(*p));
	p->bar = bar;
	p->every = every;
	p->label = label;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->last = p->start;
}

double progress_elapsed(const struct progress *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return since(&p->start, &now);
}

void progress_clear(struct progress *p)
{
	if (p->shown) {
		fputs("\r\033[K", stderr);
		p->shown = 0;
	}
}

void progress_show(struct progress *p, uint64_t done, uint64_t total, uint64_t files_done,
		   uint64_t files_total, double rate, int final)
{
	struct timespec now;
	char bar[BAR_WIDTH + 1], eta[32];
	double frac;
	int fill;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final && since(&p->last, &now) < (p->bar ? 0.1 : p->every) &&
	    (p->shown || !p->bar))
		return;
	p->last = now;
	frac = total ? (double)done / (double)total
	       : files_total ? (double)files_done / (double)files_total : 1.0;
	if (frac > 1.0)
		frac = 1.0;
	if (rate > 0 && total > done) {
		long left = (long)((double)(total - done) / rate);

		snprintf(eta, sizeof(eta), "ETA %ld:%02ld", left / 60, left % 60);
	} else {
		snprintf(eta, sizeof(eta), "ETA -:--");
	}
	if (!p->bar) {
		fprintf(stderr, "%s: %3d%%  %llu/%llu files  %.1f/%.1f MB  %.1f MB/s  %s\n",
			p->label, (int)(frac * 100), (unsigned long long)files_done,
			(unsigned long long)files_total, (double)done / 1e6, (double)total / 1e6,
			rate / 1e6, eta);
		return;
	}
	fill = (int)(frac * BAR_WIDTH);
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
	bar[BAR_WIDTH] = '\0';
	fprintf(stderr, "\r\033[K[%s] %3d%%  %llu/%llu files  %.1f MB/s  %s", bar,
		(int)(frac * 100), (unsigned long long)files_done,
		(unsigned long long)files_total, rate / 1e6, eta);
	fflush(stderr);
	p->shown = 1;
}
