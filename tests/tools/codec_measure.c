/* codec_measure.c - ratio and speed of every codec at several block sizes on
 * a sample file; the numbers behind the defaults in docs/FORMAT.md.
 *   make tests/tools/codec_measure && tests/tools/codec_measure FILE */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "codec.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const char *const specs[] = { "lz4", "zstd:1", "zstd:3", "zlib:1", "zlib:6" };
	static const size_t sizes[] = { 16384, 65536, 262144 };
	size_t cap = 64 << 20, n;
	unsigned char *data, *out;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	f = fopen(argv[1], "rb");
	data = malloc(cap);
	out = malloc(sizes[2]);
	if (!f || !data || !out) {
		perror(argv[1]);
		return 1;
	}
	n = fread(data, 1, cap, f);
	fclose(f);
	for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
		for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
			size_t bs = sizes[b], stored = 0, blocks = n / bs;
			struct codec_spec s;
			double t0;

			codec_parse(specs[i], &s);
			t0 = now();
			for (size_t k = 0; k < blocks; k++) {
				ssize_t c = codec_compress(&s, data + k * bs, bs, out, bs);

				stored += c > 0 ? (size_t)c : bs;
			}
			printf("%-7s block %-7zu ratio %.3f  %4.0f MB/s\n", specs[i], bs,
			       blocks ? (double)stored / (double)(blocks * bs) : 0.0,
			       (double)(blocks * bs) / (now() - t0) / 1e6);
		}
	}
	free(data);
	free(out);
	return 0;
}
