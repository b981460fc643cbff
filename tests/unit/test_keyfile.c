/* test_keyfile.c - the paper form of the master key: round trip, what a
 * person may type differently, and that every typo is caught. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keyfile.h"
#include "unit.h"

static void sample(struct keyfile *k)
{
	memset(k, 0, sizeof(*k));
	for (int i = 0; i < CRYPTO_KEY_LEN; i++)
		k->key[i] = (uint8_t)(i * 37 + 11);
	strcpy(k->uuid, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");
	k->cipher = CIPHER_XCHACHA;
	k->plaintext_names = 0;
	k->block_size = 65536;
	k->codec = (struct codec_spec){ CODEC_ZSTD, 3 };
}

static int same(const struct keyfile *a, const struct keyfile *b)
{
	return !memcmp(a->key, b->key, sizeof(a->key)) && !strcmp(a->uuid, b->uuid) &&
	       a->cipher == b->cipher && a->plaintext_names == b->plaintext_names &&
	       a->block_size == b->block_size && a->codec.algo == b->codec.algo &&
	       a->codec.level == b->codec.level;
}

static int decode(const char *text, struct keyfile *k, char *err)
{
	return keyfile_decode(text, strlen(text), k, err, 256);
}

static void test_round_trip(void)
{
	struct keyfile k, back;
	char text[KEYFILE_TEXT_MAX], err[256];
	int n;

	sample(&k);
	n = keyfile_encode(&k, text, sizeof(text));
	CHECK(n > 0 && (size_t)n == strlen(text));
	CHECK(strstr(text, "\nkey1 ") && strstr(text, "\ncheck "));
	CHECK_EQ(decode(text, &back, err), 0);
	CHECK(same(&k, &back));
	/* Too small a buffer is refused, not cut short. */
	CHECK_EQ(keyfile_encode(&k, text, 100), -ENOSPC);
	/* No key file for a store without encryption. */
	k.cipher = CIPHER_NONE;
	CHECK_EQ(keyfile_encode(&k, text, sizeof(text)), -EINVAL);
}

/* Upper case, groups run together or spread out, CR-LF, indentation. */
static void test_lenient_typing(void)
{
	struct keyfile k, back;
	char text[KEYFILE_TEXT_MAX], typed[2 * KEYFILE_TEXT_MAX], err[256];
	size_t o = 0;
	int key_line = 0, in_value = 0;

	sample(&k);
	CHECK(keyfile_encode(&k, text, sizeof(text)) > 0);
	for (const char *p = text; *p; p++) {
		if (p == text || p[-1] == '\n') {
			key_line = !strncmp(p, "key", 3) || !strncmp(p, "check", 5);
			in_value = 0;
		}
		if (*p == '\n') {
			typed[o++] = ' ';
			typed[o++] = '\r';
			typed[o++] = '\n';
			typed[o++] = '\t';
		} else if (key_line && *p == ' ' && in_value && (o % 2)) {
			continue; /* drop some group separators */
		} else {
			typed[o++] = key_line && in_value && *p >= 'a' && *p <= 'f' ?
				     (char)(*p - 32) : *p;
			in_value |= *p == ' ';
		}
	}
	typed[o] = '\0';
	CHECK_EQ(decode(typed, &back, err), 0);
	CHECK(same(&k, &back));
}

/* Change one character of the line starting with prefix. */
static void mangle(char *text, const char *prefix, int at, char to)
{
	char *l = strstr(text, prefix);

	if (l)
		l[strlen(prefix) + (size_t)at] = to;
}

static void test_typos_caught(void)
{
	/* One character of a line changed into another of the same kind (hex
	 * for hex), so the text stays well formed; 0 means "0, or 1 if it was
	 * 0 already". */
	static const struct {
		const char *line;
		int at;
		char to;
		int want;
	} typos[] = {
		{ "\nkey1 ", 0, 0, -EBADMSG },  { "\nkey2 ", 6, 0, -EBADMSG },
		{ "\nkey3 ", 12, 0, -EBADMSG }, { "\nkey4 ", 18, 0, -EBADMSG },
		{ "\nkey4 ", 21, 0, -EBADMSG }, /* its checksum */
		{ "\ncheck ", 3, 0, -EBADMSG }, { "\nuuid ", 2, 0, -EBADMSG },
		{ "\ncompression ", 5, '4', -EBADMSG }, /* zstd:3 -> zstd:4 */
		{ "\nnames ", 0, 'E', -EINVAL },
		{ "\nblock-size ", 0, '9', -EINVAL }, /* not a power of two */
	};
	struct keyfile k, back;
	char text[KEYFILE_TEXT_MAX], bad[KEYFILE_TEXT_MAX], err[256];

	sample(&k);
	CHECK(keyfile_encode(&k, text, sizeof(text)) > 0);
	for (size_t i = 0; i < sizeof(typos) / sizeof(typos[0]); i++) {
		char *l;
		size_t off;

		strcpy(bad, text);
		l = strstr(bad, typos[i].line);
		CHECK(l != NULL);
		if (!l)
			continue;
		off = strlen(typos[i].line) + (size_t)typos[i].at;
		l[off] = typos[i].to ? typos[i].to : l[off] == '0' ? '1' : '0';
		err[0] = '\0';
		back.key[0] = back.key[31] = 1;
		CHECK_EQ(decode(bad, &back, err), typos[i].want);
		CHECK(err[0] != '\0');
		/* A failed decode leaves no key behind. */
		CHECK(back.key[0] == 0 && back.key[31] == 0);
	}
	/* The line of a key typo is named. */
	strcpy(bad, text);
	mangle(bad, "\nkey3 ", 1, strstr(bad, "\nkey3 ")[7] == '0' ? '1' : '0');
	CHECK_EQ(decode(bad, &back, err), -EBADMSG);
	CHECK(strstr(err, "key3") != NULL);
}

static void test_malformed(void)
{
	struct keyfile k, back;
	char text[KEYFILE_TEXT_MAX], bad[2 * KEYFILE_TEXT_MAX], err[256];
	char *l;

	sample(&k);
	CHECK(keyfile_encode(&k, text, sizeof(text)) > 0);
	CHECK_EQ(decode("", &back, err), -EINVAL);
	CHECK_EQ(decode("hello world\n", &back, err), -EINVAL);
	CHECK_EQ(decode("[ragstore]\nversion = 2\n", &back, err), -EINVAL);
	/* A line missing. */
	strcpy(bad, text);
	l = strstr(bad, "\nkey2 ");
	memmove(l, strchr(l + 1, '\n'), strlen(strchr(l + 1, '\n')) + 1);
	CHECK_EQ(decode(bad, &back, err), -EINVAL);
	CHECK(strstr(err, "key2") != NULL);
	/* A line twice. */
	snprintf(bad, sizeof(bad), "%suuid %s\n", text, k.uuid);
	CHECK_EQ(decode(bad, &back, err), -EINVAL);
	/* A digit short. */
	strcpy(bad, text);
	l = strstr(bad, "\nkey1 ") + 6;
	memmove(l, l + 1, strlen(l + 1) + 1);
	CHECK_EQ(decode(bad, &back, err), -EINVAL);
	/* A NUL inside. */
	CHECK_EQ(keyfile_decode(text, strlen(text) + 1, &back, err, sizeof(err)), -EINVAL);
	/* The store without encryption has no key file. */
	strcpy(bad, text);
	l = strstr(bad, "xchacha20-poly1305");
	memcpy(l, "none              ", 18);
	CHECK_EQ(decode(bad, &back, err), -EINVAL);
}

int main(void)
{
	if (crypto_init() < 0)
		return 1;
	test_round_trip();
	test_lenient_typing();
	test_typos_caught();
	test_malformed();
	return unit_done();
}
