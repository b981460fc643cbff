#!/usr/bin/env bash
# ragstore benchmark: plain directory (baseline) vs gocryptfs and securefs
# (the encrypted peers) vs ragstore.
#
#   make bench                      (runs: sh bench/run.sh)
#   bash bench/run.sh               (full run: ~25-40 min on a 2-CPU VM)
#   BENCH_QUICK=1 bash bench/run.sh (smoke run: small data, a few minutes)
#
# Every figure is a rate (MB/s, entries/s, files/s, IOPS: higher is better)
# except the stored sizes (MiB: lower is better).  Each step is run
# BENCH_ROUNDS times per target, targets interleaved (round 1 runs every
# target in BENCH_TARGETS order, round 2 in reverse order, round 3 in order
# again, ...; every target starts each round on a freshly created, empty
# filesystem), and the table shows the median of the rounds.  The column
# "rag/peer" is ragstore ÷ the best encrypted peer, i.e. ragstore divided by
# max(gocryptfs, securefs) for rates (>1: ragstore is faster) and by
# min(gocryptfs, securefs) for stored sizes (<1: ragstore stores less);
# "peer" names which peer that was.  "rag/plain" is ragstore ÷ plain.
#
# Steps, per target and round (cold = FUSE daemon restarted, then
# `sync; echo 3 > /proc/sys/vm/drop_caches`):
#   seq write        dd 1 MiB blocks + fsync: compressible (log lines) and
#                    incompressible (urandom) file of BENCH_SIZE_MB each
#   stored size      du -sb / du -sk of the backing dir after each write
#   seq read (cold)  dd both files back
#   untar            tar xf of the linux-6.1 source tree (+ sync): MB/s of
#                    the .tar size and entries/s.  The .tar.xz is
#                    decompressed once, before any timing, into the work dir.
#   ls -lR (cold)    of that tree, entries/s
#   du -s (cold)     of that tree, entries/s
#   cat (cold)       find tree -type f -print0 | xargs -0 cat >/dev/null, MB/s
#                    of file data
#   rm -rf           of that tree (+ sync), entries/s
#   small files      bench/smallfiles.py creates BENCH_SMALL_FILES files of
#                    1-4 KiB (os.open/write/close, 1000 per dir) (+ sync)
#   cp -a            of BENCH_CP_DIRS (sources read once, untimed, so they
#                    come from the page cache) (+ sync), MB/s of du -sb
#                    of the sources; and the growth of the backing dir it
#                    caused (du -sb and du -sk, names and metadata included)
#                    per logical byte: the "copy of /usr" ratio of issue 9
#   4K random I/O    fio psync qd1 O_DIRECT (buffered after a cache drop if
#                    O_DIRECT is refused) randread and randwrite
#   sqlite           bench/sqlite.py: BENCH_SQLITE_TXNS single-row INSERT
#                    transactions in the default rollback-journal mode,
#                    txn/s
#   daemon CPU, RSS  for FUSE targets: CPU seconds (user + system) of the
#                    target's daemons over the whole round, per GiB the
#                    steps moved (seq writes and reads, untar, cat, small
#                    files, cp -a, the random-I/O file's write, and the
#                    random I/O at its measured rate), and the largest peak
#                    RSS (VmHWM) of any of its daemons in the round, MiB;
#                    sampled from /proc just before each unmount
#
# Environment knobs (defaults; BENCH_QUICK=1 values in brackets):
#   BENCH_QUICK=1        fast smoke run with the bracketed defaults below
#   BENCH_ROUNDS         rounds per target; the table shows medians (2 [2])
#   BENCH_TARGETS        subset/order of "plain gocryptfs securefs ragstore"
#                        (default all four)
#   BENCH_STEP_TIMEOUT   seconds per timed step; a step that takes longer is
#                        killed and shows TIMEOUT (900 [300])
#   BENCH_SIZE_MB        size of each sequential file, MiB (1024 [64])
#   BENCH_RAND_MB        size of the random-I/O file, MiB (256 [64])
#   BENCH_FIO_SECONDS    duration of each random-I/O run (15 [3])
#   BENCH_LINUX_TAR      source of the tree (/usr/src/linux-source-6.1.tar.xz,
#                        from Debian's linux-source-6.1; .tar, .tar.xz or
#                        .tar.gz)
#   BENCH_LINUX_ENTRIES  use only the first N tar entries; 0 = the whole tree,
#                        ~80,000 entries / 1.3 GB (0 [5000])
#   BENCH_SMALL_FILES    number of small files (10000 [1000])
#   BENCH_SQLITE_TXNS    sqlite transactions (10000 [1000])
#   BENCH_CP_DIRS        directories copied by the cp -a step.  Default
#                        (~1.1 GB, ~55,000 files on the Debian 12 C machine):
#                        /usr/include /usr/lib/python3 /usr/lib/python3.11
#                        /usr/lib/gcc /usr/share/fpcsrc /usr/share/doc
#                        /usr/share/locale /usr/share/man /usr/share/perl
#                        [~50 MB: /usr/share/perl /usr/include/linux
#                        /usr/share/man/man3 /usr/lib/node_modules]
#                        missing ones are skipped; the report gives the size
#                        and file count measured with du/find on this machine
#   BENCH_DIR            parent of the work dir (/var/tmp); must be on disk
#   BENCH_NO_INSTALL=1   do not apt-get install missing tools
#   RAGSTORE             ragstore binary (<repo>/ragstore); a private copy
#                        is run, so a rebuild during the run does no harm
#   BENCH_RAGSTORE_INIT_OPTS / BENCH_RAGSTORE_MOUNT_OPTS   extra ragstore options
#   BENCH_SECUREFS_CREATE_OPTS  extra `securefs create` options (after --format 4)
#   BENCH_SECUREFS_MOUNT_OPTS   extra `securefs mount` options
#   BENCH_KEEP=1         keep the work dir (data, backing dirs) for inspection
#   BENCH_OUT_MD         markdown output (bench/last-run.md)
#
# Tools: when run as root on Debian, missing fio, gocryptfs, securefs,
# linux-source-6.1, xz-utils, fuse3 and python3 are installed with apt-get.
# The peers: gocryptfs (-scryptn 16, default options) and securefs
# (`securefs create --format 4`, i.e. the "lite" format, default options,
# running in the foreground as a background job of this script).
# Passphrases come from a file in the work dir (securefs reads it on stdin).
#
# Output: a table on stdout, and the same as markdown (plus every round's
# values) in bench/last-run.md (generated output, not committed).  No timing
# assertions: this is a report.  Must run as root for drop_caches (it still
# runs otherwise, with warm caches, and says so).

# `make bench` runs us with sh: re-exec in bash (this line is POSIX).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

set -u
set -o pipefail
export LC_ALL=C

BENCH_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_SRC_DIR/.." && pwd)
RAGSTORE=${RAGSTORE:-$REPO/ragstore}
OUT_MD=${BENCH_OUT_MD:-$BENCH_SRC_DIR/last-run.md}

QUICK=${BENCH_QUICK:-0}
LX_SRC=${BENCH_LINUX_TAR:-/usr/src/linux-source-6.1.tar.xz}
if [ "$QUICK" = 1 ]; then
	SIZE_MB=${BENCH_SIZE_MB:-64}
	RAND_MB=${BENCH_RAND_MB:-64}
	FIO_SECONDS=${BENCH_FIO_SECONDS:-3}
	LX_WANT=${BENCH_LINUX_ENTRIES:-5000}
	NSMALL=${BENCH_SMALL_FILES:-1000}
	NSQL=${BENCH_SQLITE_TXNS:-1000}
	CP_DIRS=${BENCH_CP_DIRS:-/usr/share/perl /usr/include/linux /usr/share/man/man3 /usr/lib/node_modules}
	STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-300}
else
	SIZE_MB=${BENCH_SIZE_MB:-1024}
	RAND_MB=${BENCH_RAND_MB:-256}
	FIO_SECONDS=${BENCH_FIO_SECONDS:-15}
	LX_WANT=${BENCH_LINUX_ENTRIES:-0}
	NSMALL=${BENCH_SMALL_FILES:-10000}
	NSQL=${BENCH_SQLITE_TXNS:-10000}
	CP_DIRS=${BENCH_CP_DIRS:-/usr/include /usr/lib/python3 /usr/lib/python3.11 /usr/lib/gcc /usr/share/fpcsrc /usr/share/doc /usr/share/locale /usr/share/man /usr/share/perl}
	STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-900}
fi
ROUNDS=${BENCH_ROUNDS:-2}
TARGETS=${BENCH_TARGETS:-plain gocryptfs securefs ragstore}
PASSPHRASE="ragstore-bench-passphrase"

log()  { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
note() { NOTES+=("$*"); log "NOTE: $*"; }
die()  { log "FATAL: $*"; exit 1; }
NOTES=()

case $ROUNDS in ''|*[!0-9]*|0) die "BENCH_ROUNDS must be a positive integer, not '$ROUNDS'" ;; esac
for v in SIZE_MB RAND_MB FIO_SECONDS LX_WANT NSMALL STEP_TIMEOUT; do
	case ${!v} in ''|*[!0-9]*) die "$v must be a non-negative integer, not '${!v}'" ;; esac
done

# ---------------------------------------------------------------- work dir --
PARENT=${BENCH_DIR:-/var/tmp}
mkdir -p "$PARENT" || die "cannot create BENCH_DIR $PARENT"
# stat -f names ext4 "ext2/ext3" (one magic number); findmnt knows the type.
fstype=$(findmnt -n -o FSTYPE --target "$PARENT" 2>/dev/null || stat -f -c %T "$PARENT" 2>/dev/null || echo unknown)
case $fstype in
tmpfs|ramfs) log "WARNING: $PARENT is $fstype (RAM), not disk: figures will not reflect disk I/O" ;;
esac
WORK=$(mktemp -d "$PARENT/ragstore-bench.XXXXXX") || die "mktemp in $PARENT failed"
WORK=$(cd "$WORK" && pwd -P)
DATA=$WORK/data
mkdir -p "$DATA"
printf '%s\n' "$PASSPHRASE" > "$WORK/passfile"
chmod 600 "$WORK/passfile"

# ------------------------------------------------------------ mount tracking --
MOUNTED=()     # mountpoints we mounted and have not yet unmounted
STARTED=()     # PIDs of FUSE daemons we started as our own background jobs

# PIDs of processes (other than us) that have MNT as one exact argv element:
# the FUSE daemons we started for that mountpoint (paths are unique to $WORK).
daemon_pids() {
	local mnt=$1 p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		[ "$p" = "${BASHPID:-$$}" ] && continue
		tr '\0' '\n' 2>/dev/null < "/proc/$p/cmdline" | grep -qxF -- "$mnt" && echo "$p"
	done
	return 0
}

# Unmount MNT and wait for its daemon to exit (so that everything it buffered is
# in the backing directory before we measure it).  Kills, by PID, only a daemon
# serving this mountpoint, and only if it does not exit within 120 s.
fuse_umount() {
	local mnt=$1 pids i ok=0 p m
	pids=$(daemon_pids "$mnt")
	if mountpoint -q "$mnt"; then
		for i in 1 2 3 4 5 6 7 8 9 10; do
			if fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null; then ok=1; break; fi
			sleep 1
		done
		if [ $ok = 0 ]; then
			log "unmount of $mnt failed (busy?); lazy unmount"
			fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
		fi
	fi
	local -a left=()
	for p in $pids; do left+=("$p"); done
	for i in $(seq 1 1200); do
		local -a still=()
		for p in "${left[@]}"; do [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && still+=("$p"); done
		left=("${still[@]}")
		[ ${#left[@]} -eq 0 ] && break
		sleep 0.1
	done
	if [ ${#left[@]} -gt 0 ]; then
		log "daemon(s) ${left[*]} for $mnt still running after 120 s: SIGTERM"
		kill -TERM "${left[@]}" 2>/dev/null; sleep 3
		kill -KILL "${left[@]}" 2>/dev/null
	fi
	local -a keep=()
	for m in "${MOUNTED[@]}"; do [ "$m" != "$mnt" ] && keep+=("$m"); done
	MOUNTED=("${keep[@]}")
	return 0
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	local m p
	for m in "${MOUNTED[@]}"; do log "cleanup: unmounting $m"; fuse_umount "$m"; done
	# Belt and braces: anything still mounted below $WORK.
	while read -r _ m _; do
		case $m in "$WORK"/*) log "cleanup: unmounting stray $m"; fuse_umount "$m" ;; esac
	done < /proc/mounts
	# Our own background daemons that are somehow still alive (by PID only).
	for p in "${STARTED[@]}"; do
		if [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
			log "cleanup: daemon $p still running: SIGTERM"; kill -TERM "$p" 2>/dev/null
		fi
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "BENCH_KEEP=1: work dir kept at $WORK"
	elif grep -q " $WORK/" /proc/mounts; then
		log "something is still mounted under $WORK; not removing it"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# ------------------------------------------------------------------ helpers --
now() { date +%s.%N; }
DROP_OK=1
drop_caches() {
	sync
	if ! { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null; then
		if [ $DROP_OK = 1 ]; then note "cannot drop caches (not root?): cold steps may be served from page cache"; fi
		DROP_OK=0
	fi
}
warm() { cat "$@" > /dev/null; }

# timed CMD: run CMD (a shell command string) under the step timeout; sets
# ELAPSED (seconds, or TIMEOUT) and returns CMD's status.
ELAPSED=
timed() {
	local t0 t1 rc
	t0=$(now)
	timeout --kill-after=10 "$STEP_TIMEOUT" bash -c "$1"
	rc=$?
	t1=$(now)
	ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
	case $rc in 124|137)
		note "$CUR_T round $ROUND: step timed out after ${STEP_TIMEOUT} s (raise BENCH_STEP_TIMEOUT): ${1//$WORK/\$WORK}"
		ELAPSED=TIMEOUT ;;
	esac
	return $rc
}

# Results: R[target:metric:round] = number, or TIMEOUT / FAIL / NA.
declare -A R
ROUND=0
CUR_T=-
setr() { R["$1:$2:$ROUND"]=$3; }
getr() { echo "${R["$1:$2:$ROUND"]:-}"; }
# rate AMOUNT DIVISOR SECONDS -> AMOUNT/DIVISOR per second
rate() { awk -v a="$1" -v d="$2" -v s="$3" 'BEGIN{ if (s > 0) printf "%.3f", a/d/s; else print "NA" }'; }

# step TARGET KEY AMOUNT DIVISOR ON_ERROR CMD: time CMD and store the rate
# AMOUNT/DIVISOR/s under KEY.  If CMD fails (but did not time out), ON_ERROR
# says what is stored: "keep" (the rate; a note says CMD reported errors) or
# "fail" (FAIL).  Returns 0 if a rate was stored.
step() {
	local t=$1 k=$2 amt=$3 div=$4 onerr=$5 cmd=$6 rc
	timed "$cmd"; rc=$?
	if [ "$ELAPSED" = TIMEOUT ]; then setr "$t" "$k" TIMEOUT; return 1; fi
	if [ $rc = 0 ]; then setr "$t" "$k" "$(rate "$amt" "$div" "$ELAPSED")"; return 0; fi
	local err=""; [ -s "$WORK/step.err" ] && err=": $(head -c 300 "$WORK/step.err" | head -2 | tr '\n' ' ')"
	if [ "$onerr" = keep ]; then
		note "$t round $ROUND: $k: command exited $rc (figure kept)$err"
		setr "$t" "$k" "$(rate "$amt" "$div" "$ELAPSED")"; return 0
	fi
	note "$t round $ROUND: $k: command failed (exit $rc)$err"
	setr "$t" "$k" FAIL; return 1
}

# ------------------------------------------------------------------- tools --
HAVE_ROOT=0; [ "$(id -u)" = 0 ] && HAVE_ROOT=1
apt_install() {   # apt_install PKG...: all at once, else one by one
	[ "${BENCH_NO_INSTALL:-0}" = 1 ] && return 1
	command -v apt-get >/dev/null 2>&1 || return 1
	[ $HAVE_ROOT = 1 ] || return 1
	local -a o=(-y -qq -o DPkg::Lock::Timeout=600)
	log "installing $* (apt-get; log in the work dir)"
	DEBIAN_FRONTEND=noninteractive apt-get install "${o[@]}" "$@" >> "$WORK/apt.log" 2>&1 && return 0
	DEBIAN_FRONTEND=noninteractive apt-get update -qq -o DPkg::Lock::Timeout=600 >> "$WORK/apt.log" 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install "${o[@]}" "$@" >> "$WORK/apt.log" 2>&1 && return 0
	local p rc=0
	for p in "$@"; do
		DEBIAN_FRONTEND=noninteractive apt-get install "${o[@]}" "$p" >> "$WORK/apt.log" 2>&1 || { log "apt-get install $p failed"; rc=1; }
	done
	return $rc
}
wants() { case " $TARGETS " in *" $1 "*) return 0 ;; esac; return 1; }
NEED=()
command -v fio >/dev/null 2>&1 || NEED+=(fio)
command -v xz >/dev/null 2>&1 || NEED+=(xz-utils)
command -v python3 >/dev/null 2>&1 || [ -x /usr/bin/python3 ] || NEED+=(python3)
if wants gocryptfs || wants securefs || wants ragstore; then
	command -v fusermount3 >/dev/null 2>&1 || NEED+=(fuse3)
fi
wants gocryptfs && { command -v gocryptfs >/dev/null 2>&1 || NEED+=(gocryptfs); }
wants securefs && { command -v securefs >/dev/null 2>&1 || NEED+=(securefs); }
if [ -z "${BENCH_LINUX_TAR:-}" ] && [ ! -e "$LX_SRC" ]; then NEED+=(linux-source-6.1); fi
if [ ${#NEED[@]} -gt 0 ]; then
	apt_install "${NEED[@]}" || log "could not install all of: ${NEED[*]} (see notes)"
fi
HAVE_FIO=0; command -v fio >/dev/null 2>&1 && HAVE_FIO=1
# Debian's python3 rather than a pyenv shim (whose start-up costs ~0.1 s).
if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=$(command -v python3 || true); fi
if [ $HAVE_FIO = 0 ]; then
	if [ -n "$PYTHON" ]; then note "fio unavailable: random I/O measured with bench/randio.py (python, qd1)"
	else note "neither fio nor python3 available: random I/O not measured (NA)"; fi
fi
[ -n "$PYTHON" ] || note "python3 unavailable: small-file step not measured (NA)"

# Which targets can run?
ACTIVE=()
for t in $TARGETS; do
	case $t in
	plain) ACTIVE+=(plain) ;;
	gocryptfs|securefs)
		if command -v "$t" >/dev/null 2>&1; then ACTIVE+=("$t")
		else note "$t not installed (apt-get failed?): skipped"; fi ;;
	ragstore)
		if [ -x "$RAGSTORE" ]; then ACTIVE+=(ragstore)
		else note "ragstore binary $RAGSTORE not built (run make): skipped"; fi ;;
	*) note "unknown target '$t' ignored" ;;
	esac
done
[ ${#ACTIVE[@]} -gt 0 ] || die "no target to run"
# Run a private copy of the binary, so a rebuild (make clean) in the repo
# during the run cannot pull it from under us.
# The repo state is read now, as the binary is copied (others may commit or
# edit during the run); the binary may of course be older than the tree.
RAGSTORE_GIT="repo at git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
[ -n "$(git -C "$REPO" status --porcelain -- src include Makefile 2>/dev/null)" ] && RAGSTORE_GIT+=" + uncommitted changes to src/include/Makefile"
RAGSTORE_GIT+=" when the run started; binary built $(date -u -r "$RAGSTORE" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?')"
if [ -x "$RAGSTORE" ] && cp "$RAGSTORE" "$WORK/ragstore" 2>/dev/null; then
	RAGSTORE_SRC=$RAGSTORE; RAGSTORE=$WORK/ragstore
else
	RAGSTORE_SRC=$RAGSTORE
fi

# ----------------------------------------------------------------- targets --
# Each target has a root (where the benchmark's files go) and, for FUSE
# targets, a backing dir and a mountpoint.
t_root()    { case $1 in plain) echo "$WORK/plain" ;; *) echo "$WORK/$1.mnt" ;; esac; }
t_backing() { case $1 in plain) echo "$WORK/plain" ;; *) echo "$WORK/$1.backing" ;; esac; }

t_init() {
	local t=$1 b; b=$(t_backing "$t")
	case $t in
	plain) mkdir -p "$b" ;;
	gocryptfs)
		mkdir -p "$b" "$(t_root "$t")"
		gocryptfs -q -init -passfile "$WORK/passfile" -scryptn 16 "$b" >> "$WORK/$t.log" 2>&1 ;;
	securefs)
		mkdir -p "$b" "$(t_root "$t")"
		# The passphrase is read from stdin (not on the command line).
		# shellcheck disable=SC2086
		timeout 120 securefs create --format 4 ${BENCH_SECUREFS_CREATE_OPTS:-} "$b" < "$WORK/passfile" >> "$WORK/$t.log" 2>&1 ;;
	ragstore)
		mkdir -p "$b" "$(t_root "$t")"
		# shellcheck disable=SC2086
		if ! timeout 120 "$RAGSTORE" init ${BENCH_RAGSTORE_INIT_OPTS:-} --passfile "$WORK/passfile" "$b" >> "$WORK/$t.log" 2>&1; then
			# In case init wants to create the directory itself.
			rmdir "$b" 2>/dev/null
			# shellcheck disable=SC2086
			timeout 120 "$RAGSTORE" init ${BENCH_RAGSTORE_INIT_OPTS:-} --passfile "$WORK/passfile" "$b" >> "$WORK/$t.log" 2>&1
		fi ;;
	esac
}

t_mount() {
	local t=$1 b m rc=0 pid i
	b=$(t_backing "$t"); m=$(t_root "$t")
	case $t in
	plain) return 0 ;;
	gocryptfs) timeout 60 gocryptfs -q -nosyslog -passfile "$WORK/passfile" "$b" "$m" >> "$WORK/$t.log" 2>&1; rc=$? ;;
	securefs)
		# Foreground daemon as our background job; it exits when unmounted.
		# shellcheck disable=SC2086
		securefs mount ${BENCH_SECUREFS_MOUNT_OPTS:-} "$b" "$m" < "$WORK/passfile" >> "$WORK/$t.log" 2>&1 &
		pid=$!
		STARTED+=("$pid")
		for i in $(seq 1 600); do
			mountpoint -q "$m" && break
			kill -0 "$pid" 2>/dev/null || { wait "$pid"; rc=$?; break; }
			sleep 0.1
		done
		if ! mountpoint -q "$m" && kill -0 "$pid" 2>/dev/null; then
			log "securefs (pid $pid) did not mount within 60 s: SIGTERM"
			kill -TERM "$pid" 2>/dev/null; rc=124
		fi ;;
	ragstore)
		# shellcheck disable=SC2086
		timeout 60 "$RAGSTORE" mount ${BENCH_RAGSTORE_MOUNT_OPTS:-} --passfile "$WORK/passfile" "$b" "$m" >> "$WORK/$t.log" 2>&1; rc=$? ;;
	esac
	if mountpoint -q "$m"; then MOUNTED+=("$m"); return 0; fi
	log "mount of $t failed (rc=$rc); log: $(tail -3 "$WORK/$t.log" | tr '\n' ' ')"
	return 1
}

# Add the CPU time of target t's daemons to this round's sum and keep the
# largest peak RSS (before they exit at unmount).
daemon_sample() {
	local t=$1 p ticks hwm cpu rss
	for p in $(daemon_pids "$(t_root "$t")"); do
		ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) || continue
		hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		cpu=$(getr "$t" cpu_ticks); rss=$(getr "$t" rss_kb)
		setr "$t" cpu_ticks $(( ${cpu:-0} + ${ticks:-0} ))
		[ "${hwm:-0}" -gt "${rss:-0}" ] && setr "$t" rss_kb "$hwm"
	done
	return 0
}
moved() { setr "$CUR_T" moved $(( $(getr "$CUR_T" moved) + $1 )); }
# The bytes a random-I/O run of IOPS 4 KiB operations a second moved.
moved_io() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]] && moved "$(awk -v i="$1" -v s="$FIO_SECONDS" 'BEGIN { printf "%.0f", i * s * 4096 }')"; return 0; }

t_umount() {
	case $1 in plain) sync ;; *) daemon_sample "$1"; fuse_umount "$(t_root "$1")" ;; esac
}

# Remount (FUSE) and drop caches so the next step starts cold.
t_cold() {
	local t=$1
	t_umount "$t"
	drop_caches
	t_mount "$t"
}

# du of the backing dir: prints "apparent_bytes allocated_KiB".
t_du() {
	local b; b=$(t_backing "$1")
	sync
	printf '%s %s\n' "$(du -sb "$b" | cut -f1)" "$(du -sk "$b" | cut -f1)"
}

# -------------------------------------------------------------- test data --
SIZE_BYTES=$((SIZE_MB * 1048576))
COMP=$DATA/compressible.log
INCOMP=$DATA/incompressible.bin
LXTAR=$DATA/linux.tar

log "work dir $WORK ($fstype); targets: ${ACTIVE[*]}; $ROUNDS round(s)"
log "preparing ${SIZE_MB} MiB compressible (log lines) and incompressible (urandom) files"
# 8 MiB of varied, log-like lines (timestamps, levels, ids, paths, IPs), then
# repeated to size: every 1 MiB block looks like a real log, so per-block
# compression sees a realistic ratio.
awk -v want=$((8 * 1048576)) 'BEGIN {
	srand(42)
	split("INFO INFO INFO INFO INFO DEBUG DEBUG WARN ERROR", lv, " ")
	split("GET GET GET GET POST POST PUT DELETE", me, " ")
	split("/api/v1/users /api/v1/orders /static/app.js /index.html /api/v1/search /healthz /api/v2/items /login /api/v1/cart /metrics", pa, " ")
	split("auth db cache http worker scheduler billing search", sv, " ")
	split("200 200 200 200 200 200 201 204 301 304 400 401 403 404 500 503", st, " ")
	split("Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0|curl/8.4.0|Go-http-client/1.1|python-requests/2.31.0|Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Safari/605.1.15", ua, "|")
	s = 0; n = 0
	while (n < want) {
		s += rand() * 0.2
		sec = int(s); ms = int((s - sec) * 1000)
		line = sprintf("2024-05-%02d %02d:%02d:%02d.%03d %-5s [%s] pid=%d req=%08x %s %s?id=%d&page=%d status=%s bytes=%d dur=%.3fms client=10.%d.%d.%d ua=\"%s\"",
			1 + int(sec / 86400) % 28, int(sec / 3600) % 24, int(sec / 60) % 60, sec % 60, ms,
			lv[1 + int(rand() * 9)], sv[1 + int(rand() * 8)], 1000 + int(rand() * 8),
			int(rand() * 4294967295), me[1 + int(rand() * 8)], pa[1 + int(rand() * 10)],
			int(rand() * 100000), int(rand() * 20), st[1 + int(rand() * 16)],
			int(rand() * 65536), rand() * 250, int(rand() * 4), int(rand() * 256), int(rand() * 256),
			ua[1 + int(rand() * 5)])
		print line
		n += length(line) + 1
	}
}' > "$DATA/chunk.log" || die "generating log data failed"
: > "$COMP"
while [ "$(stat -c %s "$COMP")" -lt "$SIZE_BYTES" ]; do cat "$DATA/chunk.log" >> "$COMP"; done
truncate -s "$SIZE_BYTES" "$COMP"
rm -f "$DATA/chunk.log"
dd if=/dev/urandom of="$INCOMP" bs=1M count="$SIZE_MB" status=none || die "urandom data failed"

# The linux tree, as a plain .tar (decompressed once, here, untimed).
HAVE_LX=0
lx_cat() {
	case $LX_SRC in
	*.xz|*.txz) xz -dc "$LX_SRC" ;;
	*.gz|*.tgz) gzip -dc "$LX_SRC" ;;
	*) cat "$LX_SRC" ;;
	esac
}
if [ ! -r "$LX_SRC" ]; then
	note "tree source $LX_SRC missing (apt-get install linux-source-6.1 failed?): tree steps NA"
else
	if [ "$LX_WANT" -gt 0 ]; then
		log "cutting the first $LX_WANT entries of $LX_SRC into a .tar"
		# "block N:" of entry LX_WANT+1 = where the slice ends (512-byte blocks).
		blk=$(lx_cat 2>/dev/null | tar -tR -f - 2>/dev/null | sed -n "$((LX_WANT + 1)){s/^block \([0-9]*\):.*/\1/p;q;}")
		if [ -n "$blk" ]; then
			lx_cat 2>/dev/null | head -c $((blk * 512)) > "$LXTAR"
			dd if=/dev/zero bs=512 count=2 status=none >> "$LXTAR"   # end-of-archive
		else
			lx_cat > "$LXTAR"   # fewer entries than that: all of it
		fi
	else
		log "decompressing $LX_SRC into the work dir (untimed)"
		lx_cat > "$LXTAR" || rm -f "$LXTAR"
	fi
	if [ -s "$LXTAR" ] && tar tvf "$LXTAR" > "$WORK/linux.list" 2>"$WORK/linux.list.err"; then
		HAVE_LX=1
		LX_ENTRIES=$(wc -l < "$WORK/linux.list")
		LX_FILES=$(grep -c '^-' "$WORK/linux.list")
		LX_BYTES=$(awk '$1 ~ /^-/ {s += $3} END {printf "%.0f", s}' "$WORK/linux.list")
		LX_TAR_BYTES=$(stat -c %s "$LXTAR")
		LX_TOP=$(head -1 "$WORK/linux.list" | awk '{print $NF}' | cut -d/ -f1)
		# ls -lR (no -a) neither shows nor descends into dot entries.
		tar tf "$LXTAR" | sed 's|/$||' > "$WORK/linux.names"
		LX_LS_ENTRIES=$(grep -vc '\(^\|/\)\.' "$WORK/linux.names")
		LX_LS_FILES=$(paste -d' ' <(awk '{print substr($1,1,1)}' "$WORK/linux.list") "$WORK/linux.names" | grep '^- ' | cut -c3- | grep -vc '\(^\|/\)\.')
		log "tree: $LX_ENTRIES entries, $LX_FILES regular files, $((LX_BYTES / 1048576)) MiB of file data, tar $((LX_TAR_BYTES / 1048576)) MiB"
	else
		note "could not prepare the tree tar from $LX_SRC: $(head -2 "$WORK/linux.list.err" 2>/dev/null | tr '\n' ' '): tree steps NA"
	fi
fi

# The cp -a source.
CP_LIST=()
CP_REL=()   # the same without the leading / (cp --parents runs from /)
for d in $CP_DIRS; do
	if [ -d "$d" ]; then
		d=$(realpath -s "$d"); CP_LIST+=("$d"); CP_REL+=("${d#/}")
	else log "cp source $d missing: skipped"; fi
done
HAVE_CP=0
if [ ${#CP_LIST[@]} -gt 0 ]; then
	HAVE_CP=1
	CP_BYTES=$(du -scb "${CP_LIST[@]}" | tail -1 | cut -f1)
	CP_FILES=$(find "${CP_LIST[@]}" -type f | wc -l)
	CP_ENTRIES=$(find "${CP_LIST[@]}" | wc -l)
	log "cp source: ${CP_LIST[*]}: $((CP_BYTES / 1000000)) MB (du -sb), $CP_FILES files, $CP_ENTRIES entries"
else
	note "none of BENCH_CP_DIRS exists: cp -a step NA"
fi
warm_cp() { du -s "${CP_LIST[@]}" > /dev/null; find "${CP_LIST[@]}" -type f -print0 | xargs -0 cat > /dev/null 2>&1; true; }

# -------------------------------------------------------------- random I/O --
# rand_io TARGET FILE rw: sets RAND_OUT to the IOPS (or FAIL); notes if
# O_DIRECT was refused.  (Not run in a subshell: it may remount.)
RAND_OUT=
RAND_BUF=0   # 1 if the figure was measured buffered (O_DIRECT refused)
rand_io() {
	local t=$1 f=$2 rw=$3 out direct
	RAND_OUT=FAIL; RAND_BUF=0
	if [ $HAVE_FIO = 1 ]; then
		for direct in 1 0; do
			if [ $direct = 0 ]; then
				note "$t round $ROUND: O_DIRECT refused, $rw measured buffered (after cache drop; marked b)"
				RAND_BUF=1
				t_cold "$t" || return
			fi
			out=$(timeout --kill-after=10 $((FIO_SECONDS + 300)) fio --name="$rw" --filename="$f" \
				--size="${RAND_MB}M" --bs=4k --rw="$rw" --direct=$direct --ioengine=psync \
				--iodepth=1 --numjobs=1 --runtime="$FIO_SECONDS" --time_based --norandommap \
				--randrepeat=1 --end_fsync=1 --output-format=terse --terse-version=3 \
				2>"$WORK/fio-$t-$rw.err")
			if [ $? = 0 ] && [ -n "$out" ]; then
				# terse v3: field 8 = read IOPS, field 49 = write IOPS
				if [ "$rw" = randread ]; then RAND_OUT=$(echo "$out" | awk -F';' '{print $8}')
				else RAND_OUT=$(echo "$out" | awk -F';' '{print $49}'); fi
				return
			fi
			grep -qi 'invalid argument\|O_DIRECT' "$WORK/fio-$t-$rw.err" || break
		done
		note "$t round $ROUND: fio $rw failed: $(head -3 "$WORK/fio-$t-$rw.err" | tr '\n' ' ')"
		return
	fi
	if [ -n "$PYTHON" ]; then
		local m="read" rc; [ "$rw" = randwrite ] && m="write"
		out=$("$PYTHON" "$BENCH_SRC_DIR/randio.py" "$m" "$f" "$FIO_SECONDS" --direct 2>"$WORK/randio-$t.err"); rc=$?
		if [ $rc = 3 ]; then
			note "$t round $ROUND: O_DIRECT refused, $rw measured buffered (after cache drop; marked b)"
			RAND_BUF=1
			t_cold "$t" || return
			out=$("$PYTHON" "$BENCH_SRC_DIR/randio.py" "$m" "$f" "$FIO_SECONDS" 2>"$WORK/randio-$t.err"); rc=$?
		fi
		[ $rc = 0 ] && RAND_OUT=$out
		return
	fi
	RAND_OUT=NA
}

# ------------------------------------------------------------ run a target --
# Every metric a round leaves unset is shown as NA (a note says why).
run_target() {
	local t=$1 root b sb0 sk0 sb1 sk1 sb2 sk2 n
	root=$(t_root "$t"); b=$(t_backing "$t")
	CUR_T=$t
	log "=== $t, round $ROUND ==="
	setr "$t" moved 0
	if ! t_init "$t"; then note "$t round $ROUND: init failed: $(tail -2 "$WORK/$t.log" | tr '\n' ' ')"; return 1; fi
	read -r sb0 sk0 < <(t_du "$t")
	t_mount "$t" || { note "$t round $ROUND: mount failed: $(tail -2 "$WORK/$t.log" | tr '\n' ' ')"; return 1; }

	# Sequential writes (source files pre-read into the page cache: not timed).
	warm "$COMP"
	step "$t" w_comp "$SIZE_BYTES" 1e6 fail "dd if='$COMP' of='$root/seq-comp' bs=1M conv=fsync status=none 2>'$WORK/step.err'"
	log "$t: seq write compressible $(getr "$t" w_comp) MB/s"
	moved "$SIZE_BYTES"
	t_umount "$t"
	read -r sb1 sk1 < <(t_du "$t")
	t_mount "$t" || return 1
	warm "$INCOMP"
	step "$t" w_inc "$SIZE_BYTES" 1e6 fail "dd if='$INCOMP' of='$root/seq-incomp' bs=1M conv=fsync status=none 2>'$WORK/step.err'"
	log "$t: seq write incompressible $(getr "$t" w_inc) MB/s"
	moved "$SIZE_BYTES"
	t_umount "$t"
	read -r sb2 sk2 < <(t_du "$t")
	setr "$t" st_comp $((sb1 - sb0))
	setr "$t" st_inc $((sb2 - sb1))
	setr "$t" al_comp $(((sk1 - sk0) * 1024))
	setr "$t" al_inc $(((sk2 - sk1) * 1024))
	log "$t: stored bytes (du -sb / du -sk): compressible $((sb1 - sb0)) / $(((sk1 - sk0) * 1024)), incompressible $((sb2 - sb1)) / $(((sk2 - sk1) * 1024)) (logical $SIZE_BYTES each)"

	# Sequential reads, cold (caches dropped, FUSE daemon restarted).
	drop_caches
	t_mount "$t" || return 1
	step "$t" r_comp "$SIZE_BYTES" 1e6 fail "dd if='$root/seq-comp' of=/dev/null bs=1M status=none 2>'$WORK/step.err'"
	step "$t" r_inc "$SIZE_BYTES" 1e6 fail "dd if='$root/seq-incomp' of=/dev/null bs=1M status=none 2>'$WORK/step.err'"
	log "$t: seq read compressible $(getr "$t" r_comp) MB/s, incompressible $(getr "$t" r_inc) MB/s"
	moved $((2 * SIZE_BYTES))
	# Correctness check (untimed): a fast wrong answer is not a result.
	cmp -s "$COMP" "$root/seq-comp" || note "$t round $ROUND: read-back of compressible file DIFFERS from source"
	cmp -s "$INCOMP" "$root/seq-incomp" || note "$t round $ROUND: read-back of incompressible file DIFFERS from source"
	rm -f "$root/seq-comp" "$root/seq-incomp"
	sync

	# The linux tree: untar, ls -lR (cold), du -s (cold), cat (cold), rm -rf.
	if [ $HAVE_LX = 1 ]; then
		local tree=$root/tree tree_ok=1
		mkdir -p "$tree"
		warm "$LXTAR"
		if timed "tar xf '$LXTAR' -C '$tree' 2>'$WORK/step.err' && sync"; then
			setr "$t" untar_mb "$(rate "$LX_TAR_BYTES" 1e6 "$ELAPSED")"
			setr "$t" untar_eps "$(rate "$LX_ENTRIES" 1 "$ELAPSED")"
		elif [ "$ELAPSED" = TIMEOUT ]; then
			setr "$t" untar_mb TIMEOUT; setr "$t" untar_eps TIMEOUT; tree_ok=0
		else
			note "$t round $ROUND: tar xf failed: $(head -2 "$WORK/step.err" | tr '\n' ' ')"
			setr "$t" untar_mb FAIL; setr "$t" untar_eps FAIL; tree_ok=0
		fi
		log "$t: untar $(getr "$t" untar_mb) MB/s, $(getr "$t" untar_eps) entries/s"
		moved "$LX_TAR_BYTES"
		if [ $tree_ok = 0 ]; then
			note "$t round $ROUND: tree incomplete after untar, so ls/du/cat/rm are NA"
		else
			t_cold "$t" || return 1
			step "$t" ls "$LX_LS_ENTRIES" 1 keep "ls -lR '$tree' > '$WORK/ls-$t.out' 2>'$WORK/step.err'"
			n=$(grep -c '^-' "$WORK/ls-$t.out")
			[ "$n" = "$LX_LS_FILES" ] || note "$t round $ROUND: ls -lR saw $n regular files, expected $LX_LS_FILES (the tar's files less dot files)"
			log "$t: ls -lR $(getr "$t" ls) entries/s ($n files)"
			t_cold "$t" || return 1
			step "$t" du "$LX_ENTRIES" 1 keep "du -s '$tree' > '$WORK/du-$t.out' 2>'$WORK/step.err'"
			log "$t: du -s $(getr "$t" du) entries/s ($(cut -f1 "$WORK/du-$t.out") KiB)"
			t_cold "$t" || return 1
			step "$t" cat "$LX_BYTES" 1e6 keep "find '$tree' -type f -print0 2>'$WORK/step.err' | xargs -0 cat > /dev/null 2>>'$WORK/step.err'"
			log "$t: cat all files $(getr "$t" cat) MB/s"
			moved "$LX_BYTES"
			step "$t" rm "$LX_ENTRIES" 1 fail "rm -rf '$tree' 2>'$WORK/step.err' && sync"
			log "$t: rm -rf $(getr "$t" rm) entries/s"
		fi
	fi

	# Small files.
	if [ -n "$PYTHON" ]; then
		mkdir -p "$root/small"
		step "$t" small "$NSMALL" 1 fail "'$PYTHON' '$BENCH_SRC_DIR/smallfiles.py' '$root/small' $NSMALL > '$WORK/small-$t.out' 2>'$WORK/step.err' && sync"
		n=$(find "$root/small" -type f | wc -l)
		[ "$n" = "$NSMALL" ] || note "$t round $ROUND: small-file step left $n files, wanted $NSMALL"
		log "$t: small files $(getr "$t" small) files/s"
		moved "$(awk '{ print $2 + 0 }' "$WORK/small-$t.out")"
		rm -f "$root/sq.db" "$root/sq.db-journal"
		step "$t" sqlite "$NSQL" 1 fail "'$PYTHON' '$BENCH_SRC_DIR/sqlite.py' '$root/sq.db' $NSQL > /dev/null 2>'$WORK/step.err'"
		log "$t: sqlite $(getr "$t" sqlite) txn/s"
	fi

	# cp -a of part of /usr (sources warmed first, untimed).
	if [ $HAVE_CP = 1 ]; then
		mkdir -p "$root/cp"
		warm_cp
		sync
		read -r cb0 ck0 < <(t_du "$t")
		step "$t" cp "$CP_BYTES" 1e6 keep "cd / && cp -a --parents ${CP_REL[*]} '$root/cp/' 2>'$WORK/step.err' && sync"
		n=$(find "$root/cp" -type f | wc -l)
		[ "$n" = "$CP_FILES" ] || note "$t round $ROUND: cp -a copied $n files, the source has $CP_FILES"
		read -r cb1 ck1 < <(t_du "$t")
		# What the copy of /usr costs in the backing directory, names,
		# directories and metadata included, per logical byte.
		setr "$t" cu_ap "$(awk -v s="$((cb1 - cb0))" -v l="$CP_BYTES" 'BEGIN{printf "%.4f", s/l}')"
		setr "$t" cu_al "$(awk -v s="$(((ck1 - ck0) * 1024))" -v l="$CP_BYTES" 'BEGIN{printf "%.4f", s/l}')"
		moved "$CP_BYTES"
		log "$t: cp -a $(getr "$t" cp) MB/s; backing grew by $((cb1 - cb0)) bytes apparent (du -sb), $(((ck1 - ck0) * 1024)) allocated (du -sk), for $CP_BYTES logical"
	fi
	# (The small files and the copy stay until the backing dir is removed.)

	# 4 KiB random I/O on a ${RAND_MB} MiB file written beforehand (incompressible).
	if [ $HAVE_FIO = 1 ] || [ -n "$PYTHON" ]; then
		local made=0
		if timed "dd if='$INCOMP' of='$root/rand.bin' bs=1M count=$RAND_MB conv=fsync status=none"; then made=1; moved $((RAND_MB * 1048576)); fi
		if [ "$RAND_MB" -gt "$SIZE_MB" ] && [ -e "$root/rand.bin" ]; then
			truncate -s "${RAND_MB}M" "$root/rand.bin" && made=1   # source smaller than the file: pad
		fi
		if [ $made = 1 ] && [ "$(stat -c %s "$root/rand.bin")" -ge $((RAND_MB * 1048576)) ]; then
			t_cold "$t" || return 1
			rand_io "$t" "$root/rand.bin" randread;  setr "$t" randread "$RAND_OUT";  setr "$t" randread_buf $RAND_BUF
			moved_io "$RAND_OUT"
			rand_io "$t" "$root/rand.bin" randwrite; setr "$t" randwrite "$RAND_OUT"; setr "$t" randwrite_buf $RAND_BUF
			moved_io "$RAND_OUT"
		else
			note "$t round $ROUND: could not write the random-I/O file"
			setr "$t" randread FAIL; setr "$t" randwrite FAIL
		fi
		log "$t: 4K randread $(getr "$t" randread) IOPS, randwrite $(getr "$t" randwrite) IOPS"
		rm -f "$root/rand.bin"
	fi
	t_umount "$t"
	if [ "$t" != plain ]; then
		setr "$t" cpu "$(awk -v c="$(getr "$t" cpu_ticks)" -v hz="$(getconf CLK_TCK)" -v m="$(getr "$t" moved)" \
			'BEGIN { if (m > 0 && c != "") printf "%.2f", c / hz / (m / 1073741824); else print "NA" }')"
		setr "$t" rss "$(awk -v k="$(getr "$t" rss_kb)" 'BEGIN { if (k != "") printf "%.1f", k / 1024; else print "NA" }')"
		log "$t: daemon CPU $(getr "$t" cpu) s per GiB moved, peak RSS $(getr "$t" rss) MiB"
	fi
	return 0
}

START=$(now)
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	ORDER=("${ACTIVE[@]}")
	if [ $((ROUND % 2)) = 0 ]; then
		ORDER=(); for ((i = ${#ACTIVE[@]} - 1; i >= 0; i--)); do ORDER+=("${ACTIVE[i]}"); done
	fi
	log "##### round $ROUND of $ROUNDS: ${ORDER[*]}"
	for t in "${ORDER[@]}"; do
		t0=$(now)
		if ! run_target "$t"; then
			note "$t round $ROUND: run aborted early (see notes above); its missing figures are NA"
		fi
		case $t in plain) ;; *) t_umount "$t" ;; esac
		rm -rf "$(t_backing "$t")" "$(t_root "$t")"
		log "$t round $ROUND took $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.0f", b-a}') s"
	done
done
TOTAL=$(awk -v a="$START" -v b="$(now)" 'BEGIN{printf "%.0f", b-a}')


# The report (bench/report.sh): tables on stdout and in bench/last-run.md.
# shellcheck source=report.sh
. "$BENCH_SRC_DIR/report.sh"
