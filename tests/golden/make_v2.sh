#!/bin/sh
# Make the golden store of format version 2 (descriptor version 2, every
# regular file format v2) into a NEW directory: OUTDIR/store.tar and
# OUTDIR/manifest.  Run only when deliberately making a new golden store;
# it refuses to overwrite one (the committed stores are never regenerated).
#   sh tests/golden/make_v2.sh OUTDIR      (RAGSTORE_BIN=... for another binary)
# The store is kept as a tar (GNU tar, pax, with xattrs): git cannot hold
# hard links or the backing files' attributes, which are part of the store.
set -eu
out=${1:?usage: make_v2.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
rs=${RAGSTORE_BIN:-$here/../../ragstore}
pass=$here/passphrase
if [ -e "$out/store.tar" ] || [ -e "$out/store" ] || [ -e "$out/manifest" ]; then
	echo "make_v2.sh: $out already holds a golden store; never regenerate one" >&2
	exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
mnt=$tmp/mnt
mkdir "$mnt"
cleanup() {
	if grep -qs " $mnt " /proc/mounts; then fusermount3 -u "$mnt"; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
"$rs" init --passfile "$pass" "$tmp/store"          # encrypted names: the default
"$rs" mount --passfile "$pass" "$tmp/store" "$mnt"

mkdir -p "$mnt/docs/deep/er/est" "$mnt/empty-dir"
printf 'hello, golden world\n' > "$mnt/hello.txt"       # inline: one 4 KiB block
: > "$mnt/empty"
seq 1 30000 > "$mnt/docs/numbers.txt"                   # 3 compressible blocks
head -c 150000 /dev/urandom > "$mnt/docs/random.bin"    # 3 incompressible blocks
# 11 blocks of text and random halves: more than 8, so an index blob
for i in 1 2 3 4 5 6 7; do
	seq $((i * 100000)) $((i * 100000 + 20000)) | head -c 50000
	head -c 50000 /dev/urandom
done > "$mnt/docs/big.bin"
# holes: data in block 0, a hole, data in block 9, a hole, 4 bytes past 1 MB
printf 'head' > "$mnt/docs/sparse.bin"
printf 'middle' | dd of="$mnt/docs/sparse.bin" bs=1 seek=600000 conv=notrunc 2>/dev/null
printf 'tail' | dd of="$mnt/docs/sparse.bin" bs=1 seek=1100000 conv=notrunc 2>/dev/null
printf 'x%.0s' $(seq 1 5000) > "$mnt/docs/deep/er/x.txt"
printf 'four levels down\n' > "$mnt/docs/deep/er/est/leaf.txt"
# a hard link across directories: two names, one inode
seq 1 1000 > "$mnt/docs/deep/shared.txt"
ln "$mnt/docs/deep/shared.txt" "$mnt/shared-link.txt"
ln -s ../hello.txt "$mnt/docs/link"
ln -s /nonexistent/golden/target "$mnt/dangling"
# a name too long to encrypt into one backing name (long-name side file)
printf 'long name\n' > "$mnt/docs/long-name-$(printf 'n%.0s' $(seq 1 180)).txt"
# compression chosen per file before any data is written
: > "$mnt/docs/plain.txt"
setfattr -n user.ragstore.compression -v none "$mnt/docs/plain.txt"
seq 1 20000 > "$mnt/docs/plain.txt"
: > "$mnt/docs/fast.txt"
setfattr -n user.ragstore.compression -v lz4 "$mnt/docs/fast.txt"
seq 1 20000 > "$mnt/docs/fast.txt"
# user xattrs on a file and on a directory
setfattr -n user.comment -v 'golden v2' "$mnt/hello.txt"
setfattr -n user.bytes -v 0x00ff10fe "$mnt/hello.txt"
setfattr -n user.dir -v 'docs of v2' "$mnt/docs"
printf 'ragstore.conf at the root is a user file\n' > "$mnt/ragstore.conf"

# manifest (tests/golden/README.md), and where each file's backing file is
python3 - "$mnt" "$tmp/store" "$out/manifest" "$tmp/backing" "$here/../integration" <<'EOF'
import hashlib, os, sys
mnt, store, manifest, backing, integ = sys.argv[1:6]
sys.path.insert(0, integ)
import rsutil
lines, groups, where, paths = [], {}, [], []
for root, dirs, files in os.walk(mnt):
    for n in dirs + files:
        paths.append("./" + os.path.relpath(os.path.join(root, n), mnt))
for p in sorted(paths):
    full = os.path.join(mnt, p)
    st = os.lstat(full)
    if os.path.islink(full):
        lines.append("l %s %s" % (p, os.readlink(full)))
        continue
    if os.path.isdir(full):
        lines.append("d %s" % p)
    else:
        h = hashlib.sha256(open(full, "rb").read()).hexdigest()
        lines.append("f %s %d %s" % (p, st.st_size, h))
        if st.st_nlink > 1:
            groups.setdefault(st.st_ino, []).append(p)
        where.append("%s %s" % (p, os.path.relpath(rsutil.backing_path(store, p, mnt), store)))
    for name in sorted(os.listxattr(full, follow_symlinks=False)):
        if not name.startswith("user."):
            continue
        v = os.getxattr(full, name, follow_symlinks=False)
        if name == "user.ragstore.compression":
            lines.append("c %s %s" % (p, v.decode()))
        else:
            lines.append("x %s %s %s" % (p, name, v.hex()))
for g in sorted(groups.values()):
    for p in g[1:]:
        lines.append("h %s %s" % (p, g[0]))
with open(manifest, "w") as f:
    f.write("\n".join(lines) + "\n")
with open(backing, "w") as f:
    f.write("\n".join(where) + "\n")
EOF

fusermount3 -u "$mnt"
# The store must be what it claims: descriptor 2, every file v2, the small
# file in one 4 KiB block, an index blob, per-file codecs in the records.
python3 - "$tmp/store" "$tmp/backing" "$here" <<'EOF'
import os, sys
store, backing, here = sys.argv[1:4]
sys.path.insert(0, here)
import v2layout as v2
conf = open(os.path.join(store, "ragstore.conf")).read()
assert "\nversion = 2\n" in conf and "plaintext_names = no" in conf, conf
algo = {"none": 0, "lz4": 1}
for line in open(backing).read().split("\n"):
    if not line:
        continue
    p, b = line.split(" ")
    raw = open(os.path.join(store, b), "rb").read()
    assert v2.is_v2(raw), "%s is not format v2" % p
    h = v2.header(raw)
    if p == "./hello.txt":
        assert len(raw) <= 4096 and h["nents"] == 1, (p, len(raw), h)
    if p == "./docs/big.bin":
        assert h["nents"] > v2.INLINE_ENTS and h["ninline"] == 0 and h["ix_len"] == v2.NONCE + 40 * h["nents"], (p, h)
    if p == "./docs/sparse.bin":
        assert h["size"] > 1 << 20 and [e["block"] for e in h["entries"]] == [0, 9, 16], (p, h)
    for n, a in algo.items():
        if p == "./docs/%s.txt" % {"none": "plain", "lz4": "fast"}[n]:
            assert h["entries"] and all(e["algo"] == a for e in h["entries"]), (p, h)
    print("%-28.28s %8d bytes, %2d records%s" % (
        p, len(raw), h["nents"], ", index blob" if h["nents"] > h["ninline"] else ""))
EOF
tar --format=posix --xattrs --xattrs-include='user.*' --sort=name \
	--numeric-owner --owner=0 --group=0 -C "$tmp" -cf "$out/store.tar" store
echo "made $out/store.tar ($(du -k "$out/store.tar" | cut -f1) KiB) and $out/manifest"
