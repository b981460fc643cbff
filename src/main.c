/* main.c - the ragstore command line: init, mount, passwd, info.  The only
 * place that exits.  Exit codes are documented in docs/ragstore.1. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cmd_fsck.h"
#include "cli/cmd_scrub.h"
#include "cli/daemon.h"
#include "cli/fuselog.h"
#include "cli/masterkey.h"
#include "cli/mountcheck.h"
#include "cli/passphrase.h"
#include "crypto.h"
#include "fs/fs.h"
#include "fs/vdir.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define RAGSTORE_VERSION "0.1.0"

enum exit_code {
	EXIT_OK = 0,
	EXIT_ERR = 1,
	EXIT_USAGE = 2,
	EXIT_PASS = 3,        /* wrong passphrase */
	EXIT_NOSTORE = 4,     /* not a store, or damaged/altered descriptor */
	EXIT_MOUNTPT = 5,     /* mountpoint missing, not a directory, busy */
	EXIT_NONEMPTY = 6,    /* mountpoint not empty, without -o nonempty */
	EXIT_PERM = 7,        /* permission denied on BACKING or its descriptor */
	EXIT_FUSEDEV = 8,     /* /dev/fuse missing or not to be opened */
	EXIT_ALLOWOTHER = 9,  /* allow_other refused by /etc/fuse.conf */
	/* 10 and 11 are fsck's (cmd_fsck.h) */
	EXIT_KEYFILE = 12,    /* master key file missing, unreadable, malformed,
				 mistyped, or (init) already there */
};

static const char *usage_text =
	"usage: ragstore COMMAND [OPTIONS] ...\n"
	"\n"
	"  init   [--passfile F | --extpass CMD] [--no-encryption] [--plaintext-names]\n"
	"         [--cipher C] [--block-size N] [--compression ALG]\n"
	"         [--masterkey-file F] BACKING\n"
	"  mount  [-f] [-q] [-o OPT[,OPT...]]\n"
	"         [--passfile F | --extpass CMD | --masterkey-file F] BACKING MOUNTPOINT\n"
	"  passwd [--passfile OLD | --extpass CMD | --masterkey-file F]\n"
	"         [--new-passfile NEW] BACKING\n"
	"  fsck   [--repair | --read-only] [--passfile F | --extpass CMD] BACKING\n"
	"  scrub  MOUNTPOINT  (verify every block online, with progress)\n"
	"  info   BACKING\n"
	"  help   [COMMAND]\n"
	"\n"
	"Unmount with 'fusermount3 -u MOUNTPOINT'.  See ragstore(1).\n";

static const char *help_init =
	"usage: ragstore init [OPTIONS] BACKING\n"
	"Create a new store in BACKING (created if absent; must be empty).\n"
	"  --passfile F      passphrase from the first line of F\n"
	"  --extpass CMD     passphrase from the first line CMD prints\n"
	"                    (otherwise asked twice on the terminal)\n"
	"  --no-encryption   compress and checksum only; no passphrase\n"
	"  --plaintext-names keep file names readable in BACKING\n"
	"  --cipher C        xchacha20-poly1305 (default) or aes-256-gcm (needs AES-NI)\n"
	"  --block-size N    block size in bytes, power of two, 4096..1048576 (default 65536)\n"
	"  --compression A   default compression: none, lz4, zlib[:1-9], gzip, zstd[:1-19]\n"
	"                    (default zstd:1)\n"
	"  --masterkey-file F  write the master key to F (created, mode 0600; an\n"
	"                    existing F is refused) instead of showing it\n"
	"The master key is shown once, on stdout when it is a terminal (otherwise\n"
	"not at all), for paper: with it a forgotten passphrase or a lost\n"
	"ragstore.conf can be replaced (docs/RECOVERY.md).  Not with --no-encryption.\n";

static const char *help_mount =
	"usage: ragstore mount [OPTIONS] BACKING MOUNTPOINT\n"
	"Unlock the store in BACKING and mount it on MOUNTPOINT, which must be an\n"
	"empty directory.  Returns once the mount is usable; the filesystem keeps\n"
	"running in the background and sends its messages to syslog.\n"
	"  -f                stay in the foreground; messages go to stderr\n"
	"  -q                quiet: report errors only\n"
	"  -o OPT[,OPT...]   mount options: allow_other, ro, passfile=F, extpass=CMD,\n"
	"                    masterkey_file=F,\n"
	"                    nonempty (mount over a non-empty directory), nosyslog\n"
	"                    (keep messages on stderr in the background),\n"
	"                    cache_size=SIZE (plaintext block cache, default 64M;\n"
	"                    0: none), and other FUSE options; auto, noauto,\n"
	"                    _netdev, nofail are ignored\n"
	"  --passfile F      passphrase from the first line of F\n"
	"  --extpass CMD     passphrase from the first line CMD prints\n"
	"  --masterkey-file F  unlock with the master key in F instead (what init\n"
	"                    showed or wrote); also when ragstore.conf is missing\n"
	"                    or damaged, with the settings F holds\n"
	"SIGTERM or SIGINT unmounts cleanly and exits 0.  Exit codes: ragstore(1).\n";

static const char *help_passwd =
	"usage: ragstore passwd [--passfile OLD | --extpass CMD | --masterkey-file F]\n"
	"                       [--new-passfile NEW] BACKING\n"
	"Change the passphrase.  Only the wrapped master key changes; no data is rewritten.\n"
	"  --passfile OLD    the old passphrase from the first line of OLD\n"
	"  --extpass CMD     the old passphrase from the first line CMD prints\n"
	"                    (otherwise asked on the terminal)\n"
	"  --masterkey-file F  no old passphrase: the master key in F (what init\n"
	"                    showed or wrote) proves the right to set one; a\n"
	"                    missing or damaged ragstore.conf is written anew\n"
	"  --new-passfile NEW  the new passphrase from NEW (otherwise asked twice)\n";

static const char *help_info =
	"usage: ragstore info BACKING\n"
	"Print the store's settings (no secrets).\n";

/* A usage error: one line naming it, and where help is. */
static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("ragstore: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; see ragstore --help\n", stderr);
	exit(EXIT_USAGE);
}

/* The usage error for what getopt_long (with opterr off and optstring
 * starting "+:") just refused: c is '?' for an unknown option and ':' for
 * a missing argument. */
static void die_bad_option(const char *cmd, int c, int argc, char **argv)
{
	const char *arg = optind > 0 && optind - 1 < argc ? argv[optind - 1] : "?";
	int is_long = !strncmp(arg, "--", 2);

	if (c == ':' && !is_long)
		die_usage("%s: option -%c needs an argument", cmd, optopt);
	if (c == ':')
		die_usage("%s: option %s needs an argument", cmd, arg);
	if (!is_long && optopt)
		die_usage("%s: unknown option -%c", cmd, optopt);
	die_usage("%s: unknown option %s", cmd, arg);
}

/* Map an error of the store functions to an exit code: their domain
 * errors (store.h) and the -errno values that have a code of their own. */
static int exit_for(int r)
{
	switch (r) {
	case STORE_EWRONGPASS:
	case STORE_EWRONGKEY:
		return EXIT_PASS;
	case STORE_ENOTSTORE:
	case STORE_EDAMAGED:
		return EXIT_NOSTORE;
	case -EACCES:
	case -EPERM:
		return EXIT_PERM;
	default:
		return EXIT_ERR;
	}
}

static const struct option pass_opts[] = {
	{ "passfile", required_argument, NULL, 'p' },
	{ "extpass", required_argument, NULL, 'x' },
	{ "no-encryption", no_argument, NULL, 'N' },
	{ "plaintext-names", no_argument, NULL, 'P' },
	{ "cipher", required_argument, NULL, 'c' },
	{ "block-size", required_argument, NULL, 'b' },
	{ "compression", required_argument, NULL, 'z' },
	{ "new-passfile", required_argument, NULL, 'n' },
	{ "config", required_argument, NULL, 'C' },
	{ "masterkey-file", required_argument, NULL, 'K' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

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
	while ((c = getopt_long(argc, argv, "+:h", pass_opts, NULL)) != -1) {
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
				die_usage("--cipher: use xchacha20-poly1305 or aes-256-gcm");
			o.cipher = r;
			break;
		case 'b':
			errno = 0;
			bs = strtoul(optarg, &end, 10);
			if (errno || *end || bs < 4096 || bs > 1048576 || (bs & (bs - 1)))
				die_usage("--block-size: a power of two from 4096 to 1048576");
			o.block_size = (uint32_t)bs;
			break;
		case 'z':
			if (codec_parse(optarg, &o.codec) < 0)
				die_usage("--compression: none, lz4, zlib[:1-9], gzip[:1-9], zstd[:1-19]");
			break;
		case 'K': keypath = optarg; break;
		case 'h': fputs(help_init, stdout); return EXIT_OK;
		default: die_bad_option("init", c, argc, argv);
		}
	}
	if (optind != argc - 1)
		die_usage("init needs exactly one BACKING directory");
	if (o.cipher != CIPHER_NONE) {
		pass = passphrase_get(passfile, extpass, "New passphrase: ", 1, &passlen);
		if (!pass)
			return EXIT_ERR;
	} else if (passfile || extpass) {
		die_usage("--no-encryption takes no passphrase");
	} else if (keypath) {
		die_usage("--no-encryption: a store without encryption has no master key");
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
		return exit_for(r);
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

/* What unlocks a store: its passphrase, or the master key of a key file
 * (--masterkey-file), or nothing for a store without encryption.  Both
 * buffers are locked memory, wiped when freed. */
struct unlock {
	char *pass;          /* a passphrase buffer, or NULL */
	size_t passlen;
	struct keyfile *key; /* or NULL */
};

static void unlock_free(struct unlock *u)
{
	passphrase_free(u->pass);
	masterkey_free(u->key);
	u->pass = NULL;
	u->key = NULL;
}

/* Fill u for the store at backing: the key file at keypath when given,
 * else the passphrase, asked for only when the store has one.  Returns
 * EXIT_OK, or an exit code after one line on stderr. */
static int read_unlock(const char *backing, const char *passfile, const char *extpass,
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
		return exit_for(r);
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

/* Unlock a store with what read_unlock read, which this wipes and frees
 * whatever the outcome. */
static int open_store(const char *backing, struct unlock *u, struct store **s)
{
	char err[512];
	enum log_level lvl = log_get_level();
	int r, recovered = 0;

	if (u->key) {
		/* Checking a key against the tree may meet what it does not
		 * open; the one line below says what that means. */
		log_set_level(LOG_LVL_SILENT);
		r = store_open_key(backing, u->key, s, &recovered, err, sizeof(err));
		log_set_level(lvl);
	} else {
		r = store_open(backing, u->pass, u->passlen, s, err, sizeof(err));
	}
	unlock_free(u);
	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return exit_for(r);
	}
	if (recovered)
		fprintf(stderr, "ragstore: warning: %s/%s is missing or damaged; opened with the "
			"settings of the master key file (recreate it with 'ragstore passwd "
			"--masterkey-file F %s')\n", backing, DESC_FILE, backing);
	return EXIT_OK;
}

/* Passphrase and unlock for the commands in cli/ (cmd_unlock_fn). */
static int unlock_store(const char *backing, const char *passfile, const char *extpass,
			struct store **s)
{
	struct unlock u;
	int c = read_unlock(backing, passfile, extpass, NULL, &u);

	return c != EXIT_OK ? c : open_store(backing, &u, s);
}

struct mount_opts {
	const char *passfile, *extpass, *config, *keyfile;
	int foreground, quiet, debug;
	int nosyslog;    /* -o nosyslog: the daemon keeps stderr for messages */
	int nonempty;    /* -o nonempty: mount over a directory with entries */
	int allow_other; /* allow_other or allow_root is among fuse_opts */
	const char *cache_size; /* -o cache_size=SIZE, NULL: the default */
	char fuse_opts[4096]; /* comma-separated, for -o */
};

/* Split one -o argument: our own options are taken, fstab-only ones are
 * dropped, the rest go to FUSE. */
static void mount_opt_add(struct mount_opts *m, char *list)
{
	static const char *const dropped[] = { "auto", "noauto", "_netdev", "nofail",
					       "user", "users", "nouser", "defaults",
					       "rw", NULL };
	char *save = NULL;

	for (char *o = strtok_r(list, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		int drop = strncmp(o, "x-", 2) == 0 || strncmp(o, "comment=", 8) == 0;

		for (int i = 0; dropped[i] && !drop; i++)
			drop = strcmp(o, dropped[i]) == 0;
		if (drop)
			continue;
		if (strncmp(o, "passfile=", 9) == 0) {
			m->passfile = o + 9;
		} else if (strncmp(o, "extpass=", 8) == 0) {
			m->extpass = o + 8;
		} else if (strncmp(o, "masterkey_file=", 15) == 0) {
			m->keyfile = o + 15;
		} else if (strncmp(o, "config=", 7) == 0) {
			m->config = o + 7;
		} else if (strncmp(o, "cache_size=", 11) == 0) {
			uint64_t v;

			if (util_parse_size(o + 11, &v) < 0 || v > ((uint64_t)1 << 40))
				die_usage("-o cache_size=SIZE: bytes, or with K, M or G (at most 1T)");
			m->cache_size = o + 11;
		} else if (strcmp(o, "nosyslog") == 0) {
			m->nosyslog = 1;
		} else if (strcmp(o, "nonempty") == 0) {
			/* libfuse 3 no longer knows it: ours to check. */
			m->nonempty = 1;
		} else {
			size_t have = strlen(m->fuse_opts);

			if (have + strlen(o) + 2 >= sizeof(m->fuse_opts))
				die_usage("too many mount options");
			if (!strcmp(o, "allow_other") || !strcmp(o, "allow_root"))
				m->allow_other = 1;
			if (have)
				strcat(m->fuse_opts, ",");
			strcat(m->fuse_opts, o);
		}
	}
}

/* Everything about the mountpoint and FUSE that can be known before the
 * passphrase is asked for.  Returns EXIT_OK or an exit code after one line
 * on stderr. */
static int mount_precheck(const char *mnt, const struct mount_opts *m)
{
	char err[PATH_MAX + 256];
	int r = mountcheck_mountpoint(mnt, m->nonempty, err, sizeof(err));

	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return r == -ENOTEMPTY ? EXIT_NONEMPTY : EXIT_MOUNTPT;
	}
	r = mountcheck_allow_other(m->allow_other, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return EXIT_ALLOWOTHER;
	}
	r = mountcheck_fuse_device(err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return EXIT_FUSEDEV;
	}
	return EXIT_OK;
}

/* Build the FUSE handle and mount it on mnt (an absolute path, since the
 * daemon leaves its directory and still has to unmount).  libfuse's own
 * complaint, if any, becomes part of the one line of failure.  Returns 0
 * or an exit code. */
static int fuse_setup(struct store *s, const char *backing, const char *mnt,
		      struct mount_opts *m, struct fuse_session **out)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	char opts[8192], *abs = realpath(backing, NULL);
	struct fuse_session *se;
	int n;

	/* Permissions are the kernel's to check, as on ext4. */
	/* The source column of /proc/mounts: the absolute backing path, with
	 * commas escaped as FUSE option syntax requires. */
	n = snprintf(opts, sizeof(opts), "default_permissions,subtype=ragstore%s%s,fsname=",
		     m->fuse_opts[0] ? "," : "", m->fuse_opts);
	for (const char *p = abs ? abs : backing; *p && n < (int)sizeof(opts) - 3; p++) {
		if (*p == ',' || *p == '\\')
			opts[n++] = '\\';
		opts[n++] = *p;
	}
	opts[n] = '\0';
	free(abs);
	if (n >= (int)sizeof(opts) - 3) {
		fprintf(stderr, "ragstore: mount options too long\n");
		return EXIT_USAGE;
	}
	if (fuse_opt_add_arg(&args, "ragstore") || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, opts)) {
		fprintf(stderr, "ragstore: out of memory\n");
		return EXIT_ERR;
	}
	fuselog_hold(1);
	se = fuse_session_new(&args, &fs_ll_ops, sizeof(fs_ll_ops), s);
	fuse_opt_free_args(&args);
	if (!se) {
		fprintf(stderr, "ragstore: invalid mount options: %s\n",
			*fuselog_held() ? fuselog_held() : m->fuse_opts);
		fuselog_hold(0);
		return EXIT_USAGE;
	}
	if (fuse_session_mount(se, mnt) != 0) {
		fprintf(stderr, "ragstore: cannot mount on %s%s%s\n", mnt,
			*fuselog_held() ? ": " : "", fuselog_held());
		fuselog_hold(0);
		fuse_session_destroy(se);
		return EXIT_MOUNTPT;
	}
	fuselog_hold(0);
	fs_set_session(se);
	*out = se;
	return EXIT_OK;
}

/* Serve until the filesystem is unmounted, or until SIGTERM, SIGINT or
 * SIGHUP: libfuse's handlers end the loop, which then returns the signal's
 * number; that is a requested stop, so the caller unmounts, saves and
 * exits 0 as after fusermount3 -u (systemd must not see a failure). */
static int serve(struct fuse_session *se)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (!cfg || fuse_set_signal_handlers(se) != 0) {
		fuse_loop_cfg_destroy(cfg);
		log_msg(LOG_LVL_ERROR, "cannot set up the session loop");
		return EXIT_ERR;
	}
	fuse_loop_cfg_set_max_threads(cfg, 16);
	fuse_loop_cfg_set_idle_threads(cfg, 8);
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	fuse_remove_signal_handlers(se);
	if (r == SIGTERM || r == SIGINT || r == SIGHUP) {
		log_msg(LOG_LVL_INFO, "%s: unmounting", strsignal(r));
		return EXIT_OK;
	}
	if (r != 0)
		log_msg(LOG_LVL_ERROR, "the session loop failed: %s",
			r < 0 ? strerror(-r) : strsignal(r));
	return r == 0 ? EXIT_OK : EXIT_ERR;
}

/* Unlock (consuming u, as open_store does), mount and serve.  In the
 * background case this runs in the child, which reports success or the
 * exit code through fd status_fd. */
static int mount_run(const char *backing, const char *mnt, struct mount_opts *m,
		     struct unlock *u, int status_fd)
{
	struct store *s = NULL;
	struct fuse_session *f = NULL;
	unsigned char code;
	int r = open_store(backing, u, &s);
	uint64_t cache;

	if (r == EXIT_OK && m->cache_size && util_parse_size(m->cache_size, &cache) == 0 &&
	    store_set_cache(s, (size_t)cache) < 0) {
		log_msg(LOG_LVL_ERROR, "cannot allocate a block cache of %s", m->cache_size);
		r = EXIT_ERR;
	}
	if (r == EXIT_OK)
		r = fuse_setup(s, backing, mnt, m, &f);
	if (r == EXIT_OK && status_fd >= 0) {
		int dr = daemon_detach(m->nosyslog, m->quiet);

		if (dr < 0)
			log_msg(LOG_LVL_WARN, "cannot detach from the terminal: %s", strerror(-dr));
	}
	if (status_fd >= 0) {
		/* Mounted (and detached), or failed: let the parent go.  Should
		 * it be gone already, the mount is there all the same, so it is
		 * served. */
		code = (unsigned char)r;
		if (write(status_fd, &code, 1) < 0)
			log_msg(LOG_LVL_WARN, "the mount command went away before it was told");
		close(status_fd);
	}
	if (r != EXIT_OK) {
		store_close(s);
		return r;
	}
	log_msg(LOG_LVL_INFO, "%s mounted on %s", s->backing, mnt);
	r = vdir_start(s) == 0 ? serve(f) : EXIT_ERR;
	fs_release_open_files(s);
	vdir_stop(s);
	fs_set_session(NULL);
	fuse_session_unmount(f);
	fuse_session_destroy(f);
	store_close(s);
	log_msg(LOG_LVL_INFO, "%s unmounted", mnt);
	return r;
}

static int cmd_mount(int argc, char **argv)
{
	struct mount_opts m;
	struct unlock u;
	char *mnt;
	int c, pipefd[2];
	pid_t pid;

	memset(&m, 0, sizeof(m));
	while ((c = getopt_long(argc, argv, "+:fo:hdq", pass_opts, NULL)) != -1) {
		switch (c) {
		case 'f': m.foreground = 1; break;
		case 'd':
			m.foreground = m.debug = 1;
			mount_opt_add(&m, (char[]){ "debug" });
			break;
		case 'q': m.quiet = 1; break;
		case 'o': mount_opt_add(&m, optarg); break;
		case 'p': m.passfile = optarg; break;
		case 'x': m.extpass = optarg; break;
		case 'C': m.config = optarg; break;
		case 'K': m.keyfile = optarg; break;
		case 'h': fputs(help_mount, stdout); return EXIT_OK;
		default: die_bad_option("mount", c, argc, argv);
		}
	}
	if (optind != argc - 2)
		die_usage("mount needs BACKING and MOUNTPOINT");
	if (m.keyfile && (m.passfile || m.extpass))
		die_usage("--masterkey-file replaces the passphrase: give one or the other");
	if (m.config) {
		fprintf(stderr, "ragstore: --config: policies are not supported by this version\n");
		return EXIT_USAGE;
	}
	log_set_level(m.quiet ? LOG_LVL_ERROR : m.debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	c = mount_precheck(argv[optind + 1], &m);
	if (c != EXIT_OK)
		return c;
	/* Absolute: the daemon changes to / and must still unmount it. */
	mnt = realpath(argv[optind + 1], NULL);
	if (!mnt) {
		fprintf(stderr, "ragstore: mountpoint %s: %s\n", argv[optind + 1], strerror(errno));
		return EXIT_MOUNTPT;
	}
	/* Ask here, while the terminal the command was typed on is ours: the
	 * daemon below leaves it (setsid) and could not open /dev/tty.  An
	 * --extpass command runs here too, so it may prompt as well. */
	c = read_unlock(argv[optind], m.passfile, m.extpass, m.keyfile, &u);
	if (c != EXIT_OK)
		goto out;
	if (m.foreground) {
		c = mount_run(argv[optind], mnt, &m, &u, -1);
		goto out;
	}
	c = EXIT_ERR;
	if (pipe(pipefd) < 0) {
		perror("ragstore: pipe");
		unlock_free(&u);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		perror("ragstore: fork");
		unlock_free(&u);
		close(pipefd[0]);
		close(pipefd[1]);
		goto out;
	}
	if (pid == 0) {
		close(pipefd[0]);
		/* The passphrase or key reached this process as a copy of the
		 * parent's memory, which fork does not keep locked.  Failing to
		 * lock is no reason to refuse the mount (sodium_malloc does not
		 * insist either). */
		passphrase_relock(u.pass);
		masterkey_relock(u.key);
		setsid();
		/* Keys are created in this process, so their memory locks (not
		 * inherited across fork) belong to the daemon. */
		_exit(mount_run(argv[optind], mnt, &m, &u, pipefd[1]));
	} else {
		unsigned char code;
		ssize_t n;

		/* Only the daemon needs the passphrase: wipe this copy now. */
		unlock_free(&u);
		close(pipefd[1]);
		do
			n = read(pipefd[0], &code, 1);
		while (n < 0 && errno == EINTR);
		close(pipefd[0]);
		if (n == 1) {
			c = code;
		} else {
			waitpid(pid, NULL, 0);
			fprintf(stderr, "ragstore: the filesystem process died while starting\n");
		}
	}
out:
	free(mnt);
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
		return exit_for(r);
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

	while ((c = getopt_long(argc, argv, "+:h", pass_opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'x': extpass = optarg; break;
		case 'n': newfile = optarg; break;
		case 'K': keypath = optarg; break;
		case 'h': fputs(help_passwd, stdout); return EXIT_OK;
		default: die_bad_option("passwd", c, argc, argv);
		}
	}
	if (optind != argc - 1)
		die_usage("passwd needs exactly one BACKING directory");
	if (keypath && (passfile || extpass))
		die_usage("--masterkey-file replaces the old passphrase: give one or the other");
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
		return exit_for(r);
	}
	printf("Passphrase changed.\n");
	return EXIT_OK;
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
		die_usage("info needs exactly one BACKING directory");
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
	return EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
	const char *t = usage_text;

	if (argc > 1) {
		if (!strcmp(argv[1], "init"))
			t = help_init;
		else if (!strcmp(argv[1], "mount"))
			t = help_mount;
		else if (!strcmp(argv[1], "passwd"))
			t = help_passwd;
		else if (!strcmp(argv[1], "info"))
			t = help_info;
		else if (!strcmp(argv[1], "fsck"))
			t = fsck_help;
		else if (!strcmp(argv[1], "scrub"))
			t = scrub_help;
		else
			die_usage("help: unknown command '%s'", argv[1]);
	}
	fputs(t, stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *cmd;

	umask(0);
	signal(SIGPIPE, SIG_IGN);
	/* Option errors are reported by die_bad_option, in one line. */
	opterr = 0;
	fuselog_install();
	if (argc < 2)
		die_usage("no command given");
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
		return cmd_help(1, argv);
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("ragstore %s\n", RAGSTORE_VERSION);
		return EXIT_OK;
	}
	if (crypto_init() < 0) {
		fprintf(stderr, "ragstore: libsodium failed to initialise\n");
		return EXIT_ERR;
	}
	if (!strcmp(cmd, "help"))
		return cmd_help(argc - 1, argv + 1);
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
	if (cmd[0] == '-')
		die_usage("unknown option %s (options follow the command)", cmd);
	die_usage("unknown command '%s'", cmd);
}
