/* fuzz_symlink.c - symlink targets as a backing symlink stores them
 * (pathmap_link_decode, names.h).  The input is the stored target.
 *
 * Raw: decoded in a store with encrypted names (only what the key sealed
 * may pass) and in one with plaintext names (the identity, bounded by the
 * caller's buffer).  Sealed: the input as a user's target, encoded by
 * pathmap_link_encode, must decode to itself in both kinds of store. */
#include "fuzz.h"
#include "fuzzstore.h"

#include <limits.h>

#include "names.h"
#include "pathmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in[2 * PATH_MAX], enc[PATH_MAX + NAME_LINK_ENC_CAP], out[PATH_MAX];
	size_t len = size < sizeof(in) - 1 ? size : sizeof(in) - 1;

	memcpy(in, data, len);
	in[len] = '\0';
	for (int plain = 0; plain < 2; plain++) {
		struct store *s = fz_store(plain);
		int r = pathmap_link_decode(s, in, len, out, sizeof(out));
		size_t tlen = strlen(in);

		FZ_ASSERT(r < 0 || (size_t)r < sizeof(out));
		if (plain)
			FZ_ASSERT(r == (len < sizeof(out) ? (int)len : -ERANGE));
		r = pathmap_link_encode(s, in, enc, sizeof(enc));
		if (r < 0) {
			FZ_ASSERT(r == -ENAMETOOLONG);
			continue;
		}
		FZ_ASSERT(pathmap_link_decode(s, enc, (size_t)r, out, sizeof(out)) == (int)tlen);
		FZ_ASSERT(memcmp(out, in, tlen) == 0);
	}
	return 0;
}
