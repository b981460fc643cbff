/* test_bcache.c - the plaintext block cache (bcache.c): a hit returns the
 * bytes put (a range, zeros past the plain length); a key differing in file
 * id, block or record tag misses; the bytes held never exceed the capacity
 * and evictions are counted; a block used after every put survives a flood
 * of others (LRU); no cache (capacity 0) is a NULL that every call takes;
 * util_parse_size, which -o cache_size uses; and four threads hammering one
 * cache agree with what they put. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "bcache.h"
#include "unit.h"
#include "util.h"

#define BS 65536

static uint8_t a[BS], b[BS], out[BS];

static struct bcache_key key(uint8_t id, uint64_t block, uint8_t tag)
{
	struct bcache_key k;

	memset(&k, 0, sizeof(k));
	memset(k.id, id, sizeof(k.id));
	k.block = block;
	/* Tags are uniform in real life; spread these over the bytes. */
	for (size_t i = 0; i < sizeof(k.tag); i++)
		k.tag[i] = (uint8_t)(tag * 37 + i * 11 + block);
	return k;
}

static void test_hit_miss(void)
{
	struct bcache *c = bcache_new(16u << 20);
	struct bcache_key k = key(1, 5, 9), k2;
	struct bcache_stats st;

	for (int i = 0; i < BS; i++)
		a[i] = (uint8_t)(i * 7 + 3);
	CHECK(c != NULL);
	CHECK_EQ(bcache_get(c, &k, 0, 100, out), 0);
	bcache_put(c, &k, a, 40000);
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(bcache_get(c, &k, 0, 40000, out), 1);
	CHECK(memcmp(out, a, 40000) == 0);
	/* A range, and zeros past the plain length. */
	memset(out, 0xee, sizeof(out));
	CHECK_EQ(bcache_get(c, &k, 39000, 2000, out), 1);
	CHECK(memcmp(out, a + 39000, 1000) == 0);
	for (int i = 1000; i < 2000; i++)
		CHECK_EQ(out[i], 0);
	CHECK_EQ(bcache_get(c, &k, BS - 10, 10, out), 1);
	CHECK_EQ(out[0] | out[9], 0);
	/* Another file, block or record: misses. */
	k2 = key(2, 5, 9);
	CHECK_EQ(bcache_get(c, &k2, 0, 10, out), 0);
	k2 = key(1, 6, 9);
	CHECK_EQ(bcache_get(c, &k2, 0, 10, out), 0);
	k2 = k;
	k2.tag[15] ^= 1;
	CHECK_EQ(bcache_get(c, &k2, 0, 10, out), 0);
	/* Put again under the same key: replaced, not doubled. */
	memset(b, 0x5a, sizeof(b));
	bcache_put(c, &k, b, BS);
	CHECK_EQ(bcache_get(c, &k, 0, BS, out), 1);
	CHECK(memcmp(out, b, BS) == 0);
	bcache_stats(c, &st);
	CHECK_EQ(st.blocks, 1);
	CHECK(st.bytes >= BS && st.bytes < BS + 1024);
	CHECK_EQ(st.capacity, 16u << 20);
	CHECK_EQ(st.hits, 4);
	CHECK_EQ(st.misses, 4);
	bcache_free(c);
}

static void test_capacity_and_lru(void)
{
	const size_t cap = 4u << 20;
	struct bcache *c = bcache_new(cap);
	struct bcache_key hot = key(3, 0, 1);
	struct bcache_stats st;

	memset(a, 0x11, sizeof(a));
	bcache_put(c, &hot, a, BS);
	for (int i = 1; i <= 2000; i++) {
		struct bcache_key k = key(3, (uint64_t)i, (uint8_t)i);

		bcache_put(c, &k, b, BS);
		CHECK_EQ(bcache_get(c, &hot, 0, 1, out), 1);
		bcache_stats(c, &st);
		if (st.bytes > cap)
			CHECK(st.bytes <= cap);
	}
	bcache_stats(c, &st);
	CHECK(st.evictions >= 2000 - (cap / BS));
	CHECK(st.blocks <= cap / BS);
	CHECK(st.blocks > 0);
	/* The first of the flood is long gone. */
	{
		struct bcache_key k = key(3, 1, 1);

		CHECK_EQ(bcache_get(c, &k, 0, 1, out), 0);
	}
	/* A block larger than a shard's share is not kept. */
	bcache_free(c);
	c = bcache_new(BS);
	bcache_put(c, &hot, a, BS);
	CHECK_EQ(bcache_get(c, &hot, 0, 1, out), 0);
	bcache_free(c);
}

static void test_none(void)
{
	struct bcache_key k = key(4, 0, 0);
	struct bcache_stats st;

	CHECK(bcache_new(0) == NULL);
	bcache_put(NULL, &k, a, 10);
	CHECK_EQ(bcache_get(NULL, &k, 0, 10, out), 0);
	bcache_stats(NULL, &st);
	CHECK_EQ(st.capacity | st.bytes | st.hits | st.misses, 0);
	bcache_free(NULL);
}

static void test_parse_size(void)
{
	uint64_t v;

	CHECK_EQ(util_parse_size("0", &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(util_parse_size("4096", &v), 0);
	CHECK_EQ(v, 4096);
	CHECK_EQ(util_parse_size("64M", &v), 0);
	CHECK_EQ(v, 64u << 20);
	CHECK_EQ(util_parse_size("64m", &v), 0);
	CHECK_EQ(v, 64u << 20);
	CHECK_EQ(util_parse_size("2GiB", &v), 0);
	CHECK_EQ(v, 2ULL << 30);
	CHECK_EQ(util_parse_size("512KB", &v), 0);
	CHECK_EQ(v, 512u << 10);
	CHECK_EQ(util_parse_size("1T", &v), 0);
	CHECK_EQ(v, 1ULL << 40);
	CHECK_EQ(util_parse_size("", &v), -EINVAL);
	CHECK_EQ(util_parse_size("M", &v), -EINVAL);
	CHECK_EQ(util_parse_size("12x", &v), -EINVAL);
	CHECK_EQ(util_parse_size("12 M", &v), -EINVAL);
	CHECK_EQ(util_parse_size("-1", &v), -EINVAL);
	CHECK_EQ(util_parse_size("1MX", &v), -EINVAL);
	CHECK_EQ(util_parse_size("99999999999999999999", &v), -EINVAL);
	CHECK_EQ(util_parse_size("17179869184G", &v), -EINVAL);
}

/* Each thread puts blocks filled with its own byte and checks every hit. */
static struct bcache *shared;
static int thread_bad;

static void *hammer(void *arg)
{
	uint8_t me = (uint8_t)(uintptr_t)arg, buf[4096], got[4096];

	memset(buf, me, sizeof(buf));
	for (int i = 0; i < 20000; i++) {
		struct bcache_key k = key(me, (uint64_t)(i % 300), (uint8_t)(i % 300));

		if (bcache_get(shared, &k, 0, sizeof(got), got)) {
			for (size_t j = 0; j < sizeof(got); j++)
				if (got[j] != me)
					__atomic_store_n(&thread_bad, 1, __ATOMIC_RELAXED);
		} else {
			bcache_put(shared, &k, buf, sizeof(buf));
		}
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[4];
	struct bcache_stats st;

	shared = bcache_new(1u << 20);
	for (uintptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, (void *)(i + 1));
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(thread_bad, 0);
	bcache_stats(shared, &st);
	CHECK_EQ(st.hits + st.misses, 80000);
	CHECK(st.bytes <= 1u << 20);
	bcache_free(shared);
}

int main(void)
{
	test_hit_miss();
	test_capacity_and_lru();
	test_none();
	test_parse_size();
	test_threads();
	return unit_done();
}
