/* crypto.h - AEAD seal/open, passphrase KDF, master-key wrapping, subkeys.
 *
 * This layer is handed plain values (key bytes, salts, parameters), never the
 * store descriptor.  Key material lives in sodium_malloc'ed (guarded, mlocked)
 * memory and is wiped when freed. */
#ifndef RAGSTORE_CRYPTO_H
#define RAGSTORE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CRYPTO_KEY_LEN 32
#define CRYPTO_NONCE_LEN 24 /* room kept on disk; AES-GCM uses the first 12 */
#define CRYPTO_TAG_LEN 16
#define CRYPTO_SALT_LEN 16
/* nonce || encrypted master key || tag */
#define CRYPTO_WRAPPED_LEN (CRYPTO_NONCE_LEN + CRYPTO_KEY_LEN + CRYPTO_TAG_LEN)

/* Cipher identifiers are part of the on-disk format: never renumber. */
enum crypto_cipher {
	CIPHER_NONE = 0,     /* no secrecy: a BLAKE2b-128 checksum as the "tag" */
	CIPHER_XCHACHA = 1,  /* XChaCha20-Poly1305-IETF (default) */
	CIPHER_AESGCM = 2,   /* AES-256-GCM, only where the CPU has AES-NI */
};

/* sodium_init(); returns 0 or -EIO.  Call once before anything else here. */
int crypto_init(void);

/* "xchacha20-poly1305", "aes-256-gcm", "none". */
const char *crypto_cipher_name(int cipher);
/* Parse a cipher name (also accepts "xchacha", "aes", "aesgcm").  Returns the
 * enum value, or -EINVAL.  AES-256-GCM on a CPU without AES-NI: -ENOTSUP. */
int crypto_cipher_parse(const char *name);

/* An opaque key for one cipher.  crypto_key_new copies the 32 key bytes into
 * locked memory (the caller wipes its own copy).  For CIPHER_NONE key may be
 * NULL.  Returns NULL on allocation failure.  crypto_key_free(NULL) is a no-op. */
struct crypto_key;
struct crypto_key *crypto_key_new(int cipher, const uint8_t *key);
void crypto_key_free(struct crypto_key *k);
int crypto_key_cipher(const struct crypto_key *k);

/* Seal len bytes of in into out (len + CRYPTO_TAG_LEN bytes; out may equal in)
 * with associated data ad.  A fresh random nonce is generated and written to
 * nonce (CRYPTO_NONCE_LEN bytes; zeros for CIPHER_NONE).  Returns 0 or -EIO. */
int crypto_seal(const struct crypto_key *k, uint8_t *out, const uint8_t *in,
		size_t len, const uint8_t *ad, size_t adlen, uint8_t *nonce);

/* Open inlen bytes (ciphertext || tag) into out (inlen - CRYPTO_TAG_LEN bytes).
 * Returns 0, or -EBADMSG when the tag does not verify (tampering, wrong key,
 * wrong associated data) or inlen < CRYPTO_TAG_LEN. */
int crypto_open(const struct crypto_key *k, uint8_t *out, const uint8_t *in,
		size_t inlen, const uint8_t *ad, size_t adlen,
		const uint8_t *nonce);

/* The same with the tag apart: len bytes of ciphertext in, tag mac
 * (CRYPTO_TAG_LEN bytes), plaintext to out (len bytes; may equal in). */
int crypto_open_detached(const struct crypto_key *k, uint8_t *out, const uint8_t *in,
			 size_t len, const uint8_t *mac, const uint8_t *ad, size_t adlen,
			 const uint8_t *nonce);
/* Unkeyed BLAKE2b-128 of a || b (a digest of values already
 * authenticated, e.g. a table of AEAD tags). */
void crypto_digest_tag(uint8_t out[CRYPTO_TAG_LEN], const uint8_t *a, size_t alen,
		       const uint8_t *b, size_t blen);

/* Argon2id (crypto_pwhash) of a passphrase into out[CRYPTO_KEY_LEN].
 * Returns 0, or -ENOMEM when the memory limit cannot be met. */
int crypto_kdf_passphrase(const char *pass, size_t passlen,
			  const uint8_t salt[CRYPTO_SALT_LEN], uint64_t opslimit,
			  uint64_t memlimit, uint8_t *out);

/* Derive a 32-byte subkey for a purpose from the master key
 * (crypto_kdf_derive_from_key with an 8-character context). */
void crypto_subkey(const uint8_t *master, uint64_t id, const char ctx[8],
		   uint8_t *out);

/* Wrap the master key with a key-encryption key (XChaCha20-Poly1305, ad binds
 * it to the store) into out[CRYPTO_WRAPPED_LEN]. */
void crypto_wrap(const uint8_t *kek, const uint8_t *master, const uint8_t *ad,
		 size_t adlen, uint8_t *out);
/* Unwrap; returns 0 or -EACCES (wrong passphrase or altered descriptor). */
int crypto_unwrap(const uint8_t *kek, const uint8_t *wrapped, const uint8_t *ad,
		  size_t adlen, uint8_t *master);

/* Keyed BLAKE2b-256 MAC of msg into out[32]. */
void crypto_mac(const uint8_t *key, const uint8_t *msg, size_t len, uint8_t *out);

/* XOR buf with the XChaCha20 keystream for key and a 24-byte nonce (the
 * cipher half of the deterministic name encryption in names.c). */
void crypto_xstream_xor(const uint8_t *key, const uint8_t *nonce, uint8_t *buf,
		       size_t len);

/* URL-safe base64 without padding.  b64_encode writes a NUL-terminated text
 * of crypto_b64_len(len) chars; b64_decode returns the decoded length or
 * -EINVAL (bad character, trailing garbage, or more than cap bytes). */
size_t crypto_b64_len(size_t len);
void crypto_b64_encode(const uint8_t *in, size_t len, char *out);
ssize_t crypto_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* Unkeyed BLAKE2b-256 of msg into out[32]. */
void crypto_digest(uint8_t *out, const uint8_t *msg, size_t len);
/* Constant-time comparison of 16 bytes: 0 when equal, -1 otherwise. */
int crypto_verify16(const uint8_t *a, const uint8_t *b);

/* Random bytes from the OS generator.  Requests of up to 24 bytes (nonces,
 * ids) are served from a per-thread buffer refilled 4 KiB at a time, each
 * byte handed out once and then wiped, and emptied in a forked child. */
void crypto_random(void *buf, size_t len);

/* Wipe memory that held a secret. */
void crypto_wipe(void *buf, size_t len);

#endif
