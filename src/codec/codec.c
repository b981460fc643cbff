/* codec.c - block compression: none, lz4, zlib and zstd behind one table.
 *
 * Every algorithm is one entry of codec_table: a name, its level range and a
 * compress/decompress pair with the same shape.  The public functions do the
 * common work (the gain threshold, the entropy pre-check, the exact-length
 * check) so each entry only talks to its library.
 *
 * zlib blocks use the zlib container (RFC 1950: 2-byte header, deflate data,
 * Adler-32 trailer), not raw deflate and not gzip: the 6 extra bytes buy a
 * second integrity check for free, and "gzip" is accepted in codec_parse only
 * as a familiar alias of the same thing.
 *
 * Compression contexts (zstd CCtx/DCtx, zlib deflate/inflate streams) are
 * expensive to create, so each thread keeps its own set, made on first use and
 * freed by a pthread key destructor when the thread exits. */
#include "codec.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define ZLIB_DEFAULT_LEVEL 6
#define ZSTD_DEFAULT_LEVEL 3

/* The entropy pre-check samples SAMPLE_CHUNKS spread-out chunks of
 * SAMPLE_CHUNK bytes (4 KiB in all) of blocks of at least SAMPLE_MIN bytes.
 * Uniformly random bytes score about 7.95 bits/byte on a 4 KiB sample (the
 * small-sample bias pulls it below 8); text scores 4-5, machine code 5-6.5. */
#define SAMPLE_MIN (8 * 1024)
#define SAMPLE_CHUNK 512
#define SAMPLE_CHUNKS 8
#define SAMPLE_LEN (SAMPLE_CHUNK * SAMPLE_CHUNKS)
#define ENTROPY_LIMIT 7.9

struct codec_tls {
	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
	z_stream def;
	int def_ready;
	int def_level;
	z_stream inf;
	int inf_ready;
};

struct codec_ops {
	const char *name;
	uint8_t default_level; /* 0 for algorithms without levels */
	uint8_t max_level;
	/* Returns the compressed length, 0 when it does not fit in cap, or
	 * -errno.  level is already resolved (never 0 when the algo has levels). */
	ssize_t (*compress)(int level, const void *src, size_t n, void *dst,
			    size_t cap);
	/* Returns 0 only when src decodes to exactly out_len bytes. */
	int (*decompress)(const void *src, size_t n, void *dst, size_t out_len);
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_key_err;
static __thread struct codec_tls *tls_cur;

static void tls_destroy(void *arg)
{
	struct codec_tls *t = arg;

	if (!t)
		return;
	ZSTD_freeCCtx(t->zc);
	ZSTD_freeDCtx(t->zd);
	if (t->def_ready)
		deflateEnd(&t->def);
	if (t->inf_ready)
		inflateEnd(&t->inf);
	free(t);
}

static void tls_key_create(void)
{
	tls_key_err = pthread_key_create(&tls_key, tls_destroy);
}

/* This thread's context set, created on first use; NULL when out of memory. */
static struct codec_tls *tls_get(void)
{
	struct codec_tls *t;

	if (tls_cur)
		return tls_cur;
	pthread_once(&tls_once, tls_key_create);
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	/* Without a key the contexts simply live until the process ends. */
	if (!tls_key_err)
		pthread_setspecific(tls_key, t);
	tls_cur = t;
	return t;
}

/* ---- lz4 ---------------------------------------------------------------- */

static ssize_t lz4_compress(int level, const void *src, size_t n, void *dst,
			    size_t cap)
{
	int r;

	if (n > (size_t)LZ4_MAX_INPUT_SIZE)
		return 0;
	if (cap > INT_MAX)
		cap = INT_MAX;
	/* LZ4 returns 0 as soon as the output would not fit: the early abort. */
	r = LZ4_compress_fast(src, dst, (int)n, (int)cap, 1);
	return r > 0 ? r : 0;
}

static int lz4_decompress(const void *src, size_t n, void *dst, size_t out_len)
{
	int r;

	if (n > INT_MAX || out_len > INT_MAX)
		return -EIO;
	r = LZ4_decompress_safe(src, dst, (int)n, (int)out_len);
	return r >= 0 && (size_t)r == out_len ? 0 : -EIO;
}

/* ---- zlib --------------------------------------------------------------- */

static ssize_t zlib_compress(int level, const void *src, size_t n, void *dst,
			     size_t cap)
{
	struct codec_tls *t = tls_get();
	z_stream *z;
	int r;

	if (!t)
		return -ENOMEM;
	if (n > UINT_MAX)
		return 0;
	if (cap > UINT_MAX)
		cap = UINT_MAX;
	z = &t->def;
	if (t->def_ready && t->def_level != level) {
		deflateEnd(z);
		t->def_ready = 0;
	}
	if (!t->def_ready) {
		memset(z, 0, sizeof(*z));
		if (deflateInit(z, level) != Z_OK)
			return -ENOMEM;
		t->def_ready = 1;
		t->def_level = level;
	} else if (deflateReset(z) != Z_OK) {
		return -EIO;
	}
	z->next_in = (Bytef *)src;
	z->avail_in = (uInt)n;
	z->next_out = dst;
	z->avail_out = (uInt)cap;
	r = deflate(z, Z_FINISH);
	if (r == Z_STREAM_END)
		return (ssize_t)z->total_out;
	/* Output space ran out before the end: not worth storing compressed. */
	if (r == Z_OK || r == Z_BUF_ERROR)
		return 0;
	return -EIO;
}

static int zlib_decompress(const void *src, size_t n, void *dst, size_t out_len)
{
	struct codec_tls *t = tls_get();
	z_stream *z;
	int r;

	if (!t)
		return -EIO;
	if (n > UINT_MAX || out_len > UINT_MAX)
		return -EIO;
	z = &t->inf;
	if (!t->inf_ready) {
		memset(z, 0, sizeof(*z));
		if (inflateInit(z) != Z_OK)
			return -EIO;
		t->inf_ready = 1;
	} else if (inflateReset(z) != Z_OK) {
		return -EIO;
	}
	z->next_in = (Bytef *)src;
	z->avail_in = (uInt)n;
	z->next_out = dst;
	z->avail_out = (uInt)out_len;
	r = inflate(z, Z_FINISH);
	/* Trailing bytes after the stream are as suspicious as missing ones. */
	if (r != Z_STREAM_END || z->total_out != out_len || z->avail_in != 0)
		return -EIO;
	return 0;
}

/* ---- zstd --------------------------------------------------------------- */

static ssize_t zstd_compress(int level, const void *src, size_t n, void *dst,
			     size_t cap)
{
	struct codec_tls *t = tls_get();
	size_t r;

	if (!t)
		return -ENOMEM;
	if (!t->zc) {
		t->zc = ZSTD_createCCtx();
		if (!t->zc)
			return -ENOMEM;
	}
	r = ZSTD_compressCCtx(t->zc, dst, cap, src, n, level);
	if (!ZSTD_isError(r))
		return (ssize_t)r;
	if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
		return 0;
	return -EIO;
}

static int zstd_decompress(const void *src, size_t n, void *dst, size_t out_len)
{
	struct codec_tls *t = tls_get();
	unsigned long long fcs;
	size_t r;

	if (!t)
		return -EIO;
	if (!t->zd) {
		t->zd = ZSTD_createDCtx();
		if (!t->zd)
			return -EIO;
	}
	/* Our frames always record their size; a different one is corruption. */
	fcs = ZSTD_getFrameContentSize(src, n);
	if (fcs != out_len)
		return -EIO;
	r = ZSTD_decompressDCtx(t->zd, dst, out_len, src, n);
	if (ZSTD_isError(r) || r != out_len)
		return -EIO;
	return 0;
}

/* ---- the table ---------------------------------------------------------- */

static const struct codec_ops codec_table[] = {
	[CODEC_NONE] = { "none", 0, 0, NULL, NULL },
	[CODEC_LZ4] = { "lz4", 0, 0, lz4_compress, lz4_decompress },
	[CODEC_ZLIB] = { "zlib", ZLIB_DEFAULT_LEVEL, 9, zlib_compress,
			 zlib_decompress },
	[CODEC_ZSTD] = { "zstd", ZSTD_DEFAULT_LEVEL, 19, zstd_compress,
			 zstd_decompress },
};

#define CODEC_COUNT (sizeof(codec_table) / sizeof(codec_table[0]))

static const struct codec_ops *codec_ops(uint8_t algo)
{
	return algo < CODEC_COUNT ? &codec_table[algo] : NULL;
}

const char *codec_name(uint8_t algo)
{
	const struct codec_ops *ops = codec_ops(algo);

	return ops ? ops->name : "unknown";
}

/* Parse a level of one or two decimal digits, no sign, no leading zero, so
 * that every accepted text has exactly one spelling. */
static int parse_level(const char *s, unsigned int max)
{
	unsigned int v = 0;
	size_t len = strlen(s);

	if (len == 0 || len > 2 || s[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	return v >= 1 && v <= max ? (int)v : -EINVAL;
}

/* Names are accepted in lower case only, like every other keyword of the
 * descriptor and the policy files. */
int codec_parse(const char *text, struct codec_spec *out)
{
	const char *colon, *name_end;
	size_t name_len;
	int algo = -1, level;

	if (!text)
		return -EINVAL;
	colon = strchr(text, ':');
	name_end = colon ? colon : text + strlen(text);
	name_len = (size_t)(name_end - text);
	if (name_len == 4 && !memcmp(text, "gzip", 4)) {
		algo = CODEC_ZLIB;
	} else {
		for (size_t i = 0; i < CODEC_COUNT; i++) {
			if (strlen(codec_table[i].name) == name_len &&
			    !memcmp(text, codec_table[i].name, name_len)) {
				algo = (int)i;
				break;
			}
		}
	}
	if (algo < 0)
		return -EINVAL;
	if (!colon) {
		out->algo = (uint8_t)algo;
		out->level = 0;
		return 0;
	}
	if (codec_table[algo].max_level == 0)
		return -EINVAL;
	level = parse_level(colon + 1, codec_table[algo].max_level);
	if (level < 0)
		return level;
	out->algo = (uint8_t)algo;
	out->level = (uint8_t)level;
	return 0;
}

uint8_t codec_level(const struct codec_spec *spec)
{
	const struct codec_ops *ops = codec_ops(spec->algo);

	if (!ops || ops->max_level == 0)
		return 0;
	return spec->level ? spec->level : ops->default_level;
}

uint8_t codec_max_level(uint8_t algo)
{
	const struct codec_ops *ops = codec_ops(algo);

	return ops ? ops->max_level : 0;
}

void codec_format(const struct codec_spec *spec, char *buf, size_t len)
{
	const struct codec_ops *ops = codec_ops(spec->algo);

	if (len == 0)
		return;
	if (!ops) {
		snprintf(buf, len, "unknown");
		return;
	}
	if (ops->max_level == 0) {
		snprintf(buf, len, "%s", ops->name);
		return;
	}
	snprintf(buf, len, "%s:%u", ops->name, codec_level(spec));
}

/* log2(x) for x >= 1 without libm (the library does not link it): the
 * integer part from the highest set bit, the fraction by repeated squaring of
 * the mantissa, 20 bits of it, far more than a threshold test needs. */
static double log2_u32(uint32_t x)
{
	int ipart = 31 - __builtin_clz(x);
	double m = (double)x / (double)(1u << ipart); /* in [1, 2) */
	double frac = 0.0, bit = 0.5;

	for (int i = 0; i < 20; i++) {
		m *= m;
		if (m >= 2.0) {
			m /= 2.0;
			frac += bit;
		}
		bit /= 2.0;
	}
	return ipart + frac;
}

/* Shannon entropy in bits per byte of SAMPLE_CHUNKS chunks spread evenly over
 * the block, first chunk at the start and last at the end, so one repetitive
 * header cannot hide an incompressible body (or the other way round). */
static double sample_entropy(const uint8_t *p, size_t n)
{
	uint32_t hist[256] = { 0 };
	double sum = 0.0;

	for (size_t c = 0; c < SAMPLE_CHUNKS; c++) {
		size_t off = c * (n - SAMPLE_CHUNK) / (SAMPLE_CHUNKS - 1);

		for (size_t i = 0; i < SAMPLE_CHUNK; i++)
			hist[p[off + i]]++;
	}
	/* H = log2(N) - (1/N) * sum(c * log2(c)), with N = SAMPLE_LEN. */
	for (int i = 0; i < 256; i++)
		if (hist[i] > 1)
			sum += hist[i] * log2_u32(hist[i]);
	return log2_u32(SAMPLE_LEN) - sum / SAMPLE_LEN;
}

ssize_t codec_compress(const struct codec_spec *spec, const void *src, size_t n,
		       void *dst, size_t dst_cap)
{
	const struct codec_ops *ops = codec_ops(spec->algo);
	size_t gain, cap;
	int level;

	if (!ops)
		return -EINVAL;
	if (!ops->compress)
		return 0;
	if (spec->level > ops->max_level)
		return -EINVAL;
	level = spec->level ? spec->level : ops->default_level;

	/* At least n/8 must be saved, and at least one byte: storing a
	 * "compressed" block no smaller than the original only costs time. */
	gain = n / 8 ? n / 8 : 1;
	if (n <= gain)
		return 0;
	cap = n - gain;
	if (cap > dst_cap)
		cap = dst_cap;
	if (n >= SAMPLE_MIN && sample_entropy(src, n) > ENTROPY_LIMIT)
		return 0;
	return ops->compress(level, src, n, dst, cap);
}

int codec_decompress(uint8_t algo, const void *src, size_t n, void *dst,
		     size_t out_len)
{
	const struct codec_ops *ops = codec_ops(algo);

	if (!ops)
		return -EIO;
	if (!ops->decompress) {
		/* CODEC_NONE: the stored bytes are the data. */
		if (n != out_len)
			return -EIO;
		memmove(dst, src, n);
		return 0;
	}
	return ops->decompress(src, n, dst, out_len);
}
