#!/bin/sh
# Recreate the golden store of format version 1 (run only when deliberately
# making a new golden store for a NEW format version, into a new directory;
# the committed v1 store must never be regenerated).
#   sh tests/golden/make.sh OUTDIR
# The current ragstore writes descriptor version 2 and format v2 files: a
# golden store of those is made by make_v2.sh (README.md), not by this.
set -eu
out=${1:?usage: make.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
rs=$here/../../ragstore
mnt=$(mktemp -d)
"$rs" init --passfile "$here/passphrase" "$out/store"
"$rs" mount --passfile "$here/passphrase" "$out/store" "$mnt"
trap 'fusermount3 -u "$mnt"; rmdir "$mnt"' EXIT
mkdir -p "$mnt/docs/deep/er"
printf 'hello, golden world\n' > "$mnt/hello.txt"
: > "$mnt/empty"
seq 1 40000 > "$mnt/docs/numbers.txt"                    # 3 compressible blocks
head -c 150000 /dev/urandom > "$mnt/docs/random.bin"     # 3 incompressible blocks
printf 'tail' | dd of="$mnt/docs/sparse.bin" bs=1 seek=300000 2>/dev/null  # holes
printf 'x%.0s' $(seq 1 5000) > "$mnt/docs/deep/er/x.txt"
ln -s ../hello.txt "$mnt/docs/link"
printf 'ragstore.conf at the root is a user file\n' > "$mnt/ragstore.conf"
# manifest: type path size sha256 | l path target | d path
(cd "$mnt" && find . -mindepth 1 | sort | while read -r p; do
	if [ -L "$p" ]; then echo "l $p $(readlink "$p")"
	elif [ -d "$p" ]; then echo "d $p"
	else echo "f $p $(stat -c %s "$p") $(sha256sum < "$p" | cut -d' ' -f1)"
	fi
done) > "$out/manifest"
