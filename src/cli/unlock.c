/* unlock.c - passphrase or master key file, then the store.  See unlock.h. */
#include "unlock.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "masterkey.h"
#include "passphrase.h"
#include "store.h"


void unlock_free(struct unlock *u)
{
	passphrase_free(u->pass);
	masterkey_free(u->key);
	u->pass = NULL;
	u->key = NULL;
}

int unlock_read(const char *backing, const char *passfile, const char *extpass,
		       const char *keypath, struct unlock *u)
{
	char err[512];
	int r;

	memset(u, 0, sizeof(*u));
	if (keypath) {
		u->key = masterkey_read(keypath);
		return u->key ? EXIT_OK : EXIT_KEYFILE;
	}
	r = store_needs_passphrase(backing, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return cli_exit_for(r);
	}
	if (r == 0 && (passfile || extpass)) {
		fprintf(stderr, "ragstore: %s is not encrypted, but a passphrase was given; "
				"refusing (was its descriptor altered?)\n", backing);
		return EXIT_NOSTORE;
	}
	if (r == 1) {
		u->pass = passphrase_get(passfile, extpass, "Passphrase: ", 0, &u->passlen);
		if (!u->pass)
			return EXIT_ERR;
	}
	return EXIT_OK;
}

int unlock_open(const char *backing, struct unlock *u, struct store **s)
{
	char err[512];
	enum log_level lvl = log_get_level();
	int r, recovered = 0;

	if (u->key) {
		/* Checking a key against the tree may meet what it does not
		 * open; the one line below says what that means. */
		log_set_level(LOG_LVL_SILENT);
		r = store_open_key(backing, u->key, u->shared ? STORE_OPEN_SHARED : 0, s,
				   &recovered, err, sizeof(err));
		log_set_level(lvl);
	} else {
		r = store_open(backing, u->pass, u->passlen, u->shared ? STORE_OPEN_SHARED : 0, s,
			       err, sizeof(err));
	}
	unlock_free(u);
	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return cli_exit_for(r);
	}
	if (recovered)
		fprintf(stderr, "ragstore: warning: %s/%s is missing or damaged; opened with the "
			"settings of the master key file (recreate it with 'ragstore passwd "
			"--masterkey-file F %s')\n", backing, DESC_FILE, backing);
	return EXIT_OK;
}

int unlock_store(const char *backing, const char *passfile, const char *extpass,
			struct store **s)
{
	struct unlock u;
	int c = unlock_read(backing, passfile, extpass, NULL, &u);

	return c != EXIT_OK ? c : unlock_open(backing, &u, s);
}
