/* descriptor.h - the store descriptor (BACKING/ragstore.conf), an ini file
 * read with inih.  This layer only parses, validates and writes settings; it
 * knows no cryptography: the MAC is computed by the caller over the canonical
 * text returned by desc_canonical(). */
#ifndef RAGSTORE_DESCRIPTOR_H
#define RAGSTORE_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "crypto.h"

#define DESC_FILE "ragstore.conf"
/* The store format: 1 = every regular file is format v1; 2 = files may be
 * v1 or v2 (docs/FORMAT.md).  New stores are written at DESC_VERSION; every
 * version from DESC_VERSION_MIN on is read. */
#define DESC_VERSION 3
#define DESC_VERSION_MIN 1
#define DESC_UUID_LEN 36

struct store_desc {
	int version;                   /* DESC_VERSION_MIN .. DESC_VERSION */
	char uuid[DESC_UUID_LEN + 1];  /* random, 8-4-4-4-12 hex */
	int cipher;                    /* enum crypto_cipher */
	int plaintext_names;           /* 1 when names are stored in clear */
	uint32_t block_size;           /* default block size of new files */
	struct codec_spec codec;       /* default compression of new files */
	/* KDF (only when cipher != CIPHER_NONE) */
	uint64_t kdf_ops;
	uint64_t kdf_mem;
	uint8_t salt[CRYPTO_SALT_LEN];
	uint8_t wrapped[CRYPTO_WRAPPED_LEN];
	uint8_t mac[32];               /* over desc_canonical(), master-key MAC */
};

/* 1 if u is a uuid as a descriptor holds it (8-4-4-4-12 lower-case hex,
 * NUL-terminated), else 0. */
int desc_uuid_valid(const char *u);
/* 1 if b is a valid block size: a power of two from 4096 to 1048576. */
int desc_block_size_valid(uint64_t b);

/* Read and validate BACKING/ragstore.conf.  Returns 0; -ENOENT when there is
 * no descriptor (not a ragstore backing directory); -EINVAL with a
 * "FILE:LINE: message" in err for a malformed or unknown field. */
int desc_read(const char *backing, struct store_desc *d, char *err, size_t errlen);

/* Write the descriptor to BACKING/ragstore.conf atomically (temp file, fsync,
 * rename), mode 0600.  With exclusive set it fails with -EEXIST if one exists.
 * Returns 0 or -errno. */
int desc_write(const char *backing, const struct store_desc *d, int exclusive);

/* The canonical text of every authenticated field (all but mac) into buf.
 * Returns its length, or -ENOSPC when buf is too small (512 bytes suffice). */
int desc_canonical(const struct store_desc *d, char *buf, size_t len);

#endif
