"""POSIX semantics that tools rely on."""
import ctypes
import errno
import mmap
import os
import stat
import threading
import time

import pytest

import backingfs
import rsutil
from rsutil import assert_same_tree, pattern_bytes, read_file, run, write_file
from sampletree import make_sample_tree

B = rsutil.DEFAULT_BLOCK
MiB = 1024 * 1024

_libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


def renameat2(old, new, flags):
    _libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                ctypes.c_char_p, ctypes.c_uint]
    r = _libc.renameat2(AT_FDCWD, os.fsencode(str(old)), AT_FDCWD,
                        os.fsencode(str(new)), flags)
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), str(old))


# ---------------------------------------------------------------- mmap

def test_shared_writable_mmap(store):
    p = store.path("mm")
    size = 3 * B + 1000
    data = bytearray(pattern_bytes(size, "mm"))
    write_file(p, data)
    with open(p, "r+b") as f:
        m = mmap.mmap(f.fileno(), size, mmap.MAP_SHARED,
                      mmap.PROT_READ | mmap.PROT_WRITE)
        for off, chunk in ((0, b"HEAD"), (B - 2, b"CROSS-BOUNDARY"),
                           (2 * B + 100, b"x" * 5000), (size - 3, b"END")):
            m[off:off + len(chunk)] = chunk
            data[off:off + len(chunk)] = chunk
        assert m[:] == bytes(data)
        m.flush()  # msync
        # visible through read() on another descriptor right away
        assert read_file(p) == bytes(data)
        m.close()
    assert read_file(p) == bytes(data)
    rsutil.drop_caches()
    assert read_file(p) == bytes(data)
    store.remount()
    assert read_file(p) == bytes(data)


def test_mmap_write_then_close_without_msync(store):
    p = store.path("mm2")
    write_file(p, b"\0" * (2 * B))
    fd = os.open(p, os.O_RDWR)
    m = mmap.mmap(fd, 2 * B, mmap.MAP_SHARED)
    m[B - 4:B + 4] = b"ABCDEFGH"
    m.close()
    os.close(fd)
    store.remount()
    d = read_file(p)
    assert d[B - 4:B + 4] == b"ABCDEFGH"
    assert len(d) == 2 * B


# ---------------------------------------------------------------- append

def test_o_append_sequential_opens(store):
    p = store.path("log")
    for i in range(5):
        fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, b"line %d\n" % i)
        os.close(fd)
    assert read_file(p) == b"".join(b"line %d\n" % i for i in range(5))
    # two appenders open at the same time: both land at the end
    fa = os.open(p, os.O_WRONLY | os.O_APPEND)
    fb = os.open(p, os.O_WRONLY | os.O_APPEND)
    big = pattern_bytes(B + 3, "app")
    os.write(fa, b"A1\n")
    os.write(fb, b"B1\n")
    os.write(fa, big)
    os.write(fb, b"B2\n")
    os.close(fa)
    os.close(fb)
    expect = b"".join(b"line %d\n" % i for i in range(5)) + b"A1\nB1\n" + big + b"B2\n"
    assert read_file(p) == expect
    store.remount()
    assert read_file(p) == expect


# ---------------------------------------------------------------- truncate

def _trunc_sizes(b):
    return [0, 1, b - 1, b, b + 1, 3 * b + 17, 2 * b, 5 * b + 3]


@pytest.mark.parametrize("block_size", [None, 4096])
def test_truncate_up_and_down(store_factory, block_size):
    s = store_factory(block_size=block_size)
    b = block_size or B
    p = s.path("tr")
    base = pattern_bytes(4 * b + 123, "tr")
    model = bytearray(base)
    write_file(p, base)
    for via_fd in (False, True):
        for n in _trunc_sizes(b) + list(reversed(_trunc_sizes(b))):
            if via_fd:
                fd = os.open(p, os.O_RDWR)
                os.ftruncate(fd, n)
                os.close(fd)
            else:
                os.truncate(p, n)
            if n < len(model):
                del model[n:]
            else:
                model += bytes(n - len(model))
            assert os.stat(p).st_size == n
            got = read_file(p)
            assert got == bytes(model), "after truncate to %d (fd=%s)" % (n, via_fd)
            # refill some data after a shrink so the next extension must zero
            if n > 10:
                with open(p, "r+b") as f:
                    f.seek(n - 5)
                    f.write(b"ZZZZZ")
                model[n - 5:n] = b"ZZZZZ"
    s.remount()
    assert read_file(p) == bytes(model)


def test_truncate_extension_reads_zeros_after_remount(store):
    p = store.path("z")
    write_file(p, pattern_bytes(B + 100, "z"))
    os.truncate(p, B // 2)           # cut inside block 0
    os.truncate(p, 3 * B + 17)       # extend across blocks
    got = read_file(p)
    assert got[:B // 2] == pattern_bytes(B + 100, "z")[:B // 2]
    assert got[B // 2:] == bytes(3 * B + 17 - B // 2)
    store.remount()
    got2 = read_file(p)
    assert got2 == got


def test_o_trunc_on_open(store):
    p = store.path("ot")
    write_file(p, pattern_bytes(3 * B, "ot"))
    fd = os.open(p, os.O_RDWR | os.O_TRUNC)
    assert os.fstat(fd).st_size == 0
    os.write(fd, b"new")
    os.close(fd)
    assert read_file(p) == b"new"
    store.remount()
    assert read_file(p) == b"new"


# ---------------------------------------------------------------- sparse

def test_sparse_file_stays_sparse(store):
    p = store.path("sparse")
    off = 100 * MiB
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"X", off)
    os.close(fd)
    st = os.stat(p)
    assert st.st_size == off + 1
    assert st.st_blocks * 512 < 1 * MiB, "st_blocks=%d" % st.st_blocks
    bp = s_bp = store.backing_path("sparse")
    os.sync()
    assert rsutil.du_kib(bp) < 1024, "backing file of a sparse file is big"
    # holes read as zeros
    assert rsutil.pread_fresh(p, 4096, 50 * MiB) == bytes(4096)
    assert rsutil.pread_fresh(p, 2, off - 1) == b"\0X"
    fd = os.open(p, os.O_RDONLY)
    try:
        assert os.lseek(fd, 0, os.SEEK_HOLE) == 0
        d = os.lseek(fd, 0, os.SEEK_DATA)
        assert off - B < d <= off, "SEEK_DATA(0) = %d" % d
        assert os.lseek(fd, off, os.SEEK_HOLE) == off + 1
        with pytest.raises(OSError) as ei:
            os.lseek(fd, off + 1, os.SEEK_DATA)
        assert ei.value.errno == errno.ENXIO
    finally:
        os.close(fd)
    store.remount()
    st = os.stat(p)
    assert st.st_size == off + 1
    assert st.st_blocks * 512 < 1 * MiB
    assert rsutil.pread_fresh(p, 2, off - 1) == b"\0X"
    assert rsutil.du_kib(s_bp) < 1024


def test_seek_data_hole_mixed(store):
    p = store.path("mixed")
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, pattern_bytes(2 * B, "a"), 0)          # blocks 0-1
        os.pwrite(fd, pattern_bytes(B, "b"), 10 * B)          # block 10
        os.ftruncate(fd, 20 * B)                              # hole to the end
        os.fsync(fd)
        assert os.lseek(fd, 0, os.SEEK_DATA) == 0
        h = os.lseek(fd, 0, os.SEEK_HOLE)
        assert h == 2 * B, "SEEK_HOLE(0) = %d" % h
        assert os.lseek(fd, 2 * B, os.SEEK_DATA) == 10 * B
        assert os.lseek(fd, 10 * B, os.SEEK_HOLE) == 11 * B
        e = os.lseek(fd, 11 * B, os.SEEK_HOLE)
        assert e == 11 * B
        with pytest.raises(OSError) as ei:
            os.lseek(fd, 11 * B, os.SEEK_DATA)
        assert ei.value.errno == errno.ENXIO
    finally:
        os.close(fd)


def test_fallocate(store):
    p = store.path("fa")
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, 3 * B + 5)
        assert os.fstat(fd).st_size == 3 * B + 5
        assert os.pread(fd, 3 * B + 5, 0) == bytes(3 * B + 5)
        os.pwrite(fd, b"abc", B)
    finally:
        os.close(fd)
    store.remount()
    d = read_file(p)
    assert len(d) == 3 * B + 5 and d[B:B + 3] == b"abc"


# ---------------------------------------------------------------- rename

def test_rename_plain_and_over_existing(store):
    a, b = store.path("a"), store.path("b")
    write_file(a, b"AAA")
    write_file(b, b"BBB")
    os.rename(a, b)
    assert not os.path.exists(a)
    assert read_file(b) == b"AAA"
    os.makedirs(store.path("d1/sub"))
    write_file(store.path("d1/sub/f"), b"deep")
    os.rename(store.path("d1"), store.path("d2"))
    assert read_file(store.path("d2/sub/f")) == b"deep"
    os.mkdir(store.path("d3"))
    os.rename(store.path("d2/sub"), store.path("d3/moved"))
    store.remount()
    assert read_file(b) == b"AAA"
    assert read_file(store.path("d3/moved/f")) == b"deep"
    assert sorted(os.listdir(store.mnt)) == ["b", "d2", "d3"]


def _two_files(store):
    a, b = store.path("a"), store.path("b")
    write_file(a, b"AAA")
    write_file(b, b"BBB")
    return a, b


def _rename_refused(a, b, flags, err):
    """renameat2 of a onto b fails with err, and both keep their contents."""
    with pytest.raises(OSError) as ei:
        renameat2(a, b, flags)
    assert ei.value.errno == err
    assert read_file(a) == b"AAA" and read_file(b) == b"BBB"


def test_rename_noreplace(store):
    a, b = _two_files(store)
    c = store.path("c")
    _rename_refused(a, b, RENAME_NOREPLACE, errno.EEXIST)
    renameat2(a, c, RENAME_NOREPLACE)
    assert not os.path.exists(a)
    assert read_file(c) == b"AAA"
    store.remount()
    assert read_file(c) == b"AAA" and read_file(b) == b"BBB"


@backingfs.skip_unless("rename_exchange", "it swaps two names")
def test_rename_exchange(store):
    a, b = store.path("a"), store.path("b")
    da = pattern_bytes(2 * B + 7, "xa")
    write_file(a, da)
    write_file(b, b"short b")
    ino_a, ino_b = os.stat(a).st_ino, os.stat(b).st_ino
    renameat2(a, b, RENAME_EXCHANGE)
    assert read_file(a) == b"short b"
    assert read_file(b) == da
    assert os.stat(a).st_ino == ino_b and os.stat(b).st_ino == ino_a
    # file <-> directory
    os.mkdir(store.path("dir"))
    write_file(store.path("dir/inner"), b"in")
    renameat2(a, store.path("dir"), RENAME_EXCHANGE)
    assert stat.S_ISDIR(os.stat(a).st_mode)
    assert read_file(store.path("a/inner")) == b"in"
    assert read_file(store.path("dir")) == b"short b"
    with pytest.raises(OSError) as ei:
        renameat2(store.path("a"), store.path("nonexistent"), RENAME_EXCHANGE)
    assert ei.value.errno == errno.ENOENT
    store.remount()
    assert read_file(b) == da
    assert read_file(store.path("a/inner")) == b"in"
    assert read_file(store.path("dir")) == b"short b"


@pytest.mark.skipif(not backingfs.lacks("rename_exchange"),
                    reason="only on a backing filesystem without RENAME_EXCHANGE")
def test_rename_exchange_refused_without_backing_support(store):
    """Without RENAME_EXCHANGE in the backing filesystem there is no atomic
    swap: EINVAL, as the kernel answers for such a filesystem, and both
    names keep their contents (docs/BACKING.md)."""
    a, b = _two_files(store)
    _rename_refused(a, b, RENAME_EXCHANGE, errno.EINVAL)
    store.remount()
    assert read_file(a) == b"AAA" and read_file(b) == b"BBB"


# ---------------------------------------------------------------- links

@backingfs.skip_unless("hardlink", "it makes hard links")
def test_hard_links(store):
    a, b = store.path("a"), store.path("sub/b")
    os.mkdir(store.path("sub"))
    data = pattern_bytes(2 * B + 50, "hl")
    write_file(a, data)
    os.link(a, b)
    sa, sb = os.stat(a), os.stat(b)
    assert sa.st_ino == sb.st_ino
    assert sa.st_nlink == sb.st_nlink == 2
    # write through one, visible through the other (both open, then sequential)
    fa = os.open(a, os.O_RDWR)
    fb = os.open(b, os.O_RDONLY)
    os.pwrite(fa, b"THROUGH-A", B - 3)
    assert os.pread(fb, 9, B - 3) == b"THROUGH-A"
    os.close(fa)
    os.close(fb)
    with open(b, "r+b") as f:
        f.seek(10)
        f.write(b"via-b")
    d = bytearray(data)
    d[B - 3:B + 6] = b"THROUGH-A"
    d[10:15] = b"via-b"
    assert read_file(a) == bytes(d)
    # the backing files are hard links too
    assert os.stat(store.backing_path("a")).st_ino == \
        os.stat(store.backing_path("sub/b")).st_ino
    store.remount()
    sa, sb = os.stat(a), os.stat(b)
    assert sa.st_ino == sb.st_ino and sa.st_nlink == 2
    assert read_file(b) == bytes(d)
    os.unlink(a)
    assert os.stat(b).st_nlink == 1
    assert read_file(b) == bytes(d)
    store.remount()
    assert read_file(b) == bytes(d)


def test_symlinks(store):
    targets = ["plain", "../up/and/over", "/absolute/path/x",
               "with space and \u00fcnicode", "t" * 1000, "dangling/nowhere"]
    for i, t in enumerate(targets):
        os.symlink(t, store.path("l%d" % i))
    write_file(store.path("real"), b"target content")
    os.symlink("real", store.path("good"))
    for i, t in enumerate(targets):
        assert os.readlink(store.path("l%d" % i)) == t
        assert stat.S_ISLNK(os.lstat(store.path("l%d" % i)).st_mode)
    assert read_file(store.path("good")) == b"target content"
    assert os.lstat(store.path("l0")).st_size == len("plain")
    store.remount()
    for i, t in enumerate(targets):
        assert os.readlink(store.path("l%d" % i)) == t
    assert read_file(store.path("good")) == b"target content"
    r = run(["readlink", store.path("l2")], check=True)
    assert r.stdout == "/absolute/path/x\n"


@backingfs.skip_unless("fifo", "it makes a FIFO")
def test_mkfifo(store):
    p = store.path("fifo")
    os.mkfifo(p, 0o640)
    st = os.stat(p)
    assert stat.S_ISFIFO(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o640
    fd = os.open(p, os.O_RDWR | os.O_NONBLOCK)
    os.write(fd, b"through the pipe")
    assert os.read(fd, 100) == b"through the pipe"
    os.close(fd)
    store.remount()
    assert stat.S_ISFIFO(os.stat(p).st_mode)
    assert stat.S_ISFIFO(os.lstat(store.backing_path("fifo")).st_mode)


def test_o_excl(store):
    p = store.path("x")
    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    with pytest.raises(FileExistsError):
        os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.mkdir(store.path("d"))
    with pytest.raises(FileExistsError):
        os.open(store.path("d"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with pytest.raises(FileExistsError):
        os.mkdir(store.path("d"))
    os.symlink("nowhere", store.path("ln"))
    with pytest.raises(FileExistsError):
        os.open(store.path("ln"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)


def test_create_mode_respects_umask(store):
    old = os.umask(0o027)
    try:
        fd = os.open(store.path("um"), os.O_CREAT | os.O_WRONLY, 0o666)
        os.close(fd)
        os.mkdir(store.path("umd"), 0o777)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(store.path("um")).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(store.path("umd")).st_mode) == 0o750


def test_inode_numbers_stable(store):
    write_file(store.path("f"), b"x")
    os.mkdir(store.path("d"))
    ino = os.stat(store.path("f")).st_ino
    dino = os.stat(store.path("d")).st_ino
    assert ino != dino
    for i in range(50):  # churn other entries
        write_file(store.path("other%d" % i), b"o")
    for i in range(50):
        os.unlink(store.path("other%d" % i))
    assert os.stat(store.path("f")).st_ino == ino
    os.rename(store.path("f"), store.path("d/g"))
    assert os.stat(store.path("d/g")).st_ino == ino
    os.rename(store.path("d"), store.path("e"))
    assert os.stat(store.path("e")).st_ino == dino
    assert os.stat(store.path("e/g")).st_ino == ino
    # readdir's d_ino agrees with stat
    with os.scandir(store.path("e")) as it:
        for ent in it:
            if ent.name == "g":
                assert ent.inode() == ino


def test_st_blocks_matches_backing(store):
    p = store.path("rand")
    write_file(p, pattern_bytes(4 * MiB, "rand"))
    os.sync()
    st = os.stat(p)
    bst = os.stat(store.backing_path("rand"))
    used, backing_used = st.st_blocks * 512, bst.st_blocks * 512
    assert 0.8 * backing_used <= used <= 1.25 * backing_used, (used, backing_used)
    assert used >= 4 * MiB * 0.95  # incompressible: not pretending to compress
    # a compressible file: du shows real use, --apparent-size the logical size
    t = store.path("text")
    write_file(t, rsutil.text_bytes(8 * MiB, 1))
    os.sync()
    real = rsutil.du_kib(t)
    apparent = rsutil.du_kib(t, apparent=True)
    assert apparent == 8 * 1024
    assert real < apparent * 0.5, (real, apparent)
    bt = os.stat(store.backing_path("text")).st_blocks * 512
    assert 0.8 * bt <= os.stat(t).st_blocks * 512 <= 1.25 * bt


def test_concurrent_writers_same_block(store):
    """Threads writing disjoint, unaligned ranges of the same blocks: no
    write may be lost (read-modify-write of a block must be serialised)."""
    p = store.path("conc")
    n_threads, per, rounds = 4, 1000, 30
    size = n_threads * per * rounds
    write_file(p, bytes(size))
    errors = []

    def worker(t):
        try:
            fd = os.open(p, os.O_WRONLY)
            try:
                for r in range(rounds):
                    off = (r * n_threads + t) * per
                    os.pwrite(fd, bytes([65 + t]) * per, off)
            finally:
                os.close(fd)
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ths = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    assert not errors
    expect = b"".join(bytes([65 + t]) * per for r in range(rounds)
                      for t in range(n_threads))
    assert read_file(p) == expect
    store.remount()
    assert read_file(p) == expect


def test_concurrent_files(store):
    errors = []

    def worker(t):
        try:
            for i in range(10):
                data = pattern_bytes(B * 2 + t * 1000 + i, (t, i))
                q = store.path("w%d-%d" % (t, i))
                write_file(q, data)
                if read_file(q) != data:
                    errors.append("mismatch %s" % q)
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ths = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    assert not errors, errors[:5]
    store.remount()
    for t in range(6):
        for i in range(10):
            assert read_file(store.path("w%d-%d" % (t, i))) == \
                pattern_bytes(B * 2 + t * 1000 + i, (t, i))


@backingfs.skip_unless("hardlink fifo symlink_attrs",
                        "its sample tree has hard links, a FIFO and symlinks with owners")
def test_everything_survives_remount(store, tmp_path):
    src = make_sample_tree(tmp_path / "src")
    run(["cp", "-a", src + "/.", store.mnt], check=True)
    before = assert_same_tree(src, store.mnt)
    store.remount()
    after = rsutil.snapshot(store.mnt)
    d = rsutil.diff_snapshots(before, after)
    assert not d, "\n".join(d)
    store.remount()
    assert_same_tree(src, store.mnt)


def test_large_offsets(store):
    p = store.path("big-offset")
    off = 5 * 1024 * MiB + 12345          # beyond 4 GiB: 64-bit offsets
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"far away", off)
        assert os.fstat(fd).st_size == off + 8
        assert os.pread(fd, 8, off) == b"far away"
    finally:
        os.close(fd)
    store.remount()
    assert os.stat(p).st_size == off + 8
    assert rsutil.pread_fresh(p, 10, off - 2) == b"\0\0far away"
    assert os.stat(p).st_blocks * 512 < MiB


def test_many_holes(store):
    """More separate holes than a file header can list in one go: data and
    holes must still read back right, also after a remount."""
    p = store.path("holey")
    nblocks = 700
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        for b in range(0, nblocks, 2):      # every other block: 350 holes
            os.pwrite(fd, b"D%05d" % b, b * B + 100)
    finally:
        os.close(fd)

    def check():
        data = read_file(p)
        assert len(data) == (nblocks - 2) * B + 100 + 6
        for b in range(nblocks):
            blk = data[b * B:(b + 1) * B]
            if b % 2 == 0:
                exp = bytes(100) + b"D%05d" % b
                assert blk[:106] == exp and not any(blk[106:]), "block %d" % b
            else:
                assert not any(blk), "hole block %d not zeros" % b

    check()
    store.remount()
    check()
    # punch more: shrink and regrow
    os.truncate(p, 3 * B)
    os.truncate(p, nblocks * B)
    store.remount()
    data = read_file(p)
    assert data[100:106] == b"D00000" and data[2 * B + 100:2 * B + 106] == b"D00002"
    assert not any(data[3 * B:])


def test_rename_over_open_file(store):
    a, b = store.path("a"), store.path("b")
    write_file(a, b"new content")
    old = pattern_bytes(2 * B, "old")
    write_file(b, old)
    fd = os.open(b, os.O_RDONLY)
    try:
        os.rename(a, b)
        assert read_file(b) == b"new content"
        assert os.pread(fd, 2 * B, 0) == old   # old inode still readable
    finally:
        os.close(fd)
    store.remount()
    assert read_file(b) == b"new content"
    assert os.listdir(store.mnt) == ["b"]


def test_create_mode_000_then_write(store):
    # open(O_CREAT, 0) returns a writable fd; the daemon must cope
    p = store.path("m0")
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0)
    try:
        os.write(fd, pattern_bytes(B + 10, "m0"))
        os.pwrite(fd, b"patch", 5)
        assert os.pread(fd, 5, 5) == b"patch"
    finally:
        os.close(fd)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0
    os.chmod(p, 0o600)
    d = bytearray(pattern_bytes(B + 10, "m0"))
    d[5:10] = b"patch"
    assert read_file(p) == bytes(d)


def _daemon_io(pid):
    out = {}
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            k, v = line.split(":")
            out[k.strip()] = int(v)
    return out


def test_random_io_costs_o_block(store):
    """A 1-byte write or a small read in the middle of a 64 MiB file moves
    O(block) bytes through the daemon, not O(file)."""
    p = store.path("big")
    size = 64 * MiB
    with open(p, "wb") as f:
        for k in range(size // MiB):
            f.write(pattern_bytes(MiB, k))
    store.remount()
    assert len(store.pids) == 1
    pid = store.pids[0]
    before = _daemon_io(pid)
    fd = os.open(p, os.O_RDWR)
    try:
        os.pwrite(fd, b"!", 30 * MiB + 7)
        os.fsync(fd)
    finally:
        os.close(fd)
    time.sleep(0.3)   # release is asynchronous
    after = _daemon_io(pid)
    wr = after["wchar"] - before["wchar"]
    rd = after["rchar"] - before["rchar"]
    print("1-byte write: daemon wrote %d, read %d bytes" % (wr, rd))
    assert wr < 1 * MiB, "1-byte write made the daemon write %d bytes" % wr
    assert rd < 2 * MiB, "1-byte write made the daemon read %d bytes" % rd
    before = after
    assert rsutil.pread_fresh(p, 10, 50 * MiB + 3) == \
        pattern_bytes(MiB, 50)[3:13]
    time.sleep(0.3)
    after = _daemon_io(pid)
    rd = after["rchar"] - before["rchar"]
    print("10-byte read: daemon read %d bytes" % rd)
    assert rd < 8 * MiB, "10-byte read made the daemon read %d bytes" % rd


def test_odd_and_long_names(store):
    names = ["n" * 255, "with\nnewline", "back\\slash", "tab\there", "-dash",
             "\u65e5\u672c\u8a9e", "x" * 200 + "\u00e9" * 27, ".hidden", "..dots"]
    for n in names:
        write_file(store.path(n), n.encode())
    with pytest.raises(OSError) as ei:
        write_file(store.path("n" * 256), b"too long")
    assert ei.value.errno == errno.ENAMETOOLONG
    deep = store.mnt
    for i in range(30):
        deep = deep / ("level%02d-%s" % (i, "d" * 60))
    os.makedirs(deep)
    write_file(deep / "leaf", b"deep leaf")
    store.remount()
    assert sorted(os.listdir(store.mnt)) == sorted(names + ["level00-" + "d" * 60])
    for n in names:
        assert read_file(store.path(n)) == n.encode()
    assert read_file(deep / "leaf") == b"deep leaf"


def test_rename_while_open_for_write(store):
    p, q = store.path("orig"), store.path("sub/renamed")
    os.mkdir(store.path("sub"))
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, pattern_bytes(B + 3, "r1"))
        os.rename(p, q)
        os.write(fd, b"after rename")
        os.fsync(fd)
    finally:
        os.close(fd)
    assert read_file(q) == pattern_bytes(B + 3, "r1") + b"after rename"
    store.remount()
    assert read_file(q) == pattern_bytes(B + 3, "r1") + b"after rename"
    assert not os.path.exists(p)


def test_unlink_and_recreate_same_name_while_open(store):
    p = store.path("same")
    write_file(p, b"old old old")
    fd = os.open(p, os.O_RDWR)
    try:
        os.unlink(p)
        write_file(p, b"NEW")
        os.pwrite(fd, b"XXX", 0)          # goes to the unlinked inode
        assert os.pread(fd, 11, 0) == b"XXX old old"
    finally:
        os.close(fd)
    assert read_file(p) == b"NEW"
    store.remount()
    assert read_file(p) == b"NEW"


def test_many_open_files(store):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = 1500
    if hard != resource.RLIM_INFINITY and hard < n + 100:
        pytest.skip("hard RLIMIT_NOFILE %d too low" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 100), hard))
    fds = []
    try:
        for i in range(n):
            fd = os.open(store.path("o%04d" % i), os.O_RDWR | os.O_CREAT, 0o644)
            fds.append(fd)
            os.write(fd, b"%d" % i)
        for i, fd in enumerate(fds):
            assert os.pread(fd, 10, 0) == b"%d" % i
    finally:
        for fd in fds:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert len(os.listdir(store.mnt)) == n
    store.remount()
    assert read_file(store.path("o1499")) == b"1499"
