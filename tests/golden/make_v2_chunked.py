#!/usr/bin/env python3
"""Make the golden store of format v2 with chunked records (include/fh2rec.h)
into a NEW directory: OUTDIR/store.tar and OUTDIR/manifest, with the
conventions of tests/golden/v2/ (tests/golden/README.md).

    python3 tests/golden/make_v2_chunked.py OUTDIR    (RAGSTORE_BIN=... for another binary)

A fresh store (tests/golden/passphrase, encrypted names, 64 KiB blocks,
zstd:1) gets files of incompressible data, which are stored as chunked
records, next to whole records (a small random file, compressed text); it
is unmounted, mounted again, and some files are patched through the mount
by 4 KiB writes (dd and pwrite), so that their records are chunked records
of which only the written chunks were sealed again.  The script checks that
the store is what it claims (entries, algorithms, which chunks kept their
ciphertext) before it writes the tar.  Run only when deliberately making a
new golden store; it refuses to overwrite one."""
import hashlib
import os
import sys

import goldenlib as gl  # (the store made, mounted and kept as a tar)
import rsutil  # (mounts, processes, backing paths; goldenlib puts it on the path)
import v2layout as v2  # (the layout of the files)

B = rsutil.DEFAULT_BLOCK
CH = v2.CHUNK
ZSTD, NONE, LZ4 = 3, 0, 1


def build(tmp, store, mnt, mount, unmount):
    """Fill the store; the text of its manifest."""
    mount()
    rnd = os.urandom
    text = rsutil.text_bytes
    files = {
        # three full chunked blocks and a last block of two chunks (5000
        # bytes: the second chunk short)
        "random.bin": rnd(3 * B + 5000),
        # patched below by 4 KiB writes
        "patched.bin": rnd(4 * B),
        # one block of three chunks, the last of 808 bytes
        "tail.bin": rnd(9000),
        # one chunk: a whole record (algorithm 0)
        "small.bin": rnd(3000),
        # compressible: whole zstd records
        "text.txt": text(3 * B, 7),
        # a compressed block, then a chunked one
        "mixed.bin": text(B, 8) + rnd(B),
        # more than 8 blocks: an index blob, whose entries are chunked
        "big.bin": rnd(10 * B + 100),
        # a chunked block, two holes, a chunked block
        "sparse.bin": rnd(B) + bytes(2 * B) + rnd(B),
        # two blocks, cut into chunk 1 of block 1 below
        "cut.bin": rnd(2 * B),
    }
    os.mkdir(mnt / "dir")
    files["dir/lz4.bin"] = rnd(2 * B + 4097)   # lz4 must fall back to chunked records
    rsutil.write_file(mnt / "dir/lz4.bin", b"")
    os.setxattr(mnt / "dir/lz4.bin", "user.ragstore.compression", b"lz4")
    back = gl.write_files(store, mnt, files)
    unmount()
    before = gl.read_backing(back)

    # Patch through the mount: whole chunks, unaligned 4 KiB, a write
    # across two blocks, one byte; a cut inside a chunk.
    mount()
    now = {rel: bytearray(d) for rel, d in files.items()}

    def patch(rel, offset, data, with_dd=True):
        if with_dd:
            gl.dd_patch(tmp, mnt / rel, offset, data)
        else:
            fd = os.open(mnt / rel, os.O_WRONLY)
            try:
                assert os.pwrite(fd, data, offset) == len(data)
            finally:
                os.close(fd)
        now[rel][offset:offset + len(data)] = data

    patch("patched.bin", 1 * B + 3 * CH, rnd(CH))                  # block 1, chunk 3
    patch("patched.bin", 2 * B + 7 * CH + 100, rnd(CH), False)     # block 2, chunks 7-8
    patch("patched.bin", 3 * B - 2000, rnd(CH), False)             # blocks 2-3
    patch("patched.bin", 3 * B + 15 * CH + 4095, b"!")             # block 3, last byte
    patch("big.bin", 9 * B + 5 * CH, rnd(2 * CH))                  # block 9, chunks 5-6
    patch("tail.bin", 2 * CH + 10, rnd(100), False)                # the short chunk
    with open(mnt / "cut.bin", "r+b") as f:
        f.truncate(B + 4100)
    now["cut.bin"] = now["cut.bin"][:B + 4100]
    for rel, data in now.items():
        assert rsutil.read_file(mnt / rel) == data, rel
    manifest = manifest_text(mnt)
    unmount()
    check_layout(store, back, before, {rel: bytes(d) for rel, d in now.items()})
    return manifest


def manifest_text(mnt):
    """The manifest of tests/golden/README.md: d and f lines, and the user
    xattrs (c for user.ragstore.compression, x for the others)."""
    lines = []
    paths = []
    for root, dirs, names in os.walk(mnt):
        for n in dirs + names:
            paths.append("./" + os.path.relpath(os.path.join(root, n), mnt))
    for p in sorted(paths):
        full = os.path.join(mnt, p)
        if os.path.isdir(full):
            lines.append("d %s" % p)
        else:
            st = os.stat(full)
            assert st.st_nlink == 1, p
            lines.append("f %s %d %s" % (p, st.st_size, rsutil.file_digest(full)))
        for name in sorted(os.listxattr(full)):
            if not name.startswith("user."):
                continue
            v = os.getxattr(full, name)
            if name == "user.ragstore.compression":
                lines.append("c %s %s" % (p, v.decode()))
            else:
                lines.append("x %s %s %s" % (p, name, v.hex()))
    return "\n".join(lines) + "\n"


def chunk_bytes(raw, e, j):
    """Chunk j of the record of entry e: its tag and nonce || ciphertext."""
    tag = raw[e["off"] + j * v2.TAG:e["off"] + (j + 1) * v2.TAG]
    at = e["off"] + v2.chunk_at(e["plain"], j)
    return tag, raw[at:at + v2.NONCE + min(CH, e["plain"] - j * CH)]


def check_layout(store, back, before, now):
    """The store is what it claims: descriptor 2, every file v2, records of
    the expected kinds, and the patched blocks chunked records in which
    exactly the written chunks changed."""
    conf = (store / "ragstore.conf").read_text()
    assert "\nversion = 2\n" in conf and "plaintext_names = no" in conf, conf
    raw = gl.read_backing(back)
    for rel, r in raw.items():
        assert v2.is_v2(r), rel

    def ents(rel):
        h = v2.header(raw[rel])
        assert h["size"] == len(now[rel]), (rel, h)
        return h["entries"]

    def chunked(e, plain):
        return (e["algo"], e["plain"], e["stored"]) == \
            (v2.ALGO_CHUNKED, plain, v2.chunked_stored(plain))

    e = ents("random.bin")
    assert [x["block"] for x in e] == [0, 1, 2, 3], e
    assert all(chunked(x, B if x["block"] < 3 else 5000) for x in e), e
    e = ents("tail.bin")
    assert len(e) == 1 and chunked(e[0], 9000), e
    e = ents("small.bin")
    assert len(e) == 1 and (e[0]["algo"], e[0]["stored"]) == (NONE, 3000), e
    assert all(x["algo"] == ZSTD for x in ents("text.txt"))
    e = ents("mixed.bin")
    assert e[0]["algo"] == ZSTD and chunked(e[1], B), e
    e = ents("sparse.bin")
    assert [x["block"] for x in e] == [0, 3] and all(chunked(x, B) for x in e), e
    e = ents("cut.bin")
    assert chunked(e[0], B) and chunked(e[1], 4100), e
    e = ents("dir/lz4.bin")
    assert len(e) == 3 and all(chunked(x, x["plain"]) for x in e), e
    assert v2.header(raw["big.bin"])["nents"] == 11 > v2.INLINE_ENTS
    # 11 chunked records need at least this much room.
    assert len(raw["big.bin"]) >= v2.DATA_START + 10 * (v2.chunked_stored(B) + v2.NONCE)

    # patched.bin: which chunks were sealed again, and which kept their
    # ciphertext (and tag) byte for byte.
    changed = {1: {3}, 2: {7, 8, 15}, 3: {0, 15}}
    for block in range(4):
        old, new = v2.entry(before["patched.bin"], block), v2.entry(raw["patched.bin"], block)
        assert chunked(new, B), new
        for j in range(B // CH):
            same = chunk_bytes(before["patched.bin"], old, j) == \
                chunk_bytes(raw["patched.bin"], new, j)
            assert same == (j not in changed.get(block, ())), (block, j)
    old, new = v2.entry(before["tail.bin"], 0), v2.entry(raw["tail.bin"], 0)
    for j in range(3):
        assert (chunk_bytes(before["tail.bin"], old, j) ==
                chunk_bytes(raw["tail.bin"], new, j)) == (j != 2), j
    for rel in sorted(raw):
        h = v2.header(raw[rel])
        kinds = sorted({x["algo"] for x in h["entries"]})
        print("%-14s %8d bytes, %2d records%s, algorithms %s" % (
            rel, len(raw[rel]), h["nents"],
            ", index blob" if h["nents"] > h["ninline"] else "", kinds))
    digest = hashlib.sha256(raw["patched.bin"]).hexdigest()
    print("patched.bin backing sha256 %s" % digest)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_v2_chunked.py OUTDIR")
    gl.make_store("make_v2_chunked.py", sys.argv[1], "manifest", build)
