/* reaper.c - see reaper.h.  A ring of descriptors under one mutex, and one
 * thread that closes them in order. */
#include "reaper.h"

#include <pthread.h>
#include <stdlib.h>

#include "backend.h"

struct reaper {
	struct backend *be;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t more, done; /* something to close; the ring emptied */
	unsigned max, head, count, busy;
	int stop;
	int fds[];
};

static void *reaper_main(void *arg)
{
	struct reaper *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->count && !r->stop)
			pthread_cond_wait(&r->more, &r->mu);
		if (!r->count)
			break;
		int fd = r->fds[r->head];

		r->head = (r->head + 1) % r->max;
		r->count--;
		r->busy = 1;
		pthread_mutex_unlock(&r->mu);
		backend_close(r->be, fd);
		pthread_mutex_lock(&r->mu);
		r->busy = 0;
		if (!r->count)
			pthread_cond_broadcast(&r->done);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct reaper *reaper_new(struct backend *be, unsigned max)
{
	struct reaper *r;

	if (!max || !(r = calloc(1, sizeof(*r) + max * sizeof(int))))
		return NULL;
	r->be = be;
	r->max = max;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->more, NULL);
	pthread_cond_init(&r->done, NULL);
	if (pthread_create(&r->thread, NULL, reaper_main, r) != 0) {
		pthread_cond_destroy(&r->done);
		pthread_cond_destroy(&r->more);
		pthread_mutex_destroy(&r->mu);
		free(r);
		return NULL;
	}
	return r;
}

void reaper_close(struct reaper *r, struct backend *be, int fd)
{
	if (r) {
		pthread_mutex_lock(&r->mu);
		if (r->count < r->max && !r->stop) {
			r->fds[(r->head + r->count) % r->max] = fd;
			r->count++;
			pthread_cond_signal(&r->more);
			pthread_mutex_unlock(&r->mu);
			return;
		}
		pthread_mutex_unlock(&r->mu);
	}
	backend_close(be, fd);
}

void reaper_drain(struct reaper *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	while (r->count || r->busy)
		pthread_cond_wait(&r->done, &r->mu);
	pthread_mutex_unlock(&r->mu);
}

void reaper_free(struct reaper *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->more);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL); /* it closes what is left first */
	pthread_cond_destroy(&r->done);
	pthread_cond_destroy(&r->more);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
