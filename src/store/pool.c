/* pool.c - worker threads that share the items of pool_run calls.
 *
 * A job is one pool_run call: n items, a counter of the next item to take
 * and one of items finished.  Jobs wait in a FIFO; workers and the caller
 * take items of the oldest job first, so the caller of a small job is
 * never stuck behind a large one for long: it takes its own items too. */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define POOL_MAX 15

struct job {
	void (*fn)(void *arg, size_t i);
	void *arg;
	size_t n, next, done;
	struct job *link;
	pthread_cond_t finished;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct job *head, *tail;
	int stop, nthreads;
	pthread_t threads[POOL_MAX];
};

/* Take one item of the oldest job with items left; mu held.  Returns the
 * job (and *i) or NULL. */
static struct job *take(struct pool *p, size_t *i)
{
	struct job *j = p->head;

	while (j && j->next == j->n) {
		p->head = j->link;
		if (!p->head)
			p->tail = NULL;
		j = p->head;
	}
	if (!j)
		return NULL;
	*i = j->next++;
	return j;
}

static void finish(struct job *j)
{
	if (++j->done == j->n)
		pthread_cond_broadcast(&j->finished);
}

static void *worker(void *arg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		size_t i;
		struct job *j = take(p, &i);

		if (!j) {
			if (p->stop)
				break;
			pthread_cond_wait(&p->work, &p->mu);
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		j->fn(j->arg, i);
		pthread_mutex_lock(&p->mu);
		finish(j);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct pool *pool_new(int threads)
{
	struct pool *p;

	if (threads < 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		threads = cpus > 1 ? (int)cpus - 1 : 0;
	}
	if (threads > POOL_MAX)
		threads = POOL_MAX;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	for (int k = 0; k < threads; k++) {
		if (pthread_create(&p->threads[k], NULL, worker, p) != 0)
			break;
		p->nthreads++;
	}
	return p;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int k = 0; k < p->nthreads; k++)
		pthread_join(p->threads[k], NULL);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int pool_size(const struct pool *p)
{
	return p ? p->nthreads : 0;
}

void pool_run(struct pool *p, size_t n, void (*fn)(void *arg, size_t i), void *arg)
{
	struct job j = { .fn = fn, .arg = arg, .n = n };

	if (n == 0)
		return;
	if (!p || p->nthreads == 0 || n == 1) {
		for (size_t i = 0; i < n; i++)
			fn(arg, i);
		return;
	}
	pthread_cond_init(&j.finished, NULL);
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->link = &j;
	else
		p->head = &j;
	p->tail = &j;
	pthread_cond_broadcast(&p->work);
	/* The caller works on its own job until every item is taken. */
	while (j.next < j.n) {
		size_t i = j.next++;

		pthread_mutex_unlock(&p->mu);
		fn(arg, i);
		pthread_mutex_lock(&p->mu);
		finish(&j);
	}
	while (j.done < j.n)
		pthread_cond_wait(&j.finished, &p->mu);
	/* take() unlinks only exhausted jobs at the head: this one may still
	 * be queued behind an older one. */
	for (struct job **q = &p->head, *prev = NULL; *q; prev = *q, q = &(*q)->link) {
		if (*q == &j) {
			*q = j.link;
			if (p->tail == &j)
				p->tail = prev;
			break;
		}
	}
	pthread_mutex_unlock(&p->mu);
	pthread_cond_destroy(&j.finished);
}
