/* main.c - the ragstore command line: the dispatch of commands, and init,
 * passwd and info; mount, du, fsck and scrub are in src/cli/.  Exit codes
 * are in src/cli/cli.h, documented in docs/ragstore.1. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd_du.h"
#include "cli/cmd_fsck.h"
#include "cli/cmd_mount.h"
#include "cli/cmd_scrub.h"
#include "cli/fuselog.h"
#include "cli/help.h"
#include "cli/masterkey.h"
#include "cli/passphrase.h"
#include "cli/unlock.h"
#include "backend.h"
#include "crypto.h"
#include "log.h"
#include "probe.h"
#include "store.h"
#include "strbuf.h"
#include "util.h"

#define RAGSTORE_VERSION "0.1.0"

static int cmd_init(int argc, char **argv)
{
	struct store_init_opts o = { .cipher = CIPHER_XCHACHA };
	const char *passfile = NULL, *extpass = NULL, *keypath = NULL;
	char err[512], *pass = NULL, *end;
	struct keyfile *kf = NULL;
	size_t passlen = 0;
	unsigned long bs;
	int c, r, keyfd = -1;

	o.codec.algo = STORE_DEFAULT_ALGO;
	o.codec.level = STORE_DEFAULT_LEVEL;
	while ((c = getopt_long(argc, argv, "+:h", cli_pass_opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'x': extpass = optarg; break;
		case 'N': o.cipher = CIPHER_NONE; break;
		case 'P': o.plaintext_names = 1; break;
		case 'c':
			r = crypto_cipher_parse(optarg);
			if (r == -ENOTSUP) {
				fprintf(stderr, "ragstore: cipher %s needs a CPU with AES-NI\n", optarg);
				return EXIT_ERR;
			}
			if (r < 0 || r == CIPHER_NONE)
				cli_die_usage("--cipher: use xchacha20-poly1305 or aes-256-gcm");
			o.cipher = r;
			break;
		case 'b':
			errno = 0;
			bs = strtoul(optarg, &end, 10);
			if (errno || *end || bs < 4096 || bs > 1048576 || (bs & (bs - 1)))
				cli_die_usage("--block-size: a power of two from 4096 to 1048576");
			o.block_size = (uint32_t)bs;
			break;
		case 'z':
			if (codec_parse(optarg, &o.codec) < 0)
				cli_die_usage("--compression: none, lz4, zlib[:1-9], gzip[:1-9], zstd[:1-19]");
			break;
		case 'K': keypath = optarg; break;
		case 'h': fputs(help_init, stdout); return EXIT_OK;
		default: cli_die_bad_option("init", c, argc, argv);
		}
	}
	if (optind != argc - 1)
		cli_die_usage("init needs exactly one BACKING directory");
	if (o.cipher != CIPHER_NONE) {
		pass = passphrase_get(passfile, extpass, "New passphrase: ", 1, &passlen);
		if (!pass)
			return EXIT_ERR;
	} else if (passfile || extpass) {
		cli_die_usage("--no-encryption takes no passphrase");
	} else if (keypath) {
		cli_die_usage("--no-encryption: a store without encryption has no master key");
	}
	if (o.cipher != CIPHER_NONE) {
		kf = masterkey_alloc();
		/* Before the store exists: an F that cannot be made stops init. */
		keyfd = kf && keypath ? masterkey_create(keypath) : -1;
		if (!kf || (keypath && keyfd < 0)) {
			passphrase_free(pass);
			masterkey_free(kf);
			return kf ? EXIT_KEYFILE : EXIT_ERR;
		}
	}
	r = store_create(argv[optind], &o, pass, passlen, kf, err, sizeof(err));
	passphrase_free(pass);
	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		if (keyfd >= 0) {
			close(keyfd);
			unlink(keypath);
		}
		masterkey_free(kf);
		return cli_exit_for(r);
	}
	printf("Created %s store in %s.\n",
	       o.cipher == CIPHER_NONE ? "an unencrypted" : "an encrypted", argv[optind]);
	c = EXIT_OK;
	if (keyfd >= 0) {
		c = masterkey_write(keyfd, keypath, kf) == 0 ? EXIT_OK : EXIT_KEYFILE;
		if (c == EXIT_OK)
			printf("The master key is in %s (mode 0600): keep it offline.\n", keypath);
	} else if (kf && isatty(STDOUT_FILENO)) {
		masterkey_print(stdout, kf);
	} else if (kf) {
		/* Never into a pipe or a file: that is how keys end up in logs. */
		fprintf(stderr, "ragstore: the master key was not shown (stdout is not a "
			"terminal); use --masterkey-file F at init to keep a copy\n");
	}
	masterkey_free(kf);
	if (o.cipher != CIPHER_NONE)
		printf("Keep your passphrase safe: without it (or the master key) the data "
		       "cannot be recovered.\n");
	return c;
}

/* passwd --masterkey-file: set a passphrase with the master key alone. */
static int passwd_with_key(const char *backing, const char *keypath, const char *newfile)
{
	struct keyfile *kf = masterkey_read(keypath);
	enum log_level lvl = log_get_level();
	char err[512], *newp = NULL;
	size_t newlen = 0;
	int r, recovered = 0;

	if (!kf)
		return EXIT_KEYFILE;
	newp = passphrase_get(newfile, NULL, "New passphrase: ", 1, &newlen);
	if (!newp) {
		masterkey_free(kf);
		return EXIT_ERR;
	}
	log_set_level(LOG_LVL_SILENT); /* as in open_store */
	r = store_set_passphrase(backing, kf, newp, newlen, &recovered, err, sizeof(err));
	log_set_level(lvl);
	masterkey_free(kf);
	passphrase_free(newp);
	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return cli_exit_for(r);
	}
	if (recovered)
		printf("%s/%s was missing or damaged: written anew from the master key file "
		       "(docs/RECOVERY.md).\n", backing, DESC_FILE);
	printf("Passphrase set.\n");
	return EXIT_OK;
}

static int cmd_passwd(int argc, char **argv)
{
	const char *passfile = NULL, *extpass = NULL, *newfile = NULL, *keypath = NULL;
	char err[512], *oldp = NULL, *newp = NULL;
	size_t oldlen = 0, newlen = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "+:h", cli_pass_opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'x': extpass = optarg; break;
		case 'n': newfile = optarg; break;
		case 'K': keypath = optarg; break;
		case 'h': fputs(help_passwd, stdout); return EXIT_OK;
		default: cli_die_bad_option("passwd", c, argc, argv);
		}
	}
	if (optind != argc - 1)
		cli_die_usage("passwd needs exactly one BACKING directory");
	if (keypath && (passfile || extpass))
		cli_die_usage("--masterkey-file replaces the old passphrase: give one or the other");
	if (keypath)
		return passwd_with_key(argv[optind], keypath, newfile);
	oldp = passphrase_get(passfile, extpass, "Old passphrase: ", 0, &oldlen);
	if (oldp)
		newp = passphrase_get(newfile, NULL, "New passphrase: ", 1, &newlen);
	if (!oldp || !newp) {
		passphrase_free(oldp);
		return EXIT_ERR;
	}
	r = store_change_passphrase(argv[optind], oldp, oldlen, newp, newlen, err, sizeof(err));
	passphrase_free(oldp);
	passphrase_free(newp);
	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return cli_exit_for(r);
	}
	printf("Passphrase changed.\n");
	return EXIT_OK;
}

/* What the filesystem holding backing supports, probed now (probe.h), in a
 * scratch directory at its top; a BACKING that cannot be written is
 * reported as not probed. */
static void info_probe(const char *backing)
{
	struct backend *be = backend_posix();
	struct strbuf sb = STRBUF_INIT(16384);
	struct probe p;
	int fd = backend_openat(be, AT_FDCWD, backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

	probe_assume_all(&p);
	if (fd >= 0) {
		probe_run(be, fd, &p);
		backend_close(be, fd);
	}
	printf("backing filesystem (probed now; fallbacks in docs/BACKING.md):\n");
	probe_render(&p, &sb, "  ");
	if (!sb.err && sb.p)
		fputs(sb.p, stdout);
	free(sb.p);
}

static int cmd_info(int argc, char **argv)
{
	struct store_desc d;
	char err[512], codec[32];
	int r;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(help_info, stdout);
		return EXIT_OK;
	}
	if (argc != 2)
		cli_die_usage("info needs exactly one BACKING directory");
	r = desc_read(argv[1], &d, err, sizeof(err));
	if (r == -ENOENT) {
		fprintf(stderr, "ragstore: %s is not a ragstore backing directory\n", argv[1]);
		return EXIT_NOSTORE;
	}
	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return EXIT_NOSTORE;
	}
	codec_format(&d.codec, codec, sizeof(codec));
	printf("format version:  %d\n", d.version);
	printf("uuid:            %s\n", d.uuid);
	printf("encryption:      %s\n", crypto_cipher_name(d.cipher));
	printf("names:           %s\n", d.plaintext_names || d.cipher == CIPHER_NONE ?
						"plaintext" : "encrypted");
	printf("block size:      %u\n", d.block_size);
	printf("compression:     %s\n", codec);
	if (d.cipher != CIPHER_NONE)
		printf("kdf:             argon2id, opslimit %llu, memlimit %llu MiB\n",
		       (unsigned long long)d.kdf_ops, (unsigned long long)(d.kdf_mem >> 20));
	crypto_wipe(&d, sizeof(d));
	info_probe(argv[1]);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *cmd;

	umask(0);
	signal(SIGPIPE, SIG_IGN);
	/* Option errors are reported by cli_die_bad_option, in one line. */
	opterr = 0;
	fuselog_install();
	if (argc < 2)
		cli_die_usage("no command given");
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
		return help_cmd(1, argv);
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("ragstore %s\n", RAGSTORE_VERSION);
		return EXIT_OK;
	}
	if (crypto_init() < 0) {
		fprintf(stderr, "ragstore: libsodium failed to initialise\n");
		return EXIT_ERR;
	}
	if (!strcmp(cmd, "help"))
		return help_cmd(argc - 1, argv + 1);
	if (!strcmp(cmd, "init"))
		return cmd_init(argc - 1, argv + 1);
	if (!strcmp(cmd, "mount"))
		return cmd_mount(argc - 1, argv + 1);
	if (!strcmp(cmd, "passwd"))
		return cmd_passwd(argc - 1, argv + 1);
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "fsck"))
		return cmd_fsck(argc - 1, argv + 1, unlock_store);
	if (!strcmp(cmd, "scrub"))
		return cmd_scrub(argc - 1, argv + 1);
	if (!strcmp(cmd, "du"))
		return cmd_du(argc - 1, argv + 1);
	if (cmd[0] == '-')
		cli_die_usage("unknown option %s (options follow the command)", cmd);
	cli_die_usage("unknown command '%s'", cmd);
}

