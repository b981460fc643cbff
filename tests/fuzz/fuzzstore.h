/* fuzzstore.h - for the targets that parse what a store keeps in files of
 * its own (directory values, long-name side files, symlink targets, xattr
 * blobs): one store on the memory backend per process, and writing a
 * backing file into it.  Included after fuzz.h by one target each. */
#ifndef RAGSTORE_FUZZSTORE_H
#define RAGSTORE_FUZZSTORE_H

#include "backend.h"
#include "store.h"

/* The process's store with encrypted (plaintext_names 0) or plaintext
 * names, made on first use; its keys are random, which is enough: every
 * sealed input is sealed again on each run. */
static inline struct store *fz_store(int plaintext_names)
{
	static struct store *s[2];
	struct store_init_opts o;
	char err[256];

	fz_init();
	if (!s[plaintext_names]) {
		memset(&o, 0, sizeof(o));
		o.cipher = CIPHER_XCHACHA;
		o.plaintext_names = plaintext_names;
		o.block_size = 4096;
		o.codec.algo = CODEC_NONE;
		FZ_ASSERT(store_open_mem(&o, &s[plaintext_names], err, sizeof(err)) == 0);
	}
	return s[plaintext_names];
}

/* Replace the backing file name (relative to dirfd) with n bytes of p. */
static inline void fz_be_write(struct store *s, int dirfd, const char *name, const void *p,
			       size_t n)
{
	int fd = backend_openat(s->be, dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				0600);

	FZ_ASSERT(fd >= 0);
	FZ_ASSERT(backend_pwrite_full(s->be, fd, p, n, 0) == 0);
	backend_close(s->be, fd);
}

#endif
