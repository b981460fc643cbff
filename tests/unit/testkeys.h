/* testkeys.h - test data shared by the format tests (test_format.c,
 * test_fh2.c): a repeating text and a key made from a seed byte. */
#ifndef RAGSTORE_TESTKEYS_H
#define RAGSTORE_TESTKEYS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto.h"

static inline void fill_text(uint8_t *p, size_t n)
{
	static const char line[] = "the quick brown fox jumps over the lazy dog 0123\n";

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)line[i % (sizeof(line) - 1)];
}

static inline struct crypto_key *key_for(int cipher, uint8_t seed)
{
	uint8_t k[CRYPTO_KEY_LEN];

	memset(k, seed, sizeof(k));
	return crypto_key_new(cipher, cipher == CIPHER_NONE ? NULL : k);
}

#endif
