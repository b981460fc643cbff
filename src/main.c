/* main.c - the ragstore command line: init, mount, passwd, info.  The only
 * place that exits.  Exit codes are documented in docs/ragstore.1. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cmd_fsck.h"
#include "cli/passphrase.h"
#include "crypto.h"
#include "fs/fs.h"
#include "fs/vdir.h"
#include "log.h"
#include "store.h"

#define RAGSTORE_VERSION "0.1.0"

enum exit_code {
	EXIT_OK = 0,
	EXIT_ERR = 1,
	EXIT_USAGE = 2,
	EXIT_PASS = 3,     /* wrong passphrase */
	EXIT_NOSTORE = 4,  /* not a store, or damaged/altered descriptor */
	EXIT_MOUNTPT = 5,  /* mountpoint missing, not a directory, busy */
};

static const char *usage_text =
	"usage: ragstore COMMAND [OPTIONS] ...\n"
	"\n"
	"  init   [--passfile F | --extpass CMD] [--no-encryption] [--plaintext-names]\n"
	"         [--cipher C] [--block-size N] [--compression ALG] BACKING\n"
	"  mount  [-f] [-o OPT[,OPT...]] [--passfile F | --extpass CMD] BACKING MOUNTPOINT\n"
	"  passwd [--passfile OLD --new-passfile NEW] BACKING\n"
	"  fsck   [--repair | --read-only] [--passfile F | --extpass CMD] BACKING\n"
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
	"                    (default zstd:1)\n";

static const char *help_mount =
	"usage: ragstore mount [OPTIONS] BACKING MOUNTPOINT\n"
	"Unlock the store in BACKING and mount it on MOUNTPOINT.  Returns once the\n"
	"mount is usable; the filesystem keeps running in the background.\n"
	"  -f                stay in the foreground\n"
	"  -o OPT[,OPT...]   mount options: allow_other, ro, passfile=F, and other\n"
	"                    FUSE options; auto, noauto, _netdev, nofail are ignored\n"
	"  --passfile F      passphrase from the first line of F\n"
	"  --extpass CMD     passphrase from the first line CMD prints\n";

static const char *help_passwd =
	"usage: ragstore passwd [--passfile OLD --new-passfile NEW] BACKING\n"
	"Change the passphrase.  Only the wrapped master key changes; no data is rewritten.\n";

static const char *help_info =
	"usage: ragstore info BACKING\n"
	"Print the store's settings (no secrets).\n";

static void die_usage(const char *msg)
{
	fprintf(stderr, "ragstore: %s\n%s", msg, usage_text);
	exit(EXIT_USAGE);
}

/* Map a store_open/store_create error to an exit code. */
static int exit_for(int r)
{
	switch (r) {
	case STORE_EWRONGPASS:
		return EXIT_PASS;
	case STORE_ENOTSTORE:
	case STORE_EDAMAGED:
		return EXIT_NOSTORE;
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
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int cmd_init(int argc, char **argv)
{
	struct store_init_opts o = { .cipher = CIPHER_XCHACHA };
	const char *passfile = NULL, *extpass = NULL;
	char err[512], *pass = NULL, *end;
	size_t passlen = 0;
	unsigned long bs;
	int c, r;

	o.codec.algo = STORE_DEFAULT_ALGO;
	o.codec.level = STORE_DEFAULT_LEVEL;
	while ((c = getopt_long(argc, argv, "+h", pass_opts, NULL)) != -1) {
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
		case 'h': fputs(help_init, stdout); return EXIT_OK;
		default: die_usage("init: unknown option");
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
	}
	r = store_create(argv[optind], &o, pass, passlen, err, sizeof(err));
	passphrase_free(pass);
	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return EXIT_ERR;
	}
	printf("Created %s store in %s.\n",
	       o.cipher == CIPHER_NONE ? "an unencrypted" : "an encrypted", argv[optind]);
	if (o.cipher != CIPHER_NONE)
		printf("Keep your passphrase safe: without it the data cannot be recovered.\n");
	return EXIT_OK;
}

/* The passphrase of the store at backing, asked for only when it has one:
 * *pass is then a passphrase buffer for open_store, else NULL.  Returns
 * EXIT_OK, or an exit code after one line on stderr. */
static int read_passphrase(const char *backing, const char *passfile, const char *extpass,
			   char **pass, size_t *passlen)
{
	char err[512];
	int r = store_needs_passphrase(backing, err, sizeof(err));

	*pass = NULL;
	*passlen = 0;
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
		*pass = passphrase_get(passfile, extpass, "Passphrase: ", 0, passlen);
		if (!*pass)
			return EXIT_ERR;
	}
	return EXIT_OK;
}

/* Unlock a store with the passphrase from read_passphrase, which this
 * wipes and frees whatever the outcome. */
static int open_store(const char *backing, char *pass, size_t passlen, struct store **s)
{
	char err[512];
	int r = store_open(backing, pass, passlen, s, err, sizeof(err));

	passphrase_free(pass);
	if (r < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return exit_for(r);
	}
	return EXIT_OK;
}

/* Passphrase and unlock for the commands in cli/ (cmd_unlock_fn). */
static int unlock_store(const char *backing, const char *passfile, const char *extpass,
			struct store **s)
{
	char *pass;
	size_t passlen;
	int c = read_passphrase(backing, passfile, extpass, &pass, &passlen);

	return c != EXIT_OK ? c : open_store(backing, pass, passlen, s);
}

struct mount_opts {
	const char *passfile, *extpass, *config;
	int foreground;
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
		} else if (strncmp(o, "config=", 7) == 0) {
			m->config = o + 7;
		} else {
			size_t have = strlen(m->fuse_opts);

			if (have + strlen(o) + 2 >= sizeof(m->fuse_opts))
				die_usage("too many mount options");
			if (have)
				strcat(m->fuse_opts, ",");
			strcat(m->fuse_opts, o);
		}
	}
}

static int check_mountpoint(const char *mnt)
{
	struct stat st, parent;
	char up[PATH_MAX];

	if (stat(mnt, &st) < 0) {
		fprintf(stderr, "ragstore: mountpoint %s: %s\n", mnt, strerror(errno));
		return EXIT_MOUNTPT;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "ragstore: mountpoint %s is not a directory\n", mnt);
		return EXIT_MOUNTPT;
	}
	if (snprintf(up, sizeof(up), "%s/..", mnt) < (int)sizeof(up) &&
	    stat(up, &parent) == 0 &&
	    (parent.st_dev != st.st_dev || parent.st_ino == st.st_ino)) {
		fprintf(stderr, "ragstore: mountpoint %s is busy (something is already mounted there)\n",
			mnt);
		return EXIT_MOUNTPT;
	}
	return EXIT_OK;
}

/* Build the FUSE handle and mount it.  Returns 0 or an exit code. */
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
	se = fuse_session_new(&args, &fs_ll_ops, sizeof(fs_ll_ops), s);
	fuse_opt_free_args(&args);
	if (!se) {
		fprintf(stderr, "ragstore: invalid mount options: %s\n", m->fuse_opts);
		return EXIT_USAGE;
	}
	if (fuse_session_mount(se, mnt) != 0) {
		fprintf(stderr, "ragstore: cannot mount on %s (see the message above)\n", mnt);
		fuse_session_destroy(se);
		return EXIT_MOUNTPT;
	}
	fs_set_session(se);
	*out = se;
	return EXIT_OK;
}

static int serve(struct fuse_session *se)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (fuse_set_signal_handlers(se) != 0) {
		fuse_loop_cfg_destroy(cfg);
		return EXIT_ERR;
	}
	fuse_loop_cfg_set_max_threads(cfg, 16);
	fuse_loop_cfg_set_idle_threads(cfg, 8);
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	fuse_remove_signal_handlers(se);
	return r == 0 ? EXIT_OK : EXIT_ERR;
}

/* Unlock (consuming pass, as open_store does), mount and serve.  In the
 * background case this runs in the child, which reports success or the
 * exit code through fd status_fd. */
static int mount_run(const char *backing, const char *mnt, struct mount_opts *m,
		     char *pass, size_t passlen, int status_fd)
{
	struct store *s = NULL;
	struct fuse_session *f = NULL;
	unsigned char code;
	int r = open_store(backing, pass, passlen, &s);

	if (r == EXIT_OK)
		r = fuse_setup(s, backing, mnt, m, &f);
	if (r != EXIT_OK || status_fd < 0) {
		if (status_fd >= 0) {
			code = (unsigned char)r;
			if (write(status_fd, &code, 1) < 0)
				r = EXIT_ERR;
			close(status_fd);
		}
		if (r != EXIT_OK) {
			store_close(s);
			return r;
		}
	} else {
		/* Mounted: detach from the terminal, then let the parent go. */
		int null = open("/dev/null", O_RDWR);

		if (chdir("/") < 0)
			r = EXIT_ERR;
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			if (null > 2)
				close(null);
		}
		log_use_syslog(1);
		code = EXIT_OK;
		if (write(status_fd, &code, 1) < 0)
			r = EXIT_ERR;
		close(status_fd);
	}
	r = vdir_start(s) == 0 ? serve(f) : EXIT_ERR;
	vdir_stop(s);
	fs_set_session(NULL);
	fuse_session_unmount(f);
	fuse_session_destroy(f);
	store_close(s);
	return r;
}

static int cmd_mount(int argc, char **argv)
{
	struct mount_opts m;
	char *pass;
	size_t passlen;
	int c, pipefd[2];
	pid_t pid;

	memset(&m, 0, sizeof(m));
	while ((c = getopt_long(argc, argv, "+fo:hd", pass_opts, NULL)) != -1) {
		switch (c) {
		case 'f': m.foreground = 1; break;
		case 'd': m.foreground = 1; mount_opt_add(&m, (char[]){ "debug" }); break;
		case 'o': mount_opt_add(&m, optarg); break;
		case 'p': m.passfile = optarg; break;
		case 'x': m.extpass = optarg; break;
		case 'C': m.config = optarg; break;
		case 'h': fputs(help_mount, stdout); return EXIT_OK;
		default: die_usage("mount: unknown option");
		}
	}
	if (optind != argc - 2)
		die_usage("mount needs BACKING and MOUNTPOINT");
	if (m.config) {
		fprintf(stderr, "ragstore: --config: policies are not supported by this version\n");
		return EXIT_USAGE;
	}
	c = check_mountpoint(argv[optind + 1]);
	if (c != EXIT_OK)
		return c;
	/* Ask here, while the terminal the command was typed on is ours: the
	 * daemon below leaves it (setsid) and could not open /dev/tty.  An
	 * --extpass command runs here too, so it may prompt as well. */
	c = read_passphrase(argv[optind], m.passfile, m.extpass, &pass, &passlen);
	if (c != EXIT_OK)
		return c;
	if (m.foreground)
		return mount_run(argv[optind], argv[optind + 1], &m, pass, passlen, -1);
	if (pipe(pipefd) < 0) {
		perror("ragstore: pipe");
		passphrase_free(pass);
		return EXIT_ERR;
	}
	pid = fork();
	if (pid < 0) {
		perror("ragstore: fork");
		passphrase_free(pass);
		close(pipefd[0]);
		close(pipefd[1]);
		return EXIT_ERR;
	}
	if (pid == 0) {
		close(pipefd[0]);
		/* The passphrase reached this process as a copy of the parent's
		 * memory, which fork does not keep locked.  Failing to lock is
		 * no reason to refuse the mount (sodium_malloc does not insist
		 * either). */
		passphrase_relock(pass);
		setsid();
		/* Keys are created in this process, so their memory locks (not
		 * inherited across fork) belong to the daemon. */
		_exit(mount_run(argv[optind], argv[optind + 1], &m, pass, passlen, pipefd[1]));
	} else {
		unsigned char code;
		ssize_t n;

		/* Only the daemon needs the passphrase: wipe this copy now. */
		passphrase_free(pass);
		close(pipefd[1]);
		do
			n = read(pipefd[0], &code, 1);
		while (n < 0 && errno == EINTR);
		close(pipefd[0]);
		if (n == 1)
			return code;
		waitpid(pid, NULL, 0);
		fprintf(stderr, "ragstore: the filesystem process died while starting\n");
		return EXIT_ERR;
	}
}

static int cmd_passwd(int argc, char **argv)
{
	const char *passfile = NULL, *extpass = NULL, *newfile = NULL;
	char err[512], *oldp = NULL, *newp = NULL;
	size_t oldlen = 0, newlen = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "+h", pass_opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'x': extpass = optarg; break;
		case 'n': newfile = optarg; break;
		case 'h': fputs(help_passwd, stdout); return EXIT_OK;
		default: die_usage("passwd: unknown option");
		}
	}
	if (optind != argc - 1)
		die_usage("passwd needs exactly one BACKING directory");
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
		else
			die_usage("help: unknown command");
	}
	fputs(t, stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *cmd;

	umask(0);
	signal(SIGPIPE, SIG_IGN);
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
	fprintf(stderr, "ragstore: unknown command '%s'\n%s", cmd, usage_text);
	return EXIT_USAGE;
}
