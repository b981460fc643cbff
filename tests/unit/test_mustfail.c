/* test_mustfail.c - the golden "must fail" inputs of the descriptor,
 * header and record decoders (tests/golden/mustfail/, made by its make.py):
 * every line of its expect file names an input and what its decoder must
 * return, OK for the controls.  Headers and records are those of a store
 * without encryption, so each input fails for the damage its name gives,
 * not for a checksum.  Run from the repository root (make unit). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockfmt.h"
#include "descriptor.h"
#include "fh2.h"
#include "fh2ent.h"
#include "fh2rec.h"
#include "fileheader.h"
#include "log.h"
#include "testkeys.h"
#include "unit.h"

#define DIR "tests/golden/mustfail"
#define MAX_IN (128 * 1024)

static const uint8_t file_id[FH_ID_LEN] = "mustfail file id";
static struct crypto_key *key;
static uint8_t in[MAX_IN], out[BLK_MAX_SIZE], scratch[2 * BLK_MAX_SIZE];

/* The file, zero padded to at least pad bytes; its length, or -1. */
static long load(const char *decoder, const char *name, size_t pad)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), DIR "/%s/%s", decoder, name);
	f = fopen(path, "rb");
	if (!f)
		return -1;
	memset(in, 0, sizeof(in));
	n = fread(in, 1, sizeof(in), f);
	fclose(f);
	return (long)(n > pad ? n : pad);
}

static int run_descriptor(const char *name)
{
	char dir[] = "/tmp/ragstore-mustfail-XXXXXX", path[600], err[1024];
	struct store_desc d;
	char src[512], *buf;
	FILE *f;
	long n;
	int r;

	snprintf(src, sizeof(src), DIR "/descriptor/%s", name);
	if (!mkdtemp(dir))
		return -errno;
	snprintf(path, sizeof(path), "%s/" DESC_FILE, dir);
	/* The oversized case is larger than in[]: copy it whole. */
	f = fopen(src, "rb");
	buf = malloc(1 << 20);
	n = f && buf ? (long)fread(buf, 1, 1 << 20, f) : -1;
	if (f)
		fclose(f);
	f = fopen(path, "wb");
	if (n < 0 || !f || fwrite(buf, 1, (size_t)n, f) != (size_t)n)
		r = -EIO;
	else
		r = 0;
	if (f)
		fclose(f);
	free(buf);
	if (r == 0)
		r = desc_read(dir, &d, err, sizeof(err));
	unlink(path);
	rmdir(dir);
	return r;
}

static int run_header_v1(const char *name)
{
	struct file_header h;

	return load("header_v1", name, FH_SLOT_SIZE) < 0 ? -EIO : fh_open(key, in, &h);
}

static int run_header_v2(const char *name)
{
	static struct fh2_ent ents[1024];
	struct file_header h;
	struct fh2_extra x;
	uint32_t ninl;
	long n = load("header_v2", name, FH2_SLOT);
	int r;

	if (n < 0)
		return -EIO;
	r = fh2_open(key, in, &h, &x, ents, &ninl);
	if (r < 0 || ninl || !x.nents)
		return r;
	if (x.nents > 1024)
		return -E2BIG;
	return fh2_ix_open(key, &h, &x, in + FH2_SLOT, (size_t)n - FH2_SLOT, ents, scratch);
}

static int run_record_v1(const char *name, uint32_t bs)
{
	long n = load("record_v1", name, 0);
	ssize_t r;

	if (n < 0)
		return -EIO;
	r = blk_open(key, file_id, 0, in, (size_t)n, bs, out, scratch);
	return r < 0 ? (int)r : 0;
}

static int run_record_v2(const char *name, uint32_t bs)
{
	struct fh2_ent e;
	ssize_t r;

	if (load("record_v2", name, FH2_ENT_LEN + fh2rec_max(bs)) < 0)
		return -EIO;
	fh2ent_decode(in, &e);
	r = fh2rec_open(key, file_id, &e, in + FH2_ENT_LEN, bs, out, scratch);
	return r < 0 ? (int)r : 0;
}

static int expected(const char *s)
{
	static const struct { const char *name; int err; } names[] = {
		{ "OK", 0 }, { "ENOENT", -ENOENT }, { "EINVAL", -EINVAL },
		{ "EBADMSG", -EBADMSG }, { "EIO", -EIO },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name))
			return names[i].err;
	return 1; /* never a result: the line fails */
}

int main(void)
{
	char line[512], decoder[64], name[128], bs[32], want[32];
	FILE *f;
	int cases = 0, fails = 0;

	if (crypto_init() < 0)
		return 1;
	log_set_level(LOG_LVL_SILENT);
	key = key_for(CIPHER_NONE, 0);
	f = fopen(DIR "/expect", "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		uint32_t b;
		int r;

		if (line[0] == '#' || sscanf(line, "%63s %127s %31s %31s", decoder, name, bs,
					     want) != 4)
			continue;
		b = (uint32_t)strtoul(bs, NULL, 10);
		if (!strcmp(decoder, "descriptor"))
			r = run_descriptor(name);
		else if (!strcmp(decoder, "header_v1"))
			r = run_header_v1(name);
		else if (!strcmp(decoder, "header_v2"))
			r = run_header_v2(name);
		else if (!strcmp(decoder, "record_v1"))
			r = run_record_v1(name, b);
		else if (!strcmp(decoder, "record_v2"))
			r = run_record_v2(name, b);
		else
			r = 2;
		cases++;
		if (r != expected(want)) {
			fprintf(stderr, "%s/%s: got %d (%s), want %s\n", decoder, name, r,
				r < 0 ? strerror(-r) : "ok", want);
			fails++;
		}
		CHECK_EQ(r, expected(want));
	}
	if (f)
		fclose(f);
	/* Every decoder has its set, and the set is not empty. */
	CHECK(cases >= 100);
	printf("mustfail: %d inputs, %d not as expected\n", cases, fails);
	crypto_key_free(key);
	return unit_done();
}
