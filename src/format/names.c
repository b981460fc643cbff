/* names.c - deterministic name encryption, long names, symlink targets. */
#include "names.h"

#include <errno.h>
#include <string.h>

#include "util.h"

#define PAD 16

static void name_tag(const struct name_keys *k, const uint8_t *iv,
		     const uint8_t *padded, size_t len, uint8_t *tag)
{
	uint8_t msg[1 + NAME_IV_LEN + NAME_PLAIN_MAX + PAD];
	uint8_t full[32];

	msg[0] = 'N';
	memcpy(msg + 1, iv, NAME_IV_LEN);
	memcpy(msg + 1 + NAME_IV_LEN, padded, len);
	crypto_mac(k->mac, msg, 1 + NAME_IV_LEN + len, full);
	memcpy(tag, full, NAME_TAG_LEN);
}

static void name_nonce(const uint8_t *tag, uint8_t *nonce)
{
	memset(nonce, 0, CRYPTO_NONCE_LEN);
	memcpy(nonce, tag, NAME_TAG_LEN);
}

int name_encrypt(const struct name_keys *k, const uint8_t *iv, const char *name,
		 size_t len, char *out)
{
	uint8_t buf[NAME_TAG_LEN + NAME_PLAIN_MAX + PAD];
	uint8_t nonce[CRYPTO_NONCE_LEN];
	size_t padded = (len + PAD - 1) / PAD * PAD;

	if (len == 0 || memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	if (len > NAME_PLAIN_MAX)
		return -ENAMETOOLONG;
	memset(buf, 0, sizeof(buf));
	memcpy(buf + NAME_TAG_LEN, name, len);
	name_tag(k, iv, buf + NAME_TAG_LEN, padded, buf);
	name_nonce(buf, nonce);
	crypto_xstream_xor(k->enc, nonce, buf + NAME_TAG_LEN, padded);
	crypto_b64_encode(buf, NAME_TAG_LEN + padded, out);
	return (int)crypto_b64_len(NAME_TAG_LEN + padded);
}

int name_decrypt(const struct name_keys *k, const uint8_t *iv, const char *enc,
		 size_t enclen, char *out)
{
	uint8_t buf[NAME_TAG_LEN + NAME_PLAIN_MAX + PAD];
	uint8_t nonce[CRYPTO_NONCE_LEN], tag[NAME_TAG_LEN];
	ssize_t n = crypto_b64_decode(enc, enclen, buf, sizeof(buf));
	size_t padded, len;

	if (n < NAME_TAG_LEN + PAD || (n - NAME_TAG_LEN) % PAD)
		return -EBADMSG;
	padded = (size_t)n - NAME_TAG_LEN;
	name_nonce(buf, nonce);
	crypto_xstream_xor(k->enc, nonce, buf + NAME_TAG_LEN, padded);
	name_tag(k, iv, buf + NAME_TAG_LEN, padded, tag);
	if (crypto_verify16(tag, buf) != 0)
		return -EBADMSG;
	len = strnlen((const char *)buf + NAME_TAG_LEN, padded);
	/* Only NULs may follow the name, and at most one block of them. */
	if (len == 0 || len > NAME_PLAIN_MAX || padded - len >= PAD ||
	    memchr(buf + NAME_TAG_LEN, '/', len))
		return -EBADMSG;
	for (size_t i = len; i < padded; i++)
		if (buf[NAME_TAG_LEN + i])
			return -EBADMSG;
	memcpy(out, buf + NAME_TAG_LEN, len);
	out[len] = '\0';
	return (int)len;
}

void name_long(const char *enc, size_t enclen, char *entry, char *side)
{
	uint8_t h[32];
	char b64[NAME_LONG_LEN];

	crypto_digest(h, (const uint8_t *)enc, enclen);
	crypto_b64_encode(h, sizeof(h), b64);
	entry[0] = side[0] = '.';
	entry[1] = 'L';
	side[1] = 'N';
	memcpy(entry + 2, b64, NAME_LONG_LEN - 2);
	memcpy(side + 2, b64, NAME_LONG_LEN - 2);
	entry[NAME_LONG_LEN] = side[NAME_LONG_LEN] = '\0';
}

int name_is_internal(const char *bname)
{
	return bname[0] == '.' && !name_is_long(bname) &&
	       strcmp(bname, ".") && strcmp(bname, "..");
}

void name_tmp(char *out)
{
	uint8_t rnd[8];

	crypto_random(rnd, sizeof(rnd));
	memcpy(out, ".tmp", 4);
	util_hex_encode(rnd, sizeof(rnd), out + 4);
}

int name_is_long(const char *bname)
{
	return bname[0] == '.' && bname[1] == 'L' && strlen(bname) == NAME_LONG_LEN;
}

static void diriv_mac(const struct name_keys *k, const uint8_t *iv, uint8_t *tag)
{
	uint8_t msg[1 + NAME_IV_LEN], full[32];

	msg[0] = 'D';
	memcpy(msg + 1, iv, NAME_IV_LEN);
	crypto_mac(k->mac, msg, sizeof(msg), full);
	memcpy(tag, full, NAME_TAG_LEN);
}

void name_diriv_seal(const struct name_keys *k, const uint8_t *iv, uint8_t *out)
{
	memmove(out, iv, NAME_IV_LEN);
	diriv_mac(k, out, out + NAME_IV_LEN);
}

void name_diriv_new(const struct name_keys *k, uint8_t *out)
{
	crypto_random(out, NAME_IV_LEN);
	diriv_mac(k, out, out + NAME_IV_LEN);
}

int name_diriv_open(const struct name_keys *k, const uint8_t *in, size_t len,
		    uint8_t *iv)
{
	uint8_t tag[NAME_TAG_LEN];

	if (len != NAME_DIRIV_SIZE)
		return -EBADMSG;
	diriv_mac(k, in, tag);
	if (crypto_verify16(tag, in + NAME_IV_LEN) != 0)
		return -EBADMSG;
	memcpy(iv, in, NAME_IV_LEN);
	return 0;
}

static const uint8_t link_ad[] = "ragstore symlink target";

int name_link_encrypt(const struct crypto_key *k, const char *target, size_t len,
		      char *out)
{
	uint8_t buf[CRYPTO_NONCE_LEN + NAME_LINK_MAX + CRYPTO_TAG_LEN];

	if (len > NAME_LINK_MAX)
		return -ENAMETOOLONG;
	if (crypto_seal(k, buf + CRYPTO_NONCE_LEN, (const uint8_t *)target, len,
			link_ad, sizeof(link_ad), buf) < 0)
		return -EIO;
	crypto_b64_encode(buf, CRYPTO_NONCE_LEN + len + CRYPTO_TAG_LEN, out);
	return (int)crypto_b64_len(CRYPTO_NONCE_LEN + len + CRYPTO_TAG_LEN);
}

int name_link_decrypt(const struct crypto_key *k, const char *enc, size_t len,
		      char *out, size_t cap)
{
	uint8_t buf[CRYPTO_NONCE_LEN + NAME_LINK_MAX + CRYPTO_TAG_LEN];
	ssize_t n = crypto_b64_decode(enc, len, buf, sizeof(buf));
	size_t plain;

	if (n < CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
		return -EBADMSG;
	plain = (size_t)n - CRYPTO_NONCE_LEN - CRYPTO_TAG_LEN;
	if (plain + 1 > cap)
		return -ERANGE;
	if (crypto_open(k, (uint8_t *)out, buf + CRYPTO_NONCE_LEN, (size_t)n - CRYPTO_NONCE_LEN,
			link_ad, sizeof(link_ad), buf) < 0)
		return -EBADMSG;
	out[plain] = '\0';
	return (int)plain;
}
