/* memstore.h - what the unit tests that run a whole store on the memory
 * backend share: opening one, and reading its statistics.  Included by one
 * test translation unit each, like unit.h. */
#ifndef RAGSTORE_MEMSTORE_H
#define RAGSTORE_MEMSTORE_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ns.h"
#include "stats.h"
#include "store.h"
#include "unit.h"

/* A store on a fresh memory backend with block_size blocks (a power of
 * two, 4 KiB..1 MiB), XChaCha20 and the given name mode and compression;
 * NULL (with a message) on failure.  Free with store_close. */
static inline struct store *memstore_open_bs(int plaintext_names, uint8_t algo,
					     uint32_t block_size)
{
	struct store_init_opts o;
	struct store *s = NULL;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.cipher = CIPHER_XCHACHA;
	o.plaintext_names = plaintext_names;
	o.block_size = block_size;
	o.codec.algo = algo;
	o.codec.level = algo == CODEC_NONE || algo == CODEC_LZ4 ? 0 : 1; /* lz4 has no levels */
	if (store_open_mem(&o, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "store_open_mem: %s\n", err);
		return NULL;
	}
	return s;
}

/* The same with 4 KiB blocks. */
static inline struct store *memstore_open(int plaintext_names, uint8_t algo)
{
	return memstore_open_bs(plaintext_names, algo, 4096);
}

/* A new regular file name in the root of s, open for reading and writing
 * (the creation is a check); NULL if it could not be made.  Release with
 * ofile_release. */
static inline struct ofile *memstore_create(struct store *s, const char *name)
{
	struct inode *in;
	struct ofile *f = NULL;
	struct stat st;

	CHECK_EQ(ns_create(s, inode_root(s), name, 0600, O_CREAT | O_EXCL | O_RDWR, 0, 0, &in, &st,
			   &f), 0);
	return f;
}

/* A snapshot of s's statistics. */
static inline struct stats_snapshot memstore_stats(struct store *s)
{
	struct stats_snapshot snap;

	stats_snapshot(s->stats, &snap);
	return snap;
}

#endif
