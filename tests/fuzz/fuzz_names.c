/* fuzz_names.c - encrypted names as they appear in a backing directory
 * (names.h) and long-name side files (pathmap.h).  Input: a directory
 * value (16 bytes), then a name.
 *
 * Raw: the name through name_decrypt, name_is_internal, name_is_long.
 * Sealed: the name as a user's name must encrypt and decrypt to itself.
 * Side files, in a store on the memory backend: a long-name entry whose
 * side file holds the fuzzer's bytes (bound to them by its hash, so that
 * the decryption behind the binding sees them), and the long form of the
 * fuzzer's name, which must read back as the name. */
#include "fuzz.h"
#include "fuzzstore.h"

#include "names.h"
#include "pathmap.h"

static void side_file(struct store *s, const uint8_t *iv, const char *enc, size_t len,
		      const char *want)
{
	char entry[NAME_LONG_LEN + 1], side[NAME_LONG_LEN + 1], out[NAME_PLAIN_MAX + 1];
	int r;

	name_long(enc, len, entry, side);
	FZ_ASSERT(name_is_long(entry) && !name_is_internal(entry) && name_is_internal(side));
	fz_be_write(s, s->rootfd, side, enc, len);
	r = pathmap_entry_name(s, s->rootfd, iv, entry, out);
	if (want)
		FZ_ASSERT(r == 1 && strcmp(out, want) == 0);
	else
		FZ_ASSERT(r == 1 || r == -EBADMSG);
	FZ_ASSERT(backend_unlinkat(s->be, s->rootfd, side, 0) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[4 * NAME_ENC_CAP], enc[NAME_ENC_CAP], out[NAME_PLAIN_MAX + 1];
	struct store *s = fz_store(0);
	struct fz f = { data, size };
	uint8_t iv[NAME_IV_LEN];
	size_t len;
	int n;

	fz_take(&f, iv, sizeof(iv));
	len = f.n < sizeof(name) - 1 ? f.n : sizeof(name) - 1;
	memcpy(name, f.p, len);
	name[len] = '\0';

	n = name_decrypt(s->names, iv, name, len, out);
	FZ_ASSERT(n == -EBADMSG || (n > 0 && (size_t)n == strlen(out)));
	(void)name_is_internal(name);
	(void)name_is_long(name);
	if (len > 0 && len < NAME_ENC_CAP)
		side_file(s, iv, name, len, NULL);

	n = name_encrypt(s->names, iv, name, len, enc);
	if (n < 0) {
		FZ_ASSERT(n == -EINVAL || n == -ENAMETOOLONG);
		return 0;
	}
	FZ_ASSERT(n < NAME_ENC_CAP && (size_t)n == strlen(enc));
	FZ_ASSERT(name_decrypt(s->names, iv, enc, (size_t)n, out) == (int)len);
	FZ_ASSERT(memcmp(out, name, len) == 0);
	side_file(s, iv, enc, (size_t)n, name);
	return 0;
}
