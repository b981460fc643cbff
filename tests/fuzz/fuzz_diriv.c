/* fuzz_diriv.c - the directory value file (.diriv) of a store with
 * encrypted names (names.h, pathmap.h).  The input is the file.
 *
 * Raw: name_diriv_open, and pathmap_dir_iv on a backing directory whose
 * .diriv holds the input (only the value file the key made may pass).
 * Sealed: the first 16 bytes as a value, sealed with the store's key, must
 * read back as that value, and a name encrypted under it must decrypt. */
#include "fuzz.h"
#include "fuzzstore.h"

#include <sys/stat.h>

#include "names.h"
#include "pathmap.h"

#define DIR "d"

static int dir_iv(struct store *s, uint8_t *iv)
{
	struct stat st;
	int r = pathmap_dir_iv(s, s->rootfd, DIR, iv);

	/* Each run reads the file again, not the cached value. */
	FZ_ASSERT(backend_fstatat(s->be, s->rootfd, DIR, &st, AT_SYMLINK_NOFOLLOW) == 0);
	pathmap_forget(s, st.st_dev, st.st_ino);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int made;
	struct store *s = fz_store(0);
	uint8_t file[NAME_DIRIV_SIZE], iv[NAME_IV_LEN], back[NAME_IV_LEN];
	char enc[NAME_ENC_CAP], out[NAME_PLAIN_MAX + 1];
	struct fz f = { data, size };
	int r, n;

	if (!made) {
		FZ_ASSERT(backend_mkdirat(s->be, s->rootfd, DIR, 0700) == 0);
		made = 1;
	}
	r = name_diriv_open(s->names, data, size, back);
	FZ_ASSERT(r == 0 || r == -EBADMSG);
	fz_be_write(s, s->rootfd, DIR "/" NAME_DIRIV_FILE, data, size);
	r = dir_iv(s, back);
	FZ_ASSERT(r == 0 || r == -EIO);

	fz_take(&f, iv, sizeof(iv));
	name_diriv_seal(s->names, iv, file);
	fz_be_write(s, s->rootfd, DIR "/" NAME_DIRIV_FILE, file, sizeof(file));
	FZ_ASSERT(dir_iv(s, back) == 0 && memcmp(back, iv, sizeof(iv)) == 0);
	n = name_encrypt(s->names, back, "a name", 6, enc);
	FZ_ASSERT(n > 0 && name_decrypt(s->names, iv, enc, (size_t)n, out) == 6);
	return 0;
}
