/* store.h - an unlocked store: the backing directory, its descriptor, the
 * content key, and the table of open files.  Knows nothing of FUSE.  Every
 * access to the backing storage goes through the store's backend (s->be,
 * see backend.h): the real directory, or memory for tests.
 *
 * BACKING holds the descriptor (ragstore.conf) and the directory "root",
 * which mirrors the user's tree, so no user name can clash with ours. */
#ifndef RAGSTORE_STORE_H
#define RAGSTORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "descriptor.h"
#include "probe.h"

#define STORE_ROOT "root"

/* Options of `ragstore init`. */
struct store_init_opts {
	int cipher;              /* enum crypto_cipher; CIPHER_NONE = --no-encryption */
	int plaintext_names;
	uint32_t block_size;     /* 0 = default */
	struct codec_spec codec; /* algo CODEC_NONE with level 0xff = default */
	uint64_t kdf_ops;        /* 0 = default */
	uint64_t kdf_mem;        /* 0 = default */
};

/* Defaults chosen by measurement; see docs/FORMAT.md. */
#define STORE_DEFAULT_BLOCK_SIZE 65536
#define STORE_DEFAULT_ALGO CODEC_ZSTD
#define STORE_DEFAULT_LEVEL 1

struct ofile_table;
struct pathmap_cache;
struct name_keys;
struct stats;
struct inode_table;
struct inode;

struct backend;
struct policy_set;
struct policy;

struct store {
	struct backend *be;        /* all I/O of the backing store, see backend.h */
	char *backing;             /* absolute path of BACKING, owned */
	int rootfd;                /* BACKING/root, O_DIRECTORY, a descriptor of be */
	struct store_desc desc;
	struct crypto_key *key;    /* content key (blocks, headers) */
	struct ofile_table *files; /* open files, see ofile.h */
	struct name_keys *names;   /* locked memory; NULL: plaintext names */
	struct pathmap_cache *dirivs; /* directory values, see pathmap.h */
	struct stats *stats;       /* counters and totals, see stats.h */
	struct inode_table *inodes; /* objects the kernel knows, see inode.h */
	int v1_files;              /* create format v1 files (tests of the v1
				      path only); 0: v2, see fh2.h */
	struct pool *pool;         /* data-path workers (pool.h); NULL: none */
	struct reaper *reaper;     /* closes unlinked files (reaper.h); NULL on
				      a network backing: unlink closes inline */
	struct bcache *bcache;     /* plaintext blocks (bcache.h); NULL: none */
	struct packer *packer;     /* packs small files (packer.h); NULL: off */
	/* Set by the layer above (src/fs): in's attributes changed behind
	 * the kernel's back (a file packed: st_blocks).  NULL: nobody to
	 * tell.  Called without store locks that a request could wait on. */
	void (*attr_changed)(struct store *s, struct inode *in);
	struct store_desc upgrade; /* desc at DESC_VERSION with its MAC, for
				      store_upgrade (desc.version older) */
	struct policy_set *policies; /* storage policies (policy.h), owned;
				      the built-in set until store_set_policies */
	int shared;                /* -o shared: other daemons may mount the
				      store at once (shared.h, docs/SHARED.md);
				      set at open, never changed */
	int shlockfd;              /* shared mode: BACKING/ragstore.lock, for
				      the name locks of shared.h; -1 if none */
	struct probe probe;        /* what the backing filesystem supports,
				      found at open (probe.h, fallback.h) */
};

/* The cache behind pathmap.c (created and freed with the store). */
struct pathmap_cache *pathmap_cache_new(void);
void pathmap_cache_free(struct pathmap_cache *c);

/* Domain errors of store_needs_passphrase, store_open and
 * store_change_passphrase, besides plain -errno.  They lie below -4095, the
 * lowest value the kernel uses for -errno, so that none aliases an errno
 * value: a descriptor that cannot be read for lack of permission stays
 * -EACCES and is not taken for a wrong passphrase.  strerror() does not know
 * them; the message is always in err.  Callers translate them once (main.c
 * into exit codes). */
#define STORE_EWRONGPASS (-4097) /* passphrase does not unwrap the key */
#define STORE_ENOTSTORE (-4098)  /* no descriptor: not a backing dir */
#define STORE_EDAMAGED (-4099)   /* descriptor malformed or altered */
#define STORE_EWRONGKEY (-4100)  /* a master key that is not the store's */

/* Replace the block cache by one of bytes (0: none), before the store
 * serves anything.  Returns 0 or -ENOMEM. */
int store_set_cache(struct store *s, size_t bytes);

/* Govern the store by ps (from policy_set_load), which the store takes
 * over: the keys it leaves unset are resolved against the store's
 * compression and block size.  Before the store serves anything. */
void store_set_policies(struct store *s, struct policy_set *ps);

/* The policy of the file at path in the mount ("/a/b"); never NULL. */
const struct policy *store_policy(const struct store *s, const char *path);

/* Find out what the backing filesystem supports (probe.h) into s->probe,
 * which the store's fallbacks follow (fallback.h, docs/BACKING.md).  A
 * mount and fsck --repair call it before changing anything; until then (and
 * when probing fails: a warning is logged) every feature is assumed, so a
 * store_open alone writes nothing.  Returns 0 or -errno. */
int store_probe(struct store *s);

/* Raise the descriptor of a store opened at an older version to
 * DESC_VERSION (once; rewrites ragstore.conf), before the first file that
 * an older release could not read is created.  Returns 0 or -errno. */
int store_upgrade(struct store *s);

struct keyfile;

/* Create a new store in backing (created if absent; must be empty).  pass
 * is ignored for CIPHER_NONE.  With kf non-NULL and a cipher, *kf receives
 * the new master key and the settings (keyfile.h) for the one printout; kf
 * is the caller's locked memory to wipe.  Returns 0 or -errno with a
 * message in err. */
int store_create(const char *backing, const struct store_init_opts *o,
		 const char *pass, size_t passlen, struct keyfile *kf, char *err,
		 size_t errlen);

/* 1 if the store at backing needs a passphrase, 0 if not, -errno (with err)
 * if it is not a readable store. */
int store_needs_passphrase(const char *backing, char *err, size_t errlen);

/* store_open and store_open_key flags.  STORE_OPEN_SHARED: shared mode
 * (docs/SHARED.md): the store lock is taken shared instead of exclusive,
 * so that other shared daemons may mount the store too while an ordinary
 * mount is refused (-EBUSY), and files are locked per operation. */
#define STORE_OPEN_SHARED 1u

/* Unlock and open a store.  Returns 0 and *out, or STORE_EWRONGPASS,
 * STORE_ENOTSTORE, STORE_EDAMAGED, -errno, always with a message in err. */
int store_open(const char *backing, const char *pass, size_t passlen, unsigned flags,
	       struct store **out, char *err, size_t errlen);

/* A store on a fresh memory backend (backend_mem_new), for tests that run
 * without FUSE and without a disk: made and opened at once, laid out as
 * store_create lays out BACKING (the root of the memory filesystem), with a
 * random master key and no descriptor file, so no passphrase and no key
 * derivation (o's kdf fields are ignored).  The store owns its backend
 * (s->be), which store_close frees.  Returns 0 and *out, or -errno with a
 * message in err. */
int store_open_mem(const struct store_init_opts *o, struct store **out, char *err,
		   size_t errlen);

/* Re-wrap the master key under a new passphrase (new salt); nothing else
 * changes.  Returns 0 or the errors of store_open, with a message in err. */
int store_change_passphrase(const char *backing, const char *oldp, size_t oldlen,
			    const char *newp, size_t newlen, char *err, size_t errlen);

/* Unlock and open a store with the master key of a key file instead of a
 * passphrase (docs/RECOVERY.md).  When BACKING/ragstore.conf verifies under
 * the key, it serves as with store_open (*recovered = 0).  When it is
 * missing or damaged (malformed, or its MAC does not verify), the store is
 * opened with kf's settings at the current format version, once what the
 * key should authenticate in BACKING does (keycheck.h), and *recovered is
 * 1; nothing is written (an upgrade is never needed).  Returns 0 and *out,
 * or STORE_EWRONGKEY (the descriptor names another store, or the key fails
 * to authenticate the tree), -EINVAL (an unencrypted store: no key),
 * -EBUSY (mounted), -errno, always with a message in err. */
int store_open_key(const char *backing, const struct keyfile *kf, unsigned flags,
		   struct store **out, int *recovered, char *err, size_t errlen);

/* Wrap the master key of kf under a new passphrase, with a new salt, and
 * write the descriptor: the one on disk when it verifies under the key
 * (nothing else changes); else (*recovered = 1) a new one made as
 * store_open_key makes it, with the default KDF cost, after the same check
 * of the key against BACKING (which needs the store unmounted).  Returns 0
 * or the errors of store_open_key, with a message in err. */
int store_set_passphrase(const char *backing, const struct keyfile *kf, const char *newp,
			 size_t newlen, int *recovered, char *err, size_t errlen);

/* Close every remaining open file, wipe keys, free (the backend too, when
 * the store owns it).  NULL is a no-op. */
void store_close(struct store *s);

#endif
