"""The daemon's plaintext block cache (src/store/bcache.c, -o cache_size=):
small reads of a compressed block and the read-modify-write of a partial
block are served from it (stats block_cache.hits), a block rewritten is
never served stale, the capacity bounds it, cache_size=0 turns it off, a bad
size is a one-line usage error, and stats and metrics show it.  Reads use
O_DIRECT so that the kernel's page cache does not answer them first."""
import json
import mmap
import os
import subprocess

import pytest

B = 65536
TEXT = b"2026-12-01 12:00:00 INFO cache test line with some words in it\n"


def stats(store):
    with open(store.path(".ragstore/stats")) as f:
        return json.load(f)["block_cache"]


def text_file(store, name, blocks):
    data = (TEXT * (blocks * B // len(TEXT) + 1))[:blocks * B]
    data = bytearray(data)
    for b in range(blocks):
        # Each block differs, so a block served for another is seen.
        data[b * B:b * B + 8] = b"BLK%05d" % b
    with open(store.path(name), "wb") as f:
        f.write(data)
    return bytes(data)


def direct_read(path, off, n=4096):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        buf = mmap.mmap(-1, n)
        got = os.preadv(fd, [buf], off)
        return bytes(buf[:got])
    finally:
        os.close(fd)


def direct_write(path, off, data):
    assert len(data) % 4096 == 0 and off % 4096 == 0
    fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
    try:
        buf = mmap.mmap(-1, len(data))
        buf[:] = data
        assert os.pwritev(fd, [buf], off) == len(data)
    finally:
        os.close(fd)


def test_small_reads_hit_and_are_exact(store):
    data = text_file(store, "t", 8)
    store.remount()
    p = store.path("t")
    s0 = stats(store)
    assert s0["capacity_bytes"] == 64 << 20
    assert direct_read(p, 3 * B + 4096) == data[3 * B + 4096:3 * B + 8192]
    s1 = stats(store)
    assert s1["misses"] == s0["misses"] + 1 and s1["hits"] == s0["hits"]
    for k in range(16):
        off = 3 * B + 4096 * k
        assert direct_read(p, off) == data[off:off + 4096]
    s2 = stats(store)
    assert s2["hits"] == s1["hits"] + 16 and s2["misses"] == s1["misses"]
    assert s2["blocks"] >= 1 and s2["bytes"] >= B


def test_rewritten_block_never_stale(store):
    data = bytearray(text_file(store, "t", 4))
    store.remount()
    p = store.path("t")
    assert direct_read(p, B + 8192) == data[B + 8192:B + 12288]  # cached now
    new = (b"NEW-CONTENT-" * 400)[:4096]
    direct_write(p, B + 8192, new)
    data[B + 8192:B + 12288] = new
    for k in range(16):
        off = B + 4096 * k
        assert direct_read(p, off) == bytes(data[off:off + 4096]), "block 1, page %d" % k
    # The whole block rewritten at once (sealed without passing through the
    # cache), and cut and grown again: still never the cached bytes.
    assert direct_read(p, 2 * B) == data[2 * B:2 * B + 4096]
    whole = (b"WHOLE-BLOCK-" * (B // 12 + 1))[:B]
    direct_write(p, 2 * B, whole)
    data[2 * B:3 * B] = whole
    assert direct_read(p, 2 * B) == bytes(data[2 * B:2 * B + 4096])
    assert direct_read(p, 3 * B + 4096) == bytes(data[3 * B + 4096:3 * B + 8192])
    os.truncate(p, 3 * B + 4096)
    os.truncate(p, 4 * B)
    data[3 * B + 4096:] = bytes(B - 4096)
    assert direct_read(p, 3 * B + 4096) == bytes(4096)
    store.remount()
    with open(p, "rb") as f:
        assert f.read() == bytes(data)


def test_partial_rewrite_takes_block_from_cache(store):
    """4 KiB writes that alternate between two blocks: each time a block is
    taken again for a write, its plaintext comes from the cache."""
    data = bytearray(text_file(store, "t", 4))
    store.remount()
    p = store.path("t")
    fd = os.open(p, os.O_RDWR)
    try:
        before = stats(store)
        for i in range(10):
            b = i % 2
            chunk = (b"w%03d" % i) * 1024
            os.pwrite(fd, chunk, b * B + 4096 * (i % 16))
            data[b * B + 4096 * (i % 16):b * B + 4096 * (i % 16) + 4096] = chunk
        os.fsync(fd)
        after = stats(store)
    finally:
        os.close(fd)
    # The first take of each block misses; the 8 later ones hit.
    assert after["hits"] - before["hits"] >= 8, (before, after)
    store.remount()
    with open(p, "rb") as f:
        assert f.read() == bytes(data)


def cached_text_file(store_factory, size, blocks):
    """A store mounted with -o cache_size=size holding text file t of
    blocks blocks, remounted (cold); returns the store and the data."""
    s = store_factory(mount=False)
    s.mount(["-o", "cache_size=" + size])
    data = text_file(s, "t", blocks)
    s.remount(["-o", "cache_size=" + size])
    return s, data


def test_capacity_bounds_it(store_factory):
    s, data = cached_text_file(store_factory, "1M", 40)
    for b in range(40):
        assert direct_read(s.path("t"), b * B + 4096) == data[b * B + 4096:b * B + 8192]
    st = stats(s)
    assert st["capacity_bytes"] == 1 << 20
    assert 0 < st["bytes"] <= 1 << 20
    assert st["evictions"] > 0
    assert st["misses"] >= 40


def test_cache_size_zero_is_off(store_factory):
    s, data = cached_text_file(store_factory, "0", 2)
    for _ in range(3):
        assert direct_read(s.path("t"), 8192) == data[8192:12288]
    st = stats(s)
    assert st == {"capacity_bytes": 0, "bytes": 0, "blocks": 0, "hits": 0, "misses": 0,
                  "evictions": 0, "dirty_bytes": 0}


@pytest.mark.parametrize("bad", ["12x", "", "-1", "2T"])
def test_bad_cache_size_is_a_usage_error(store_factory, bad):
    s = store_factory(mount=False)
    r = subprocess.run([str(a) for a in s.mount_args(["-o", "cache_size=" + bad])],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "cache_size" in lines[0], r.stderr
    assert not os.path.ismount(s.mnt)


def test_metrics_and_dirty_bytes(store):
    with open(store.path(".ragstore/metrics")) as f:
        text = f.read()
    for name in ("ragstore_block_cache_capacity_bytes", "ragstore_block_cache_bytes",
                 "ragstore_block_cache_hits_total", "ragstore_block_cache_misses_total",
                 "ragstore_block_cache_evictions_total", "ragstore_dirty_bytes"):
        assert "\n" + name + "{" in text, name
    # A partial block written and not yet flushed is dirty; close hands it
    # to the backing filesystem.
    fd = os.open(store.path("d"), os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"x" * 1000)
        assert stats(store)["dirty_bytes"] == 1000
    finally:
        os.close(fd)
    assert stats(store)["dirty_bytes"] == 0
