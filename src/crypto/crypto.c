/* crypto.c - AEAD seal/open, Argon2id KDF, master-key wrapping, subkeys.
 *
 * Everything is libsodium.  Keys live in sodium_malloc'ed memory (guard
 * pages, mlock, wiped by sodium_free).  Sealed data is laid out as
 * ciphertext || 16-byte tag (libsodium's combined mode); the nonce is handed
 * back separately so the format layer decides where it is stored. */
#include "crypto.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdalign.h>
#include <string.h>

#include <sodium.h>

#include "util.h"

#define AESGCM_NONCE_LEN crypto_aead_aes256gcm_NPUBBYTES

_Static_assert(CRYPTO_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	       "key length");
_Static_assert(CRYPTO_KEY_LEN == crypto_aead_aes256gcm_KEYBYTES, "key length");
_Static_assert(CRYPTO_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	       "nonce length");
_Static_assert(AESGCM_NONCE_LEN <= CRYPTO_NONCE_LEN, "AES-GCM nonce length");
_Static_assert(CRYPTO_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES &&
		       CRYPTO_TAG_LEN == crypto_aead_aes256gcm_ABYTES,
	       "tag length");
_Static_assert(CRYPTO_SALT_LEN == crypto_pwhash_SALTBYTES, "salt length");
_Static_assert(CRYPTO_KEY_LEN == crypto_kdf_KEYBYTES, "kdf key length");
_Static_assert(crypto_kdf_CONTEXTBYTES == 8, "kdf context length");

/* The AES-GCM state must be 16-byte aligned.  sodium_malloc places a block
 * so that it ends at a page boundary; with a size that is a multiple of 16
 * (guaranteed by the state's own alignment, asserted below) the start is
 * 16-aligned as well.  crypto_key_new still checks at run time. */
struct crypto_key {
	crypto_aead_aes256gcm_state aes; /* only for CIPHER_AESGCM */
	uint8_t key[CRYPTO_KEY_LEN];
	int cipher;
};

_Static_assert(sizeof(struct crypto_key) % 16 == 0, "crypto_key size");

int crypto_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

const char *crypto_cipher_name(int cipher)
{
	switch (cipher) {
	case CIPHER_NONE:
		return "none";
	case CIPHER_XCHACHA:
		return "xchacha20-poly1305";
	case CIPHER_AESGCM:
		return "aes-256-gcm";
	}
	return "unknown";
}

static int aes_available(void)
{
	/* CPU features are detected by sodium_init, which is idempotent. */
	if (sodium_init() < 0)
		return 0;
	return crypto_aead_aes256gcm_is_available();
}

int crypto_cipher_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	if (!strcmp(name, "none"))
		return CIPHER_NONE;
	if (!strcmp(name, "xchacha20-poly1305") || !strcmp(name, "xchacha"))
		return CIPHER_XCHACHA;
	if (!strcmp(name, "aes-256-gcm") || !strcmp(name, "aes") ||
	    !strcmp(name, "aesgcm"))
		return aes_available() ? CIPHER_AESGCM : -ENOTSUP;
	return -EINVAL;
}

struct crypto_key *crypto_key_new(int cipher, const uint8_t *key)
{
	struct crypto_key *k;

	if (cipher != CIPHER_NONE && cipher != CIPHER_XCHACHA &&
	    cipher != CIPHER_AESGCM)
		return NULL;
	if (cipher != CIPHER_NONE && !key)
		return NULL;
	if (cipher == CIPHER_AESGCM && !aes_available())
		return NULL;
	k = sodium_malloc(sizeof(*k));
	if (!k)
		return NULL;
	if ((uintptr_t)k % alignof(crypto_aead_aes256gcm_state) != 0) {
		sodium_free(k);
		return NULL;
	}
	sodium_memzero(k, sizeof(*k));
	k->cipher = cipher;
	if (key)
		memcpy(k->key, key, CRYPTO_KEY_LEN);
	if (cipher == CIPHER_AESGCM &&
	    crypto_aead_aes256gcm_beforenm(&k->aes, k->key) != 0) {
		sodium_free(k);
		return NULL;
	}
	return k;
}

void crypto_key_free(struct crypto_key *k)
{
	if (k)
		sodium_free(k); /* wipes before unmapping */
}

int crypto_key_cipher(const struct crypto_key *k)
{
	return k->cipher;
}

/* The "tag" of CIPHER_NONE: unkeyed BLAKE2b-128 over le64(adlen) || ad ||
 * data.  The length prefix keeps the ad/data boundary unambiguous, so bytes
 * cannot be moved from one to the other without changing the checksum.  It
 * detects corruption, not a forger: a store without encryption has no key. */
static int none_tag(const uint8_t *data, size_t len, const uint8_t *ad,
		    size_t adlen, uint8_t tag[CRYPTO_TAG_LEN])
{
	crypto_generichash_state st;
	uint8_t lenbuf[8];

	util_put_le64(lenbuf, (uint64_t)adlen);
	if (crypto_generichash_init(&st, NULL, 0, CRYPTO_TAG_LEN) != 0 ||
	    crypto_generichash_update(&st, lenbuf, sizeof(lenbuf)) != 0 ||
	    crypto_generichash_update(&st, ad, adlen) != 0 ||
	    crypto_generichash_update(&st, data, len) != 0 ||
	    crypto_generichash_final(&st, tag, CRYPTO_TAG_LEN) != 0)
		return -EIO;
	return 0;
}

void crypto_digest_tag(uint8_t out[CRYPTO_TAG_LEN], const uint8_t *a, size_t alen,
		       const uint8_t *b, size_t blen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, CRYPTO_TAG_LEN);
	crypto_generichash_update(&st, a, alen);
	crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, CRYPTO_TAG_LEN);
}

int crypto_seal(const struct crypto_key *k, uint8_t *out, const uint8_t *in,
		size_t len, const uint8_t *ad, size_t adlen, uint8_t *nonce)
{
	uint8_t tag[CRYPTO_TAG_LEN];
	unsigned long long clen;
	int r = -1;

	switch (k->cipher) {
	case CIPHER_NONE:
		memset(nonce, 0, CRYPTO_NONCE_LEN);
		if (none_tag(in, len, ad, adlen, tag))
			return -EIO;
		memmove(out, in, len);
		memcpy(out + len, tag, CRYPTO_TAG_LEN);
		return 0;
	case CIPHER_XCHACHA:
		crypto_random(nonce, CRYPTO_NONCE_LEN); /* buffered: no syscall per seal */
		r = crypto_aead_xchacha20poly1305_ietf_encrypt(
			out, &clen, in, len, ad, adlen, NULL, nonce, k->key);
		break;
	case CIPHER_AESGCM:
		/* A 96-bit random nonce; the unused tail is zeroed so the on-disk
		 * nonce field is fully determined. */
		crypto_random(nonce, AESGCM_NONCE_LEN);
		memset(nonce + AESGCM_NONCE_LEN, 0,
		       CRYPTO_NONCE_LEN - AESGCM_NONCE_LEN);
		r = crypto_aead_aes256gcm_encrypt_afternm(
			out, &clen, in, len, ad, adlen, NULL, nonce, &k->aes);
		break;
	}
	return r == 0 ? 0 : -EIO;
}

int crypto_open_detached(const struct crypto_key *k, uint8_t *out, const uint8_t *in,
			 size_t len, const uint8_t *mac, const uint8_t *ad, size_t adlen,
			 const uint8_t *nonce)
{
	uint8_t tag[CRYPTO_TAG_LEN];
	int r = -1;

	/* Nonce bytes a cipher does not use must be zero, as seal leaves
	 * them, so that no stored byte goes unchecked. */
	if (k->cipher == CIPHER_NONE && !sodium_is_zero(nonce, CRYPTO_NONCE_LEN))
		return -EBADMSG;
	if (k->cipher == CIPHER_AESGCM &&
	    !sodium_is_zero(nonce + crypto_aead_aes256gcm_NPUBBYTES,
			    CRYPTO_NONCE_LEN - crypto_aead_aes256gcm_NPUBBYTES))
		return -EBADMSG;
	switch (k->cipher) {
	case CIPHER_NONE:
		/* Verify before copying, so out never holds unverified data. */
		if (none_tag(in, len, ad, adlen, tag))
			return -EBADMSG;
		if (crypto_verify_16(tag, mac) != 0)
			return -EBADMSG;
		memmove(out, in, len);
		return 0;
	case CIPHER_XCHACHA:
		r = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
			out, NULL, in, len, mac, ad, adlen, nonce, k->key);
		break;
	case CIPHER_AESGCM:
		r = crypto_aead_aes256gcm_decrypt_detached_afternm(
			out, NULL, in, len, mac, ad, adlen, nonce, &k->aes);
		break;
	}
	return r == 0 ? 0 : -EBADMSG;
}

int crypto_open(const struct crypto_key *k, uint8_t *out, const uint8_t *in,
		size_t inlen, const uint8_t *ad, size_t adlen,
		const uint8_t *nonce)
{
	uint8_t mac[CRYPTO_TAG_LEN];

	if (inlen < CRYPTO_TAG_LEN)
		return -EBADMSG;
	/* The tag is copied out first: out may overlap in. */
	memcpy(mac, in + inlen - CRYPTO_TAG_LEN, CRYPTO_TAG_LEN);
	return crypto_open_detached(k, out, in, inlen - CRYPTO_TAG_LEN, mac, ad, adlen, nonce);
}

int crypto_kdf_passphrase(const char *pass, size_t passlen,
			  const uint8_t salt[CRYPTO_SALT_LEN], uint64_t opslimit,
			  uint64_t memlimit, uint8_t *out)
{
	if (memlimit > SIZE_MAX)
		return -ENOMEM;
	if (crypto_pwhash(out, CRYPTO_KEY_LEN, pass, passlen, salt,
			  opslimit, (size_t)memlimit,
			  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

void crypto_subkey(const uint8_t *master, uint64_t id, const char ctx[8],
		   uint8_t *out)
{
	crypto_kdf_derive_from_key(out, CRYPTO_KEY_LEN, id, ctx, master);
}

void crypto_wrap(const uint8_t *kek, const uint8_t *master, const uint8_t *ad,
		 size_t adlen, uint8_t *out)
{
	uint8_t *nonce = out;

	randombytes_buf(nonce, CRYPTO_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + CRYPTO_NONCE_LEN, NULL,
						   master, CRYPTO_KEY_LEN, ad,
						   adlen, NULL, nonce, kek);
}

int crypto_unwrap(const uint8_t *kek, const uint8_t *wrapped, const uint8_t *ad,
		  size_t adlen, uint8_t *master)
{
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    master, NULL, NULL, wrapped + CRYPTO_NONCE_LEN,
		    CRYPTO_KEY_LEN + CRYPTO_TAG_LEN, ad, adlen, wrapped,
		    kek) != 0)
		return -EACCES;
	return 0;
}

void crypto_mac(const uint8_t *key, const uint8_t *msg, size_t len, uint8_t *out)
{
	crypto_generichash(out, 32, msg, len, key, CRYPTO_KEY_LEN);
}

/* Nonces, file ids and directory values are asked for a few bytes at a
 * time, several per file written: each thread takes them from its own
 * buffer of OS randomness, refilled 4 KiB at a time, instead of one
 * getrandom call each.  Bytes are handed out once and wiped as they go.
 * Larger requests (keys) come from the OS directly.  A forked child must
 * not hand out its parent's bytes again: fork bumps rng_gen (in the child),
 * which empties every buffer made before. */
#define RNG_BUF 4096
#define RNG_SMALL 24

struct rng {
	unsigned gen;
	size_t pos;
	uint8_t buf[RNG_BUF];
};

static unsigned rng_gen;
static pthread_once_t rng_once = PTHREAD_ONCE_INIT;
static __thread struct rng *rng_tls;
static pthread_key_t rng_key;

static void rng_child(void)
{
	__atomic_add_fetch(&rng_gen, 1, __ATOMIC_RELAXED);
}

static void rng_free(void *p)
{
	sodium_memzero(p, sizeof(struct rng));
	free(p);
}

static void rng_init(void)
{
	pthread_atfork(NULL, NULL, rng_child);
	pthread_key_create(&rng_key, rng_free);
}

void crypto_random(void *buf, size_t len)
{
	struct rng *r;

	if (len > RNG_SMALL)
		goto direct;
	pthread_once(&rng_once, rng_init);
	r = rng_tls;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			goto direct;
		r->pos = RNG_BUF;
		rng_tls = r;
		pthread_setspecific(rng_key, r);
	}
	if (r->gen != __atomic_load_n(&rng_gen, __ATOMIC_RELAXED)) {
		r->gen = __atomic_load_n(&rng_gen, __ATOMIC_RELAXED);
		r->pos = RNG_BUF;
	}
	if (r->pos + len > RNG_BUF) {
		randombytes_buf(r->buf, RNG_BUF);
		r->pos = 0;
	}
	memcpy(buf, r->buf + r->pos, len);
	sodium_memzero(r->buf + r->pos, len);
	r->pos += len;
	return;
direct:
	randombytes_buf(buf, len);
}

void crypto_wipe(void *buf, size_t len)
{
	sodium_memzero(buf, len);
}

void crypto_xstream_xor(const uint8_t *key, const uint8_t *nonce, uint8_t *buf,
		       size_t len)
{
	crypto_stream_xchacha20_xor(buf, buf, len, nonce, key);
}

size_t crypto_b64_len(size_t len)
{
	return sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1;
}

void crypto_b64_encode(const uint8_t *in, size_t len, char *out)
{
	sodium_bin2base64(out, crypto_b64_len(len) + 1, in, len,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

ssize_t crypto_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	size_t n;
	const char *end;

	if (sodium_base642bin(out, cap, in, len, NULL, &n, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != in + len)
		return -EINVAL;
	return (ssize_t)n;
}

void crypto_digest(uint8_t *out, const uint8_t *msg, size_t len)
{
	crypto_generichash(out, 32, msg, len, NULL, 0);
}

int crypto_verify16(const uint8_t *a, const uint8_t *b)
{
	return crypto_verify_16(a, b);
}
