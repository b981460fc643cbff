/* names.h - encryption of file names and symlink targets (pure functions).
 *
 * A name is encrypted deterministically, so it can be looked up by
 * encrypting it (O(1)), but differently in every directory: SIV
 * construction from libsodium primitives.  With the directory's random
 * 16-byte value IV and the name padded with NULs to a multiple of 16 bytes
 * (names never contain NUL):
 *
 *   tag  = BLAKE2b-256(key = mac key, "N" || IV || padded)[0..15]
 *   ct   = XChaCha20(key = enc key, nonce = tag || 8 zero bytes) XOR padded
 *   name = base64url(tag || ct)
 *
 * Decryption recomputes the tag over the decrypted bytes, so an altered
 * backing name fails to decrypt instead of yielding garbage.  The padding
 * hides the exact length of a name. */
#ifndef RAGSTORE_NAMES_H
#define RAGSTORE_NAMES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto.h"

#define NAME_IV_LEN 16
#define NAME_TAG_LEN 16
#define NAME_PLAIN_MAX 255
/* Longest encoded name used directly as a backing name; longer ones use
 * the long-name scheme.  Names of up to 160 bytes stay below it. */
#define NAME_BACKING_MAX 255
/* Room for any encoded name: base64 of 16 + 256 bytes, plus NUL. */
#define NAME_ENC_CAP 376
/* Long-name backing entry ".L" and side file ".N" + base64url(32 bytes). */
#define NAME_LONG_LEN 45
/* The per-directory file: IV || MAC(IV). */
#define NAME_DIRIV_FILE ".diriv"
#define NAME_DIRIV_SIZE (NAME_IV_LEN + NAME_TAG_LEN)
/* Longest symlink target that can be encrypted (its encoding must fit in
 * the backing filesystem's 4095-byte limit). */
#define NAME_LINK_MAX 3000

struct name_keys {
	uint8_t enc[CRYPTO_KEY_LEN];
	uint8_t mac[CRYPTO_KEY_LEN];
};

/* Encrypt name[0..len) (1..255 bytes, no '/' or NUL) for the directory
 * with value iv into out (NAME_ENC_CAP bytes).  Returns the encoded
 * length, or -EINVAL / -ENAMETOOLONG. */
int name_encrypt(const struct name_keys *k, const uint8_t *iv, const char *name,
		 size_t len, char *out);

/* Decrypt an encoded name into out (NAME_PLAIN_MAX + 1 bytes, NUL added).
 * Returns the plain length, or -EBADMSG for anything that is not a name
 * this directory's value encrypted. */
int name_decrypt(const struct name_keys *k, const uint8_t *iv, const char *enc,
		 size_t enclen, char *out);

/* For an encoded name longer than NAME_BACKING_MAX: the backing entry name
 * ".L<hash>" and the side file ".N<hash>" holding the encoded name
 * (each NAME_LONG_LEN + 1 bytes). */
void name_long(const char *enc, size_t enclen, char *entry, char *side);

/* 1 if a backing name is ours rather than an encrypted user name: the
 * directory value file, a long-name side file, a temporary. */
int name_is_internal(const char *bname);
/* A fresh random temporary name, ".tmp" and 16 hex digits (internal: never
 * listed; fsck removes one that a crash left), into out, which holds
 * NAME_TMP_LEN bytes. */
#define NAME_TMP_LEN 21
void name_tmp(char *out);
/* 1 if a backing name is a long-name entry. */
int name_is_long(const char *bname);

/* A new directory value file: random IV plus its MAC, in out. */
void name_diriv_new(const struct name_keys *k, uint8_t *out);
/* The value file (NAME_DIRIV_SIZE bytes) for an existing value iv: what
 * fsck writes back when only the MAC was damaged.  iv may be out. */
void name_diriv_seal(const struct name_keys *k, const uint8_t *iv, uint8_t *out);
/* Check a directory value file and extract the IV.  -EBADMSG if altered. */
int name_diriv_open(const struct name_keys *k, const uint8_t *in, size_t len,
		    uint8_t *iv);

/* Symlink targets: base64url(nonce || AEAD(target)) with a random nonce,
 * sealed with the content key.  out has NAME_LINK_MAX * 4 / 3 + 64 bytes.
 * Return the output length, or -ENAMETOOLONG / -EBADMSG. */
int name_link_encrypt(const struct crypto_key *k, const char *target, size_t len,
		      char *out);
int name_link_decrypt(const struct crypto_key *k, const char *enc, size_t len,
		      char *out, size_t cap);
#define NAME_LINK_ENC_CAP (NAME_LINK_MAX * 4 / 3 + 64)

#endif
