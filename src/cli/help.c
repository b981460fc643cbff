/* help.c - the help texts of the commands and `ragstore help [TOPIC]`.
 * See help.h. */
#include "help.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_du.h"
#include "cmd_fsck.h"
#include "cmd_scrub.h"
#include "policy.h"

const char help_usage[] =
	"usage: ragstore COMMAND [OPTIONS] ...\n"
	"\n"
	"  init   [--passfile F | --extpass CMD] [--no-encryption] [--plaintext-names]\n"
	"         [--cipher C] [--block-size N] [--compression ALG]\n"
	"         [--masterkey-file F] BACKING\n"
	"  mount  [-f] [-q] [-o OPT[,OPT...]]\n"
	"         [--passfile F | --extpass CMD | --masterkey-file F] [--config F]\n"
	"         BACKING MOUNTPOINT\n"
	"  passwd [--passfile OLD | --extpass CMD | --masterkey-file F]\n"
	"         [--new-passfile NEW] BACKING\n"
	"  fsck   [--repair | --read-only] [--passfile F | --extpass CMD] BACKING\n"
	"  scrub  MOUNTPOINT  (verify every block online, with progress)\n"
	"  info   BACKING\n"
	"  du     [-b] [--policy] PATH...  (stored size per compression algorithm)\n"
	"  help   [COMMAND | config]\n"
	"\n"
	"Unmount with 'fusermount3 -u MOUNTPOINT'.  See ragstore(1).\n";

const char help_init[] =
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

const char help_mount[] =
	"usage: ragstore mount [OPTIONS] BACKING MOUNTPOINT\n"
	"Unlock the store in BACKING and mount it on MOUNTPOINT, which must be an\n"
	"empty directory.  Returns once the mount is usable; the filesystem keeps\n"
	"running in the background and sends its messages to syslog.\n"
	"  -f                stay in the foreground; messages go to stderr\n"
	"  -q                quiet: report errors only\n"
	"  -o OPT[,OPT...]   mount options: allow_other, ro, passfile=F, extpass=CMD,\n"
	"                    masterkey_file=F,\n"
	"                    nonempty (mount over a non-empty directory),\n"
	"                    nopack (leave small files in their own backing files\n"
	"                    instead of their directory's pack), nosyslog\n"
	"                    (keep messages on stderr in the background),\n"
	"                    logfile=FILE (append messages to FILE; SIGHUP\n"
	"                    reopens it),\n"
	"                    cache_size=SIZE (plaintext block cache, default 64M;\n"
	"                    0: none), shared (several daemons, on this machine or\n"
	"                    others, mount the store at once: per-file locks,\n"
	"                    close-to-open caching, flock across them; every mount\n"
	"                    of the store needs it; see docs/SHARED.md), and other\n"
	"                    FUSE options; auto, noauto, _netdev, nofail are\n"
	"                    ignored\n"
	"  --passfile F      passphrase from the first line of F\n"
	"  --extpass CMD     passphrase from the first line CMD prints\n"
	"  --masterkey-file F  unlock with the master key in F instead (what init\n"
	"                    showed or wrote); also when ragstore.conf is missing\n"
	"                    or damaged, with the settings F holds\n"
	"  --config F        storage policies from the ini file F (also -o config=F):\n"
	"                    compression, block size, size limit, retention, backup\n"
	"                    by path; see 'ragstore help config'\n"
	"SIGTERM or SIGINT unmounts cleanly and exits 0.  Exit codes: ragstore(1).\n";

const char help_passwd[] =
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

const char help_info[] =
	"usage: ragstore info BACKING\n"
	"Print the store's settings (no secrets), then what the filesystem holding\n"
	"BACKING supports (O_TMPFILE, renameat2 flags, user xattrs, holes, locks,\n"
	"time granularity, links, FIFOs), probed now in a scratch directory it\n"
	"removes, with the fallback used for each missing feature\n"
	"(docs/BACKING.md).  No passphrase is needed.\n";


int help_cmd(int argc, char **argv)
{
	const char *t = help_usage;

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
		else if (!strcmp(argv[1], "du"))
			t = du_help;
		else if (!strcmp(argv[1], "config"))
			t = policy_help;
		else
			cli_die_usage("help: unknown command '%s'", argv[1]);
	}
	fputs(t, stdout);
	return EXIT_OK;
}
