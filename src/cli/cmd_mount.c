/* cmd_mount.c - `ragstore mount`: options (-o, fstab), the checks made
 * before anything is asked or mounted, unlock, the FUSE session, the daemon
 * and the session loop.  See cmd_mount.h. */
#include "cmd_mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "../fs/fs.h"
#include "../fs/vdir.h"
#include "../fs/wire.h"
#include "fuselog.h"
#include "glusterfs.h"
#include "help.h"
#include "log.h"
#include "masterkey.h"
#include "mountcheck.h"
#include "packer.h"
#include "passphrase.h"
#include "policy.h"
#include "store.h"
#include "unlock.h"
#include "util.h"

struct mount_opts {
	const char *passfile, *extpass, *config, *keyfile, *logfile;
	int foreground, quiet, debug;
	int nosyslog;    /* -o nosyslog: the daemon keeps stderr for messages */
	int nonempty;    /* -o nonempty: mount over a directory with entries */
	int nopack;      /* -o nopack, or -o ro: no packing of small files */
	int shared;      /* -o shared: other daemons may mount the store too */
	int allow_other; /* allow_other or allow_root is among fuse_opts */
	int cache_set;          /* -o cache_size=SIZE given: cache_bytes */
	uint64_t cache_bytes;
	struct policy_set *policies; /* read from config; NULL: built in */
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
			if (util_parse_size(o + 11, &m->cache_bytes) < 0 ||
			    m->cache_bytes > ((uint64_t)1 << 40))
				cli_die_usage("-o cache_size=SIZE: bytes, or with K, M or G (at most 1T)");
			m->cache_set = 1;
		} else if (strcmp(o, "shared") == 0) {
			m->shared = 1;
		} else if (strncmp(o, "logfile=", 8) == 0) {
			if (!o[8])
				cli_die_usage("-o logfile=FILE needs a file name");
			m->logfile = o + 8;
		} else if (strcmp(o, "nopack") == 0) {
			m->nopack = 1;
		} else if (strcmp(o, "nosyslog") == 0) {
			m->nosyslog = 1;
		} else if (strcmp(o, "nonempty") == 0) {
			/* libfuse 3 no longer knows it: ours to check. */
			m->nonempty = 1;
		} else {
			size_t have = strlen(m->fuse_opts);

			if (strcmp(o, "ro") == 0)
				m->nopack = 1; /* the packer writes BACKING */

			if (have + strlen(o) + 2 >= sizeof(m->fuse_opts))
				cli_die_usage("too many mount options");
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
	if (wire_install(se) != 0)
		log_msg(LOG_LVL_WARN, "cannot watch the FUSE channel: the kernel will check "
				      "security.capability at every write");
	fs_set_session(se, s);
	*out = se;
	return EXIT_OK;
}

static void on_sighup(int sig)
{
	(void)sig;
	log_reopen();
}

/* Serve until the filesystem is unmounted, or until SIGTERM, SIGINT or
 * SIGHUP: libfuse's handlers end the loop, which then returns the signal's
 * number; that is a requested stop, so the caller unmounts, saves and
 * exits 0 as after fusermount3 -u (systemd must not see a failure).  With
 * -o logfile, SIGHUP instead reopens the log file (logrotate's postrotate)
 * and serving goes on: set first, it keeps libfuse from taking SIGHUP,
 * since libfuse sets only handlers still at their default. */
static int serve(struct fuse_session *se)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	struct sigaction hup = { .sa_handler = on_sighup, .sa_flags = SA_RESTART };
	int r;

	sigemptyset(&hup.sa_mask);
	if (log_file_path() && sigaction(SIGHUP, &hup, NULL) != 0)
		log_msg(LOG_LVL_WARN, "cannot catch SIGHUP: it will stop the filesystem");
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
	if (log_file_path())
		signal(SIGHUP, SIG_DFL);
	if (r == SIGTERM || r == SIGINT || r == SIGHUP) {
		log_msg(LOG_LVL_INFO, "%s: unmounting", strsignal(r));
		return EXIT_OK;
	}
	if (r != 0)
		log_msg(LOG_LVL_ERROR, "the session loop failed: %s",
			r < 0 ? strerror(-r) : strsignal(r));
	return r == 0 ? EXIT_OK : EXIT_ERR;
}

/* BACKING on a GlusterFS client whose settings ragstore cannot work with
 * (docs/BACKING.md, "GlusterFS settings"): one warning line, or, with -o
 * shared, one line on stderr and EXIT_ERR (nothing is mounted).  A
 * client whose settings cannot be read is warned about only. */
static int mount_backing_check(const struct store *s, int shared)
{
	const struct glusterfs_check *g = &s->probe.gluster;
	char what[512];
	int n = glusterfs_wrong(g, shared, what, sizeof(what));

	if (g->found && !g->read)
		log_msg(LOG_LVL_WARN, "%s is on GlusterFS, but its client's settings cannot be "
			"read (%s): check them by hand (docs/BACKING.md)", s->backing, g->why);
	if (n == 0)
		return EXIT_OK;
	if (shared) {
		fprintf(stderr, "ragstore: -o shared: %s is on a GlusterFS client with %s; shared "
			"mode needs caching translators off and timeouts 0, or mount without "
			"-o shared (docs/SHARED.md)\n", s->backing, what);
		return EXIT_ERR;
	}
	log_msg(LOG_LVL_WARN, "%s is on a GlusterFS client with %s: reads of what was just "
		"written can fail with EIO under load; turn it off (docs/BACKING.md)",
		s->backing, what);
	return EXIT_OK;
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
	int r = unlock_open(backing, u, &s);

	if (r == EXIT_OK)
		store_probe(s);
	if (r == EXIT_OK)
		r = mount_backing_check(s, m->shared);
	if (r == EXIT_OK && m->cache_set && store_set_cache(s, (size_t)m->cache_bytes) < 0) {
		log_msg(LOG_LVL_ERROR, "cannot allocate a block cache of %llu bytes",
			(unsigned long long)m->cache_bytes);
		r = EXIT_ERR;
	}
	if (r == EXIT_OK && m->policies) {
		store_set_policies(s, m->policies);
		m->policies = NULL;
	}
	/* Small files move into their directory's pack (packer.h). */
	if (r == EXIT_OK && !m->nopack)
		packer_start(s);
	if (r == EXIT_OK)
		r = fuse_setup(s, backing, mnt, m, &f);
	if (r == EXIT_OK && status_fd >= 0) {
		int dr = daemon_detach(m->nosyslog || log_file_path(), m->nosyslog, m->quiet);

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
	/* What the packer does from here on tells no session (packer.h). */
	packer_drain(s->packer);
	vdir_stop(s);
	fs_set_session(NULL, s);
	fuse_session_unmount(f);
	fuse_session_destroy(f);
	store_close(s);
	log_msg(LOG_LVL_INFO, "%s unmounted", mnt);
	return r;
}

/* -o logfile=FILE: opened (created 0600) here, with the user's working
 * directory and rights, and kept by its absolute path for SIGHUP's
 * reopen.  Returns EXIT_OK, or EXIT_ERR after one line on stderr. */
static int logfile_open(const char *path)
{
	char cwd[PATH_MAX], abs[PATH_MAX];
	int r = -ENAMETOOLONG;

	if (path[0] == '/')
		r = snprintf(abs, sizeof(abs), "%s", path) < (int)sizeof(abs) ? 0 : r;
	else if (!getcwd(cwd, sizeof(cwd)))
		r = -errno;
	else
		r = snprintf(abs, sizeof(abs), "%s/%s", cwd, path) < (int)sizeof(abs) ? 0 : r;
	if (r == 0)
		r = log_use_file(abs);
	if (r < 0) {
		fprintf(stderr, "ragstore: -o logfile=%s: %s\n", path, strerror(-r));
		return EXIT_ERR;
	}
	return EXIT_OK;
}

/* Read the policy file of --config / -o config= into m->policies, before
 * anything is asked or mounted.  Returns EXIT_OK or EXIT_CONFIG after one
 * line on stderr. */
static int config_read(struct mount_opts *m)
{
	char err[1024];

	if (!m->config)
		return EXIT_OK;
	if (policy_set_load(m->config, &m->policies, err, sizeof(err)) < 0) {
		fprintf(stderr, "ragstore: %s\n", err);
		return EXIT_CONFIG;
	}
	return EXIT_OK;
}

int cmd_mount(int argc, char **argv)
{
	struct mount_opts m;
	struct unlock u;
	char *mnt = NULL;
	int c, pipefd[2];
	pid_t pid;

	memset(&m, 0, sizeof(m));
	while ((c = getopt_long(argc, argv, "+:fo:hdq", cli_pass_opts, NULL)) != -1) {
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
		default: cli_die_bad_option("mount", c, argc, argv);
		}
	}
	if (optind != argc - 2)
		cli_die_usage("mount needs BACKING and MOUNTPOINT");
	if (m.keyfile && (m.passfile || m.extpass))
		cli_die_usage("--masterkey-file replaces the passphrase: give one or the other");
	c = config_read(&m);
	if (c != EXIT_OK)
		return c;
	log_set_level(m.quiet ? LOG_LVL_ERROR : m.debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	c = mount_precheck(argv[optind + 1], &m);
	if (c == EXIT_OK && m.logfile)
		c = logfile_open(m.logfile);
	if (c != EXIT_OK)
		goto out;
	/* Absolute: the daemon changes to / and must still unmount it. */
	mnt = realpath(argv[optind + 1], NULL);
	if (!mnt) {
		fprintf(stderr, "ragstore: mountpoint %s: %s\n", argv[optind + 1], strerror(errno));
		c = EXIT_MOUNTPT;
		goto out;
	}
	/* Ask here, while the terminal the command was typed on is ours: the
	 * daemon below leaves it (setsid) and could not open /dev/tty.  An
	 * --extpass command runs here too, so it may prompt as well. */
	c = unlock_read(argv[optind], m.passfile, m.extpass, m.keyfile, &u);
	if (c != EXIT_OK)
		goto out;
	u.shared = m.shared;
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
	policy_set_free(m.policies);
	free(mnt);
	return c;
}

