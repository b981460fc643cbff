/* fuzz.h - what the libFuzzer targets in tests/fuzz/ share: a reader that
 * takes fields off the front of the fuzzer's input, the fixed test key, a
 * scratch directory, and an assertion that aborts (so libFuzzer keeps the
 * input).  Each target is one translation unit that includes this once.
 *
 * Every target parses the input twice where a MAC guards the structure:
 * once as it comes (the bytes an attacker writes into BACKING, which must
 * fail cleanly), and once sealed with the test key first, so that the
 * parser behind the MAC sees attacker-chosen bytes too (what a key holder's
 * bug, or a forged MAC, would hand it).  docs/HARDENING.md lists the
 * targets. */
#ifndef RAGSTORE_FUZZ_H
#define RAGSTORE_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "crypto.h"
#include "log.h"
#include "testkeys.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ASSERT(c)                                                           \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: assertion failed: %s\n",       \
				__FILE__, __LINE__, #c);                       \
			abort();                                               \
		}                                                              \
	} while (0)

/* The input, consumed from the front; reads past its end give zeros. */
struct fz {
	const uint8_t *p;
	size_t n;
};

static inline void fz_take(struct fz *f, void *out, size_t n)
{
	size_t k = n < f->n ? n : f->n;

	memcpy(out, f->p, k);
	memset((uint8_t *)out + k, 0, n - k);
	f->p += k;
	f->n -= k;
}

static inline uint8_t fz_u8(struct fz *f)
{
	uint8_t v;

	fz_take(f, &v, 1);
	return v;
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint8_t b[4];

	fz_take(f, b, 4);
	return util_get_le32(b);
}

static inline uint64_t fz_u64(struct fz *f)
{
	uint8_t b[8];

	fz_take(f, b, 8);
	return util_get_le64(b);
}

/* A block size from one byte: 4 KiB to 1 MiB, small ones most often, so
 * that most runs stay fast. */
static inline uint32_t fz_block_size(struct fz *f)
{
	uint8_t b = fz_u8(f);

	return 4096u << (b % 16 < 12 ? b % 3 : b % 9);
}

/* A valid compression level for algo (enum codec_algo) from one byte;
 * low ones most often, since high zstd levels are slow. */
static inline uint8_t fz_level(uint8_t algo, uint8_t b)
{
	if (algo == CODEC_ZLIB)
		return (uint8_t)(1 + b % 9);
	if (algo == CODEC_ZSTD)
		return (uint8_t)(1 + (b % 8 ? b % 3 : b % 19));
	return 0;
}

/* Once per process: libsodium up and the library quiet (a message per
 * rejected input would slow every run down). */
static inline void fz_init(void)
{
	static int done;

	if (!done) {
		FZ_ASSERT(crypto_init() == 0);
		log_set_level(LOG_LVL_SILENT);
		done = 1;
	}
}

/* The fixed test key of the format targets (XChaCha20-Poly1305). */
static inline struct crypto_key *fz_key(void)
{
	static struct crypto_key *k;

	fz_init();
	if (!k)
		k = key_for(CIPHER_XCHACHA, 0x5a);
	FZ_ASSERT(k);
	return k;
}

/* Make buf a header slot the key vouches for, whatever else it holds: the
 * magic and version written, then, as fh_seal and fh2_seal do
 * (docs/FORMAT.md), an AEAD of nothing whose associated data is the first
 * body bytes, its nonce and tag right after them. */
static inline void fz_seal_slot(struct crypto_key *k, uint8_t *buf, uint32_t version,
				size_t body)
{
	uint8_t empty = 0, tag[CRYPTO_TAG_LEN];

	memcpy(buf, "RSFH", 4);
	util_put_le32(buf + 4, version);
	FZ_ASSERT(crypto_seal(k, tag, &empty, 0, buf, body, buf + body) == 0);
	memcpy(buf + body + CRYPTO_NONCE_LEN, tag, CRYPTO_TAG_LEN);
}

/* A private scratch directory, made once (on tmpfs when there is one, so
 * that a file written per run costs no disk I/O). */
static inline const char *fz_tmpdir(void)
{
	static char dir[64];

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/ragstore-fuzz-XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		FZ_ASSERT(mkdtemp(dir));
	}
	return dir;
}

/* Replace the file at path with n bytes of p. */
static inline void fz_write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	FZ_ASSERT(fd >= 0);
	FZ_ASSERT(write(fd, p, n) == (ssize_t)n);
	close(fd);
}

#endif
