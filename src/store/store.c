/* store.c - create and unlock a store: descriptor, key derivation, MAC. */
#include "store.h"

#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <sodium.h>

#include "backend.h"
#include "bcache.h"
#include "crypto.h"
#include "fallback.h"
#include "inode.h"
#include "shared.h"
#include "keycheck.h"
#include "keyfile.h"
#include "log.h"
#include "names.h"
#include "ofile.h"
#include "pathmap.h"
#include "policy.h"
#include "pool.h"
#include "packer.h"
#include "reaper.h"
#include "stats.h"
#include "util.h"

/* Argon2id cost: 64 MiB and 3 passes, about the memory gocryptfs's scrypt
 * default asks for; recorded per store, so it can change for new stores. */
#define STORE_KDF_OPS 3ULL
#define STORE_KDF_MEM (64ULL << 20)

/* Subkey ids under the 8-byte context "ragstore" (KEYFILE_SUBKEY, 5, is
 * keyfile.c's). */
#define SUBKEY_DESC_MAC 1
#define SUBKEY_CONTENT 2
#define SUBKEY_NAME_ENC 3
#define SUBKEY_NAME_MAC 4
#define SUBKEY_CTX "ragstore"

/* 1 if directory path holds nothing, 0 if it does, or -errno. */
static int dir_is_empty(struct backend *be, const char *path)
{
	struct backend_dir *d;
	struct dirent *e;
	int r = backend_opendirat(be, AT_FDCWD, path, 0, &d);

	if (r < 0)
		return r;
	r = backend_readdir_names(be, d, &e);
	backend_closedir(be, d);
	return r < 0 ? r : r == 0;
}

/* The descriptor MAC: keyed with a master-key subkey for encrypted stores;
 * for --no-encryption stores (no key exists) it is a plain checksum, which
 * detects damage but not a deliberate edit (docs/SECURITY.md). */
static int desc_compute_mac(const struct store_desc *d, const uint8_t *master,
			    uint8_t *out)
{
	char text[1024];
	uint8_t key[CRYPTO_KEY_LEN];
	int len = desc_canonical(d, text, sizeof(text));

	if (len < 0)
		return len;
	if (master)
		crypto_subkey(master, SUBKEY_DESC_MAC, SUBKEY_CTX, key);
	else
		memset(key, 0, sizeof(key));
	crypto_mac(key, (const uint8_t *)text, (size_t)len, out);
	crypto_wipe(key, sizeof(key));
	return 0;
}

static void random_uuid(char *out)
{
	uint8_t b[16];
	char hex[33];

	crypto_random(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;
	util_hex_encode(b, sizeof(b), hex);
	snprintf(out, DESC_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
		 hex + 12, hex + 16, hex + 20);
}

/* The settings of a new store's descriptor that come from o (not the key
 * material). */
static void desc_init(struct store_desc *d, const struct store_init_opts *o)
{
	d->version = DESC_VERSION;
	random_uuid(d->uuid);
	d->cipher = o->cipher;
	/* Without a key there is nothing to encrypt names with. */
	d->plaintext_names = o->plaintext_names || o->cipher == CIPHER_NONE;
	d->block_size = o->block_size ? o->block_size : STORE_DEFAULT_BLOCK_SIZE;
	d->codec = o->codec;
}

static struct name_keys *name_keys_new(const uint8_t *master)
{
	struct name_keys *k = sodium_malloc(sizeof(*k));

	if (k) {
		crypto_subkey(master, SUBKEY_NAME_ENC, SUBKEY_CTX, k->enc);
		crypto_subkey(master, SUBKEY_NAME_MAC, SUBKEY_CTX, k->mac);
	}
	return k;
}

/* The value file of the root directory of a new store. */
static int root_diriv(struct backend *be, const char *root, const uint8_t *master)
{
	struct name_keys *k = name_keys_new(master);
	uint8_t file[NAME_DIRIV_SIZE];
	char p[PATH_MAX];
	int fd, r;

	if (!k)
		return -ENOMEM;
	name_diriv_new(k, file);
	sodium_free(k);
	if (snprintf(p, sizeof(p), "%s/%s", root, NAME_DIRIV_FILE) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	fd = backend_openat(be, AT_FDCWD, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0400);
	if (fd < 0)
		return fd;
	r = backend_pwrite_full(be, fd, file, sizeof(file), 0);
	if (r == 0)
		r = backend_fsync(be, fd, 0);
	backend_close(be, fd);
	return r;
}

/* Undo layout_create (best effort: this is already a failure path). */
static void layout_remove(struct backend *be, const char *backing)
{
	char root[PATH_MAX], iv[PATH_MAX], totals[PATH_MAX];

	if (snprintf(root, sizeof(root), "%s/%s", backing, STORE_ROOT) >= (int)sizeof(root) ||
	    snprintf(iv, sizeof(iv), "%s/%s", root, NAME_DIRIV_FILE) >= (int)sizeof(iv) ||
	    snprintf(totals, sizeof(totals), "%s/ragstore.stats", backing) >= (int)sizeof(totals))
		return;
	backend_unlinkat(be, AT_FDCWD, totals, 0);
	backend_unlinkat(be, AT_FDCWD, iv, 0);
	backend_unlinkat(be, AT_FDCWD, root, AT_REMOVEDIR);
}

/* The tree of a new store in backing: the directory "root" and, with
 * encrypted names, its value file.  Returns 0, or -errno with a message in
 * err; on failure nothing is left behind. */
static int layout_create(struct backend *be, const char *backing, const struct store_desc *d,
			 const uint8_t *master, char *err, size_t errlen)
{
	char root[PATH_MAX], iv[PATH_MAX];
	int r;

	if (snprintf(root, sizeof(root), "%s/%s", backing, STORE_ROOT) >= (int)sizeof(root) ||
	    snprintf(iv, sizeof(iv), "%s/%s", root, NAME_DIRIV_FILE) >= (int)sizeof(iv)) {
		snprintf(err, errlen, "%s: path too long", backing);
		return -ENAMETOOLONG;
	}
	r = backend_mkdirat(be, AT_FDCWD, root, 0755);
	if (r < 0) {
		snprintf(err, errlen, "cannot create %s: %s", root, strerror(-r));
		return r;
	}
	if (d->plaintext_names)
		return 0;
	r = root_diriv(be, root, master);
	if (r < 0) {
		snprintf(err, errlen, "cannot write %s: %s", iv, strerror(-r));
		layout_remove(be, backing);
	}
	return r;
}

/* The settings of d and the master key, as a key file holds them. */
static void keyfile_from_desc(struct keyfile *kf, const struct store_desc *d,
			      const uint8_t *master)
{
	memcpy(kf->key, master, CRYPTO_KEY_LEN);
	memcpy(kf->uuid, d->uuid, sizeof(kf->uuid));
	kf->cipher = d->cipher;
	kf->plaintext_names = d->plaintext_names;
	kf->block_size = d->block_size;
	kf->codec = d->codec;
}

int store_create(const char *backing, const struct store_init_opts *o,
		 const char *pass, size_t passlen, struct keyfile *kf, char *err,
		 size_t errlen)
{
	struct backend *be = backend_posix();
	struct store_desc d;
	uint8_t *master = NULL, *kek = NULL;
	int r, made_root = 0;

	memset(&d, 0, sizeof(d));
	r = backend_mkdirat(be, AT_FDCWD, backing, 0700);
	if (r < 0 && r != -EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", backing, strerror(-r));
		return r;
	}
	r = dir_is_empty(be, backing);
	if (r <= 0) {
		snprintf(err, errlen, "%s: %s", backing,
			 r == 0 ? "directory is not empty (a store needs an empty directory)"
				: strerror(-r));
		return r == 0 ? -ENOTEMPTY : r;
	}
	desc_init(&d, o);
	if (d.cipher != CIPHER_NONE) {
		master = sodium_malloc(CRYPTO_KEY_LEN);
		kek = sodium_malloc(CRYPTO_KEY_LEN);
		if (!master || !kek) {
			r = -ENOMEM;
			snprintf(err, errlen, "out of memory for key material");
			goto out_keys;
		}
		d.kdf_ops = o->kdf_ops ? o->kdf_ops : STORE_KDF_OPS;
		d.kdf_mem = o->kdf_mem ? o->kdf_mem : STORE_KDF_MEM;
		crypto_random(d.salt, sizeof(d.salt));
		r = crypto_kdf_passphrase(pass, passlen, d.salt, d.kdf_ops, d.kdf_mem, kek);
		if (r < 0) {
			snprintf(err, errlen, "key derivation failed (not enough memory?)");
			goto out_keys;
		}
		crypto_random(master, CRYPTO_KEY_LEN);
		crypto_wrap(kek, master, (const uint8_t *)d.uuid, DESC_UUID_LEN, d.wrapped);
	}
	r = desc_compute_mac(&d, master, d.mac);
	if (r < 0) {
		snprintf(err, errlen, "internal error: descriptor too long");
		goto out_keys;
	}
	r = layout_create(be, backing, &d, master, err, errlen);
	if (r < 0)
		goto out_keys;
	made_root = 1;
	/* An empty store's totals are known: written now, the first mount
	 * loads them instead of walking the tree while it is being filled. */
	{
		struct stats *st = stats_new();

		r = st ? stats_save(st, backing) : -ENOMEM;
		stats_free(st);
		if (r < 0) {
			snprintf(err, errlen, "cannot write the store totals in %s: %s", backing,
				 strerror(-r));
			goto out_keys;
		}
	}
	/* The descriptor comes last: until it exists, this is no store. */
	r = desc_write(backing, &d, 1);
	if (r < 0)
		snprintf(err, errlen, "cannot write %s/%s: %s", backing, DESC_FILE,
			 strerror(-r));
	else if (kf && master)
		keyfile_from_desc(kf, &d, master);
out_keys:
	if (r < 0 && made_root)
		layout_remove(be, backing);
	sodium_free(master);
	sodium_free(kek);
	crypto_wipe(&d, sizeof(d));
	return r;
}

static int store_read_desc(const char *backing, struct store_desc *d, char *err,
			   size_t errlen)
{
	int r = desc_read(backing, d, err, errlen);

	if (r == -ENOENT) {
		snprintf(err, errlen,
			 "%s is not a ragstore backing directory (no %s; run 'ragstore init' first)",
			 backing, DESC_FILE);
		r = STORE_ENOTSTORE;
	} else if (r == -EINVAL)
		r = STORE_EDAMAGED; /* err already says FILE:LINE: why */
	else if (r < 0)
		snprintf(err, errlen, "cannot read %s/%s: %s", backing, DESC_FILE,
			 strerror(-r));
	return r;
}

int store_needs_passphrase(const char *backing, char *err, size_t errlen)
{
	struct store_desc d;
	int r = store_read_desc(backing, &d, err, errlen);

	if (r < 0)
		return r;
	return d.cipher != CIPHER_NONE;
}

/* The content key of a store with descriptor d and master key master
 * (unused without a cipher) into *key.  Returns 0 or -ENOMEM with a
 * message in err. */
static int content_key(const struct store_desc *d, const uint8_t *master,
		       struct crypto_key **key, char *err, size_t errlen)
{
	uint8_t *sub = sodium_malloc(CRYPTO_KEY_LEN);

	if (!sub) {
		snprintf(err, errlen, "out of memory for key material");
		return -ENOMEM;
	}
	if (d->cipher != CIPHER_NONE)
		crypto_subkey(master, SUBKEY_CONTENT, SUBKEY_CTX, sub);
	*key = crypto_key_new(d->cipher, d->cipher != CIPHER_NONE ? sub : NULL);
	sodium_free(sub);
	if (!*key) {
		snprintf(err, errlen, "cannot set up cipher %s", crypto_cipher_name(d->cipher));
		return -ENOMEM;
	}
	return 0;
}

/* The name keys of s, when its names are encrypted.  Returns 0 or -ENOMEM
 * with a message in err. */
static int name_keys_setup(struct store *s, const uint8_t *master, char *err, size_t errlen)
{
	if (s->desc.plaintext_names || s->desc.cipher == CIPHER_NONE)
		return 0;
	s->names = name_keys_new(master);
	if (!s->names) {
		snprintf(err, errlen, "out of memory for key material");
		return -ENOMEM;
	}
	return 0;
}

/* Unwrap the master key and check the descriptor MAC; on success the content
 * key is in *key.  master is caller-provided locked memory. */
static int store_unlock(struct store_desc *d, const char *pass, size_t passlen,
			uint8_t *master, struct crypto_key **key, char *err,
			size_t errlen)
{
	uint8_t *kek = NULL;
	uint8_t mac[32];
	int r;

	if (d->cipher != CIPHER_NONE) {
		kek = sodium_malloc(CRYPTO_KEY_LEN);
		if (!kek) {
			snprintf(err, errlen, "out of memory for key material");
			return -ENOMEM;
		}
		r = crypto_kdf_passphrase(pass, passlen, d->salt, d->kdf_ops,
					  d->kdf_mem, kek);
		if (r == 0)
			r = crypto_unwrap(kek, d->wrapped, (const uint8_t *)d->uuid,
					  DESC_UUID_LEN, master);
		sodium_free(kek);
		if (r < 0) {
			snprintf(err, errlen, r == -ENOMEM ?
				 "key derivation failed (not enough memory)" :
				 "wrong passphrase (or the key in the descriptor was altered)");
			return r == -ENOMEM ? r : STORE_EWRONGPASS;
		}
	}
	r = desc_compute_mac(d, d->cipher != CIPHER_NONE ? master : NULL, mac);
	if (r < 0 || sodium_memcmp(mac, d->mac, sizeof(mac)) != 0) {
		snprintf(err, errlen,
			 "%s has been altered (settings do not match their MAC); refusing to mount",
			 DESC_FILE);
		return STORE_EDAMAGED;
	}
	return content_key(d, master, key, err, errlen);
}

/* How many directory descriptors the inode table may keep open: a quarter
 * of the descriptor limit (raised to its hard maximum first), leaving the
 * rest for open files and the kernel's requests. */
static unsigned dirfd_budget(void)
{
	struct rlimit rl;
	rlim_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 256;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	n = rl.rlim_cur / 4;
	return n < 64 ? 64 : n > INODE_DIRFD_MAX ? INODE_DIRFD_MAX : (unsigned)n;
}

/* The part of opening shared by every backend, once the keys are set up:
 * the root directory, the lock, and the tables.  Returns 0, or -errno with
 * a message in err. */
static int store_attach(struct store *s, const char *backing, char *err, size_t errlen)
{
	char root[PATH_MAX];
	int r;

	s->shlockfd = -1;
	if (snprintf(root, sizeof(root), "%s/%s", backing, STORE_ROOT) >= (int)sizeof(root)) {
		snprintf(err, errlen, "%s: path too long", backing);
		return -ENAMETOOLONG;
	}
	s->rootfd = backend_openat(s->be, AT_FDCWD, root, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (s->rootfd < 0) {
		r = s->rootfd == -ENOENT ? STORE_EDAMAGED : s->rootfd;
		snprintf(err, errlen, "cannot open %s: %s (damaged store?)", root,
			 strerror(-s->rootfd));
		s->rootfd = -1;
		return r;
	}
	/* One daemon per store: two would keep separate open-file tables and
	 * garbage-collect each other's records.  Shared mode (docs/SHARED.md)
	 * takes the lock shared instead, so shared daemons mount together,
	 * with per-file locks between them, while an ordinary mount and a
	 * shared one still exclude each other. */
	r = fallback_lock(s->be, s->rootfd, (s->shared ? LOCK_SH : LOCK_EX) | LOCK_NB);
	if (r == -EWOULDBLOCK) {
		if (s->shared)
			snprintf(err, errlen, "%s is mounted by a ragstore process without "
				 "-o shared", backing);
		else
			snprintf(err, errlen, "%s is already mounted by another ragstore process "
				 "(every mount of a shared store needs -o shared)", backing);
		return -EBUSY;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot lock the store: %s", backing, strerror(-r));
		return r;
	}
	probe_assume_all(&s->probe); /* until store_probe */
	/* Absolute, since the daemon changes its directory to /. */
	s->backing = backend_realpath(s->be, backing);
	s->files = ofile_table_new();
	s->dirivs = pathmap_cache_new();
	s->stats = stats_new();
	s->inodes = inode_table_new(s->be, s->rootfd, dirfd_budget());
	s->pool = pool_new(-1); /* none is fine: the caller does the work */
	if (backend_fs_local(s->be, s->rootfd))
		s->reaper = reaper_new(s->be, REAPER_MAX); /* none is fine too */
	s->bcache = bcache_new(BCACHE_DEFAULT);
	s->policies = policy_set_builtin(&s->desc.codec, s->desc.block_size);
	if (!s->backing || !s->files || !s->dirivs || !s->stats || !s->inodes || !s->bcache ||
	    !s->policies) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	stats_use_backend(s->stats, s->be);
	if (s->shared)
		shared_names_open(s, backing); /* without it, names are not locked */
	return 0;
}

/* The end of every store_open*: the master key goes, and s is handed out
 * (r == 0) or closed. */
static int store_opened(struct store *s, uint8_t *master, int r, struct store **out)
{
	sodium_free(master);
	if (r < 0) {
		store_close(s);
		return r;
	}
	*out = s;
	return 0;
}

int store_open(const char *backing, const char *pass, size_t passlen, unsigned flags,
	       struct store **out, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	uint8_t *master = sodium_malloc(CRYPTO_KEY_LEN);
	int r;

	if (!s || !master) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->be = backend_posix();
	s->rootfd = -1;
	s->shared = (flags & STORE_OPEN_SHARED) != 0;
	r = store_read_desc(backing, &s->desc, err, errlen);
	if (r < 0)
		goto fail;
	r = store_unlock(&s->desc, pass, passlen, master, &s->key, err, errlen);
	if (r == 0)
		r = name_keys_setup(s, master, err, errlen);
	if (r == 0 && s->desc.version < DESC_VERSION) {
		/* Ready for store_upgrade, which has no key any more. */
		s->upgrade = s->desc;
		s->upgrade.version = DESC_VERSION;
		r = desc_compute_mac(&s->upgrade, s->desc.cipher != CIPHER_NONE ? master : NULL,
				     s->upgrade.mac);
	}
	if (r == 0)
		r = store_attach(s, backing, err, errlen);
fail:
	return store_opened(s, master, r, out);
}

/* BACKING of a memory store: the root of its memory filesystem. */
#define MEM_BACKING "/"

int store_open_mem(const struct store_init_opts *o, struct store **out, char *err,
		   size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	uint8_t *master = sodium_malloc(CRYPTO_KEY_LEN);
	int r = -ENOMEM;

	if (s) {
		s->rootfd = -1;
		s->be = backend_mem_new();
	}
	if (!s || !s->be || !master) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	desc_init(&s->desc, o);
	/* No passphrase: the master key lives only as long as the store. */
	crypto_random(master, CRYPTO_KEY_LEN);
	r = content_key(&s->desc, master, &s->key, err, errlen);
	if (r == 0)
		r = name_keys_setup(s, master, err, errlen);
	if (r == 0)
		r = layout_create(s->be, MEM_BACKING, &s->desc, master, err, errlen);
	if (r == 0)
		r = store_attach(s, MEM_BACKING, err, errlen);
fail:
	return store_opened(s, master, r, out);
}

/* Wrap master under a new passphrase (new salt) into d, MAC d, and write it
 * to backing.  Returns 0 or -errno with a message in err. */
static int desc_rewrap(const char *backing, struct store_desc *d, const uint8_t *master,
		       const char *newp, size_t newlen, char *err, size_t errlen)
{
	uint8_t *kek = sodium_malloc(CRYPTO_KEY_LEN);
	int r = -ENOMEM;

	if (!kek) {
		snprintf(err, errlen, "out of memory for key material");
		return r;
	}
	crypto_random(d->salt, sizeof(d->salt));
	r = crypto_kdf_passphrase(newp, newlen, d->salt, d->kdf_ops, d->kdf_mem, kek);
	if (r == 0) {
		crypto_wrap(kek, master, (const uint8_t *)d->uuid, DESC_UUID_LEN, d->wrapped);
		r = desc_compute_mac(d, master, d->mac);
	}
	sodium_free(kek);
	if (r == 0)
		r = desc_write(backing, d, 0);
	if (r < 0)
		snprintf(err, errlen, "cannot write the new descriptor: %s", strerror(-r));
	return r;
}

int store_change_passphrase(const char *backing, const char *oldp, size_t oldlen,
			    const char *newp, size_t newlen, char *err, size_t errlen)
{
	struct store_desc d;
	struct crypto_key *key = NULL;
	uint8_t *master = sodium_malloc(CRYPTO_KEY_LEN);
	int r;

	if (!master) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory for key material");
		goto out;
	}
	r = store_read_desc(backing, &d, err, errlen);
	if (r == 0 && d.cipher == CIPHER_NONE) {
		r = -EINVAL;
		snprintf(err, errlen, "%s is not encrypted; it has no passphrase", backing);
	}
	if (r == 0)
		r = store_unlock(&d, oldp, oldlen, master, &key, err, errlen);
	if (r == 0)
		r = desc_rewrap(backing, &d, master, newp, newlen, err, errlen);
out:
	crypto_key_free(key);
	sodium_free(master);
	crypto_wipe(&d, sizeof(d));
	return r;
}

/* ---- with the master key instead of the passphrase --------------------- */

/* The descriptor of the store at backing as far as the key file kf can
 * vouch for it, into *d: the one on disk when its MAC verifies under kf's
 * key (*recovered = 0), else, when it is missing or damaged, one made of
 * kf's settings at the current format version, without key material
 * (*recovered = 1: the key is still to be checked against BACKING).
 * Returns 0, STORE_EWRONGKEY when the descriptor names another store, or
 * the errors of reading it other than missing or malformed. */
static int desc_for_key(const char *backing, const struct keyfile *kf, struct store_desc *d,
			int *recovered, char *err, size_t errlen)
{
	uint8_t mac[32];
	int r = desc_read(backing, d, err, errlen);

	*recovered = 0;
	if (r == 0 && d->cipher == CIPHER_NONE) {
		snprintf(err, errlen, "%s is not encrypted: it has no master key (use no "
			 "--masterkey-file)", backing);
		return -EINVAL;
	}
	if (r == 0 && strcmp(d->uuid, kf->uuid) != 0) {
		snprintf(err, errlen, "the master key file is for store %s, but %s holds store %s",
			 kf->uuid, backing, d->uuid);
		return STORE_EWRONGKEY;
	}
	if (r == 0 && desc_compute_mac(d, kf->key, mac) == 0 &&
	    sodium_memcmp(mac, d->mac, sizeof(mac)) == 0)
		return 0;
	if (r < 0 && r != -ENOENT && r != -EINVAL) {
		snprintf(err, errlen, "cannot read %s/%s: %s", backing, DESC_FILE, strerror(-r));
		return r;
	}
	memset(d, 0, sizeof(*d));
	d->version = DESC_VERSION;
	memcpy(d->uuid, kf->uuid, sizeof(d->uuid));
	d->cipher = kf->cipher;
	d->plaintext_names = kf->plaintext_names;
	d->block_size = kf->block_size;
	d->codec = kf->codec;
	*recovered = 1;
	return 0;
}

int store_open_key(const char *backing, const struct keyfile *kf, unsigned flags,
		   struct store **out, int *recovered, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	int r;

	*recovered = 0;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->be = backend_posix();
	s->rootfd = -1;
	s->shared = (flags & STORE_OPEN_SHARED) != 0;
	r = desc_for_key(backing, kf, &s->desc, recovered, err, errlen);
	if (r == 0)
		r = content_key(&s->desc, kf->key, &s->key, err, errlen);
	if (r == 0)
		r = name_keys_setup(s, kf->key, err, errlen);
	if (r == 0)
		r = store_attach(s, backing, err, errlen);
	if (r == 0 && *recovered) {
		r = keycheck_run(s);
		if (r == -EKEYREJECTED) {
			snprintf(err, errlen, "%s/%s is missing or damaged, and the master key file "
				 "is not the key of the store in %s (what it should authenticate "
				 "does not)", backing, DESC_FILE, backing);
			r = STORE_EWRONGKEY;
		} else if (r < 0) {
			snprintf(err, errlen, "cannot check the master key against %s: %s",
				 backing, strerror(-r));
		} else {
			r = 0;
		}
	}
	if (r < 0) {
		store_close(s);
		return r;
	}
	*out = s;
	return 0;
}

int store_set_passphrase(const char *backing, const struct keyfile *kf, const char *newp,
			 size_t newlen, int *recovered, char *err, size_t errlen)
{
	struct store_desc d;
	struct store *s = NULL;
	int r = desc_for_key(backing, kf, &d, recovered, err, errlen);

	/* A descriptor that verifies proves the key; one made from the key
	 * file must first be proven by what the key opens in BACKING. */
	if (r == 0 && *recovered) {
		r = store_open_key(backing, kf, 0, &s, recovered, err, errlen);
		store_close(s);
		d.kdf_ops = STORE_KDF_OPS;
		d.kdf_mem = STORE_KDF_MEM;
	}
	if (r == 0)
		r = desc_rewrap(backing, &d, kf->key, newp, newlen, err, errlen);
	crypto_wipe(&d, sizeof(d));
	return r;
}

int store_set_cache(struct store *s, size_t bytes)
{
	struct bcache *c = bcache_new(bytes);

	if (bytes && !c)
		return -ENOMEM;
	bcache_free(s->bcache);
	s->bcache = c;
	return 0;
}

void store_set_policies(struct store *s, struct policy_set *ps)
{
	policy_set_resolve(ps, &s->desc.codec, s->desc.block_size);
	policy_set_free(s->policies);
	s->policies = ps;
}

const struct policy *store_policy(const struct store *s, const char *path)
{
	return policy_match(s->policies, path);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	packer_free(s->packer); /* packs what waits, before the table goes */
	if (s->files)
		ofile_table_free(s, s->files);
	reaper_free(s->reaper);
	pool_free(s->pool);
	bcache_free(s->bcache);
	inode_table_free(s->inodes);
	if (s->be && s->rootfd >= 0)
		backend_close(s->be, s->rootfd);
	if (s->be && s->shared && s->shlockfd >= 0)
		backend_close(s->be, s->shlockfd);
	crypto_key_free(s->key);
	sodium_free(s->names);
	pathmap_cache_free(s->dirivs);
	stats_free(s->stats);
	free(s->backing);
	policy_set_free(s->policies);
	crypto_wipe(&s->desc, sizeof(s->desc));
	backend_free(s->be);
	free(s);
}

int store_upgrade(struct store *s)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	int r = 0;

	if (__atomic_load_n(&s->desc.version, __ATOMIC_ACQUIRE) >= DESC_VERSION)
		return 0;
	pthread_mutex_lock(&mu);
	if (s->desc.version < DESC_VERSION) {
		r = desc_write(s->backing, &s->upgrade, 0);
		if (r == 0) {
			log_msg(LOG_LVL_INFO, "%s: store format upgraded from version %d to %d "
				"(new files use file format v2; older ragstore releases cannot "
				"mount it)", s->backing, s->desc.version, DESC_VERSION);
			memcpy(s->desc.mac, s->upgrade.mac, sizeof(s->desc.mac));
			__atomic_store_n(&s->desc.version, DESC_VERSION, __ATOMIC_RELEASE);
		} else {
			log_msg(LOG_LVL_ERROR, "%s: cannot upgrade the store descriptor: %s",
				s->backing, strerror(-r));
		}
	}
	pthread_mutex_unlock(&mu);
	return r;
}

int store_probe(struct store *s)
{
	int top = backend_openat(s->be, s->rootfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	int r = top;

	if (top >= 0) {
		r = probe_run(s->be, top, &s->probe);
		backend_close(s->be, top);
	} else {
		snprintf(s->probe.error, sizeof(s->probe.error), "cannot open BACKING: %s",
			 strerror(-top));
	}
	if (r < 0)
		log_msg(LOG_LVL_WARN, "%s: backing filesystem not probed (%s); every feature "
			"assumed", s->backing, s->probe.error);
	return r;
}
