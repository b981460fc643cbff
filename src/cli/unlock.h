/* unlock.h - what unlocks a store at the command line (passphrase or master
 * key file) and the opening of the store with it. */
#ifndef RAGSTORE_UNLOCK_H
#define RAGSTORE_UNLOCK_H

#include <stddef.h>

struct store;
struct keyfile;

/* What unlocks a store: its passphrase, or the master key of a key file
 * (--masterkey-file), or nothing for a store without encryption.  Both
 * buffers are locked memory, wiped when freed. */
struct unlock {
	char *pass;          /* a passphrase buffer, or NULL */
	size_t passlen;
	struct keyfile *key; /* or NULL */
	int shared;          /* open for -o shared (STORE_OPEN_SHARED) */
};

/* Wipe and free what u holds. */
void unlock_free(struct unlock *u);

/* Fill u for the store at backing: the key file at keypath when given,
 * else the passphrase, asked for only when the store has one.  Returns
 * EXIT_OK, or an exit code after one line on stderr. */
int unlock_read(const char *backing, const char *passfile, const char *extpass,
		const char *keypath, struct unlock *u);

/* Unlock a store with what unlock_read read, which this wipes and frees
 * whatever the outcome.  Returns EXIT_OK with *s, or an exit code after
 * one line on stderr. */
int unlock_open(const char *backing, struct unlock *u, struct store **s);

/* Passphrase and unlock for the commands in cli/ (cmd_unlock_fn). */
int unlock_store(const char *backing, const char *passfile, const char *extpass,
		 struct store **s);

#endif
