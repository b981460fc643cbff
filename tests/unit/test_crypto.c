/* test_crypto.c - AEAD round trips and tamper detection for every cipher,
 * the KDF, key wrapping, subkeys and the cipher names. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "unit.h"

#define LEN 1000

static const uint8_t ad[] = "file-id:0123456789abcdef block:42";

static int cipher_usable(int cipher)
{
	return cipher != CIPHER_AESGCM || crypto_aead_aes256gcm_is_available();
}

static void test_seal_open(int cipher)
{
	uint8_t key[CRYPTO_KEY_LEN], key2[CRYPTO_KEY_LEN];
	uint8_t pt[LEN], ct[LEN + CRYPTO_TAG_LEN], ct2[LEN + CRYPTO_TAG_LEN];
	uint8_t buf[LEN + CRYPTO_TAG_LEN], out[LEN];
	uint8_t nonce[CRYPTO_NONCE_LEN], nonce2[CRYPTO_NONCE_LEN], n2[CRYPTO_NONCE_LEN];
	uint8_t ad2[sizeof(ad)];
	struct crypto_key *k, *kw;
	int encrypting = cipher != CIPHER_NONE;

	crypto_random(key, sizeof(key));
	memcpy(key2, key, sizeof(key));
	key2[0] ^= 1;
	crypto_random(pt, sizeof(pt));
	k = crypto_key_new(cipher, encrypting ? key : NULL);
	kw = crypto_key_new(cipher, key2);
	CHECK(k != NULL && kw != NULL);
	if (!k || !kw)
		goto out;
	CHECK_EQ(crypto_key_cipher(k), cipher);

	CHECK_EQ(crypto_seal(k, ct, pt, LEN, ad, sizeof(ad), nonce), 0);
	CHECK_EQ(crypto_open(k, out, ct, sizeof(ct), ad, sizeof(ad), nonce), 0);
	CHECK(memcmp(out, pt, LEN) == 0);
	if (encrypting)
		CHECK(memcmp(ct, pt, LEN) != 0);
	else
		CHECK(memcmp(ct, pt, LEN) == 0 && sodium_is_zero(nonce, sizeof(nonce)));
	if (cipher == CIPHER_AESGCM)
		CHECK(sodium_is_zero(nonce + 12, CRYPTO_NONCE_LEN - 12));

	/* A fresh nonce, hence a different ciphertext, on every seal. */
	CHECK_EQ(crypto_seal(k, ct2, pt, LEN, ad, sizeof(ad), nonce2), 0);
	if (encrypting) {
		CHECK(memcmp(nonce, nonce2, sizeof(nonce)) != 0);
		CHECK(memcmp(ct, ct2, sizeof(ct)) != 0);
	}

	/* In place, both ways. */
	memcpy(buf, pt, LEN);
	CHECK_EQ(crypto_seal(k, buf, buf, LEN, ad, sizeof(ad), n2), 0);
	CHECK_EQ(crypto_open(k, buf, buf, sizeof(buf), ad, sizeof(ad), n2), 0);
	CHECK(memcmp(buf, pt, LEN) == 0);

	/* Any flipped bit of ciphertext or tag is detected. */
	for (size_t i = 0; i < sizeof(ct); i += (i < LEN ? 97 : 1)) {
		memcpy(buf, ct, sizeof(ct));
		buf[i] ^= 0x10;
		CHECK_EQ(crypto_open(k, out, buf, sizeof(buf), ad, sizeof(ad), nonce),
			 -EBADMSG);
	}
	/* Associated data: a flipped byte, a shorter or longer ad. */
	memcpy(ad2, ad, sizeof(ad));
	ad2[5] ^= 1;
	CHECK_EQ(crypto_open(k, out, ct, sizeof(ct), ad2, sizeof(ad2), nonce), -EBADMSG);
	CHECK_EQ(crypto_open(k, out, ct, sizeof(ct), ad, sizeof(ad) - 1, nonce), -EBADMSG);
	CHECK_EQ(crypto_open(k, out, ct, sizeof(ct), NULL, 0, nonce), -EBADMSG);
	/* Truncation, and less than a tag. */
	CHECK_EQ(crypto_open(k, out, ct, sizeof(ct) - 1, ad, sizeof(ad), nonce), -EBADMSG);
	CHECK_EQ(crypto_open(k, out, ct, CRYPTO_TAG_LEN - 1, ad, sizeof(ad), nonce), -EBADMSG);
	if (encrypting) {
		/* Nonce, and key. */
		memcpy(n2, nonce, sizeof(n2));
		n2[3] ^= 1;
		CHECK_EQ(crypto_open(k, out, ct, sizeof(ct), ad, sizeof(ad), n2), -EBADMSG);
		CHECK_EQ(crypto_open(kw, out, ct, sizeof(ct), ad, sizeof(ad), nonce),
			 -EBADMSG);
		/* The other ciphertext under this nonce. */
		CHECK_EQ(crypto_open(k, out, ct2, sizeof(ct2), ad, sizeof(ad), nonce),
			 -EBADMSG);
	}
	/* Empty plaintext still carries a verified tag. */
	CHECK_EQ(crypto_seal(k, buf, pt, 0, ad, sizeof(ad), n2), 0);
	CHECK_EQ(crypto_open(k, out, buf, CRYPTO_TAG_LEN, ad, sizeof(ad), n2), 0);
	buf[0] ^= 1;
	CHECK_EQ(crypto_open(k, out, buf, CRYPTO_TAG_LEN, ad, sizeof(ad), n2), -EBADMSG);
out:
	crypto_key_free(k);
	crypto_key_free(kw);
}

/* CIPHER_NONE: the checksum binds the ad/data boundary too, so moving a byte
 * from the data into the ad is caught. */
static void test_none_boundary(void)
{
	struct crypto_key *k = crypto_key_new(CIPHER_NONE, NULL);
	uint8_t msg[] = "abcdefgh", buf[sizeof(msg) + CRYPTO_TAG_LEN], out[sizeof(msg)];
	uint8_t nonce[CRYPTO_NONCE_LEN];
	uint8_t ad1[] = "AD", ad2[] = "ADa";

	CHECK(k != NULL);
	if (!k)
		return;
	/* seal(ad="AD", data="abcdefgh") vs open(ad="ADa", data="bcdefgh"). */
	CHECK_EQ(crypto_seal(k, buf, msg, 8, ad1, 2, nonce), 0);
	memmove(buf, buf + 1, 7 + CRYPTO_TAG_LEN);
	CHECK_EQ(crypto_open(k, out, buf, 7 + CRYPTO_TAG_LEN, ad2, 3, nonce), -EBADMSG);
	crypto_key_free(k);
}

static void test_keys(void)
{
	uint8_t key[CRYPTO_KEY_LEN] = { 1 };

	CHECK(crypto_key_new(CIPHER_XCHACHA, NULL) == NULL);
	CHECK(crypto_key_new(7, key) == NULL);
	CHECK(crypto_key_new(-1, key) == NULL);
	crypto_key_free(NULL);
}

static void test_names(void)
{
	CHECK_EQ(crypto_cipher_parse("xchacha20-poly1305"), CIPHER_XCHACHA);
	CHECK_EQ(crypto_cipher_parse("xchacha"), CIPHER_XCHACHA);
	CHECK_EQ(crypto_cipher_parse("none"), CIPHER_NONE);
	CHECK_EQ(crypto_cipher_parse("chacha"), -EINVAL);
	CHECK_EQ(crypto_cipher_parse(""), -EINVAL);
	CHECK_EQ(crypto_cipher_parse("NONE"), -EINVAL);
	CHECK_EQ(crypto_cipher_parse(NULL), -EINVAL);
	if (crypto_aead_aes256gcm_is_available()) {
		CHECK_EQ(crypto_cipher_parse("aes-256-gcm"), CIPHER_AESGCM);
		CHECK_EQ(crypto_cipher_parse("aes"), CIPHER_AESGCM);
		CHECK_EQ(crypto_cipher_parse("aesgcm"), CIPHER_AESGCM);
	} else {
		CHECK_EQ(crypto_cipher_parse("aes-256-gcm"), -ENOTSUP);
	}
	for (int c = CIPHER_NONE; c <= CIPHER_AESGCM; c++)
		if (cipher_usable(c))
			CHECK_EQ(crypto_cipher_parse(crypto_cipher_name(c)), c);
	CHECK(strcmp(crypto_cipher_name(42), "unknown") == 0);
}

static void test_kdf(void)
{
	uint8_t salt[CRYPTO_SALT_LEN], salt2[CRYPTO_SALT_LEN];
	uint8_t a[CRYPTO_KEY_LEN], b[CRYPTO_KEY_LEN], c[CRYPTO_KEY_LEN], d[CRYPTO_KEY_LEN];
	uint64_t ops = crypto_pwhash_OPSLIMIT_MIN, mem = crypto_pwhash_MEMLIMIT_MIN;

	crypto_random(salt, sizeof(salt));
	memcpy(salt2, salt, sizeof(salt));
	salt2[0] ^= 1;
	CHECK_EQ(crypto_kdf_passphrase("correct horse", 13, salt, ops, mem, a), 0);
	CHECK_EQ(crypto_kdf_passphrase("correct horse", 13, salt, ops, mem, b), 0);
	CHECK_EQ(crypto_kdf_passphrase("correct horse", 13, salt2, ops, mem, c), 0);
	CHECK_EQ(crypto_kdf_passphrase("correct horsf", 13, salt, ops, mem, d), 0);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK(memcmp(a, c, sizeof(a)) != 0);
	CHECK(memcmp(a, d, sizeof(a)) != 0);
	/* Other parameters give another key. */
	CHECK_EQ(crypto_kdf_passphrase("correct horse", 13, salt, ops + 1, mem, b), 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	/* Impossible limits fail cleanly. */
	CHECK_EQ(crypto_kdf_passphrase("x", 1, salt, ops, 1, b), -ENOMEM);
	CHECK_EQ(crypto_kdf_passphrase("x", 1, salt, ops, UINT64_MAX, b), -ENOMEM);
}

static void test_wrap(void)
{
	uint8_t kek[CRYPTO_KEY_LEN], kek2[CRYPTO_KEY_LEN], master[CRYPTO_KEY_LEN];
	uint8_t got[CRYPTO_KEY_LEN], w[CRYPTO_WRAPPED_LEN], w2[CRYPTO_WRAPPED_LEN];
	static const uint8_t wad[] = "store-uuid";

	crypto_random(kek, sizeof(kek));
	crypto_random(master, sizeof(master));
	memcpy(kek2, kek, sizeof(kek));
	kek2[31] ^= 0x80;
	crypto_wrap(kek, master, wad, sizeof(wad), w);
	crypto_wrap(kek, master, wad, sizeof(wad), w2);
	CHECK(memcmp(w, w2, sizeof(w)) != 0);
	CHECK(memmem(w, sizeof(w), master, sizeof(master)) == NULL);
	CHECK_EQ(crypto_unwrap(kek, w, wad, sizeof(wad), got), 0);
	CHECK(memcmp(got, master, sizeof(got)) == 0);
	CHECK_EQ(crypto_unwrap(kek, w2, wad, sizeof(wad), got), 0);
	CHECK(memcmp(got, master, sizeof(got)) == 0);
	CHECK_EQ(crypto_unwrap(kek2, w, wad, sizeof(wad), got), -EACCES);
	CHECK_EQ(crypto_unwrap(kek, w, wad, sizeof(wad) - 1, got), -EACCES);
	for (size_t i = 0; i < sizeof(w); i++) {
		memcpy(w2, w, sizeof(w));
		w2[i] ^= 4;
		CHECK_EQ(crypto_unwrap(kek, w2, wad, sizeof(wad), got), -EACCES);
	}
}

static void test_subkey_mac(void)
{
	uint8_t master[CRYPTO_KEY_LEN], m2[CRYPTO_KEY_LEN];
	uint8_t a[CRYPTO_KEY_LEN], b[CRYPTO_KEY_LEN], c[CRYPTO_KEY_LEN], d[CRYPTO_KEY_LEN];
	uint8_t e[CRYPTO_KEY_LEN];
	uint8_t mac1[32], mac2[32];
	static const uint8_t msg[] = "canonical descriptor text";

	crypto_random(master, sizeof(master));
	memcpy(m2, master, sizeof(m2));
	m2[0] ^= 1;
	crypto_subkey(master, 1, "contents", a);
	crypto_subkey(master, 1, "contents", b);
	crypto_subkey(master, 2, "contents", c);
	crypto_subkey(master, 1, "names___", d);
	crypto_subkey(m2, 1, "contents", e);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK(memcmp(a, c, sizeof(a)) != 0);
	CHECK(memcmp(a, d, sizeof(a)) != 0);
	CHECK(memcmp(a, e, sizeof(a)) != 0);
	CHECK(memcmp(a, master, sizeof(a)) != 0);

	crypto_mac(master, msg, sizeof(msg), mac1);
	crypto_mac(master, msg, sizeof(msg), mac2);
	CHECK(memcmp(mac1, mac2, 32) == 0);
	crypto_mac(m2, msg, sizeof(msg), mac2);
	CHECK(memcmp(mac1, mac2, 32) != 0);
	crypto_mac(master, msg, sizeof(msg) - 1, mac2);
	CHECK(memcmp(mac1, mac2, 32) != 0);

	crypto_wipe(a, sizeof(a));
	CHECK(sodium_is_zero(a, sizeof(a)));
	memset(b, 0, sizeof(b));
	crypto_random(b, sizeof(b));
	CHECK(!sodium_is_zero(b, sizeof(b)));
}

int main(void)
{
	CHECK_EQ(crypto_init(), 0);
	test_names();
	test_keys();
	test_seal_open(CIPHER_NONE);
	test_seal_open(CIPHER_XCHACHA);
	if (crypto_aead_aes256gcm_is_available())
		test_seal_open(CIPHER_AESGCM);
	else
		fprintf(stderr, "note: no AES-NI, AES-256-GCM not tested\n");
	test_none_boundary();
	test_kdf();
	test_wrap();
	test_subkey_mac();
	return unit_done();
}
