#!/usr/bin/env bash
# ragstore benchmark: plain directory (baseline) vs gocryptfs vs ragstore.
#
#   make bench                      (runs: sh bench/run.sh)
#   bash bench/run.sh
#   BENCH_QUICK=1 bash bench/run.sh (smoke run: 64 MB files, small tree, short fio)
#
# Environment knobs:
#   BENCH_SIZE_MB      size of each sequential file (default 1024; 64 with BENCH_QUICK=1)
#   BENCH_RAND_MB      size of the random-I/O file (default 256; 64 with BENCH_QUICK=1)
#   BENCH_FIO_SECONDS  duration of each random-I/O run (default 15; 3 with BENCH_QUICK=1)
#   BENCH_DIR          parent of the work dir (default /var/tmp); must be on disk, not tmpfs
#   BENCH_QUICK=1      fast smoke run
#   BENCH_TARGETS      subset/order of "plain gocryptfs ragstore" (default all three)
#   BENCH_TREE_DIRS    directories to tar for the untar/ls/rm tests (default: see below)
#   RAGSTORE           ragstore binary (default: <repo>/ragstore)
#   BENCH_RAGSTORE_INIT_OPTS / BENCH_RAGSTORE_MOUNT_OPTS   extra options for ragstore
#   BENCH_KEEP=1       keep the work dir (data, backing dirs) for inspection
#
# Output: a table on stdout, and the same as markdown in bench/last-run.md
# (generated output, not committed).  No timing assertions: this is a report.
# Must run as root for drop_caches (it still runs otherwise, with warm caches).

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
TREE_NOTE=""
if [ "$QUICK" = 1 ]; then
	SIZE_MB=${BENCH_SIZE_MB:-64}
	RAND_MB=${BENCH_RAND_MB:-64}
	FIO_SECONDS=${BENCH_FIO_SECONDS:-3}
	TREE_DIRS=${BENCH_TREE_DIRS:-/usr/share/perl /usr/include/linux}
else
	SIZE_MB=${BENCH_SIZE_MB:-1024}
	RAND_MB=${BENCH_RAND_MB:-256}
	FIO_SECONDS=${BENCH_FIO_SECONDS:-15}
	# ~230 MB, ~21,000 entries: headers, Python and Perl sources, man pages.
	# (All of /usr/share/man would add 18,000 tiny man1 files and push the run
	# past 11 minutes on a 2-CPU VM, so sections 2,3,5,7,8 only.)
	TREE_DIRS=${BENCH_TREE_DIRS:-/usr/include /usr/lib/python3 /usr/lib/python3.11 /usr/share/perl /usr/share/man/man2 /usr/share/man/man3 /usr/share/man/man5 /usr/share/man/man7 /usr/share/man/man8}
	[ -z "${BENCH_TREE_DIRS:-}" ] && TREE_NOTE=" (default tree trimmed — man1 left out — to keep the full run near 9 min)"
fi
TARGETS=${BENCH_TARGETS:-plain gocryptfs ragstore}
STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-300}   # per timed step, seconds (a hung step becomes TIMEOUT)
PASSPHRASE="ragstore-bench-passphrase"

log()  { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
note() { NOTES+=("$*"); log "NOTE: $*"; }
die()  { log "FATAL: $*"; exit 1; }
NOTES=()

# ---------------------------------------------------------------- work dir --
PARENT=${BENCH_DIR:-/var/tmp}
mkdir -p "$PARENT" || die "cannot create BENCH_DIR $PARENT"
fstype=$(stat -f -c %T "$PARENT" 2>/dev/null || echo unknown)
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
	local mnt=$1 pids i ok=0
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
	local m
	for m in "${MOUNTED[@]}"; do log "cleanup: unmounting $m"; fuse_umount "$m"; done
	# Belt and braces: anything still mounted below $WORK.
	while read -r _ m _; do
		case $m in "$WORK"/*) log "cleanup: unmounting stray $m"; fuse_umount "$m" ;; esac
	done < /proc/mounts
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
		if [ $DROP_OK = 1 ]; then note "cannot drop caches (not root?): reads may be served from page cache"; fi
		DROP_OK=0
	fi
}
warm() { cat "$@" > /dev/null; }

# timed CMD...: run CMD (a shell command string) under a timeout; sets ELAPSED
# (seconds) and returns CMD's status.
ELAPSED=
timed() {
	local t0 t1 rc
	t0=$(now)
	timeout --kill-after=10 "$STEP_TIMEOUT" bash -c "$1"
	rc=$?
	t1=$(now)
	ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
	case $rc in 124|137)
		note "step timed out after ${STEP_TIMEOUT} s (raise BENCH_STEP_TIMEOUT): ${1//$WORK/\$WORK}"
		ELAPSED=TIMEOUT ;;
	esac
	return $rc
}

# Results: R[target:metric] = value (numbers, or FAIL / n/a).
declare -A R
setr() { R["$1:$2"]=$3; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN{ if (s > 0) printf "%.1f", b/1e6/s; else print "n/a" }'; }

# ------------------------------------------------------------------- tools --
apt_install() {
	command -v apt-get >/dev/null 2>&1 || return 1
	[ "$(id -u)" = 0 ] || return 1
	log "installing $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" > "$WORK/apt.log" 2>&1 && return 0
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >> "$WORK/apt.log" 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >> "$WORK/apt.log" 2>&1
}
command -v fio >/dev/null 2>&1 || apt_install fio || true
case " $TARGETS " in *" gocryptfs "*)
	command -v gocryptfs >/dev/null 2>&1 || apt_install gocryptfs || true ;;
esac
HAVE_FIO=0; command -v fio >/dev/null 2>&1 && HAVE_FIO=1
PYTHON=$(command -v python3 || true)
if [ $HAVE_FIO = 0 ]; then
	if [ -n "$PYTHON" ]; then note "fio unavailable: random I/O measured with bench/randio.py (python, qd1)"
	else note "neither fio nor python3 available: random I/O not measured"; fi
fi

# Which targets can run?
ACTIVE=()
for t in $TARGETS; do
	case $t in
	plain) ACTIVE+=(plain) ;;
	gocryptfs)
		if command -v gocryptfs >/dev/null 2>&1; then ACTIVE+=(gocryptfs)
		else note "gocryptfs not installed (apt-get failed?): skipped"; fi ;;
	ragstore)
		if [ -x "$RAGSTORE" ]; then ACTIVE+=(ragstore)
		else note "ragstore binary $RAGSTORE not built (run make): skipped"; fi ;;
	*) note "unknown target '$t' ignored" ;;
	esac
done
[ ${#ACTIVE[@]} -gt 0 ] || die "no target to run"
# Run a private copy of the binary, so a rebuild (make clean) in the repo
# during the run cannot pull it from under us.
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
		gocryptfs -q -init -passfile "$WORK/passfile" -scryptn 16 "$b" > "$WORK/$t.log" 2>&1 ;;
	ragstore)
		mkdir -p "$b" "$(t_root "$t")"
		# shellcheck disable=SC2086
		if ! timeout 120 "$RAGSTORE" init ${BENCH_RAGSTORE_INIT_OPTS:-} --passfile "$WORK/passfile" "$b" > "$WORK/$t.log" 2>&1; then
			# In case init wants to create the directory itself.
			rmdir "$b" 2>/dev/null
			# shellcheck disable=SC2086
			timeout 120 "$RAGSTORE" init ${BENCH_RAGSTORE_INIT_OPTS:-} --passfile "$WORK/passfile" "$b" >> "$WORK/$t.log" 2>&1
		fi ;;
	esac
}

t_mount() {
	local t=$1 b m rc
	b=$(t_backing "$t"); m=$(t_root "$t")
	case $t in
	plain) return 0 ;;
	gocryptfs) timeout 60 gocryptfs -q -nosyslog -passfile "$WORK/passfile" "$b" "$m" >> "$WORK/$t.log" 2>&1; rc=$? ;;
	ragstore)
		# shellcheck disable=SC2086
		timeout 60 "$RAGSTORE" mount ${BENCH_RAGSTORE_MOUNT_OPTS:-} --passfile "$WORK/passfile" "$b" "$m" >> "$WORK/$t.log" 2>&1; rc=$? ;;
	esac
	if mountpoint -q "$m"; then MOUNTED+=("$m"); return 0; fi
	log "mount of $t failed (rc=$rc); log: $(tail -3 "$WORK/$t.log" | tr '\n' ' ')"
	return 1
}

t_umount() {
	case $1 in plain) sync ;; *) fuse_umount "$(t_root "$1")" ;; esac
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
TARBALL=$DATA/tree.tar

log "work dir $WORK ($fstype); targets: ${ACTIVE[*]}"
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

log "building tarball from: $TREE_DIRS"
rels=()
for d in $TREE_DIRS; do [ -d "$d" ] && rels+=("${d#/}"); done
[ ${#rels[@]} -gt 0 ] || die "none of BENCH_TREE_DIRS exists"
tar cf "$TARBALL" -C / --warning=no-file-changed "${rels[@]}" 2>"$WORK/tar-create.log"
[ -s "$TARBALL" ] || die "tarball creation failed: $(head -3 "$WORK/tar-create.log")"
TREE_ENTRIES=$(tar tf "$TARBALL" | wc -l)
TREE_FILES=$(tar tvf "$TARBALL" | grep -c '^-')
TREE_BYTES=$(tar tvf "$TARBALL" | awk '$1 ~ /^-/ {s += $3} END {print s+0}')
TAR_BYTES=$(stat -c %s "$TARBALL")
log "tree: $TREE_ENTRIES entries, $TREE_FILES regular files, $((TREE_BYTES / 1048576)) MiB of file data"

# -------------------------------------------------------------- random I/O --
# rand_io TARGET FILE rw -> prints IOPS (or FAIL); notes if O_DIRECT was refused.
rand_io() {
	local t=$1 f=$2 rw=$3 out iops direct
	if [ $HAVE_FIO = 1 ]; then
		for direct in 1 0; do
			[ $direct = 0 ] && { note "$t: O_DIRECT refused, $rw measured buffered (after cache drop)"; t_cold "$t" >&2 || { echo FAIL; return; }; }
			out=$(timeout --kill-after=10 $((FIO_SECONDS + 300)) fio --name="$rw" --filename="$f" \
				--size="${RAND_MB}M" --bs=4k --rw="$rw" --direct=$direct --ioengine=psync \
				--iodepth=1 --numjobs=1 --runtime="$FIO_SECONDS" --time_based --norandommap \
				--randrepeat=1 --end_fsync=1 --output-format=terse --terse-version=3 \
				2>"$WORK/fio-$t-$rw.err")
			if [ $? = 0 ] && [ -n "$out" ]; then
				# terse v3: field 8 = read IOPS, field 49 = write IOPS
				if [ "$rw" = randread ]; then iops=$(echo "$out" | awk -F';' '{print $8}')
				else iops=$(echo "$out" | awk -F';' '{print $49}'); fi
				echo "$iops"; return
			fi
			grep -qi 'invalid argument\|O_DIRECT' "$WORK/fio-$t-$rw.err" || break
		done
		log "$t: fio $rw failed: $(head -3 "$WORK/fio-$t-$rw.err" | tr '\n' ' ')"
		echo FAIL; return
	fi
	if [ -n "$PYTHON" ]; then
		local m=read; [ "$rw" = randwrite ] && m=write
		out=$("$PYTHON" "$BENCH_SRC_DIR/randio.py" "$m" "$f" "$FIO_SECONDS" --direct 2>"$WORK/randio-$t.err"); local rc=$?
		if [ $rc = 3 ]; then
			note "$t: O_DIRECT refused, $rw measured buffered (after cache drop)"
			t_cold "$t" >&2 || { echo FAIL; return; }
			out=$("$PYTHON" "$BENCH_SRC_DIR/randio.py" "$m" "$f" "$FIO_SECONDS" 2>"$WORK/randio-$t.err"); rc=$?
		fi
		[ $rc = 0 ] && { echo "$out"; return; }
	fi
	echo FAIL
}

# ------------------------------------------------------------ run a target --
run_target() {
	local t=$1 root b sb0 sk0 sb1 sk1 sb2 sk2 line
	root=$(t_root "$t"); b=$(t_backing "$t")
	log "=== $t ==="
	if ! t_init "$t"; then note "$t: init failed: $(tail -2 "$WORK/$t.log" | tr '\n' ' ')"; return 1; fi
	read -r sb0 sk0 < <(t_du "$t")
	t_mount "$t" || { note "$t: mount failed: $(tail -2 "$WORK/$t.log" | tr '\n' ' ')"; return 1; }

	# Sequential writes (source files pre-read into the page cache: not timed).
	warm "$COMP"
	if timed "dd if='$COMP' of='$root/seq-comp' bs=1M conv=fsync status=none"; then
		setr "$t" w_comp "$(mbps "$SIZE_BYTES" "$ELAPSED")"
	else setr "$t" w_comp FAIL; fi
	log "$t: seq write compressible ${R[$t:w_comp]} MB/s"
	t_umount "$t"
	read -r sb1 sk1 < <(t_du "$t")
	t_mount "$t" || return 1
	warm "$INCOMP"
	if timed "dd if='$INCOMP' of='$root/seq-incomp' bs=1M conv=fsync status=none"; then
		setr "$t" w_inc "$(mbps "$SIZE_BYTES" "$ELAPSED")"
	else setr "$t" w_inc FAIL; fi
	log "$t: seq write incompressible ${R[$t:w_inc]} MB/s"
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
	if timed "dd if='$root/seq-comp' of=/dev/null bs=1M status=none"; then
		setr "$t" r_comp "$(mbps "$SIZE_BYTES" "$ELAPSED")"
	else setr "$t" r_comp FAIL; fi
	if timed "dd if='$root/seq-incomp' of=/dev/null bs=1M status=none"; then
		setr "$t" r_inc "$(mbps "$SIZE_BYTES" "$ELAPSED")"
	else setr "$t" r_inc FAIL; fi
	log "$t: seq read compressible ${R[$t:r_comp]} MB/s, incompressible ${R[$t:r_inc]} MB/s"
	# Correctness check (untimed): a fast wrong answer is not a result.
	cmp -s "$COMP" "$root/seq-comp" || note "$t: read-back of compressible file DIFFERS from source"
	cmp -s "$INCOMP" "$root/seq-incomp" || note "$t: read-back of incompressible file DIFFERS from source"
	rm -f "$root/seq-comp" "$root/seq-incomp"
	sync

	# Untar, ls -lR (cold), rm -rf.
	mkdir -p "$root/tree"
	warm "$TARBALL"
	if timed "tar xf '$TARBALL' -C '$root/tree' 2>'$WORK/untar-$t.err' && sync"; then
		setr "$t" untar "$ELAPSED"
	else
		setr "$t" untar "$ELAPSED"
		[ "$ELAPSED" = TIMEOUT ] || note "$t: tar xf reported errors (time kept): $(head -2 "$WORK/untar-$t.err" | tr '\n' ' ')"
	fi
	log "$t: untar ${R[$t:untar]} s"
	t_cold "$t" || return 1
	if timed "ls -lR '$root/tree' > '$WORK/ls-$t.out' 2>'$WORK/ls-$t.err'"; then
		setr "$t" ls "$ELAPSED"
	else
		setr "$t" ls "$ELAPSED"; [ "$ELAPSED" = TIMEOUT ] || note "$t: ls -lR reported errors: $(head -2 "$WORK/ls-$t.err" | tr '\n' ' ')"
	fi
	local nfiles; nfiles=$(grep -c '^-' "$WORK/ls-$t.out")
	[ "$nfiles" = "$TREE_FILES" ] || note "$t: ls -lR saw $nfiles regular files, tarball has $TREE_FILES"
	log "$t: ls -lR ${R[$t:ls]} s ($nfiles files)"
	if timed "rm -rf '$root/tree' && sync"; then setr "$t" rm "$ELAPSED"
	else
		[ "$ELAPSED" = TIMEOUT ] && setr "$t" rm TIMEOUT || { setr "$t" rm FAIL; note "$t: rm -rf failed"; }
	fi
	log "$t: rm -rf ${R[$t:rm]} s"

	# 4 KiB random I/O on a ${RAND_MB} MiB file written beforehand (incompressible).
	if timed "dd if='$INCOMP' of='$root/rand.bin' bs=1M count=$RAND_MB conv=fsync status=none" &&
	   [ "$(stat -c %s "$root/rand.bin")" -ge $((RAND_MB * 1048576)) ]; then
		if [ "$RAND_MB" -gt "$SIZE_MB" ]; then truncate -s "${RAND_MB}M" "$root/rand.bin"; fi
		t_cold "$t" || return 1
		setr "$t" randread "$(rand_io "$t" "$root/rand.bin" randread)"
		setr "$t" randwrite "$(rand_io "$t" "$root/rand.bin" randwrite)"
	else
		if [ "$RAND_MB" -gt "$SIZE_MB" ]; then
			truncate -s "${RAND_MB}M" "$root/rand.bin"   # source smaller than the file: pad
			t_cold "$t" || return 1
			setr "$t" randread "$(rand_io "$t" "$root/rand.bin" randread)"
			setr "$t" randwrite "$(rand_io "$t" "$root/rand.bin" randwrite)"
		else
			setr "$t" randread FAIL; setr "$t" randwrite FAIL
		fi
	fi
	log "$t: 4K randread ${R[$t:randread]} IOPS, randwrite ${R[$t:randwrite]} IOPS"
	rm -f "$root/rand.bin"
	t_umount "$t"
	rm -rf "$b" "$root"
	return 0
}

START=$(now)
for t in "${ACTIVE[@]}"; do
	if ! run_target "$t"; then
		note "$t: run aborted early (see messages above)"
		case $t in plain) ;; *) t_umount "$t" ;; esac
	fi
done
TOTAL=$(awk -v a="$START" -v b="$(now)" 'BEGIN{printf "%.0f", b-a}')

# ------------------------------------------------------------------- report --
# metric|label|unit|better
METRICS=(
	"w_comp|seq write, compressible ${SIZE_MB} MiB|MB/s|higher"
	"w_inc|seq write, incompressible ${SIZE_MB} MiB|MB/s|higher"
	"r_comp|seq read (cold), compressible|MB/s|higher"
	"r_inc|seq read (cold), incompressible|MB/s|higher"
	"untar|tar xf ${TREE_ENTRIES} entries + sync|s|lower"
	"ls|ls -lR (cold)|s|lower"
	"rm|rm -rf tree + sync|s|lower"
	"randread|4K rand read, ${RAND_MB} MiB file, qd1|IOPS|higher"
	"randwrite|4K rand write, ${RAND_MB} MiB file, qd1|IOPS|higher"
	"st_comp|stored, compressible: apparent (du -sb)|MiB|lower"
	"al_comp|stored, compressible: allocated (du -sk)|MiB|lower"
	"st_inc|stored, incompressible: apparent (du -sb)|MiB|lower"
	"al_inc|stored, incompressible: allocated (du -sk)|MiB|lower"
)
val() {  # display value for target/metric
	local v=${R["$1:$2"]:-}
	[ -z "$v" ] && { echo "-"; return; }
	case $v in FAIL|n/a|TIMEOUT) echo "$v"; return ;; esac
	case $2 in
	st_*|al_*) awk -v b="$v" 'BEGIN{printf "%.1f", b/1048576}' ;;
	randread|randwrite) awk -v x="$v" 'BEGIN{printf "%.0f", x}' ;;
	untar|ls|rm) awk -v x="$v" 'BEGIN{printf "%.2f", x}' ;;
	*) echo "$v" ;;
	esac
}
ratio() {  # R[a]/R[b]
	local a=${R["$1:$3"]:-} b=${R["$2:$3"]:-}
	case "$a$b" in *FAIL*|*n/a*|*TIMEOUT*) echo "-"; return ;; esac
	[ -z "$a" ] || [ -z "$b" ] && { echo "-"; return; }
	awk -v a="$a" -v b="$b" 'BEGIN{ if (b+0 == 0) print "-"; else printf "%.2fx", a/b }'
}
has() { local x; for x in "${ACTIVE[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }

COLS=("metric" "unit" "better")
for t in plain gocryptfs ragstore; do has "$t" && COLS+=("$t"); done
has plain && has gocryptfs && COLS+=("gocryptfs/plain")
has plain && has ragstore && COLS+=("ragstore/plain")
has gocryptfs && has ragstore && COLS+=("ragstore/gocryptfs")

ROWS=()   # each row: fields joined by |
for m in "${METRICS[@]}"; do
	IFS='|' read -r key label unit better <<< "$m"
	row="$label|$unit|$better"
	for t in plain gocryptfs ragstore; do has "$t" && row+="|$(val "$t" "$key")"; done
	has plain && has gocryptfs && row+="|$(ratio gocryptfs plain "$key")"
	has plain && has ragstore && row+="|$(ratio ragstore plain "$key")"
	has gocryptfs && has ragstore && row+="|$(ratio ragstore gocryptfs "$key")"
	ROWS+=("$row")
done
# Compression ratio rows (stored / logical).
for k in al_comp al_inc; do
	case $k in
	al_comp) row="stored/logical, compressible, allocated" ;;
	al_inc)  row="stored/logical, incompressible, allocated" ;;
	st_comp) row="stored/logical, compressible, apparent" ;;
	st_inc)  row="stored/logical, incompressible, apparent" ;;
	esac
	row+="|ratio|lower"
	for t in plain gocryptfs ragstore; do
		has "$t" || continue
		v=${R["$t:$k"]:-}
		if [ -n "$v" ]; then row+="|$(awk -v s="$v" -v l="$SIZE_BYTES" 'BEGIN{printf "%.3f", s/l}')"; else row+="|-"; fi
	done
	for c in "${COLS[@]:3}"; do case $c in */*) row+="|" ;; esac; done
	ROWS+=("$row")
done

HOST_INFO="$(uname -sr), $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
GOCRYPTFS_VER=$(has gocryptfs && gocryptfs -version 2>/dev/null | head -1 | cut -d";" -f1 | sed "s/^gocryptfs //" || echo "-")
RAGSTORE_VER="-"
if has ragstore; then
	RAGSTORE_VER="$("$RAGSTORE" --version 2>/dev/null | head -1 | sed 's/^ragstore //') (from $RAGSTORE_SRC, repo at git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
fi
FIO_TXT=$([ $HAVE_FIO = 1 ] && fio --version || echo "randio.py")

print_text() {
	local -a w=() i f
	local r
	for ((i = 0; i < ${#COLS[@]}; i++)); do w[i]=${#COLS[i]}; done
	for r in "${ROWS[@]}"; do
		IFS='|' read -r -a f <<< "$r"
		for ((i = 0; i < ${#COLS[@]}; i++)); do
			[ ${#f[i]} -gt ${w[i]} ] && w[i]=${#f[i]}
		done
	done
	local line="" sep=""
	for ((i = 0; i < ${#COLS[@]}; i++)); do
		if [ $i = 0 ]; then line+=$(printf '%-*s' "${w[i]}" "${COLS[i]}"); else line+=$(printf '  %*s' "${w[i]}" "${COLS[i]}"); fi
	done
	echo "$line"
	sep=$(printf '%*s' ${#line} '' | tr ' ' '-'); echo "$sep"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r -a f <<< "$r"
		line=""
		for ((i = 0; i < ${#COLS[@]}; i++)); do
			if [ $i = 0 ]; then line+=$(printf '%-*s' "${w[i]}" "${f[i]:-}"); else line+=$(printf '  %*s' "${w[i]}" "${f[i]:-}"); fi
		done
		echo "$line"
	done
}

SUMMARY="sizes: seq files ${SIZE_MB} MiB each; tree ${TREE_ENTRIES} entries / ${TREE_FILES} files / $((TREE_BYTES / 1048576)) MiB (tar ${TAR_BYTES} B) from ${TREE_DIRS}${TREE_NOTE}; random I/O ${FIO_SECONDS} s each, 4 KiB, O_DIRECT, psync qd1, ${RAND_MB} MiB incompressible file"
{
	echo
	echo "ragstore benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" = 1 ] && echo '  [BENCH_QUICK smoke run]')"
	echo "host: $HOST_INFO; backing fs: $fstype under $PARENT"
	echo "versions: ragstore $RAGSTORE_VER; gocryptfs $GOCRYPTFS_VER; $FIO_TXT"
	echo "$SUMMARY"
	echo "ratios are (column target) ÷ (other); 'better' says which direction is good. Total run time ${TOTAL} s."
	echo
	print_text
	if [ ${#NOTES[@]} -gt 0 ]; then echo; echo "notes:"; for n in "${NOTES[@]}"; do echo "  - $n"; done; fi
	echo
} | tee "$WORK/table.txt"

{
	echo "# ragstore benchmark — last run"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" = 1 ] && echo ' — **BENCH_QUICK smoke run**'). Generated by \`bench/run.sh\`; not committed."
	echo
	echo "- host: $HOST_INFO; backing fs: $fstype under $PARENT"
	echo "- versions: ragstore $RAGSTORE_VER; gocryptfs $GOCRYPTFS_VER; $FIO_TXT"
	echo "- $SUMMARY"
	echo "- ratios are (column target) ÷ (other); *better* says which direction is good; total run time ${TOTAL} s"
	echo
	hdr="|"; al="|"
	for c in "${COLS[@]}"; do hdr+=" $c |"; case $c in metric) al+="---|" ;; *) al+="---:|" ;; esac; done
	echo "$hdr"; echo "$al"
	for r in "${ROWS[@]}"; do echo "| ${r//|/ | } |"; done
	if [ ${#NOTES[@]} -gt 0 ]; then echo; echo "Notes:"; echo; for n in "${NOTES[@]}"; do echo "- $n"; done; fi
} > "$OUT_MD" 2>/dev/null || log "could not write $OUT_MD"
log "markdown written to $OUT_MD"
exit 0
