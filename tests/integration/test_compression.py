"""Compression is real: the backing store and du show it."""
import gzip
import os

import pytest

import rsutil
from rsutil import du_kib, run, write_file

MiB = 1024 * 1024


def make_text_tree(root, target=30 * MiB):
    """Real text: /usr/share/doc copyright files and decompressed changelogs,
    topped up with generated text."""
    os.makedirs(root)
    total = 0
    n = 0
    for dirpath, dirnames, filenames in os.walk("/usr/share/doc"):
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                continue
            try:
                if name.endswith(".gz"):
                    with gzip.open(p, "rb") as f:
                        data = f.read()
                elif name == "copyright" or name.endswith((".txt", ".md", ".html")):
                    with open(p, "rb") as f:
                        data = f.read()
                else:
                    continue
            except (OSError, EOFError):
                continue
            if not data:
                continue
            n += 1
            sub = os.path.join(root, "d%03d" % (n // 200))
            os.makedirs(sub, exist_ok=True)
            write_file(os.path.join(sub, "%05d-%s" % (n, name.replace(".gz", ""))), data)
            total += len(data)
            if total >= target:
                return total
    i = 0
    while total < target:
        data = rsutil.text_bytes(min(2 * MiB, target - total), i)
        write_file(os.path.join(root, "gen%03d.txt" % i), data)
        total += len(data)
        i += 1
    return total


@pytest.mark.slow
def test_text_tree_compresses(store):
    logical = make_text_tree(str(store.path("text")))
    os.sync()
    backing_kib = du_kib(store.backing / "root")
    print("logical %d KiB, backing %d KiB" % (logical // 1024, backing_kib))
    assert backing_kib < 0.6 * logical / 1024, \
        "backing uses %d KiB for %d KiB of text (>= 60%%)" % (backing_kib,
                                                             logical // 1024)
    real = du_kib(store.mnt)
    apparent = du_kib(store.mnt, apparent=True)
    assert real < apparent, "du %d KiB not below du --apparent-size %d KiB" % (
        real, apparent)
    assert real < 0.6 * apparent
    # du on the mount agrees roughly with the backing
    assert 0.7 * backing_kib <= real <= 1.3 * backing_kib + 64, (real, backing_kib)
    store.remount()
    assert du_kib(store.mnt) == real


def test_incompressible_not_inflated(store):
    p = store.path("rand")
    write_file(p, rsutil.pattern_bytes(8 * MiB, "r"))
    os.sync()
    used = os.stat(store.backing_path("rand")).st_blocks * 512
    assert used <= 1.10 * 8 * MiB, "random data takes %d bytes for 8 MiB" % used


def test_zero_blocks_take_no_space(store):
    p = store.path("zeros")
    write_file(p, bytes(16 * MiB))   # explicitly written zeros, not a hole
    os.sync()
    assert os.stat(p).st_size == 16 * MiB
    used = os.stat(store.backing_path("zeros")).st_blocks * 512
    assert used < 1 * MiB, "16 MiB of written zeros occupy %d bytes" % used
    assert os.stat(p).st_blocks * 512 < 1 * MiB
    store.remount()
    assert rsutil.read_file(p) == bytes(16 * MiB)


def test_overwrite_does_not_grow_backing(store):
    """Rewriting a file in place many times reuses its slots (O(block))."""
    p = store.path("rw")
    data = rsutil.pattern_bytes(2 * MiB, "rw")
    write_file(p, data)
    os.sync()
    size0 = os.stat(store.backing_path("rw")).st_size
    for i in range(5):
        with open(p, "r+b") as f:
            f.write(rsutil.pattern_bytes(2 * MiB, i))
    os.sync()
    size1 = os.stat(store.backing_path("rw")).st_size
    assert size1 <= size0 * 1.05 + 8192, (size0, size1)
