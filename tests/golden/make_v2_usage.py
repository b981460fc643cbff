#!/usr/bin/env python3
"""Make the golden store of format v2 whose headers carry the usage summary
(bytes 448-451 of a header slot: the algorithm most of the file's stored
bytes use, and the level of its zlib and zstd records; docs/FORMAT.md) into
a NEW directory: OUTDIR/store.tar and OUTDIR/manifest, with the conventions
of tests/golden/v2/ (tests/golden/README.md).

    python3 tests/golden/make_v2_usage.py OUTDIR    (RAGSTORE_BIN=... for another binary)

A fresh store (tests/golden/passphrase, 64 KiB blocks, zstd:1) gets text
at zstd:1 and, by a user.ragstore.compression attribute, at zstd:19 and
lz4; random data (stored raw under zstd); a file of a compressed block and
two raw ones; a file of 10 blocks (an index blob); a file whose blocks were
written at two zstd levels; an empty file.  The script checks each file's
summary before it writes the tar.  Run only when deliberately making a new
golden store; it refuses to overwrite one."""
import os
import sys

import goldenlib as gl  # (the store made, mounted and kept as a tar)
import rsutil  # (mounts, processes, backing paths; goldenlib puts it on the path)
import v2layout as v2  # (the layout of the files)
from make_v2_chunked import manifest_text  # (d, f, c and x lines)

B = rsutil.DEFAULT_BLOCK
NONE, LZ4, ZSTD = 0, 1, 3
UNKNOWN = 255

# path -> (main algorithm, zstd level) the header must record (zlib: none)
EXPECT = {
    "text.txt": (ZSTD, 1), "text19.txt": (ZSTD, 19), "lz4.log": (LZ4, 0),
    "random.gz": (NONE, 0), "mixed.bin": (NONE, 1), "big.txt": (ZSTD, 1),
    "levels.txt": (ZSTD, UNKNOWN), "empty": (NONE, 0),
}


def build(tmp, store, mnt, mount, unmount):
    """Fill the store; the text of its manifest."""
    mount()
    text = rsutil.text_bytes
    for rel, codec in (("text19.txt", b"zstd:19"), ("lz4.log", b"lz4")):
        rsutil.write_file(mnt / rel, b"")
        os.setxattr(mnt / rel, "user.ragstore.compression", codec)
    files = {
        "text.txt": text(3 * B, 1),
        "text19.txt": text(3 * B, 2),
        "lz4.log": text(2 * B, 3),
        "random.gz": os.urandom(2 * B + 1000),
        "mixed.bin": text(B, 4) + os.urandom(2 * B),
        "big.txt": text(10 * B + 10, 5),
        "levels.txt": text(3 * B, 6),
        "empty": b"",
    }
    back = gl.write_files(store, mnt, files)
    # levels.txt: block 1 written again at zstd:19, blocks 0 and 2 stay 1.
    os.setxattr(mnt / "levels.txt", "user.ragstore.compression", b"zstd:19")
    fd = os.open(mnt / "levels.txt", os.O_WRONLY)
    try:
        assert os.pwrite(fd, text(B, 7), B) == B
    finally:
        os.close(fd)
    manifest = manifest_text(mnt)
    unmount()
    conf = (store / "ragstore.conf").read_text()
    assert "\nversion = 2\n" in conf, conf
    for rel, (main, zstd_level) in EXPECT.items():
        h = v2.header(rsutil.read_file(back[rel]))
        assert h["usage"] == (1, main, 0, zstd_level), (rel, h["usage"])
        print("%-12s usage %s, %d records" % (rel, h["usage"], h["nents"]))
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_v2_usage.py OUTDIR")
    gl.make_store("make_v2_usage.py", sys.argv[1], "manifest", build)
