#!/usr/bin/env python3
"""Make the seed corpora of the fuzz targets from the golden stores.

    python3 tests/fuzz/mkcorpus.py            (writes tests/fuzz/corpus/*/)

Each target's input format is described at the top of its tests/fuzz/fuzz_*.c.
The seeds are cut from tests/golden/v1, v2 and v2-chunked: descriptors,
header slots (and an index blob), block records with their index entries,
encrypted names with their directory's value, long-name side files, .diriv
files, symlink targets, xattr blobs and totals files; a few seeds whose
plaintext the golden stores cannot give (compressed streams, an xattr blob's
entries, mount option strings) are made here.  Files already in a corpus
directory (regression inputs among them) are kept; a seed is written under a
name that says where it came from.  Run it again only when a golden store is
added."""
import os
import struct
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
sys.path[:0] = [str(GOLDEN), str(GOLDEN / "mustfail")]
import make as mustfail  # noqa: E402  (zstd frames as ragstore writes them)
import v2layout  # noqa: E402
OUT = REPO / "tests" / "fuzz" / "corpus"


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def bs_byte(bs):
    """The input byte that fz_block_size (fuzz.h) turns into bs."""
    for b in range(256):
        if 4096 << (b % 3 if b % 16 < 12 else b % 9) == bs:
            return b
    raise ValueError(bs)


def stores(tmp):
    yield "v1", GOLDEN / "v1" / "store"
    for kind in ("v2", "v2-chunked"):
        dst = Path(tmp) / kind
        with tarfile.open(GOLDEN / kind / "store.tar") as t:
            t.extractall(dst)
        yield kind, dst / "store"


def backing_files(store):
    for p in sorted((store / "root").rglob("*")):
        if p.is_file() and not p.is_symlink() and not p.name.startswith("."):
            yield p


def v1_seeds(kind, store):
    for n, p in enumerate(list(backing_files(store))[:4]):
        data = p.read_bytes()
        put("header_v1", "%s-%d" % (kind, n), data[:4096])
        bs = struct.unpack_from("<I", data, 32)[0]
        slot = (48 + bs + 16 + 4095) // 4096 * 4096
        for s in (0, 1):
            at = 4096 + s * slot
            if data[at:at + 4] != b"RSB1":
                continue
            stored = struct.unpack_from("<I", data, at + 20)[0]
            if stored > 40000:
                continue
            put("record_v1", "%s-%d-slot%d" % (kind, n, s),
                bytes([bs_byte(bs), 0]) + data[at:at + 48 + stored])


def v2_seeds(kind, store):
    recs = {"whole": 0, "chunked": 0}
    L = v2layout
    for n, p in enumerate(backing_files(store)):
        data = p.read_bytes()
        if not L.is_v2(data):
            continue
        for s in (0, 1):
            h = L.header(data, s)
            slot = L.slot_bytes(data, s)
            index = h["ninline"] == 0 and h["nents"]
            if n < 6 or (index and n < 12):
                extra = data[h["ix_off"]:h["ix_off"] + h["ix_len"]] if index else b""
                put("header_v2", "%s-%d-slot%d" % (kind, n, s), slot + extra)
            for i, e in enumerate(h["entries"]):
                raw = slot[L.ENTS_AT + L.ENT_LEN * i:L.ENTS_AT + L.ENT_LEN * (i + 1)]
                rk = "chunked" if e["algo"] == 0x10 else "whole"
                end = e["off"] + L.NONCE + e["stored"]
                # A few of each kind, small ones: the corpus stays small.
                if recs[rk] >= 3 or e["stored"] > 70000 or end > len(data):
                    continue
                put("record_v2", "%s-%d-slot%d-ent%d-%s" % (kind, n, s, i, rk),
                    bytes([bs_byte(h["block_size"])]) + raw + data[e["off"]:end])
                recs[rk] += 1


def tree_seeds(kind, store):
    root = store / "root"
    for i, d in enumerate([root] + sorted(x for x in root.rglob("*") if x.is_dir())):
        diriv = d / ".diriv"
        iv = diriv.read_bytes()[:16] if diriv.exists() else bytes(16)
        if diriv.exists() and i < 3:
            put("diriv", "%s-%d" % (kind, i), diriv.read_bytes())
        for j, e in enumerate(sorted(d.iterdir())[:3]):
            if e.name.startswith(".N"):
                put("names", "%s-%d-side%d" % (kind, i, j), iv + e.read_bytes())
            elif e.name != ".diriv":
                put("names", "%s-%d-%d" % (kind, i, j), iv + e.name.encode())
            if e.is_symlink():
                put("symlink", "%s-%d-%d" % (kind, i, j), os.readlink(e).encode())
    for j, b in enumerate(sorted((store / "xattrs").glob("*")) if (store / "xattrs").exists() else []):
        put("xattrs", "%s-%d" % (kind, j), b.read_bytes())
    put("descriptor", kind, (store / "ragstore.conf").read_bytes())
    if (store / "ragstore.stats").exists():
        put("totals", kind, (store / "ragstore.stats").read_bytes())


def mustfail_seeds():
    """The controls of tests/golden/mustfail (a store without encryption, so
    their record payloads are real compressed streams and their index blob
    is plaintext entries): inputs that reach past every check."""
    mf = GOLDEN / "mustfail"
    for name in ("ok", "ok-holes"):
        put("header_v1", "mustfail-" + name, (mf / "header_v1" / name).read_bytes())
    put("header_v2", "mustfail-ok", (mf / "header_v2" / "ok").read_bytes())
    ix = (mf / "header_v2" / "ok-index").read_bytes()
    # The target seals the bytes after the slot as the index's plaintext.
    put("header_v2", "mustfail-ok-index", ix[:512] + ix[512 + v2layout.NONCE:])
    for f in sorted((mf / "record_v1").glob("ok-*")):
        put("record_v1", "mustfail-" + f.name, bytes([bs_byte(4096), 0]) + f.read_bytes())
    for f in sorted((mf / "record_v2").glob("ok-*")):
        bs = 8192 if "chunked" in f.name else 4096
        put("record_v2", "mustfail-" + f.name, bytes([bs_byte(bs)]) + f.read_bytes())


def made_seeds():
    text = (mustfail.TEXT * 1400)[:65536]
    for lvl in (1, 9):
        put("codec", "zlib-%d" % lvl, bytes([2, lvl]) + struct.pack("<I", len(text)) +
            zlib.compress(text, lvl))
    put("codec", "zstd-1", bytes([3, 1]) + struct.pack("<I", len(text)) +
        mustfail.zstd(text, 1))
    # Bombs: a megabyte of zeros that claims to be 4 KiB.
    zeros = bytes(1 << 20)
    put("codec", "zlib-bomb", bytes([2, 1]) + struct.pack("<I", 4096) + zlib.compress(zeros, 9))
    put("codec", "zstd-bomb", bytes([3, 1]) + struct.pack("<I", 4096) +
        mustfail.zstd(zeros, 19, sized=False))
    put("codec", "lz4-text", bytes([1, 0]) + struct.pack("<I", 4096) + text[:4096])
    # An xattr blob's plaintext after its magic: u32 count, then entries
    # of u16 name length, name, u32 value length, value.
    ents = [(b"user.comment", b"hello"), (b"user.empty", b""), (b"user.big", b"x" * 300)]
    blob = struct.pack("<I", len(ents))
    for k, v in ents:
        blob += struct.pack("<H", len(k)) + k + struct.pack("<I", len(v)) + v
    put("xattrs", "plain-3", blob)
    for i, o in enumerate([b"allow_other,ro,cache_size=64M",
                           b"passfile=/etc/p,nonempty,noauto,_netdev,x-systemd.automount",
                           b"cache_size=1T,default_permissions,nosuid,nodev",
                           b"cache_size=0,max_read=131072,fsname=a\\,b"]):
        put("mountopts", "opts-%d" % i, o)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for kind, store in stores(tmp):
            (v1_seeds if kind == "v1" else v2_seeds)(kind, store)
            tree_seeds(kind, store)
    mustfail_seeds()
    made_seeds()
    for d in sorted(OUT.iterdir()):
        files = list(d.iterdir())
        print("%-12s %3d seeds, %7d bytes" % (d.name, len(files),
                                             sum(f.stat().st_size for f in files)))


if __name__ == "__main__":
    sys.exit(main())
