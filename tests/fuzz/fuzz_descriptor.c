/* fuzz_descriptor.c - the store descriptor BACKING/ragstore.conf (inih).
 * The input is the file.  A descriptor that parses must write back
 * (desc_write) and read again to the same canonical text and MAC: what the
 * reader accepts, the writer can express. */
#include "fuzz.h"

#include <limits.h>

#include "descriptor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in[PATH_MAX], out[PATH_MAX], path[PATH_MAX];
	struct store_desc d, back;
	char err[PATH_MAX + 256], c1[1024], c2[1024];
	int n1, n2;

	fz_init();
	if (!in[0]) {
		snprintf(in, sizeof(in), "%s/in", fz_tmpdir());
		snprintf(out, sizeof(out), "%s/out", fz_tmpdir());
		FZ_ASSERT(mkdir(in, 0700) == 0 && mkdir(out, 0700) == 0);
		snprintf(path, sizeof(path), "%s/" DESC_FILE, in);
	}
	fz_write_file(path, data, size);
	memset(&d, 0, sizeof(d));
	if (desc_read(in, &d, err, sizeof(err)) < 0) {
		FZ_ASSERT(err[0]); /* every refusal names its cause */
		return 0;
	}
	n1 = desc_canonical(&d, c1, sizeof(c1));
	FZ_ASSERT(n1 > 0);
	FZ_ASSERT(desc_write(out, &d, 0) == 0);
	memset(&back, 0, sizeof(back));
	FZ_ASSERT(desc_read(out, &back, err, sizeof(err)) == 0);
	n2 = desc_canonical(&back, c2, sizeof(c2));
	FZ_ASSERT(n1 == n2 && memcmp(c1, c2, (size_t)n1) == 0);
	FZ_ASSERT(memcmp(d.mac, back.mac, sizeof(d.mac)) == 0);
	return 0;
}
