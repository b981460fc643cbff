/* pool.h - a small pool of worker threads for the data path: the blocks of
 * one large read or write are opened or sealed in parallel (issue 10).
 *
 * pool_run(p, n, fn, arg) calls fn(arg, i) for every i in [0, n), spread
 * over the workers and the calling thread, and returns when all are done.
 * Several callers may run at once (jobs queue); fn must not call pool_run.
 * With no workers (one CPU, or a pool of size 0), everything runs in the
 * caller, in order. */
#ifndef RAGSTORE_POOL_H
#define RAGSTORE_POOL_H

#include <stddef.h>

struct pool;

/* A pool of threads workers (0: none; negative: one less than the online
 * CPUs, at most 15).  NULL on failure, which callers treat as no pool. */
struct pool *pool_new(int threads);
void pool_free(struct pool *p);
/* Number of worker threads (0 for NULL). */
int pool_size(const struct pool *p);
void pool_run(struct pool *p, size_t n, void (*fn)(void *arg, size_t i), void *arg);

#endif
