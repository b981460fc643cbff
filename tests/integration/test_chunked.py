"""Chunked records through the mount (include/fh2rec.h, src/store/v2chunk.c).

A 64 KiB block of incompressible data is stored as a chunked record: a
table of 16-byte tags, then each 4 KiB chunk sealed on its own (nonce and
ciphertext).  4 KiB writes re-seal only the chunks they touch and 4 KiB
reads open only the chunks they cover.  These tests check, through the
kernel: random 4 KiB writes into a 4 MiB random file read back exactly (in
the same mount, with O_DIRECT reads that reach the daemon, and after a
remount); and a damaged chunk or tag table reads EIO, is listed in
/.ragstore/errors, and leaves the other blocks readable."""
import errno
import hashlib
import mmap
import os
import random

import pytest

import rsutil
from rsutil import read_file, run, write_file

B = rsutil.DEFAULT_BLOCK
CHUNK = rsutil.V2_CHUNK
TAG = rsutil.V2_TAG
NONCE = rsutil.V2_NONCE
MIB = 1024 * 1024
chunk_at = rsutil.v2_chunk_at


def entry(raw, block):
    e = rsutil.v2_entry(raw, block)
    assert e is not None, "block %d has no entry" % block
    return e


class DirectReader:
    """O_DIRECT reads of a file in the mount: the page cache is bypassed,
    so each read reaches the daemon with its own offset and length."""

    def __init__(self, path):
        self.fd = os.open(str(path), os.O_RDONLY | os.O_DIRECT)
        self.buf = mmap.mmap(-1, 4 * MIB)

    def pread(self, length, offset):
        assert length <= len(self.buf)
        got = 0
        with memoryview(self.buf) as whole:
            while got < length:
                with whole[got:length] as rest:
                    n = os.preadv(self.fd, [rest], offset + got)
                if n == 0:
                    break
                got += n
            return bytes(whole[:got])

    def close(self):
        os.close(self.fd)
        self.buf.close()


def _check_reads(path, model, rnd, count):
    """count reads at random offsets and lengths (1 byte .. 200 KiB, many
    of one chunk), through the page cache and with O_DIRECT."""
    size = len(model)
    d = DirectReader(path)
    try:
        fd = os.open(str(path), os.O_RDONLY)
        try:
            for i in range(count):
                kind = rnd.randrange(4)
                if kind == 0:
                    off, n = rnd.randrange(size // CHUNK) * CHUNK, CHUNK
                elif kind == 1:
                    off, n = rnd.randrange(size), rnd.randint(1, CHUNK)
                elif kind == 2:
                    off, n = rnd.randrange(size), rnd.randint(1, 200 * 1024)
                else:
                    off, n = rnd.randrange(size // B) * B + B - rnd.randint(1, 100), \
                        rnd.randint(2, 2 * CHUNK)
                want = bytes(model[off:off + n])
                assert d.pread(n, off) == want, "O_DIRECT read %d at %d differs" % (n, off)
                if i % 4 == 0:
                    assert os.pread(fd, n, off) == want, "read %d at %d differs" % (n, off)
        finally:
            os.close(fd)
    finally:
        d.close()


def test_random_4k_writes(store, tmp_path):
    """Several thousand 4 KiB writes of random data (aligned, unaligned,
    across blocks) into a 4 MiB random file; every read agrees with a
    model, also after a remount (sha256, cmp)."""
    rnd = random.Random(20261201)
    size = 4 * MIB
    model = bytearray(os.urandom(size))
    p = store.path("big.bin")
    write_file(p, model)
    fd = os.open(str(p), os.O_RDWR)
    try:
        for i in range(3000):
            kind = rnd.randrange(4)
            if kind == 0:
                off = rnd.randrange(size // CHUNK) * CHUNK          # one chunk
            elif kind == 1:
                off = rnd.randrange(size - CHUNK)                   # unaligned
            elif kind == 2:
                off = rnd.randrange(1, size // B) * B - rnd.randint(1, CHUNK - 1)  # across blocks
            else:
                off = rnd.randrange(size // B) * B + rnd.randrange(B // CHUNK) * CHUNK + \
                    rnd.randint(1, 64)                              # just past a chunk start
            n = CHUNK if rnd.randrange(5) else rnd.randint(1, 3 * CHUNK)
            n = min(n, size - off)
            data = os.urandom(n)
            assert os.pwrite(fd, data, off) == n
            model[off:off + n] = data
            if i % 500 == 499:
                if i % 1000 == 999:
                    os.fsync(fd)
                _check_reads(p, model, rnd, 60)
    finally:
        os.close(fd)
    assert os.stat(p).st_size == size
    _check_reads(p, model, rnd, 100)
    want = hashlib.sha256(model).hexdigest()
    assert rsutil.file_digest(p) == want
    store.remount()
    assert os.stat(p).st_size == size
    assert rsutil.file_digest(p) == want
    ref = tmp_path / "model.bin"
    write_file(ref, model)
    r = run(["cmp", ref, p])
    assert r.returncode == 0, r.stdout + r.stderr
    _check_reads(p, model, rnd, 200)
    assert rsutil.error_entries(store.mnt) == []


def _small_file(store, name, seed):
    """Four random blocks and 9000 bytes (three chunks), patched by 4 KiB
    writes in two blocks; unmounted.  Returns (content, backing path, raw
    backing bytes)."""
    rnd = random.Random(seed)
    model = bytearray(os.urandom(4 * B + 9000))
    p = store.path(name)
    write_file(p, model)
    store.remount()
    with open(p, "r+b") as f:
        for block, j in ((1, 3), (2, 9), (4, 1)):
            data = os.urandom(CHUNK)
            off = block * B + j * CHUNK + (rnd.randint(1, 100) if block == 2 else 0)
            f.seek(off)
            f.write(data)
            model[off:off + CHUNK] = data
    assert read_file(p) == model
    bp = store.backing_path(name)
    store.unmount()
    raw = read_file(bp)
    h = rsutil.v2_header(raw)
    assert (h["size"], h["nents"], h["ninline"]) == (len(model), 5, 5), h
    for e in h["entries"]:
        plain = B if e["block"] < 4 else 9000
        assert (e["algo"], e["plain"], e["stored"]) == \
            (rsutil.V2_ALGO_CHUNKED, plain, rsutil.v2_chunked_stored(plain)), e
        assert e["off"] + NONCE + e["stored"] <= len(raw)
    return bytes(model), bp, raw


def _dd(path, chunk_index):
    """dd of 4 KiB chunk chunk_index of path, O_DIRECT: the daemon gets
    exactly that range."""
    return run(["dd", "if=%s" % path, "of=/dev/null", "bs=%d" % CHUNK,
                "skip=%d" % chunk_index, "count=1", "iflag=direct"])


def _assert_eio(path, length, offset, what):
    with pytest.raises(OSError) as ei:
        got = rsutil.pread_fresh(path, length, offset)
        raise AssertionError("%s: read returned %d bytes, expected EIO" % (what, len(got)))
    assert ei.value.errno == errno.EIO, "%s: errno %s" % (what, ei.value.errno)


def _assert_listed(store, path, block):
    ents = rsutil.error_entries(store.mnt)
    assert ["integrity", path, str(block)] in [e[1:4] for e in ents], ents
    assert all(e[1] == "integrity" and e[2] == path for e in ents), ents


@pytest.mark.parametrize("where", ["chunk", "nonce", "table"])
def test_damaged_chunk_is_eio(store, where):
    """One byte of block 2's chunked record flipped on disk: in chunk 5's
    ciphertext, in chunk 5's nonce, or in the tag table (chunk 5's tag).
    dd of chunk 5 fails with EIO, the error names the file and block 2; a
    damaged chunk leaves the other chunks of the block readable, a damaged
    table none; the other blocks always read."""
    model, bp, raw = _small_file(store, "small.bin", where)
    e = entry(raw, 2)
    if where == "chunk":
        at = e["off"] + chunk_at(B, 5) + NONCE + 777
    elif where == "nonce":
        at = e["off"] + chunk_at(B, 5) + 3
    else:
        at = e["off"] + 5 * TAG + 9
    rsutil.flip_byte(bp, at)
    store.mount()
    p = store.path("small.bin")
    r = _dd(p, 2 * (B // CHUNK) + 5)
    assert r.returncode != 0 and "Input/output error" in r.stderr, r.stderr
    _assert_listed(store, "/small.bin", 2)
    _assert_eio(p, B, 2 * B, "read of block 2")
    _assert_eio(p, 10, 2 * B + 5 * CHUNK + 100, "read inside chunk 5")
    with pytest.raises(OSError) as ei:
        read_file(p)
    assert ei.value.errno == errno.EIO
    d = DirectReader(p)
    try:
        for j in (4, 6, 15):
            off = 2 * B + j * CHUNK
            if where == "table":
                with pytest.raises(OSError) as ei:
                    d.pread(CHUNK, off)
                assert ei.value.errno == errno.EIO, "chunk %d" % j
            else:
                assert d.pread(CHUNK, off) == model[off:off + CHUNK], "chunk %d" % j
        for b in (0, 1, 3):
            assert d.pread(B, b * B) == model[b * B:(b + 1) * B], "block %d" % b
        assert d.pread(9000, 4 * B) == model[4 * B:]
    finally:
        d.close()
    for b in (0, 1, 3):
        assert rsutil.pread_fresh(p, B, b * B) == model[b * B:(b + 1) * B], "block %d" % b
    _assert_listed(store, "/small.bin", 2)


def test_older_chunk_is_eio(store):
    """Chunk 3 of block 1 put back as it was before a 4 KiB write replaced
    it (its ciphertext alone, then with its tag): EIO, listed; the other
    chunks and blocks read."""
    model = bytearray(os.urandom(4 * B))
    p = store.path("older.bin")
    write_file(p, model)
    bp = store.backing_path("older.bin")
    store.unmount()
    raw0 = read_file(bp)
    e0 = entry(raw0, 1)
    old_chunk = raw0[e0["off"] + chunk_at(B, 3):e0["off"] + chunk_at(B, 3) + NONCE + CHUNK]
    old_tag = raw0[e0["off"] + 3 * TAG:e0["off"] + 4 * TAG]
    store.mount()
    new = os.urandom(CHUNK)
    with open(p, "r+b") as f:
        f.seek(B + 3 * CHUNK)
        f.write(new)
    model[B + 3 * CHUNK:B + 4 * CHUNK] = new
    store.unmount()
    raw1 = read_file(bp)
    e1 = entry(raw1, 1)
    assert e1["algo"] == rsutil.V2_ALGO_CHUNKED
    at = e1["off"] + chunk_at(B, 3)
    assert raw1[at:at + NONCE + CHUNK] != old_chunk
    # The unchanged chunks kept their ciphertext (copied, not re-sealed).
    for j in (0, 2, 4, 15):
        a0, a1 = e0["off"] + chunk_at(B, j), e1["off"] + chunk_at(B, j)
        assert raw0[a0:a0 + NONCE + CHUNK] == raw1[a1:a1 + NONCE + CHUNK], j
    rsutil.write_at(bp, at, old_chunk)
    store.mount()
    r = _dd(p, B // CHUNK + 3)
    assert r.returncode != 0 and "Input/output error" in r.stderr, r.stderr
    _assert_listed(store, "/older.bin", 1)
    d = DirectReader(p)
    try:
        assert d.pread(CHUNK, B + 4 * CHUNK) == model[B + 4 * CHUNK:B + 5 * CHUNK]
        for b in (0, 2, 3):
            assert d.pread(B, b * B) == model[b * B:(b + 1) * B], "block %d" % b
    finally:
        d.close()
    store.unmount()
    rsutil.write_at(bp, e1["off"] + 3 * TAG, old_tag)
    store.mount()
    assert _dd(p, B // CHUNK + 3).returncode != 0
    assert _dd(p, B // CHUNK + 4).returncode != 0   # the table no longer matches
    assert _dd(p, 3 * (B // CHUNK)).returncode == 0
    _assert_listed(store, "/older.bin", 1)


def test_write_into_damaged_block(store):
    """A partial write into a block whose tag table is damaged needs the
    old record: it fails with EIO (at the write or at the latest at
    close/fsync), and the file's other blocks still read and take writes."""
    model, bp, raw = _small_file(store, "w.bin", "write")
    e = entry(raw, 1)
    rsutil.flip_byte(bp, e["off"] + 2)
    store.mount()
    p = store.path("w.bin")
    fd = os.open(str(p), os.O_RDWR)
    try:
        with pytest.raises(OSError) as ei:
            os.pwrite(fd, b"x" * 100, B + 5 * CHUNK + 10)
            os.fsync(fd)
        assert ei.value.errno == errno.EIO
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    _assert_listed(store, "/w.bin", 1)
    with open(p, "r+b") as f:
        f.seek(3 * B + 100)
        f.write(b"y" * 5000)
    model = bytearray(model)
    model[3 * B + 100:3 * B + 5100] = b"y" * 5000
    store.remount()
    for b in (0, 2, 3):
        assert rsutil.pread_fresh(p, B, b * B) == model[b * B:(b + 1) * B], "block %d" % b
    _assert_eio(p, CHUNK, B, "read of block 1")
