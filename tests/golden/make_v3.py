#!/usr/bin/env python3
"""Make the golden store of store version 3 (packed small files,
docs/FORMAT.md "Packed small files") into a NEW directory: OUTDIR/store.tar
and OUTDIR/manifest, with the conventions of tests/golden/v2/
(tests/golden/README.md).

    python3 tests/golden/make_v3.py OUTDIR    (RAGSTORE_BIN=... for another binary)

A fresh store (tests/golden/passphrase, encrypted names, 64 KiB blocks,
zstd:1) gets small files in several directories, which the packer moves
into their directory's pack (`.diriv`), next to files that stay in their own
backing files (a hard link pair, a file with a user xattr, multi-block and
sparse files, a per-file codec, a record just over the pack limit).  In
rewrites/ files are rewritten (and one grown past a block) after they were
packed, so that its pack holds dead records.  Unmounting packs what is still
queued.  The script checks that the store is what it claims (descriptor
version 3; each packed file an empty backing file with the 56-byte hint whose
record lies in its directory's pack; each other file format v2 with the
19-byte hint; dead space where it should be) before it writes the tar.
Run only when deliberately making a new golden store; it refuses to
overwrite one."""
import os
import sys

import goldenlib as gl  # (the store made, mounted and kept as a tar)
import packlayout as pk  # (the packed hint, the pack)
import rsutil  # (mounts, processes, backing paths; goldenlib puts it on the path)
import v2layout as v2  # (the layout of v2 files)

B = rsutil.DEFAULT_BLOCK
NONE, LZ4, ZSTD = 0, 1, 3
LONG = "docs/long-name-%s.txt" % ("n" * 180)


def settle(mnt):
    """statfs waits until the packer has dealt with every file closed so
    far (docs/FORMAT.md "Packing")."""
    os.statvfs(mnt)


def build(tmp, store, mnt, mount, unmount):
    """Fill the store; the text of its manifest."""
    mount()
    rnd = os.urandom
    text = rsutil.text_bytes
    for d in ("docs/deep/er", "rewrites", "empty-dir"):
        os.makedirs(mnt / d)
    # path -> (content, what its packed hint must say: None = stays unpacked)
    packed = {
        "hello.txt": (b"hello, golden v3\n", {"algo": NONE}),
        "empty": (b"", {"rec": None}),
        "zeros.bin": (bytes(3000), {"rec": None}),          # all zeros: no record
        "one.byte": (b"!", {"algo": NONE, "stored": 1}),
        "ragstore.conf": (b"ragstore.conf at the root is a user file\n", {}),
        "docs/notes.txt": (text(1500, 1), {}),
        "docs/readme.txt": (b"the docs of golden v3\n" * 40, {"algo": ZSTD}),
        # a whole block (the size limit) that compresses to just under the
        # pack's 8192 stored bytes
        "docs/near-limit.bin": (rnd(7900) + b"a" * (B - 7900), {"algo": ZSTD, "near": True}),
        # raw and more than 4 KiB: a chunked record in the pack
        "docs/random5000.bin": (rnd(5000), {"algo": v2.ALGO_CHUNKED,
                                            "stored": v2.chunked_stored(5000)}),
        "docs/deep/er/leaf.txt": (b"three levels down\n", {}),
        LONG: (b"long name\n", {}),
        "rewrites/kept.txt": (b"written once\n", {}),
    }
    unpacked = {
        # stored in more than 8192 bytes: too big for a pack
        "docs/over-limit.bin": rnd(8400) + b"a" * (B - 8400),
        "docs/numbers.txt": b"".join(b"%d\n" % i for i in range(1, 30001)),  # 3 blocks
        "shared.txt": b"".join(b"%d\n" % i for i in range(1, 1001)),          # 2 links
        "xattr.txt": b"a file with a user attribute\n",
    }
    for rel, (data, _) in packed.items():
        rsutil.write_file(mnt / rel, data)
    for rel, data in unpacked.items():
        rsutil.write_file(mnt / rel, data)
    os.link(mnt / "shared.txt", mnt / "docs/deep/shared-link.txt")
    os.setxattr(mnt / "xattr.txt", "user.comment", b"golden v3")
    # compression chosen per file before any data is written: a small
    # file packed with its codec (hint bytes 21-22, flag bit 0), and a
    # multi-block one
    for rel, codec, data in (("docs/fast.txt", b"lz4", text(3000, 2)),
                             ("docs/plain.txt", b"none",
                              b"".join(b"%d\n" % i for i in range(1, 20001)))):
        rsutil.write_file(mnt / rel, b"")
        os.setxattr(mnt / rel, "user.ragstore.compression", codec)
        rsutil.write_file(mnt / rel, data)
    packed["docs/fast.txt"] = (text(3000, 2), {"algo": LZ4, "flags": 1, "codec": LZ4})
    unpacked["docs/plain.txt"] = None
    # holes: data in block 0, a hole, data in block 9, a hole, 4 bytes past 1 MB
    with open(mnt / "docs/sparse.bin", "wb") as f:
        for off, data in ((0, b"head"), (600000, b"middle"), (1100000, b"tail")):
            f.seek(off)
            f.write(data)
    unpacked["docs/sparse.bin"] = None
    os.symlink("../hello.txt", mnt / "docs/link")
    os.symlink("/nonexistent/golden/target", mnt / "dangling")

    # Dead space in rewrites/: files packed, then rewritten (packed again
    # into new records) or grown past one block (unpacked for good).
    first = {"rewrites/twice.txt": text(2000, 3), "rewrites/thrice.bin": rnd(3000),
             "rewrites/grown.bin": text(4000, 4)}
    for rel, data in first.items():
        rsutil.write_file(mnt / rel, data)
    settle(mnt)
    back = {rel: rsutil.backing_path(store, rel, mnt) for rel in first}
    for rel in first:
        assert pk.is_packed(back[rel]), rel
    rsutil.write_file(mnt / "rewrites/twice.txt", text(2100, 5))
    rsutil.write_file(mnt / "rewrites/thrice.bin", rnd(3000))
    with open(mnt / "rewrites/grown.bin", "ab") as f:
        f.write(text(2 * B, 6))
    settle(mnt)
    rsutil.write_file(mnt / "rewrites/thrice.bin", rnd(3000))
    settle(mnt)
    packed["rewrites/twice.txt"] = (None, {})
    packed["rewrites/thrice.bin"] = (None, {"algo": NONE, "stored": 3000})
    unpacked["rewrites/grown.bin"] = None

    for rel in list(packed) + list(unpacked) + ["docs/deep/shared-link.txt"]:
        back[rel] = rsutil.backing_path(store, rel, mnt)
    dirs = {d: rsutil.backing_path(store, d, mnt)
            for d in ("docs", "docs/deep/er", "rewrites", "empty-dir")}
    sizes = {rel: os.stat(mnt / rel).st_size for rel in back}
    manifest = gl.manifest_text(mnt)
    unmount()   # packs what is still queued
    check_layout(store, back, dirs, sizes, packed, unpacked)
    return manifest


def check_layout(store, back, dirs, sizes, packed, unpacked):
    """The store is what it claims: descriptor 3; each packed file empty,
    with a packed hint whose record lies in its directory's pack; each
    other file v2 with the ordinary hint; dead records only in rewrites/."""
    conf = (store / "ragstore.conf").read_text()
    assert "\nversion = 3\n" in conf and "plaintext_names = no" in conf, conf
    for rel, (_, want) in sorted(packed.items()):
        b = back[rel]
        h = pk.hint_of(b)
        assert os.path.getsize(b) == 0, (rel, os.path.getsize(b))
        assert len(h) == pk.HINT_LEN and h[pk.FORM_AT] == pk.FORM, (rel, h.hex())
        r = pk.decode(h)
        assert r["size"] == sizes[rel] and r["block_size"] == B, (rel, r)
        assert r["flags"] == want.get("flags", 0) and r["algo"] == want.get("codec", ZSTD), (rel, r)
        rec = r["rec"]
        if "rec" in want:
            assert rec is None and r["acct_algo"] == 0, (rel, r)
            what = "no record"
        else:
            assert rec is not None and rec["plain"] == r["size"], (rel, r)
            if "algo" in want:
                assert rec["algo"] == want["algo"], (rel, r)
            if "stored" in want:
                assert rec["stored"] == want["stored"], (rel, r)
            if want.get("near"):
                assert 7800 < rec["stored"] <= pk.STORED_MAX, (rel, r)
            off, n = pk.span(r)
            pack = pk.pack_of(os.path.dirname(b))
            assert off >= pk.START and off + n <= os.path.getsize(pack), (rel, off, n)
            what = "record algo %#x, %d stored bytes at %d" % (rec["algo"], rec["stored"], off)
        print("packed   %-28.28s %6d bytes, %s" % (rel, r["size"], what))
    for rel in sorted(unpacked) + ["docs/deep/shared-link.txt"]:
        raw = rsutil.read_file(back[rel])
        h = pk.hint_of(back[rel])
        assert v2.is_v2(raw) and len(h) == pk.V2_HINT_LEN, (rel, len(raw), h.hex())
        hd = v2.header(raw)
        assert hd["size"] == sizes[rel], (rel, hd)
        print("unpacked %-28.28s %6d bytes, %2d records, backing %d bytes" % (
            rel, hd["size"], hd["nents"], len(raw)))
    assert v2.header(rsutil.read_file(back["docs/over-limit.bin"]))["entries"][0]["stored"] > \
        pk.STORED_MAX
    # every directory with packed files has them in its own pack; only
    # rewrites/ has dead records (two of thrice.bin, one of twice.txt, one
    # of grown.bin)
    roots = {str(os.path.dirname(back[rel])) for rel in packed}
    assert len(roots) >= 4, roots
    for d in sorted(roots | {str(p) for p in dirs.values()}):
        dead = pk.dead_bytes(d)
        n = len(pk.packed_files(d))
        print("pack of %-40.40s %2d packed files, %6d bytes, %5d dead" % (
            os.path.relpath(d, store), n, os.path.getsize(pk.pack_of(d)), dead))
        if d == str(dirs["rewrites"]):
            assert dead >= 2 * (3000 + 24) + 3 * 24, dead
        else:
            assert dead == 0, (d, dead)
    assert os.path.getsize(pk.pack_of(dirs["empty-dir"])) == pk.START


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_v3.py OUTDIR")
    gl.make_store("make_v3.py", sys.argv[1], "manifest", build)
