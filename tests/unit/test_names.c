/* test_names.c - name encryption: round trips of every length, determinism
 * per directory, tampering, long names, directory values, symlink targets. */
#include <errno.h>
#include <string.h>

#include "names.h"
#include "unit.h"

static struct name_keys keys;

static void test_roundtrip_all_lengths(void)
{
	uint8_t iv[NAME_IV_LEN];
	char name[NAME_PLAIN_MAX + 1], enc[NAME_ENC_CAP], out[NAME_PLAIN_MAX + 1];

	crypto_random(iv, sizeof(iv));
	for (size_t len = 1; len <= NAME_PLAIN_MAX; len++) {
		int n, m;

		for (size_t i = 0; i < len; i++)
			name[i] = (char)(1 + (i * 37 + len) % 254); /* any byte but NUL */
		for (size_t i = 0; i < len; i++)
			if (name[i] == '/')
				name[i] = 'x';
		n = name_encrypt(&keys, iv, name, len, enc);
		CHECK(n > 0 && (size_t)n < NAME_ENC_CAP && strlen(enc) == (size_t)n);
		CHECK(strchr(enc, '/') == NULL && enc[0] != '.');
		m = name_decrypt(&keys, iv, enc, (size_t)n, out);
		CHECK_EQ(m, len);
		CHECK(memcmp(out, name, len) == 0);
		/* Names up to 160 bytes fit the backing filesystem directly. */
		if (len <= 160)
			CHECK(n <= NAME_BACKING_MAX);
	}
}

static void test_deterministic_per_directory(void)
{
	uint8_t iv1[NAME_IV_LEN], iv2[NAME_IV_LEN];
	char a[NAME_ENC_CAP], b[NAME_ENC_CAP], c[NAME_ENC_CAP], out[NAME_PLAIN_MAX + 1];

	crypto_random(iv1, sizeof(iv1));
	crypto_random(iv2, sizeof(iv2));
	name_encrypt(&keys, iv1, "taxes-2026.pdf", 14, a);
	name_encrypt(&keys, iv1, "taxes-2026.pdf", 14, b);
	name_encrypt(&keys, iv2, "taxes-2026.pdf", 14, c);
	CHECK(strcmp(a, b) == 0);
	CHECK(strcmp(a, c) != 0);
	/* Decrypting with another directory's value fails: names cannot be
	 * moved between directories unnoticed. */
	CHECK_EQ(name_decrypt(&keys, iv2, a, strlen(a), out), -EBADMSG);
	/* Padding hides the exact length. */
	name_encrypt(&keys, iv1, "a", 1, a);
	name_encrypt(&keys, iv1, "abcdefghijklmnop", 16, b);
	CHECK_EQ(strlen(a), strlen(b));
}

static void test_tamper(void)
{
	uint8_t iv[NAME_IV_LEN];
	char enc[NAME_ENC_CAP], out[NAME_PLAIN_MAX + 1];
	int n;

	crypto_random(iv, sizeof(iv));
	n = name_encrypt(&keys, iv, "secret-name.txt", 15, enc);
	for (int i = 0; i < n; i++) {
		char saved = enc[i];

		enc[i] = enc[i] == 'A' ? 'B' : 'A';
		CHECK(name_decrypt(&keys, iv, enc, (size_t)n, out) < 0);
		enc[i] = saved;
	}
	CHECK(name_decrypt(&keys, iv, enc, (size_t)n - 1, out) < 0);
	CHECK(name_decrypt(&keys, iv, "not-a-name", 10, out) < 0);
	CHECK_EQ(name_encrypt(&keys, iv, "a/b", 3, enc), -EINVAL);
	CHECK_EQ(name_encrypt(&keys, iv, "", 0, enc), -EINVAL);
}

static void test_long_names(void)
{
	char e1[NAME_LONG_LEN + 1], s1[NAME_LONG_LEN + 1], e2[NAME_LONG_LEN + 1],
		s2[NAME_LONG_LEN + 1];

	name_long("abc", 3, e1, s1);
	name_long("abd", 3, e2, s2);
	CHECK(strncmp(e1, ".L", 2) == 0 && strncmp(s1, ".N", 2) == 0);
	CHECK(strcmp(e1 + 2, s1 + 2) == 0);
	CHECK(strcmp(e1, e2) != 0);
	CHECK(name_is_long(e1) && !name_is_internal(e1));
	CHECK(name_is_internal(s1) && name_is_internal(NAME_DIRIV_FILE));
	CHECK(!name_is_internal("abc") && !name_is_internal(".") && !name_is_internal(".."));
}

static void test_diriv(void)
{
	uint8_t file[NAME_DIRIV_SIZE], iv[NAME_IV_LEN];

	name_diriv_new(&keys, file);
	CHECK_EQ(name_diriv_open(&keys, file, sizeof(file), iv), 0);
	CHECK(memcmp(iv, file, NAME_IV_LEN) == 0);
	file[3] ^= 1;
	CHECK_EQ(name_diriv_open(&keys, file, sizeof(file), iv), -EBADMSG);
	file[3] ^= 1;
	CHECK_EQ(name_diriv_open(&keys, file, sizeof(file) - 1, iv), -EBADMSG);
}

static void test_symlink_targets(void)
{
	uint8_t k[CRYPTO_KEY_LEN];
	struct crypto_key *key;
	char enc[NAME_LINK_ENC_CAP], enc2[NAME_LINK_ENC_CAP], out[NAME_LINK_MAX + 1];
	static char big[NAME_LINK_MAX + 2];
	int n;

	crypto_random(k, sizeof(k));
	key = crypto_key_new(CIPHER_XCHACHA, k);
	n = name_link_encrypt(key, "../secret/target", 16, enc);
	CHECK(n > 0 && strstr(enc, "secret") == NULL);
	CHECK_EQ(name_link_decrypt(key, enc, (size_t)n, out, sizeof(out)), 16);
	CHECK(strcmp(out, "../secret/target") == 0);
	name_link_encrypt(key, "../secret/target", 16, enc2);
	CHECK(strcmp(enc, enc2) != 0); /* fresh nonce */
	enc[n / 2] = enc[n / 2] == 'A' ? 'B' : 'A';
	CHECK_EQ(name_link_decrypt(key, enc, (size_t)n, out, sizeof(out)), -EBADMSG);
	memset(big, 'x', NAME_LINK_MAX);
	n = name_link_encrypt(key, big, NAME_LINK_MAX, enc);
	CHECK(n > 0 && n < 4096);
	CHECK_EQ(name_link_decrypt(key, enc, (size_t)n, out, sizeof(out)), NAME_LINK_MAX);
	CHECK_EQ(name_link_encrypt(key, big, NAME_LINK_MAX + 1, enc), -ENAMETOOLONG);
	crypto_key_free(key);
}

int main(void)
{
	if (crypto_init() < 0)
		return 1;
	crypto_random(keys.enc, sizeof(keys.enc));
	crypto_random(keys.mac, sizeof(keys.mac));
	test_roundtrip_all_lengths();
	test_deterministic_per_directory();
	test_tamper();
	test_long_names();
	test_diriv();
	test_symlink_targets();
	return unit_done();
}
