/* test_concurrency.c - the data path under concurrency (issue 10): many
 * threads writing, reading, truncating, flushing and fsyncing overlapping
 * ranges of several files of one store, with the block cache, the worker
 * pool, chunked and compressed records and the write-behind block all in
 * play, checked byte for byte against an in-memory model.  make check also
 * runs it built with ThreadSanitizer (make unit-tsan).
 *
 * Phase 1 is linearizable per file: a test lock per file is taken
 * exclusive by writes, truncates and syncs (which also update the model)
 * and shared by reads (which compare with the model), so reads of one file
 * run together and different files run fully in parallel.  Phase 2 takes
 * no test lock at all: every thread writes its own 3000-byte stripes of
 * one file, so that stripes of different threads share blocks (and the one
 * write-behind block), and reads back its own stripes while the others
 * write; the result is still exact, as each byte has one writer.  Then
 * every file is closed, opened afresh and compared whole. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "memstore.h"
#include "ofile.h"
#include "store.h"
#include "unit.h"

#define BS (16 * 1024)         /* block size: chunked raw records (> 4 KiB) */
#define NF 3                   /* files */
#define NT 6                   /* threads */
#define OPS 2000               /* phase 1 operations per thread */
#define MAXSZ (40 * BS)        /* files stay below this size */
#define MAXW 40000             /* largest write or read */
#define STRIPE 3000            /* phase 2 */
#define STRIPES 36             /* per thread: 648,000 bytes in all */
#define ROUNDS 3
_Static_assert((uint64_t)STRIPES * NT * STRIPE <= MAXSZ, "phase 2 fits the model");

static struct store *s;
static struct ofile *files[NF];
static uint8_t model[NF][MAXSZ];
static size_t msize[NF];
static pthread_rwlock_t flock_[NF];
static int bad;                /* set by any thread that saw a difference */

static void fail(const char *what, int f, uint64_t off, size_t len)
{
	if (!__atomic_exchange_n(&bad, 1, __ATOMIC_RELAXED))
		fprintf(stderr, "test_concurrency: %s: file %d, %zu bytes at %llu\n", what, f, len,
			(unsigned long long)off);
}

static uint32_t rnd(uint32_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 17;
	*st ^= *st << 5;
	return *st;
}

/* Data for a write: compressible text or random bytes, by the seed. */
static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	static const char words[] = "block cache writer reader truncate fsync chunk ";
	uint32_t st = seed | 1;

	if (seed & 1) {
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)rnd(&st);
	} else {
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)words[(i + seed) % (sizeof(words) - 1)];
	}
}

static void op_write(int f, uint32_t *st, uint8_t *buf)
{
	size_t len = 1 + rnd(st) % MAXW;
	uint64_t off = rnd(st) % (MAXSZ - len);
	ssize_t n;

	fill(buf, len, rnd(st));
	pthread_rwlock_wrlock(&flock_[f]);
	n = ofile_write(s, files[f], (const char *)buf, len, (off_t)off);
	if (n != (ssize_t)len) {
		fail("write", f, off, len);
	} else {
		if (off > msize[f])
			memset(model[f] + msize[f], 0, off - msize[f]);
		memcpy(model[f] + off, buf, len);
		if (off + len > msize[f])
			msize[f] = off + len;
	}
	pthread_rwlock_unlock(&flock_[f]);
}

static void op_truncate(int f, uint32_t *st)
{
	size_t size = rnd(st) % MAXSZ;

	pthread_rwlock_wrlock(&flock_[f]);
	if (ofile_truncate(s, files[f], size) != 0) {
		fail("truncate", f, size, 0);
	} else {
		if (size > msize[f])
			memset(model[f] + msize[f], 0, size - msize[f]);
		msize[f] = size;
	}
	pthread_rwlock_unlock(&flock_[f]);
}

static void op_read(int f, uint32_t *st, uint8_t *buf)
{
	size_t len = 1 + rnd(st) % MAXW;
	uint64_t off = rnd(st) % MAXSZ;
	size_t want;
	ssize_t n;

	pthread_rwlock_rdlock(&flock_[f]);
	want = off >= msize[f] ? 0 : msize[f] - off < len ? msize[f] - off : len;
	n = ofile_read(s, files[f], (char *)buf, len, (off_t)off);
	if (n != (ssize_t)want || (want && memcmp(buf, model[f] + off, want) != 0))
		fail("read", f, off, len);
	pthread_rwlock_unlock(&flock_[f]);
}

static void op_sync(int f, uint32_t *st)
{
	int r;

	pthread_rwlock_wrlock(&flock_[f]);
	r = rnd(st) % 2 ? ofile_flush(s, files[f]) : ofile_fsync(s, files[f], (int)(rnd(st) % 2));
	if (r != 0)
		fail("flush or fsync", f, 0, 0);
	pthread_rwlock_unlock(&flock_[f]);
}

static void *phase1(void *arg)
{
	uint32_t st = 2654435761u * (uint32_t)(uintptr_t)arg + 1;
	uint8_t *buf = malloc(MAXW);

	for (int i = 0; buf && i < OPS && !__atomic_load_n(&bad, __ATOMIC_RELAXED); i++) {
		int f = (int)(rnd(&st) % NF);
		uint32_t k = rnd(&st) % 100;

		if (k < 45)
			op_write(f, &st, buf);
		else if (k < 85)
			op_read(f, &st, buf);
		else if (k < 93)
			op_truncate(f, &st);
		else
			op_sync(f, &st);
	}
	free(buf);
	return NULL;
}

/* Phase 2, thread k: stripes (i * NT + k) of file 0. */
static uint64_t stripe_off(int k, int i)
{
	return ((uint64_t)i * NT + (uint64_t)k) * STRIPE;
}

static void *phase2(void *arg)
{
	int k = (int)(uintptr_t)arg;
	uint8_t want[STRIPE], got[STRIPE];

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < STRIPES; i++) {
			fill(want, STRIPE, (uint32_t)(r * 7919 + i * 31 + k));
			if (ofile_write(s, files[0], (const char *)want, STRIPE,
					(off_t)stripe_off(k, i)) != STRIPE)
				fail("stripe write", 0, stripe_off(k, i), STRIPE);
			if (i % 5 == 4 && ofile_flush(s, files[0]) != 0)
				fail("stripe flush", 0, 0, 0);
		}
		for (int i = 0; i < STRIPES; i++) {
			fill(want, STRIPE, (uint32_t)(r * 7919 + i * 31 + k));
			if (ofile_read(s, files[0], (char *)got, STRIPE, (off_t)stripe_off(k, i)) !=
				    STRIPE ||
			    memcmp(got, want, STRIPE) != 0)
				fail("stripe read", 0, stripe_off(k, i), STRIPE);
		}
	}
	return NULL;
}

static void run(void *(*fn)(void *))
{
	pthread_t t[NT];

	for (uintptr_t k = 0; k < NT; k++)
		CHECK_EQ(pthread_create(&t[k], NULL, fn, (void *)k), 0);
	for (int k = 0; k < NT; k++)
		pthread_join(t[k], NULL);
}

/* Close file f, open it afresh and compare it whole with the model. */
static void check_reopened(int f)
{
	char name[16];
	uint8_t *buf = malloc(MAXSZ + 1);
	struct ofile *g = NULL;
	ssize_t n;

	snprintf(name, sizeof(name), "f%d", f);
	CHECK_EQ(ofile_release(s, files[f]), 0);
	files[f] = NULL;
	CHECK_EQ(ofile_open(s, s->rootfd, name, &g), 0);
	if (!g || !buf) {
		free(buf);
		return;
	}
	n = ofile_read(s, g, (char *)buf, MAXSZ + 1, 0);
	CHECK_EQ(n, (ssize_t)msize[f]);
	CHECK(n >= 0 && memcmp(buf, model[f], (size_t)n) == 0);
	CHECK_EQ(ofile_release(s, g), 0);
	free(buf);
}

int main(void)
{
	char name[16];

	if (crypto_init() < 0)
		return 1;
	s = memstore_open_bs(1, CODEC_LZ4, BS);
	CHECK(s != NULL);
	if (!s)
		return unit_done();
	/* Small: evictions happen. */
	CHECK_EQ(store_set_cache(s, 8 * BS), 0);
	for (int f = 0; f < NF; f++) {
		snprintf(name, sizeof(name), "f%d", f);
		files[f] = memstore_create(s, name);
		CHECK(files[f] != NULL);
		pthread_rwlock_init(&flock_[f], NULL);
	}
	run(phase1);
	CHECK_EQ(bad, 0);

	/* Phase 2 on file 0, from empty. */
	CHECK_EQ(ofile_truncate(s, files[0], 0), 0);
	run(phase2);
	CHECK_EQ(bad, 0);
	msize[0] = (size_t)stripe_off(NT - 1, STRIPES - 1) + STRIPE;
	for (int i = 0; i < STRIPES; i++)
		for (int k = 0; k < NT; k++)
			fill(model[0] + stripe_off(k, i), STRIPE,
			     (uint32_t)((ROUNDS - 1) * 7919 + i * 31 + k));

	for (int f = 0; f < NF; f++)
		check_reopened(f);
	store_close(s);
	return unit_done();
}
