/* fuzz_codec.c - the decompressors behind every block record (codec.h),
 * the bytes a record holds once its MAC has verified.  Input: algorithm
 * byte, claimed plain length (u32), the stream.
 *
 * codec_decompress must give exactly the claimed length or fail, never
 * write past it, however far the stream would expand (a bomb).  Then the
 * stream as plain data: compressed and decompressed again it must come
 * back, and with one byte of the compressed form flipped it must either
 * fail or come back at the right length. */
#include "fuzz.h"

#include "codec.h"

#define MAX_PLAIN (1024 * 1024)

static uint8_t out[MAX_PLAIN], packed[MAX_PLAIN + 1024];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t algo = fz_u8(&f), level = fz_u8(&f);
	uint32_t claim = fz_u32(&f) % (MAX_PLAIN + 1);
	uint8_t *exact;
	struct codec_spec spec;
	ssize_t n;

	fz_init();
	/* An exact-size heap buffer, so ASan sees one byte too many. */
	exact = malloc(claim ? claim : 1);
	FZ_ASSERT(exact);
	(void)codec_decompress(algo, f.p, f.n, exact, claim);
	free(exact);

	if (f.n == 0 || f.n > MAX_PLAIN)
		return 0;
	spec.algo = algo % 4;
	spec.level = fz_level(spec.algo, level);
	n = codec_compress(&spec, f.p, f.n, packed, f.n);
	FZ_ASSERT(n >= 0 && (size_t)n <= f.n);
	if (n == 0)
		return 0;
	FZ_ASSERT(codec_decompress(spec.algo, packed, (size_t)n, out, f.n) == 0);
	FZ_ASSERT(memcmp(out, f.p, f.n) == 0);
	packed[claim % (size_t)n] ^= (uint8_t)(1u << (level % 8));
	(void)codec_decompress(spec.algo, packed, (size_t)n, out, f.n);
	return 0;
}
