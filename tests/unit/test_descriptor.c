/* test_descriptor.c - BACKING/ragstore.conf: round trip, exclusive create,
 * mode, strict parsing with FILE:LINE errors, and the canonical text. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "descriptor.h"
#include "unit.h"

static char dir[] = "/tmp/ragstore-desc-XXXXXX";
static char path[sizeof(dir) + sizeof(DESC_FILE) + 1];

static void sample(struct store_desc *d, int cipher)
{
	memset(d, 0, sizeof(*d));
	d->version = DESC_VERSION;
	strcpy(d->uuid, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");
	d->cipher = cipher;
	d->plaintext_names = 0;
	d->block_size = 65536;
	d->codec = (struct codec_spec){ CODEC_ZSTD, 3 };
	if (cipher != CIPHER_NONE) {
		d->kdf_ops = 3;
		d->kdf_mem = 64u << 20;
		crypto_random(d->salt, sizeof(d->salt));
		crypto_random(d->wrapped, sizeof(d->wrapped));
	}
	crypto_random(d->mac, sizeof(d->mac));
}

static int same(const struct store_desc *a, const struct store_desc *b)
{
	return a->version == b->version && !strcmp(a->uuid, b->uuid) &&
	       a->cipher == b->cipher && a->plaintext_names == b->plaintext_names &&
	       a->block_size == b->block_size && a->codec.algo == b->codec.algo &&
	       a->codec.level == b->codec.level && a->kdf_ops == b->kdf_ops &&
	       a->kdf_mem == b->kdf_mem &&
	       !memcmp(a->salt, b->salt, sizeof(a->salt)) &&
	       !memcmp(a->wrapped, b->wrapped, sizeof(a->wrapped)) &&
	       !memcmp(a->mac, b->mac, sizeof(a->mac));
}

static void put_file(const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void test_round_trip(void)
{
	struct store_desc d, r;
	char err[512];
	struct stat st;

	for (int c = CIPHER_NONE; c <= CIPHER_XCHACHA; c++) {
		unlink(path);
		sample(&d, c);
		d.plaintext_names = c;
		CHECK_EQ(desc_write(dir, &d, 1), 0);
		memset(&r, 0x55, sizeof(r));
		CHECK_EQ(desc_read(dir, &r, err, sizeof(err)), 0);
		if (*err)
			fprintf(stderr, "%s\n", err);
		CHECK(same(&d, &r));
		CHECK_EQ(stat(path, &st), 0);
		CHECK_EQ(st.st_mode & 07777, 0600);
		CHECK(S_ISREG(st.st_mode));
	}
	/* Exclusive over an existing descriptor: refused, file untouched. */
	sample(&d, CIPHER_XCHACHA);
	CHECK_EQ(desc_write(dir, &d, 1), -EEXIST);
	CHECK_EQ(desc_read(dir, &r, err, sizeof(err)), 0);
	CHECK(!same(&d, &r));
	/* Not exclusive: replaced atomically. */
	CHECK_EQ(desc_write(dir, &d, 0), 0);
	CHECK_EQ(desc_read(dir, &r, err, sizeof(err)), 0);
	CHECK(same(&d, &r));
	/* Default levels are written out explicitly. */
	d.codec = (struct codec_spec){ CODEC_ZLIB, 0 };
	CHECK_EQ(desc_write(dir, &d, 0), 0);
	CHECK_EQ(desc_read(dir, &r, err, sizeof(err)), 0);
	CHECK(r.codec.algo == CODEC_ZLIB && r.codec.level == 6);
	/* No temporary files are left behind. */
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", dir);
		CHECK_EQ(system(cmd), 0);
	}
	/* Invalid settings are not written. */
	d.block_size = 1000;
	CHECK_EQ(desc_write(dir, &d, 0), -EINVAL);
	sample(&d, CIPHER_XCHACHA);
	d.uuid[3] = 'G';
	CHECK_EQ(desc_write(dir, &d, 0), -EINVAL);
	CHECK_EQ(desc_write("/nonexistent/dir", &d, 0), -EINVAL);
	sample(&d, CIPHER_XCHACHA);
	CHECK_EQ(desc_write("/nonexistent/dir", &d, 0), -ENOENT);
}

static void test_missing(void)
{
	struct store_desc d;
	char err[512];

	unlink(path);
	CHECK_EQ(desc_read(dir, &d, err, sizeof(err)), -ENOENT);
	CHECK_EQ(desc_read("/nonexistent/dir", &d, err, sizeof(err)), -ENOENT);
}

#define GOOD_HEAD                                             \
	"# comment\n"                                         \
	"[ragstore]\n"                                        \
	"version = 1\n"                                       \
	"uuid = 0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\n"       \
	"cipher = xchacha20-poly1305\n"                       \
	"plaintext_names = no\n"                              \
	"block_size = 65536\n"                                \
	"compression = zstd:3\n"
#define GOOD_KDF                                              \
	"[kdf]\n"                                             \
	"algorithm = argon2id\n"                              \
	"opslimit = 3\n"                                      \
	"memlimit = 67108864\n"                               \
	"salt = 000102030405060708090a0b0c0d0e0f\n"
#define WRAPPED                                               \
	"wrapped = 000102030405060708090a0b0c0d0e0f"          \
	"000102030405060708090a0b0c0d0e0f"                    \
	"000102030405060708090a0b0c0d0e0f"                    \
	"000102030405060708090a0b0c0d0e0f"                    \
	"0001020304050607\n"
#define MAC                                                   \
	"mac = 000102030405060708090a0b0c0d0e0f"              \
	"000102030405060708090a0b0c0d0e0f\n"
#define GOOD_KEY "[key]\n" WRAPPED MAC

/* Expect -EINVAL and "PATH:LINE: ...needle..." (the line checked when > 0). */
static void expect_bad(const char *text, int line, const char *needle)
{
	struct store_desc d;
	char err[512], want[64];
	int r;

	put_file(text);
	memset(err, 0, sizeof(err));
	r = desc_read(dir, &d, err, sizeof(err));
	CHECK_EQ(r, -EINVAL);
	if (line > 0)
		snprintf(want, sizeof(want), DESC_FILE ":%d: ", line);
	else
		snprintf(want, sizeof(want), DESC_FILE ":");
	if (!strstr(err, want) || (needle && !strstr(err, needle)))
		fprintf(stderr, "want '%s'%s%s, got: %s\n", want,
			needle ? " and " : "", needle ? needle : "", err);
	CHECK(strstr(err, want) != NULL);
	CHECK(strncmp(err, path, strlen(path)) == 0);
	if (needle)
		CHECK(strstr(err, needle) != NULL);
}

static void test_malformed(void)
{
	struct store_desc d;
	char err[512];

	/* The base text itself is good. */
	put_file(GOOD_HEAD GOOD_KDF GOOD_KEY);
	CHECK_EQ(desc_read(dir, &d, err, sizeof(err)), 0);
	if (*err)
		fprintf(stderr, "%s\n", err);
	put_file("[ragstore]\nversion=1\nuuid=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\n"
		 "cipher=none\nplaintext_names=yes\nblock_size=4096\n"
		 "compression=gzip:5\n[key]\n" MAC);
	CHECK_EQ(desc_read(dir, &d, err, sizeof(err)), 0);
	CHECK(d.cipher == CIPHER_NONE && d.plaintext_names == 1 &&
	      d.block_size == 4096 && d.codec.algo == CODEC_ZLIB && d.codec.level == 5);

	expect_bad(GOOD_HEAD "colour = blue\n" GOOD_KDF GOOD_KEY, 9, "unknown key 'colour'");
	expect_bad(GOOD_HEAD GOOD_KDF GOOD_KEY "[extra]\n", 17, "unknown section");
	expect_bad(GOOD_HEAD "[extra]\nx = 1\n" GOOD_KDF GOOD_KEY, 9, "unknown section");
	expect_bad("x = 1\n" GOOD_HEAD GOOD_KDF GOOD_KEY, 1, "outside any section");
	expect_bad(GOOD_HEAD GOOD_KDF
		   "salt = 0001020304050607\n" GOOD_KEY, 14, NULL); /* repeated */
	expect_bad(GOOD_HEAD GOOD_KDF "[key]\n" WRAPPED
		   "mac = 00zz0102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e\n",
		   16, "mac");
	expect_bad(GOOD_HEAD GOOD_KDF "[key]\n" WRAPPED "mac = 0001\n", 16, "mac");
	expect_bad("[ragstore]\nversion = 4\n", 2, "unsupported format version 4");
	expect_bad("[ragstore]\nversion = 0\n", 2, "unsupported format version 0");
	expect_bad("[ragstore]\nversion = 1x\n", 2, "version");
	expect_bad("[ragstore]\nversion = 1\nblock_size = 1000\n", 3, "block_size");
	expect_bad("[ragstore]\nblock_size = 3000000\n", 2, "block_size");
	expect_bad("[ragstore]\nblock_size = 65537\n", 2, "block_size");
	expect_bad("[ragstore]\nblock_size = 2048\n", 2, "block_size");
	expect_bad("[ragstore]\nblock_size = -65536\n", 2, "block_size");
	expect_bad("[ragstore]\ncipher = rot13\n", 2, "cipher");
	expect_bad("[ragstore]\ncipher = xchacha\n", 2, "cipher"); /* alias */
	expect_bad("[ragstore]\ncompression = zstd:20\n", 2, "compression");
	expect_bad("[ragstore]\nplaintext_names = maybe\n", 2, "plaintext_names");
	expect_bad("[ragstore]\nuuid = 0F1E2D3C-4b5a-4978-8695-a4b3c2d1e0f9\n", 2, "uuid");
	expect_bad("[ragstore]\nuuid = 0f1e2d3c4b5a-4978-8695-a4b3c2d1e0f9-\n", 2, "uuid");
	expect_bad("[kdf]\nalgorithm = scrypt\n", 2, "algorithm");
	expect_bad("[kdf]\nopslimit = 0\n", 2, "opslimit");
	expect_bad("[kdf]\nmemlimit = 99999999999999999999999\n", 2, "memlimit");
	/* Missing keys point at their section. */
	expect_bad("[ragstore]\nversion = 1\n"
		   "cipher = xchacha20-poly1305\nplaintext_names = no\n"
		   "block_size = 65536\ncompression = zstd:3\n" GOOD_KDF GOOD_KEY,
		   1, "missing key 'uuid'");
	expect_bad(GOOD_HEAD GOOD_KDF "[key]\n" MAC, 14, "missing key 'wrapped'");
	expect_bad(GOOD_HEAD GOOD_KDF, 0, "missing key 'wrapped'");
	expect_bad("", 0, "missing key 'version'");
	/* Key material in a store without encryption. */
	expect_bad("[ragstore]\nversion=1\nuuid=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\n"
		   "cipher=none\nplaintext_names=yes\nblock_size=4096\n"
		   "compression=lz4\n" GOOD_KDF "[key]\n" MAC, 9, "not allowed");
	/* Syntax errors. */
	expect_bad(GOOD_HEAD "this line has no equals sign\n" GOOD_KDF GOOD_KEY, 9,
		   "syntax error");
	expect_bad(GOOD_HEAD "[kdf\n", 9, "syntax error");
	expect_bad(GOOD_HEAD "[kdf] junk\n", 9, "junk");
	expect_bad(GOOD_HEAD GOOD_KDF "[kdf]\n" GOOD_KEY, 14, "repeated");
	/* A continuation line is a second value for the same key. */
	expect_bad(GOOD_HEAD "  more\n" GOOD_KDF GOOD_KEY, 9, "repeated");
	/* An over-long line is refused, not split in two. */
	{
		char text[1024];

		snprintf(text, sizeof(text), "%s%s%s[key]\n%s%s%0400d\n",
			 GOOD_HEAD, GOOD_KDF, "", WRAPPED, "mac = ", 0);
		expect_bad(text, 16, "too long");
	}
	/* A NUL byte hidden in a line. */
	{
		FILE *f = fopen(path, "w");

		fputs("[ragstore]\nversion = 1", f);
		fputc(0, f);
		fputs("2\n", f);
		fclose(f);
		CHECK_EQ(desc_read(dir, &d, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, DESC_FILE ":2: ") != NULL);
	}
	/* A tiny err buffer is truncated safely; NULL err is allowed. */
	put_file("[ragstore]\nversion = 2\n");
	memset(err, 'x', sizeof(err));
	CHECK_EQ(desc_read(dir, &d, err, 8), -EINVAL);
	CHECK(strlen(err) == 7 && err[8] == 'x');
	CHECK_EQ(desc_read(dir, &d, NULL, 0), -EINVAL);
	/* A directory where the file should be. */
	unlink(path);
	CHECK_EQ(mkdir(path, 0700), 0);
	CHECK_EQ(desc_read(dir, &d, err, sizeof(err)), -EINVAL);
	rmdir(path);
}

static void test_canonical(void)
{
	struct store_desc d, e;
	char a[512], b[512];
	int la, lb;

	sample(&d, CIPHER_XCHACHA);
	la = desc_canonical(&d, a, sizeof(a));
	CHECK(la > 0 && (size_t)la == strlen(a));
	CHECK(strncmp(a, "ragstore-descriptor-v1\n", 23) == 0);
	CHECK(strstr(a, "uuid=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\n") != NULL);
	/* Deterministic; mac not included. */
	e = d;
	crypto_random(e.mac, sizeof(e.mac));
	lb = desc_canonical(&e, b, sizeof(b));
	CHECK(la == lb && !strcmp(a, b));

	/* Every other field changes it. */
#define CHANGES(stmt)                                          \
	do {                                                   \
		e = d;                                         \
		stmt;                                          \
		desc_canonical(&e, b, sizeof(b));              \
		CHECK(strcmp(a, b) != 0);                      \
	} while (0)
	CHANGES(e.version = d.version == 1 ? 2 : 1);
	CHANGES(e.uuid[35] = 'a');
	CHANGES(e.cipher = CIPHER_AESGCM);
	CHANGES(e.cipher = CIPHER_NONE);
	CHANGES(e.plaintext_names = 1);
	CHANGES(e.block_size = 4096);
	CHANGES(e.codec.algo = CODEC_LZ4);
	CHANGES(e.codec.level = 4);
	CHANGES(e.kdf_ops++);
	CHANGES(e.kdf_mem++);
	CHANGES(e.salt[15] ^= 1);
	CHANGES(e.wrapped[0] ^= 1);
	CHANGES(e.wrapped[CRYPTO_WRAPPED_LEN - 1] ^= 1);

	/* Without encryption, leftover key fields do not matter. */
	sample(&d, CIPHER_NONE);
	la = desc_canonical(&d, a, sizeof(a));
	e = d;
	e.salt[0] ^= 1;
	e.kdf_ops = 99;
	lb = desc_canonical(&e, b, sizeof(b));
	CHECK(la > 0 && la == lb && !strcmp(a, b));

	/* Too small a buffer. */
	sample(&d, CIPHER_XCHACHA);
	CHECK_EQ(desc_canonical(&d, a, 100), -ENOSPC);
	CHECK_EQ(desc_canonical(&d, a, 0), -ENOSPC);
	la = desc_canonical(&d, a, sizeof(a));
	CHECK_EQ(desc_canonical(&d, b, (size_t)la), -ENOSPC);
	CHECK_EQ(desc_canonical(&d, b, (size_t)la + 1), la);
}

int main(void)
{
	char cmd[128];

	CHECK_EQ(crypto_init(), 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, DESC_FILE);
	test_missing();
	test_round_trip();
	test_malformed();
	test_canonical();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done();
}
