#!/bin/sh
# tests/demo.sh - "make demo": create, mount and fill a demo ragstore.
#
# Makes DEMO_DIR (default /tmp/ragstore-demo) with
#   DEMO_DIR/passfile   a generated passphrase, mode 0600
#   DEMO_DIR/backing    the store: what lands on disk (ciphertext)
#   DEMO_DIR/mnt        the mountpoint: plaintext view
# copies some real data in (a subset of /usr/share/doc, about DEMO_MB MiB,
# default 40), shows logical vs stored size, checks that no plaintext
# appears in the backing directory, and leaves the store mounted.
# Re-running unmounts and replaces the previous demo.
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
RAGSTORE=${RAGSTORE:-$top/ragstore}
DEMO_DIR=${DEMO_DIR:-/tmp/ragstore-demo}
DEMO_MB=${DEMO_MB:-40}
pass=$DEMO_DIR/passfile
backing=$DEMO_DIR/backing
mnt=$DEMO_DIR/mnt

say() { printf '\n== %s\n' "$*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}

[ -x "$RAGSTORE" ] || die "$RAGSTORE not found; run 'make' first (or 'make demo')"
if [ ! -c /dev/fuse ]; then
	die "/dev/fuse is missing: FUSE is not available here (load it with 'modprobe fuse'; in a container, pass --device /dev/fuse --cap-add SYS_ADMIN)"
fi
command -v fusermount3 >/dev/null 2>&1 ||
	die "fusermount3 not found; install the fuse3 package (make deps)"

is_mounted() {
	findmnt -n --mountpoint "$1" >/dev/null 2>&1
}

# Undo a previous run.
if is_mounted "$mnt"; then
	say "Unmounting the previous demo at $mnt"
	fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" ||
		die "cannot unmount $mnt (is a shell or program still using it?)"
fi
if [ -e "$backing" ]; then
	[ -f "$backing/ragstore.conf" ] ||
		die "$backing exists and is not a ragstore store; refusing to delete it (set DEMO_DIR)"
	rm -rf "$backing"
fi

mkdir -p "$DEMO_DIR" "$mnt"
say "Creating a store in $backing"
old_umask=$(umask)
umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pass"
echo >>"$pass"
umask "$old_umask"
chmod 600 "$pass"
"$RAGSTORE" init --passfile "$pass" "$backing"
"$RAGSTORE" info "$backing"

say "Mounting it on $mnt"
"$RAGSTORE" mount --passfile "$pass" "$backing" "$mnt"
findmnt -n -o TARGET,SOURCE,FSTYPE "$mnt"

# A marker that exists in no other file, and a phrase from the copied data.
marker="ragstore-demo-marker-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
known="GNU GENERAL PUBLIC LICENSE"

say "Copying about $DEMO_MB MiB of /usr/share/doc into the mount"
mkdir "$mnt/doc"
limit=$((DEMO_MB * 1024))
total=0
copied=0
for d in /usr/share/doc/*; do
	if [ ! -d "$d" ] || [ -L "$d" ]; then
		continue
	fi
	kb=$(du -s --apparent-size "$d" | cut -f1)
	[ "$kb" -le 8192 ] || continue # skip the few huge ones
	[ $((total + kb)) -le "$limit" ] || break
	cp -a "$d" "$mnt/doc/"
	total=$((total + kb))
	copied=$((copied + 1))
done
if [ -d /usr/share/common-licenses ]; then
	cp -a /usr/share/common-licenses "$mnt/"
fi
# One large text file, to show what compression does to a big file.
find /usr/share/doc -name copyright -type f -exec cat {} + >"$mnt/all-copyrights.txt"
{
	echo "This file holds a secret marker: $marker"
	echo "It must never appear in plaintext under $backing."
} >"$mnt/secret.txt"
echo "copied $copied package directories ($((total / 1024)) MiB), common-licenses,"
echo "all-copyrights.txt (every copyright file in one) and secret.txt"

say "Reading it back"
ok=1
for d in "$mnt"/doc/*; do
	diff -r --no-dereference "/usr/share/doc/${d##*/}" "$d" >/dev/null || {
		ok=0
		echo "DIFFERS: $d"
	}
done
[ -d "$mnt/common-licenses" ] &&
	{ diff -r --no-dereference /usr/share/common-licenses "$mnt/common-licenses" >/dev/null || ok=0; }
if [ "$ok" -eq 1 ]; then
	echo "read back: identical to the originals"
else
	die "data read back from the mount differs from the originals"
fi

sync
say "Space: logical size vs what is stored"
printf '%-48s %s\n' "du -sh --apparent-size $mnt (logical):" \
	"$(du -sh --apparent-size "$mnt" | cut -f1)"
printf '%-48s %s\n' "du -sh $mnt (stored, per st_blocks):" "$(du -sh "$mnt" | cut -f1)"
printf '%-48s %s\n' "du -sh $backing (on disk):" "$(du -sh "$backing" | cut -f1)"
big=$mnt/all-copyrights.txt
printf '%-48s %s\n' "all-copyrights.txt logical / stored bytes:" \
	"$(stat -c %s "$big") / $(($(stat -c %b "$big") * 512))"
small=$mnt/secret.txt
printf '%-48s %s\n' "secret.txt logical / stored bytes:" \
	"$(stat -c %s "$small") / $(($(stat -c %b "$small") * 512))"
echo "Big compressible files shrink.  Every file also carries a fixed header"
echo "(docs/FORMAT.md), and most of /usr/share/doc is small, already-gzipped"
echo "files, so that part of the tree can take more space stored than logical."

say "Looking for plaintext in $backing"
found=0
for s in "$marker" "$known"; do
	if grep -r -l -F -a -e "$s" "$backing" >/dev/null 2>&1; then
		echo "FOUND in plaintext: \"$s\""
		grep -r -l -F -a -e "$s" "$backing" | head -n 5
		found=1
	else
		echo "searched for \"$s\": not found"
	fi
done
[ "$found" -eq 0 ] || die "plaintext found in the backing directory"
echo "no plaintext found"
echo "(contents, file names and symlink targets are encrypted: ls $backing/root)"
echo
echo "== What the filesystem reports about itself ($mnt/.ragstore/stats, first lines)"
head -n 8 "$mnt/.ragstore/stats"

say "The demo store stays mounted"
cat <<EOF
  mountpoint:   $mnt
  backing dir:  $backing   (ciphertext; safe to copy offsite)
  passphrase:   $pass
  try:          cat $mnt/secret.txt; ls -l $backing/root; cat $mnt/.ragstore/health
  unmount:      fusermount3 -u $mnt
  mount again:  $RAGSTORE mount --passfile $pass $backing $mnt
  start over:   make demo   (or: sh tests/demo.sh)
  remove:       fusermount3 -u $mnt; rm -rf $DEMO_DIR
EOF
