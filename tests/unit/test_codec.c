/* test_codec.c - round trips, the store-raw decisions, the parser and the
 * decoder's behaviour on hostile input. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "unit.h"

#define CANARY 0xa5
#define CANARY_LEN 64
#define MIB (1024 * 1024)

enum kind { TEXT, ZEROS, RANDOM, KIND_COUNT };
static const char *const kind_names[] = { "text", "zeros", "random" };

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill(uint8_t *p, size_t n, enum kind k)
{
	static const char *const words[] = {
		"the ", "quick ", "brown ", "fox ", "jumps ", "over ",
		"lazy ", "dog, ", "and ", "then ", "writes ", "a ",
		"filesystem.\n", "block ", "cipher ", "nonce ",
	};
	size_t i = 0;

	switch (k) {
	case TEXT:
		while (i < n) {
			const char *w = words[rng() % 16];
			size_t l = strlen(w);

			if (l > n - i)
				l = n - i;
			memcpy(p + i, w, l);
			i += l;
		}
		break;
	case ZEROS:
		memset(p, 0, n);
		break;
	case RANDOM:
		for (; i < n; i++)
			p[i] = (uint8_t)(rng() >> 24);
		break;
	default:
		break;
	}
}

static int canary_ok(const uint8_t *p)
{
	for (int i = 0; i < CANARY_LEN; i++)
		if (p[i] != CANARY)
			return 0;
	return 1;
}

/* Decompress into a buffer of exactly out_len bytes followed by a canary;
 * returns the decoder's result and checks the canary survived. */
static int decode_guarded(uint8_t algo, const void *src, size_t n, size_t out_len,
			  uint8_t *out)
{
	int r;

	memset(out + out_len, CANARY, CANARY_LEN);
	r = codec_decompress(algo, src, n, out, out_len);
	CHECK(canary_ok(out + out_len));
	return r;
}

static const char *const specs[] = {
	"lz4", "zlib:1", "zlib", "zlib:9", "gzip:4", "zstd:1", "zstd", "zstd:19",
};
#define SPEC_COUNT (sizeof(specs) / sizeof(specs[0]))

static void test_round_trips(void)
{
	static const size_t sizes[] = { 1, 4095, 4096, 65536, MIB };
	uint8_t *src = malloc(MIB), *dst = malloc(MIB), *out = malloc(MIB + CANARY_LEN);

	for (size_t s = 0; s < SPEC_COUNT; s++) {
		struct codec_spec spec;

		CHECK_EQ(codec_parse(specs[s], &spec), 0);
		for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
			size_t n = sizes[z];

			/* zstd:19 on a whole MiB is slow and adds nothing. */
			if (n == MIB && spec.algo == CODEC_ZSTD && spec.level == 19)
				continue;
			for (int k = 0; k < KIND_COUNT; k++) {
				ssize_t r;

				fill(src, n, (enum kind)k);
				r = codec_compress(&spec, src, n, dst, n);
				CHECK(r >= 0);
				if (r < 0)
					continue;
				if (n == 1 || k == RANDOM) {
					if (r != 0)
						fprintf(stderr, "%s %zu %s: %zd\n",
							specs[s], n, kind_names[k], r);
					CHECK_EQ(r, 0);
					continue;
				}
				CHECK(r > 0);
				CHECK((size_t)r <= n - n / 8);
				if (r <= 0)
					continue;
				CHECK_EQ(decode_guarded(spec.algo, dst, (size_t)r,
							n, out), 0);
				CHECK(memcmp(src, out, n) == 0);
			}
		}
	}
	free(src);
	free(dst);
	free(out);
}

/* CODEC_NONE never compresses; its "decompression" is an exact copy. */
static void test_none(void)
{
	struct codec_spec spec = { CODEC_NONE, 0 };
	uint8_t src[8192], out[8192 + CANARY_LEN];

	fill(src, sizeof(src), ZEROS);
	CHECK_EQ(codec_compress(&spec, src, sizeof(src), out, sizeof(out)), 0);
	fill(src, sizeof(src), TEXT);
	CHECK_EQ(decode_guarded(CODEC_NONE, src, sizeof(src), sizeof(src), out), 0);
	CHECK(memcmp(src, out, sizeof(src)) == 0);
	CHECK_EQ(decode_guarded(CODEC_NONE, src, 100, 99, out), -EIO);
	CHECK_EQ(decode_guarded(CODEC_NONE, src, 99, 100, out), -EIO);
}

/* A 64 KiB block saving less than 1/8 is stored raw even when compressible. */
static void test_threshold(void)
{
	struct codec_spec spec = { CODEC_ZSTD, 3 };
	size_t n = 65536, k;
	uint8_t *src = malloc(n), *dst = malloc(n);
	ssize_t r;

	/* 6/8 random then 2/8 zeros compresses to about 3/4 (saves 1/4). */
	fill(src, n, RANDOM);
	memset(src + n / 4 * 3, 0, n / 4);
	r = codec_compress(&spec, src, n, dst, n);
	CHECK(r > 0 && (size_t)r <= n - n / 8);
	/* 15/16 random: would save about 1/16 only. */
	fill(src, n, RANDOM);
	memset(src + n / 16 * 15, 0, n / 16);
	CHECK_EQ(codec_compress(&spec, src, n, dst, n), 0);
	/* A dst smaller than the compressed form: store raw, no overrun. */
	fill(src, n, TEXT);
	r = codec_compress(&spec, src, n, dst, n);
	CHECK(r > 16);
	memset(dst, CANARY, n);
	for (k = 0; k < 3; k++) {
		struct codec_spec s2 = { (uint8_t)(CODEC_LZ4 + k), 0 };

		CHECK_EQ(codec_compress(&s2, src, n, dst, 16), 0);
		CHECK(canary_ok(dst + 16));
	}
	free(src);
	free(dst);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Incompressible blocks are recognised without a full compression. */
static void test_early_abort(void)
{
	struct codec_spec spec = { CODEC_ZSTD, 19 };
	size_t n = 65536;
	uint8_t *src = malloc(n), *dst = malloc(n);
	ssize_t r = 0;
	double t0;

	fill(src, n, RANDOM);
	t0 = now();
	for (int i = 0; i < 200 && r == 0; i++)
		r = codec_compress(&spec, src, n, dst, n);
	CHECK_EQ(r, 0);
	/* 200 zstd:19 runs over 64 KiB take seconds; 200 samples, microseconds. */
	CHECK(now() - t0 < 0.5);
	free(src);
	free(dst);
}

/* Real machine code (this test binary) and mixed data still compress. */
static void test_binary(void)
{
	size_t n = 65536;
	uint8_t *src = malloc(n), *dst = malloc(n), *out = malloc(n + CANARY_LEN);
	int fd = open("/proc/self/exe", O_RDONLY);
	ssize_t got = fd >= 0 ? read(fd, src, n) : -1;

	CHECK(got == (ssize_t)n);
	if (fd >= 0)
		close(fd);
	for (uint8_t a = CODEC_LZ4; a <= CODEC_ZSTD && got == (ssize_t)n; a++) {
		struct codec_spec spec = { a, 0 };
		ssize_t r = codec_compress(&spec, src, n, dst, n);

		CHECK(r > 0);
		if (r > 0) {
			CHECK_EQ(decode_guarded(a, dst, (size_t)r, n, out), 0);
			CHECK(memcmp(src, out, n) == 0);
		}
	}
	/* base64-like text: 6 bits per byte, high but compressible entropy. */
	for (size_t i = 0; i < n; i++)
		src[i] = (uint8_t)("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789+/"[rng() % 64]);
	{
		struct codec_spec spec = { CODEC_ZSTD, 3 };

		CHECK(codec_compress(&spec, src, n, dst, n) > 0);
	}
	free(src);
	free(dst);
	free(out);
}

static void test_corrupt(void)
{
	size_t n = 65536;
	uint8_t *src = malloc(n), *dst = malloc(n), *out = malloc(n + 8 + CANARY_LEN);
	uint8_t *bad = malloc(n);

	fill(src, n, TEXT);
	for (uint8_t a = CODEC_LZ4; a <= CODEC_ZSTD; a++) {
		struct codec_spec spec = { a, 0 };
		ssize_t r = codec_compress(&spec, src, n, dst, n);
		size_t len;

		CHECK(r > 16);
		if (r <= 16)
			continue;
		len = (size_t)r;
		/* Exact output length is required. */
		CHECK_EQ(decode_guarded(a, dst, len, n - 1, out), -EIO);
		CHECK_EQ(decode_guarded(a, dst, len, n + 1, out), -EIO);
		CHECK_EQ(decode_guarded(a, dst, len, 0, out), -EIO);
		/* Truncated input. */
		CHECK_EQ(decode_guarded(a, dst, len - 1, n, out), -EIO);
		CHECK_EQ(decode_guarded(a, dst, len / 2, n, out), -EIO);
		CHECK_EQ(decode_guarded(a, dst, 1, n, out), -EIO);
		CHECK_EQ(decode_guarded(a, dst, 0, n, out), -EIO);
		/* Garbage never decodes and never overruns. */
		fill(bad, len, RANDOM);
		CHECK_EQ(decode_guarded(a, bad, len, n, out), -EIO);
		/* Single flipped bytes: lz4 and zstd carry no checksum, so a
		 * flipped literal may decode (the AEAD above catches it); what
		 * must hold is "0 or -EIO" and no write past out_len. */
		for (int i = 0; i < 200; i++) {
			int d;

			memcpy(bad, dst, len);
			bad[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
			d = decode_guarded(a, bad, len, n, out);
			CHECK(d == 0 || d == -EIO);
		}
		/* A good block followed by junk: zlib and zstd refuse it. */
		if (a != CODEC_LZ4) {
			memcpy(bad, dst, len);
			bad[len] = 0;
			CHECK_EQ(decode_guarded(a, bad, len + 1, n, out), -EIO);
		}
	}
	CHECK_EQ(decode_guarded(7, dst, 100, n, out), -EIO);
	CHECK_EQ(decode_guarded(255, dst, 100, n, out), -EIO);
	free(src);
	free(dst);
	free(out);
	free(bad);
}

static void test_parse_format(void)
{
	static const struct {
		const char *in, *canon;
	} good[] = {
		{ "none", "none" },     { "lz4", "lz4" },
		{ "zlib", "zlib:6" },   { "zlib:1", "zlib:1" },
		{ "zlib:9", "zlib:9" }, { "gzip", "zlib:6" },
		{ "gzip:3", "zlib:3" }, { "zstd", "zstd:3" },
		{ "zstd:1", "zstd:1" }, { "zstd:19", "zstd:19" },
		{ "zstd:10", "zstd:10" },
	};
	static const char *const bad[] = {
		"zstd:0", "zstd:20", "lz4:3", "zstd:", "zstd:3x", "", "ZSTD",
		"Zstd:3", "zlib:0", "zlib:10", "none:1", "zstd:03", "zstd:-1",
		"zstd:+3", " zstd", "zstd ", "lz", "zstdx", "zstd:3:4", ":3",
		"gzip:", "zstd:100",
	};
	struct codec_spec spec, again;
	char buf[32];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&spec, 0xff, sizeof(spec));
		CHECK_EQ(codec_parse(good[i].in, &spec), 0);
		codec_format(&spec, buf, sizeof(buf));
		if (strcmp(buf, good[i].canon))
			fprintf(stderr, "%s formats as %s\n", good[i].in, buf);
		CHECK(strcmp(buf, good[i].canon) == 0);
		CHECK_EQ(codec_parse(buf, &again), 0);
		codec_format(&again, buf, sizeof(buf));
		CHECK(strcmp(buf, good[i].canon) == 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = codec_parse(bad[i], &spec);

		if (r != -EINVAL)
			fprintf(stderr, "'%s' was accepted\n", bad[i]);
		CHECK_EQ(r, -EINVAL);
	}
	CHECK_EQ(codec_parse(NULL, &spec), -EINVAL);
	spec = (struct codec_spec){ CODEC_ZSTD, 0 };
	codec_format(&spec, buf, sizeof(buf));
	CHECK(strcmp(buf, "zstd:3") == 0);
	spec = (struct codec_spec){ CODEC_ZLIB, 0 };
	codec_format(&spec, buf, sizeof(buf));
	CHECK(strcmp(buf, "zlib:6") == 0);
	/* A short buffer is truncated, never overrun. */
	memset(buf, 'x', sizeof(buf));
	codec_format(&spec, buf, 4);
	CHECK(strcmp(buf, "zli") == 0 && buf[4] == 'x');
	CHECK(strcmp(codec_name(CODEC_LZ4), "lz4") == 0);
	CHECK(strcmp(codec_name(CODEC_ZSTD), "zstd") == 0);
	CHECK(strcmp(codec_name(9), "unknown") == 0);
	/* Levels out of range in a hand-made spec are refused. */
	spec = (struct codec_spec){ CODEC_ZLIB, 10 };
	CHECK_EQ(codec_compress(&spec, buf, sizeof(buf), buf, sizeof(buf)), -EINVAL);
	spec = (struct codec_spec){ 9, 0 };
	CHECK_EQ(codec_compress(&spec, buf, sizeof(buf), buf, sizeof(buf)), -EINVAL);
}

/* Per-thread contexts: threads compressing at once do not disturb each other. */
static void *thread_main(void *arg)
{
	uint8_t algo = (uint8_t)(uintptr_t)arg;
	size_t n = 65536;
	uint8_t *src = malloc(n), *dst = malloc(n), *out = malloc(n);
	uintptr_t bad = 0;

	for (int i = 0; i < 40; i++) {
		struct codec_spec spec = { algo, (uint8_t)(algo == CODEC_LZ4 ? 0 : 1 + i % 5) };
		ssize_t r;

		for (size_t j = 0; j < n; j++)
			src[j] = (uint8_t)("abcdefgh"[(j * 7 + (size_t)i) % 8 ^ (j >> 9) % 3]);
		r = codec_compress(&spec, src, n, dst, n);
		if (r <= 0 || codec_decompress(algo, dst, (size_t)r, out, n) ||
		    memcmp(src, out, n))
			bad++;
	}
	free(src);
	free(dst);
	free(out);
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t t[6];

	for (int i = 0; i < 6; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, thread_main,
					(void *)(uintptr_t)(CODEC_LZ4 + i % 3)), 0);
	for (int i = 0; i < 6; i++) {
		void *bad = NULL;

		pthread_join(t[i], &bad);
		CHECK(bad == NULL);
	}
}

int main(void)
{
	test_parse_format();
	test_none();
	test_round_trips();
	test_threshold();
	test_early_abort();
	test_binary();
	test_corrupt();
	test_threads();
	return unit_done();
}
