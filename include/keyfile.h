/* keyfile.h - the master key in a form a person can keep on paper, and the
 * text of a --masterkey-file (the same text: a printout typed back into a
 * file is a key file).  Pure functions, no I/O.
 *
 *	# comment lines (ignored when read back)
 *	ragstore-masterkey 1
 *	uuid 0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9
 *	cipher xchacha20-poly1305
 *	names encrypted                       (or plaintext)
 *	block-size 65536
 *	compression zstd:1
 *	key1 0123 4567 89ab cdef 1a2b
 *	key2 ...                              (four lines of 8 key bytes each,
 *	key3 ...                               in 4 groups of 4 hex digits, and
 *	key4 ...                               a 4-digit checksum of the line)
 *	check 0123 4567 89ab cdef
 *
 * A key line's checksum is the first 2 bytes of BLAKE2b-256 over
 * "ragstore-keyline" || line number || its 8 bytes, so a typo in a key line
 * is caught, and named, before the key is used.  The check line is the first
 * 8 bytes of a BLAKE2b MAC, keyed with a subkey of the master key, over the
 * settings lines: it detects a typo anywhere else, and a changed setting
 * (which no one without the key can make match).
 *
 * Reading is lenient where a person types: hex in either case, groups
 * separated by any number of spaces or tabs (or run together), blank lines,
 * trailing spaces, CR-LF.  Everything else is strict. */
#ifndef RAGSTORE_KEYFILE_H
#define RAGSTORE_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "crypto.h"
#include "descriptor.h"

/* The subkey id (under the context "ragstore") of the check line's MAC;
 * store.c uses ids 1 to 4. */
#define KEYFILE_SUBKEY 5
/* Room for the text keyfile_encode writes (it needs under 1 KiB). */
#define KEYFILE_TEXT_MAX 2048

/* What a key file holds.  key is secret: keep the struct in locked memory
 * (sodium_malloc) and wipe it after use. */
struct keyfile {
	uint8_t key[CRYPTO_KEY_LEN];   /* the master key */
	char uuid[DESC_UUID_LEN + 1];  /* the store's uuid */
	int cipher;                    /* enum crypto_cipher, never CIPHER_NONE */
	int plaintext_names;           /* 1: names are stored in clear */
	uint32_t block_size;           /* the store's default block size */
	struct codec_spec codec;       /* the store's default compression */
};

/* The text of k into out (cap bytes), NUL-terminated.  Returns its length,
 * or -ENOSPC when cap is too small (KEYFILE_TEXT_MAX suffices), -EINVAL when
 * k's cipher is CIPHER_NONE or a field is out of range. */
int keyfile_encode(const struct keyfile *k, char *out, size_t cap);

/* Parse len bytes of text (from a file or typed by a person; untrusted) into
 * *k.  Returns 0; -EINVAL for a malformed text (unknown or missing line, bad
 * value); -EBADMSG when a key line's checksum or the check line does not
 * match (a typo, or a changed setting).  On failure err holds one line
 * ("line N: ...") and *k is wiped. */
int keyfile_decode(const char *text, size_t len, struct keyfile *k, char *err,
		   size_t errlen);

#endif
