/* bcache.c - the plaintext block cache (bcache.h): up to 16 shards (one
 * per 4 MiB of capacity, so that a shard holds dozens of 64 KiB blocks),
 * each a hash table with its own mutex, LRU list and share of the
 * capacity. */
#include "bcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SHARDS 16
#define SHARD_MIN (4u << 20)
#define BUCKETS_MIN 64

struct entry {
	struct bcache_key k;
	struct entry *hnext;        /* hash chain */
	struct entry *prev, *next;  /* LRU: head is the most recent */
	uint32_t len;
	uint8_t data[];
};

struct shard {
	pthread_mutex_t mu;
	struct entry **bucket;
	size_t nbuckets;            /* a power of two */
	struct entry *head, *tail;
	size_t bytes, cap;
	uint64_t blocks;
};

struct bcache {
	struct shard sh[SHARDS];
	int nsh;
	size_t capacity;
	uint64_t hits, misses, evictions; /* atomic */
};

static uint64_t key_hash(const struct bcache_key *k)
{
	/* The tag is a MAC (or a BLAKE2b checksum): already uniform. */
	return util_get_le64(k->tag) ^ (k->block * 0x9e3779b97f4a7c15ULL);
}

static size_t entry_cost(uint32_t len)
{
	return sizeof(struct entry) + len;
}

struct bcache *bcache_new(size_t capacity)
{
	struct bcache *c;
	size_t nb = BUCKETS_MIN;

	if (capacity == 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->capacity = capacity;
	c->nsh = capacity / SHARD_MIN < 1 ? 1 : capacity / SHARD_MIN > SHARDS ? SHARDS
									  : (int)(capacity / SHARD_MIN);
	/* About one bucket per 4 KiB of a shard. */
	while (nb * 4096 < capacity / (size_t)c->nsh && nb < (1u << 20))
		nb *= 2;
	for (int i = 0; i < c->nsh; i++) {
		struct shard *s = &c->sh[i];

		pthread_mutex_init(&s->mu, NULL);
		s->cap = capacity / (size_t)c->nsh;
		s->nbuckets = nb;
		s->bucket = calloc(nb, sizeof(*s->bucket));
		if (!s->bucket) {
			bcache_free(c);
			return NULL;
		}
	}
	return c;
}

void bcache_free(struct bcache *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->nsh; i++) {
		struct shard *s = &c->sh[i];

		for (struct entry *e = s->head, *n; e; e = n) {
			n = e->next;
			free(e);
		}
		free(s->bucket);
		pthread_mutex_destroy(&s->mu);
	}
	free(c);
}

static struct shard *shard_of(struct bcache *c, uint64_t h)
{
	return &c->sh[h % (uint64_t)c->nsh];
}

static struct entry **slot_of(struct shard *s, uint64_t h)
{
	return &s->bucket[(h / SHARDS) & (s->nbuckets - 1)];
}

/* The entry's place in its chain (the pointer that points at it). */
static struct entry **find(struct shard *s, uint64_t h, const struct bcache_key *k)
{
	struct entry **p = slot_of(s, h);

	while (*p && memcmp(&(*p)->k, k, sizeof(*k)) != 0)
		p = &(*p)->hnext;
	return p;
}

static void lru_unlink(struct shard *s, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
}

static void lru_push(struct shard *s, struct entry *e)
{
	e->prev = NULL;
	e->next = s->head;
	if (s->head)
		s->head->prev = e;
	s->head = e;
	if (!s->tail)
		s->tail = e;
}

/* Take e out of the shard (it is in its chain at *p). */
static void drop(struct shard *s, struct entry **p, struct entry *e)
{
	*p = e->hnext;
	lru_unlink(s, e);
	s->bytes -= entry_cost(e->len);
	s->blocks--;
	free(e);
}

int bcache_get(struct bcache *c, const struct bcache_key *k, uint32_t o, size_t n, void *dst)
{
	uint64_t h;
	struct shard *s;
	struct entry *e;

	if (!c)
		return 0;
	h = key_hash(k);
	s = shard_of(c, h);
	pthread_mutex_lock(&s->mu);
	e = *find(s, h, k);
	if (e) {
		size_t have = o < e->len ? e->len - o : 0, take = have < n ? have : n;

		memcpy(dst, e->data + o, take);
		memset((uint8_t *)dst + take, 0, n - take);
		lru_unlink(s, e);
		lru_push(s, e);
	}
	pthread_mutex_unlock(&s->mu);
	__atomic_add_fetch(e ? &c->hits : &c->misses, 1, __ATOMIC_RELAXED);
	return e != NULL;
}

void bcache_put(struct bcache *c, const struct bcache_key *k, const void *plain, uint32_t len)
{
	uint64_t h, evicted = 0;
	struct shard *s;
	struct entry *e, **p;

	if (!c)
		return;
	h = key_hash(k);
	s = shard_of(c, h);
	if (entry_cost(len) > s->cap)
		return;
	e = malloc(entry_cost(len));
	if (!e)
		return;
	e->k = *k;
	e->len = len;
	memcpy(e->data, plain, len);
	pthread_mutex_lock(&s->mu);
	p = find(s, h, k);
	if (*p)
		drop(s, p, *p);
	while (s->bytes + entry_cost(len) > s->cap && s->tail) {
		struct entry *old = s->tail;

		drop(s, find(s, key_hash(&old->k), &old->k), old);
		evicted++;
	}
	e->hnext = *slot_of(s, h);
	*slot_of(s, h) = e;
	lru_push(s, e);
	s->bytes += entry_cost(len);
	s->blocks++;
	pthread_mutex_unlock(&s->mu);
	if (evicted)
		__atomic_add_fetch(&c->evictions, evicted, __ATOMIC_RELAXED);
}

void bcache_stats(struct bcache *c, struct bcache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	out->capacity = c->capacity;
	for (int i = 0; i < c->nsh; i++) {
		pthread_mutex_lock(&c->sh[i].mu);
		out->bytes += c->sh[i].bytes;
		out->blocks += c->sh[i].blocks;
		pthread_mutex_unlock(&c->sh[i].mu);
	}
	out->hits = __atomic_load_n(&c->hits, __ATOMIC_RELAXED);
	out->misses = __atomic_load_n(&c->misses, __ATOMIC_RELAXED);
	out->evictions = __atomic_load_n(&c->evictions, __ATOMIC_RELAXED);
}
