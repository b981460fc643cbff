"""Extended attributes: user attributes stored encrypted, the read-only
virtual user.ragstore.* attributes, and the compression override."""
import errno
import os
import subprocess

import pytest

import backingfs
import rsutil
from rsutil import read_file, write_file

VIRTUAL = ["user.ragstore.logical_size", "user.ragstore.stored_size",
           "user.ragstore.ratio", "user.ragstore.compression",
           "user.ragstore.encryption", "user.ragstore.block_size",
           "user.ragstore.policy"]


def test_set_get_list_remove_and_errors(store):
    f = store.path("f")
    write_file(f, b"data")
    d = store.path("d")
    os.mkdir(d)
    os.setxattr(f, "user.a", b"1")
    os.setxattr(f, "user.empty", b"")
    os.setxattr(d, "user.on-dir", b"dir value")
    big = os.urandom(65536)
    os.setxattr(f, "user.big", big)
    long_name = "user." + "n" * 250
    os.setxattr(f, long_name, b"long")
    assert os.getxattr(f, "user.a") == b"1"
    assert os.getxattr(f, "user.empty") == b""
    assert os.getxattr(f, "user.big") == big
    assert os.getxattr(f, long_name) == b"long"
    assert os.getxattr(d, "user.on-dir") == b"dir value"
    assert sorted(os.listxattr(f)) == sorted(["user.a", "user.empty", "user.big", long_name])
    # XATTR_CREATE / XATTR_REPLACE
    with pytest.raises(OSError) as ei:
        os.setxattr(f, "user.a", b"2", os.XATTR_CREATE)
    assert ei.value.errno == errno.EEXIST
    with pytest.raises(OSError) as ei:
        os.setxattr(f, "user.nope", b"2", os.XATTR_REPLACE)
    assert ei.value.errno == errno.ENODATA
    os.setxattr(f, "user.a", b"22", os.XATTR_REPLACE)
    assert os.getxattr(f, "user.a") == b"22"
    with pytest.raises(OSError) as ei:
        os.getxattr(f, "user.missing")
    assert ei.value.errno == errno.ENODATA
    with pytest.raises(OSError) as ei:
        os.setxattr(f, "user.toobig", b"x" * 65537)
    assert ei.value.errno in (errno.E2BIG, errno.ENOSPC)
    # ERANGE through getfattr's small-buffer path is exercised by libc; a
    # direct check with ctypes:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(4)
    r = libc.getxattr(os.fsencode(str(f)), b"user.big", buf, 4)
    assert r == -1 and ctypes.get_errno() == errno.ERANGE
    os.removexattr(f, "user.a")
    with pytest.raises(OSError) as ei:
        os.removexattr(f, "user.a")
    assert ei.value.errno == errno.ENODATA
    # persistence across remount, and hard links share attributes
    hl = store.path("hl")
    if backingfs.lacks("hardlink"):
        hl = f
    else:
        os.link(f, hl)
    store.remount()
    assert os.getxattr(hl, "user.big") == big
    assert os.getxattr(store.path("d"), "user.on-dir") == b"dir value"
    assert "user.a" not in os.listxattr(f)


def test_values_and_names_encrypted_in_backing(store):
    f = store.path("f")
    write_file(f, b"x")
    os.setxattr(f, "user.secret-attr-name", b"VERY-SECRET-XATTR-VALUE-1234")
    store.unmount()
    r = subprocess.run(["grep", "-r", "-l", "-a", "-e", "VERY-SECRET-XATTR-VALUE",
                        "-e", "secret-attr-name", str(store.backing)],
                       capture_output=True, text=True)
    assert r.stdout == "", r.stdout
    r = subprocess.run(["getfattr", "-R", "-d", "-m", "-", str(store.backing)],
                       capture_output=True, text=True)
    assert "SECRET" not in r.stdout
    store.mount()
    assert os.getxattr(f, "user.secret-attr-name") == b"VERY-SECRET-XATTR-VALUE-1234"


def test_tampered_attribute_blob_is_an_error(store):
    f = store.path("f")
    write_file(f, b"x")
    os.setxattr(f, "user.k", b"value")
    store.unmount()
    blobs = list((store.backing / "xattrs").iterdir())
    assert len(blobs) == 1
    rsutil.flip_byte(blobs[0], 40)
    store.mount()
    with pytest.raises(OSError) as ei:
        os.getxattr(f, "user.k")
    assert ei.value.errno == errno.EIO
    with pytest.raises(OSError) as ei:
        os.listxattr(f)
    assert ei.value.errno == errno.EIO
    # the file content itself is unaffected
    assert read_file(f) == b"x"


def test_blob_moved_to_another_file_is_detected(store):
    a, b = store.path("a"), store.path("b")
    write_file(a, b"a")
    write_file(b, b"b")
    os.setxattr(a, "user.k", b"from a")
    os.setxattr(b, "user.k", b"from b")
    store.unmount()
    blobs = sorted((store.backing / "xattrs").iterdir())
    data = [p.read_bytes() for p in blobs]
    blobs[0].write_bytes(data[1])
    store.mount()
    errors = 0
    for p in (a, b):
        try:
            os.getxattr(p, "user.k")
        except OSError as e:
            assert e.errno == errno.EIO
            errors += 1
    assert errors == 1


def test_virtual_attributes(store):
    f = store.path("text")
    write_file(f, rsutil.text_bytes(3 * 1024 * 1024))
    st = os.stat(f)
    bst = os.stat(store.backing_path("text"))
    assert os.getxattr(f, "user.ragstore.logical_size") == str(st.st_size).encode()
    assert os.getxattr(f, "user.ragstore.stored_size") == str(bst.st_blocks * 512).encode()
    ratio = float(os.getxattr(f, "user.ragstore.ratio"))
    assert abs(ratio - bst.st_blocks * 512 / st.st_size) < 0.001
    assert len(os.getxattr(f, "user.ragstore.ratio").split(b".")[1]) == 3
    assert os.getxattr(f, "user.ragstore.compression") == b"zstd:1"
    assert os.getxattr(f, "user.ragstore.encryption") == b"xchacha20-poly1305"
    assert os.getxattr(f, "user.ragstore.block_size") == b"65536"
    assert os.getxattr(f, "user.ragstore.policy") == b"default"
    # never listed, never settable or removable
    assert not [n for n in os.listxattr(f) if n.startswith("user.ragstore.")]
    for name in VIRTUAL:
        if name == "user.ragstore.compression":
            continue
        with pytest.raises(OSError) as ei:
            os.setxattr(f, name, b"1")
        assert ei.value.errno == errno.EPERM
        with pytest.raises(OSError) as ei:
            os.removexattr(f, name)
        assert ei.value.errno == errno.EPERM
    # du of the backing file agrees
    du = subprocess.run(["du", "-B1", str(store.backing_path("text"))],
                        capture_output=True, text=True, check=True).stdout.split()[0]
    assert os.getxattr(f, "user.ragstore.stored_size") == du.encode()


def test_compression_override(store):
    f = store.path("f")
    data = rsutil.text_bytes(2 * 1024 * 1024, seed=5)
    write_file(f, data)
    zstd_size = int(os.getxattr(f, "user.ragstore.stored_size"))
    for bad in (b"bogus", b"zstd:99", b"lz4:3", b""):
        with pytest.raises(OSError) as ei:
            os.setxattr(f, "user.ragstore.compression", bad)
        assert ei.value.errno == errno.EINVAL
    subprocess.run(["setfattr", "-n", "user.ragstore.compression", "-v", "none", str(f)],
                   check=True)
    assert os.getxattr(f, "user.ragstore.compression") == b"none"
    assert "user.ragstore.compression" in os.listxattr(f)
    write_file(f, data)  # rewrite with the override
    none_size = int(os.getxattr(f, "user.ragstore.stored_size"))
    assert none_size > 2 * zstd_size, (zstd_size, none_size)
    store.remount()
    assert os.getxattr(f, "user.ragstore.compression") == b"none"
    os.setxattr(f, "user.ragstore.compression", b"zstd:19")
    write_file(f, data)
    z19 = int(os.getxattr(f, "user.ragstore.stored_size"))
    assert z19 < none_size
    assert read_file(f) == data
    os.removexattr(f, "user.ragstore.compression")
    assert os.getxattr(f, "user.ragstore.compression") == b"zstd:1"
    assert "user.ragstore.compression" not in os.listxattr(f)


def _dump(path):
    r = subprocess.run(["getfattr", "-R", "-d", "-m", "-", "--absolute-names", "."],
                       cwd=str(path), capture_output=True, text=True, check=True)
    # one block per file; readdir order differs between filesystems
    return sorted(b.strip() for b in r.stdout.split("\n\n") if b.strip())


def test_rsync_and_cp_copy_exactly_the_user_attributes(store_factory, tmp_path):
    a = store_factory("a")
    b = store_factory("b")
    src = a.mnt / "tree"
    os.makedirs(src / "sub")
    write_file(src / "one", b"1")
    write_file(src / "sub" / "two", b"2")
    os.setxattr(src / "one", "user.tag", b"alpha")
    os.setxattr(src / "sub", "user.dirtag", b"beta")
    os.setxattr(src / "sub" / "two", "user.bin", bytes(range(256)))
    os.setxattr(src / "sub" / "two", "user.ragstore.compression", b"lz4")
    plain = tmp_path / "plain"
    for dst, cmd in ((plain, ["rsync", "-aX", str(src) + "/", str(plain)]),
                     (b.mnt / "copy", ["rsync", "-aX", str(src) + "/", str(b.mnt / "copy")]),
                     (b.mnt / "cpa", ["cp", "-a", str(src), str(b.mnt / "cpa")])):
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert _dump(dst) == _dump(src), cmd
    assert os.getxattr(b.mnt / "copy" / "sub" / "two", "user.ragstore.compression") == b"lz4"
