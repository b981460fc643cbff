/* fuzz_xattrs.c - the sealed blob that holds an object's extended
 * attributes (BACKING/xattrs/<id>, xattrs.h).  The input is the blob.
 *
 * A directory of a store on the memory backend (plaintext names, so its id
 * is the random one in its "user.ragstore.id" attribute; a directory's blob
 * is bound to nothing else) gets the input as its blob, raw (it must not
 * authenticate) and then sealed with the store's key under the object's id
 * with the blob magic in front, so that the walks over the entries see the
 * fuzzer's bytes: list, get of every listed name, set and remove must each
 * succeed or fail with an errno, and what list shows, get must find. */
#include "fuzz.h"
#include "fuzzstore.h"

#include <sys/xattr.h>

#include "xattrs.h"

#define DIR "x"
#define LIST_CAP 65536

static char blob_path[128];
static uint8_t ad[15 + XATTRS_ID_LEN];

/* The blob's name and associated data (docs/XATTRS.md): "../xattrs/" +
 * hex of 'd' || id, and "ragstore xattrs" || 'd' || id. */
static void setup(struct store *s)
{
	uint8_t id[XATTRS_ID_LEN];

	FZ_ASSERT(backend_mkdirat(s->be, s->rootfd, DIR, 0700) == 0);
	FZ_ASSERT(xattrs_set(s, s->rootfd, DIR, "user.seed", "1", 1, 0) == 0);
	id[0] = 'd';
	FZ_ASSERT(backend_getxattrat(s->be, s->rootfd, DIR, "user.ragstore.id", id + 1,
				     XATTRS_ID_LEN - 1) == XATTRS_ID_LEN - 1);
	memcpy(blob_path, "../" XATTRS_DIR "/", 10);
	util_hex_encode(id, XATTRS_ID_LEN, blob_path + 10);
	memcpy(ad, "ragstore xattrs", 15);
	memcpy(ad + 15, id, XATTRS_ID_LEN);
}

static void walk(struct store *s, int sealed)
{
	static char list[LIST_CAP], value[65536];
	ssize_t n = xattrs_list(s, s->rootfd, DIR, list, sizeof(list)), v;

	if (!sealed)
		FZ_ASSERT(n == -EIO);
	if (n < 0) {
		FZ_ASSERT(n == -EIO || n == -ERANGE || n == -E2BIG);
		return;
	}
	for (ssize_t p = 0; p < n; p += (ssize_t)strlen(list + p) + 1) {
		v = xattrs_get(s, s->rootfd, DIR, list + p, value, sizeof(value));
		/* A name with a NUL inside lists as its first part. */
		FZ_ASSERT(v >= 0 || v == -ENODATA || v == -ERANGE);
	}
	(void)xattrs_set(s, s->rootfd, DIR, "user.new", "v", 1, 0);
	(void)xattrs_remove(s, s->rootfd, DIR, n > 0 ? list : "user.none");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t raw[CRYPTO_NONCE_LEN + 4 + 65536 * 4 + CRYPTO_TAG_LEN];
	struct store *s = fz_store(1);
	size_t len = size < sizeof(raw) - CRYPTO_NONCE_LEN - 4 - CRYPTO_TAG_LEN
			     ? size
			     : sizeof(raw) - CRYPTO_NONCE_LEN - 4 - CRYPTO_TAG_LEN;

	if (!blob_path[0])
		setup(s);
	fz_be_write(s, s->rootfd, blob_path, data, size);
	walk(s, 0);

	memcpy(raw + CRYPTO_NONCE_LEN, "RSX1", 4);
	memcpy(raw + CRYPTO_NONCE_LEN + 4, data, len);
	FZ_ASSERT(crypto_seal(s->key, raw + CRYPTO_NONCE_LEN, raw + CRYPTO_NONCE_LEN, 4 + len, ad,
			      sizeof(ad), raw) == 0);
	fz_be_write(s, s->rootfd, blob_path, raw, CRYPTO_NONCE_LEN + 4 + len + CRYPTO_TAG_LEN);
	walk(s, 1);
	return 0;
}
