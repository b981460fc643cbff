#!/usr/bin/env python3
"""Make the golden "must fail" inputs of the descriptor, header and record
decoders, and their expect file, read by tests/unit/test_mustfail.c.

    python3 tests/golden/mustfail/make.py

Headers and records are those of a store made with --no-encryption, whose
"tag" is a BLAKE2b-128 checksum a script can compute (src/crypto/crypto.c,
none_tag): each damaged input carries a checksum that matches it, so that it
fails for the reason its name gives (an unknown version, an oversized length,
...) and not merely because the checksum does.  The ones named ok-* are
controls that must decode.  Like the golden stores, these files are kept once
made; a new case adds a file and an expect line."""
import hashlib
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parent
FILE_ID = b"mustfail file id"      # 16 bytes, as in test_mustfail.c
TEXT = b"the quick brown fox jumps over the lazy dog 0123\n"
NONCE = bytes(24)
lines = []


def tag(ad, data):
    """The checksum of CIPHER_NONE: BLAKE2b-128(le64(len(ad)) || ad || data)."""
    return hashlib.blake2b(struct.pack("<Q", len(ad)) + ad + data, digest_size=16).digest()


def put(decoder, name, data, block_size, expect, why):
    d = HERE / decoder
    d.mkdir(exist_ok=True)
    (d / name).write_bytes(data)
    lines.append("%s %s %s %s  # %s" % (decoder, name, block_size, expect, why))


# ---- descriptor (desc_read) ----------------------------------------------

def descriptors():
    base = (GOLDEN / "v2" / "store.tar").exists() and golden_conf()
    put("descriptor", "ok-v2", base, "-", "OK", "the golden v2 descriptor")
    cases = {
        "version-4": ("version = 2", "version = 4", "a version from the future"),
        "version-0": ("version = 2", "version = 0", "no such version"),
        "version-huge": ("version = 2", "version = 99999999999999999999", "overflows"),
        "block-size-2M": ("block_size = 65536", "block_size = 2097152", "oversized block"),
        "block-size-odd": ("block_size = 65536", "block_size = 65537", "not a power of two"),
        "compression-level": ("compression = zstd:1", "compression = zstd:20", "no such level"),
        "compression-unknown": ("compression = zstd:1", "compression = brotli", "unknown codec"),
        "cipher-unknown": ("cipher = xchacha20-poly1305", "cipher = rot13", "unknown cipher"),
        "key-unknown": ("[kdf]", "future_flag = 1\n\n[kdf]", "an unknown key"),
        "section-unknown": ("[kdf]", "[future]\nx = 1\n\n[kdf]", "an unknown section"),
        "syntax": ("[kdf]", "this is not ini\n[kdf]", "a line that is not key = value"),
        "opslimit-negative": ("opslimit = 3", "opslimit = -1", "negative cost"),
    }
    for name, (old, new, why) in cases.items():
        assert old in base.decode(), (name, old)
        put("descriptor", name, base.replace(old.encode(), new.encode(), 1), "-", "EINVAL", why)
    salt = [l for l in base.decode().splitlines() if l.startswith("salt = ")][0]
    put("descriptor", "salt-short", base.replace(salt.encode(), salt[:-2].encode()), "-",
        "EINVAL", "a salt one byte short")
    put("descriptor", "truncated", base[:len(base) // 2], "-", "EINVAL",
        "cut in half: fields missing")
    put("descriptor", "oversized", base + b"#" * 70000 + b"\n", "-", "EINVAL",
        "larger than any descriptor (64 KiB)")
    put("descriptor", "empty", b"", "-", "EINVAL", "no fields at all")


def golden_conf():
    import tarfile
    with tarfile.open(GOLDEN / "v2" / "store.tar") as t:
        return t.extractfile("store/ragstore.conf").read()


# ---- header v1 (fh_open) --------------------------------------------------

def v1_slot(version=1, gen=5, bs=65536, algo=3, level=1, flags=0, size=300000,
            holes=(), nholes=None, reseal=True):
    n = len(holes) if nholes is None else nholes
    body = b"RSFH" + struct.pack("<IQ", version, gen) + FILE_ID + struct.pack(
        "<IBBHQII", bs, algo, level, flags, size, n, 0)
    for s, c in holes:
        body += struct.pack("<QQ", s, c)
    t = tag(body, b"") if reseal else bytes(16)
    return (body + NONCE + t).ljust(2048, b"\0")


def headers_v1():
    P = lambda name, data, exp, why: put("header_v1", name, data, "-", exp, why)  # noqa: E731
    ok = v1_slot()
    P("ok", ok, "OK", "a valid header")
    P("ok-holes", v1_slot(holes=[(1, 2), (5, 1)]), "OK", "a valid header with two holes")
    P("zero", bytes(2048), "ENOENT", "a slot never written")
    P("bad-magic", b"RSFX" + ok[4:], "EBADMSG", "not a header")
    P("version-0", v1_slot(version=0), "EBADMSG", "no such version")
    P("version-3", v1_slot(version=3), "EBADMSG", "a version from the future")
    P("flags-unknown", v1_slot(flags=0x0004), "EBADMSG", "a flag this version does not know")
    P("block-size-odd", v1_slot(bs=12345), "EBADMSG", "block size not a power of two")
    P("block-size-2M", v1_slot(bs=2 << 20), "EBADMSG", "oversized block size")
    P("algo-unknown", v1_slot(algo=4), "EBADMSG", "unknown compression")
    P("nholes-oversized", v1_slot(nholes=121), "EBADMSG", "more holes than a slot holds")
    P("nholes-huge", v1_slot(nholes=0xffffffff), "EBADMSG", "a hole count that overflows")
    P("hole-empty", v1_slot(holes=[(3, 0)]), "EBADMSG", "a hole of no blocks")
    P("holes-overlap", v1_slot(holes=[(1, 5), (3, 1)]), "EBADMSG", "unsorted, overlapping")
    P("holes-adjacent", v1_slot(holes=[(1, 2), (3, 1)]), "EBADMSG", "touching ranges")
    P("hole-wraps", v1_slot(holes=[(2 ** 64 - 1, 2)]), "EBADMSG", "a range past 2^64")
    P("truncated", ok[:60].ljust(2048, b"\0"), "EBADMSG", "cut inside the nonce")
    P("tag-flipped", ok[:56 + 24] + bytes([ok[80] ^ 1]) + ok[81:], "EBADMSG", "checksum")
    P("nonce-set", ok[:56] + b"\1" + ok[57:], "EBADMSG", "an unused nonce byte not zero")
    P("unsealed", v1_slot(reseal=False), "EBADMSG", "no checksum")


# ---- header v2 (fh2_open, fh2_ix_open) -----------------------------------

def ent(block=0, off=1024, algo=0, stored=100, plain=100, state=0):
    return struct.pack("<QQII", block, off | algo << 48 | state << 56, stored, plain) + bytes(16)


def v2_slot(version=2, gen=7, bs=65536, algo=3, flags=0, size=100, data_end=1148,
            nents=None, ninl=None, ix_off=0, ix_len=0, ix_tag=bytes(16), reserved=0,
            ents=(None,)):
    ents = [ent() if e is None else e for e in ents]
    nents = len(ents) if nents is None else nents
    ninl = len(ents) if ninl is None else ninl
    body = b"RSFH" + struct.pack("<IQ", version, gen) + FILE_ID + struct.pack(
        "<IBBHQQIIQII", bs, algo, 1, flags, size, data_end, nents, ninl, ix_off, ix_len,
        reserved) + ix_tag + bytes(32)
    body = (body + b"".join(ents)).ljust(472, b"\0")
    return body + NONCE + tag(body, b"")


def index_case(nents=9, unsorted=False, cut=0, bad_tag=False):
    """A file of nents blocks of 64 KiB whose index is a blob after the slot."""
    bs = 65536
    rec = 24 + 100
    blocks = list(range(nents))
    if unsorted:
        blocks[3], blocks[4] = blocks[4], blocks[3]
    ents = b"".join(ent(block=b, off=1024 + rec * i, algo=3, plain=bs)
                    for i, b in enumerate(blocks))
    ix_off = 1024 + rec * nents
    ad = b"RSI2" + FILE_ID + struct.pack("<I", nents)
    t = tag(ad, ents)
    if bad_tag:
        t = bytes([t[0] ^ 1]) + t[1:]
    blob = NONCE + ents
    slot = v2_slot(size=nents * bs, data_end=ix_off + len(blob), nents=nents, ninl=0,
                   ix_off=ix_off, ix_len=len(blob), ix_tag=t, ents=[])
    return slot + blob[:len(blob) - cut]


def headers_v2():
    P = lambda name, data, exp, why: put("header_v2", name, data, "-", exp, why)  # noqa: E731
    ok = v2_slot()
    P("ok", ok, "OK", "a valid header, one inline entry")
    P("ok-index", index_case(), "OK", "a valid header with a 9-entry index blob")
    P("zero", bytes(512), "ENOENT", "a slot never written")
    P("version-3", v2_slot(version=3), "EBADMSG", "a version from the future")
    P("gen-0", v2_slot(gen=0), "EBADMSG", "generation 0 is never written")
    P("flags-unknown", v2_slot(flags=0x8000), "EBADMSG", "a flag this version does not know")
    P("block-size-odd", v2_slot(bs=3 << 12), "EBADMSG", "block size not a power of two")
    P("algo-unknown", v2_slot(algo=7), "EBADMSG", "unknown compression")
    P("data-end-small", v2_slot(data_end=1000), "EBADMSG", "data end inside the header")
    P("data-end-huge", v2_slot(data_end=1 << 48), "EBADMSG", "data end past 48 bits")
    P("size-huge", v2_slot(size=1 << 62), "EBADMSG", "a size past any data end")
    P("reserved-set", v2_slot(reserved=1), "EBADMSG", "reserved word not zero")
    P("nents-oversized", v2_slot(nents=5, ninl=5, ents=[None] * 5), "EBADMSG",
      "more entries than blocks")
    P("ninline-mismatch", v2_slot(ninl=0), "EBADMSG", "inline count differs from entries")
    P("inline-with-index", v2_slot(ix_off=2048), "EBADMSG", "an index offset for inline entries")
    P("ent-state-set", v2_slot(ents=[ent(state=1)]), "EBADMSG", "in-memory state on disk")
    P("ent-past-size", v2_slot(ents=[ent(block=1)]), "EBADMSG", "an entry past the size")
    P("ents-unsorted", v2_slot(size=200000, data_end=1300,
                               ents=[ent(block=2), ent(block=1, off=1124)]), "EBADMSG",
      "entries out of order")
    P("ent-plain-oversized", v2_slot(size=300000, ents=[ent(algo=3, plain=65537)]), "EBADMSG",
      "more plain bytes than a block")
    P("ent-plain-past-size", v2_slot(ents=[ent(stored=101, plain=101)], data_end=1149),
      "EBADMSG", "plain bytes past the size")
    P("ent-stored-zero", v2_slot(ents=[ent(algo=3, stored=0)]), "EBADMSG", "an empty record")
    P("ent-algo-unknown", v2_slot(ents=[ent(algo=9)]), "EBADMSG", "unknown record algorithm")
    P("ent-none-mismatch", v2_slot(ents=[ent(stored=99)]), "EBADMSG",
      "a raw record whose lengths differ")
    P("ent-chunked-small", v2_slot(ents=[ent(algo=0x10)]), "EBADMSG",
      "a chunked record of one chunk")
    P("ent-off-small", v2_slot(ents=[ent(off=512)]), "EBADMSG", "a record inside the header")
    P("ent-past-data-end", v2_slot(data_end=1100), "EBADMSG", "a record past the data end")
    P("index-len-wrong", v2_slot(size=9 * 65536, data_end=5000, nents=9, ninl=0, ix_off=1024,
                                 ix_len=100, ents=[]), "EBADMSG", "index length for 9 entries")
    P("index-past-data-end", v2_slot(size=9 * 65536, data_end=1200, nents=9, ninl=0,
                                     ix_off=1024, ix_len=24 + 360, ents=[]), "EBADMSG",
      "index blob past the data end")
    P("index-truncated", index_case(cut=7), "EBADMSG", "index blob cut short")
    P("index-unsorted", index_case(unsorted=True), "EBADMSG", "index entries out of order")
    P("index-tag-wrong", index_case(bad_tag=True), "EBADMSG", "index blob checksum")
    P("truncated", ok[:200].ljust(512, b"\0"), "EBADMSG", "cut after 200 bytes")
    P("tag-flipped", ok[:-1] + bytes([ok[-1] ^ 1]), "EBADMSG", "checksum")


# ---- record v1 (blk_open), 4 KiB blocks, index 0 -------------------------

def v1_rec(payload, algo=0, plain=None, gen=1, stored=None, index=0, reserved=0, magic=b"RSB1"):
    plain = len(payload) if plain is None else plain
    stored = len(payload) + 16 if stored is None else stored
    pre = magic + bytes([algo, reserved, 0, 0]) + struct.pack("<QII", gen, plain, stored)
    ad = pre + FILE_ID + struct.pack("<Q", index)
    return pre + NONCE + payload + tag(ad, payload)


def zstd(data, level, sized=True):
    """A zstd frame of data; sized: with the content size in its header, as
    ragstore writes them (the CLI records it for a file, not for a pipe)."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        cmd = ["zstd", "-q", "-c", "-%d" % level]
        return subprocess.run(cmd + [f.name] if sized else cmd, input=None if sized else data,
                              stdout=subprocess.PIPE, check=True).stdout


def records_v1():
    P = lambda name, data, exp, why: put("record_v1", name, data, 4096, exp, why)  # noqa: E731
    text = (TEXT * 100)[:4096]
    bomb_z, bomb_s = zlib.compress(bytes(1 << 20), 9), zstd(bytes(1 << 20), 19)
    bomb_u = zstd(bytes(1 << 20), 19, sized=False)
    P("ok-none", v1_rec(TEXT), "OK", "a raw record")
    P("ok-zlib", v1_rec(zlib.compress(text), algo=2, plain=4096), "OK", "a zlib record")
    P("ok-zstd", v1_rec(zstd(text, 1), algo=3, plain=4096), "OK", "a zstd record")
    P("zero", bytes(4096), "EBADMSG", "an empty slot is no record")
    P("bad-magic", v1_rec(TEXT, magic=b"RSB9"), "EBADMSG", "not a record")
    P("algo-unknown", v1_rec(TEXT, algo=4), "EBADMSG", "unknown compression")
    P("reserved-set", v1_rec(TEXT, reserved=1), "EBADMSG", "reserved byte not zero")
    P("gen-0", v1_rec(TEXT, gen=0), "EBADMSG", "generation 0 is never written")
    P("plain-zero", v1_rec(zlib.compress(text), algo=2, plain=0), "EBADMSG", "no plain bytes")
    P("plain-oversized", v1_rec(zlib.compress(text), algo=2, plain=4097), "EBADMSG",
      "more plain bytes than a block")
    P("stored-oversized", v1_rec(zlib.compress(text), algo=2, plain=4096, stored=4096 + 17),
      "EBADMSG", "a payload longer than a block")
    P("stored-small", v1_rec(b"", algo=2, plain=4096, stored=15), "EBADMSG",
      "a payload shorter than its tag")
    P("none-mismatch", v1_rec(TEXT, plain=len(TEXT) - 1), "EBADMSG",
      "raw, with plain and stored lengths that differ")
    P("truncated", v1_rec(TEXT)[:60], "EBADMSG", "cut inside the payload")
    r = v1_rec(TEXT)
    P("tag-flipped", r[:-1] + bytes([r[-1] ^ 1]), "EBADMSG", "checksum")
    P("moved", v1_rec(TEXT, index=1), "EBADMSG", "block 1's record read as block 0")
    P("bomb-zlib", v1_rec(bomb_z, algo=2, plain=4096), "EIO",
      "claims 4 KiB, a zlib stream of 1 MiB of zeros")
    P("bomb-zstd", v1_rec(bomb_s, algo=3, plain=4096), "EIO",
      "claims 4 KiB, a zstd frame of 1 MiB of zeros")
    P("bomb-zstd-unsized", v1_rec(bomb_u, algo=3, plain=4096), "EIO",
      "claims 4 KiB, a zstd frame of 1 MiB of zeros without its size")
    P("short-stream", v1_rec(zlib.compress(TEXT), algo=2, plain=4096), "EIO",
      "a stream that gives fewer bytes than claimed")
    P("lz4-garbage", v1_rec(b"\xff" * 64, algo=1, plain=4096), "EIO", "not an lz4 block")


# ---- record v2 (fh2rec_open): 40-byte entry, then the record -------------

def v2_whole(payload, algo=0, plain=None, stored=None, block=0, seal_block=None):
    plain = len(payload) if plain is None else plain
    stored = len(payload) if stored is None else stored
    sb = block if seal_block is None else seal_block
    ad = b"RSR2" + FILE_ID + struct.pack("<QBII", sb, algo, plain, stored)
    e = struct.pack("<QQII", block, 1024 | algo << 48, stored, plain) + tag(ad, payload)
    return e + NONCE + payload


def v2_chunked(plain, flip_table=False, flip_chunk=False, stored=None):
    n = (len(plain) + 4095) // 4096
    tags, chunks = b"", b""
    for j in range(n):
        c = plain[4096 * j:4096 * (j + 1)]
        tags += tag(b"RSC2" + FILE_ID + struct.pack("<QII", 0, j, len(c)), c)
        chunks += NONCE + c
    digest = hashlib.blake2b(b"RSH2" + FILE_ID + struct.pack("<QI", 0, len(plain)) + tags,
                             digest_size=16).digest()
    st = len(plain) + n * 40 - 24 if stored is None else stored
    if flip_table:
        tags = bytes([tags[0] ^ 1]) + tags[1:]
    if flip_chunk:
        chunks = chunks[:30] + bytes([chunks[30] ^ 1]) + chunks[31:]
    e = struct.pack("<QQII", 0, 1024 | 0x10 << 48, st, len(plain)) + digest
    return e + tags + chunks


def records_v2():
    P = lambda name, data, bs, exp, why: put("record_v2", name, data, bs, exp, why)  # noqa: E731
    text = (TEXT * 100)[:4096]
    raw = hashlib.shake_256(b"mustfail").digest(8192)
    bomb_z, bomb_s = zlib.compress(bytes(1 << 20), 9), zstd(bytes(1 << 20), 19)
    bomb_u = zstd(bytes(1 << 20), 19, sized=False)
    P("ok-none", v2_whole(TEXT), 4096, "OK", "a raw whole record")
    P("ok-zlib", v2_whole(zlib.compress(text), algo=2, plain=4096), 4096, "OK", "a zlib record")
    P("ok-zstd", v2_whole(zstd(text, 1), algo=3, plain=4096), 4096, "OK", "a zstd record")
    P("ok-chunked", v2_chunked(raw), 8192, "OK", "a chunked record of two chunks")
    P("algo-unknown", v2_whole(TEXT, algo=9), 4096, "EBADMSG", "unknown record algorithm")
    P("plain-zero", v2_whole(zlib.compress(text), algo=2, plain=0), 4096, "EBADMSG",
      "no plain bytes")
    P("plain-oversized", v2_whole(zlib.compress(text), algo=2, plain=4097), 4096, "EBADMSG",
      "more plain bytes than a block")
    P("stored-zero", v2_whole(b"", algo=2, plain=4096), 4096, "EBADMSG", "an empty record")
    P("stored-oversized", v2_whole(zlib.compress(text), algo=2, plain=4096, stored=4097), 4096,
      "EBADMSG", "a record longer than a block")
    P("none-mismatch", v2_whole(TEXT, plain=len(TEXT) + 1), 4096, "EBADMSG",
      "raw, with plain and stored lengths that differ")
    P("chunked-small", v2_chunked(raw[:4096]), 8192, "EBADMSG", "a chunked record of one chunk")
    P("chunked-stored-wrong", v2_chunked(raw, stored=8192), 8192, "EBADMSG",
      "a chunked record's length that its chunks do not give")
    P("chunked-table-flipped", v2_chunked(raw, flip_table=True), 8192, "EBADMSG",
      "a tag table the entry does not vouch for")
    P("chunked-chunk-flipped", v2_chunked(raw, flip_chunk=True), 8192, "EBADMSG",
      "a chunk that does not match its tag")
    r = v2_whole(TEXT)
    P("tag-flipped", r[:24] + bytes([r[24] ^ 1]) + r[25:], 4096, "EBADMSG", "entry tag")
    P("moved", v2_whole(TEXT, seal_block=1), 4096, "EBADMSG", "block 1's record read as block 0")
    P("truncated", r[:100], 4096, "EBADMSG", "cut inside the record")
    P("bomb-zlib", v2_whole(bomb_z, algo=2, plain=4096), 4096, "EIO",
      "claims 4 KiB, a zlib stream of 1 MiB of zeros")
    P("bomb-zstd", v2_whole(bomb_s, algo=3, plain=4096), 4096, "EIO",
      "claims 4 KiB, a zstd frame of 1 MiB of zeros")
    P("bomb-zstd-unsized", v2_whole(bomb_u, algo=3, plain=4096), 4096, "EIO",
      "claims 4 KiB, a zstd frame of 1 MiB of zeros without its size")
    P("short-stream", v2_whole(zlib.compress(TEXT), algo=2, plain=4096), 4096, "EIO",
      "a stream that gives fewer bytes than claimed")
    P("lz4-garbage", v2_whole(b"\xff" * 64, algo=1, plain=4096), 4096, "EIO", "not an lz4 block")


def main():
    descriptors()
    headers_v1()
    headers_v2()
    records_v1()
    records_v2()
    (HERE / "expect").write_text(
        "# DECODER FILE BLOCK_SIZE RESULT  # why; made by make.py, read by\n"
        "# tests/unit/test_mustfail.c.  RESULT is OK or the errno the decoder returns.\n" +
        "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
