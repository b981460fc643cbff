"""Basic file operations through the mount."""
import errno
import os
import stat

import pytest

import backingfs
import rsutil
from rsutil import pattern_bytes, read_file, run, write_file

B = rsutil.DEFAULT_BLOCK


def test_fresh_mount_is_empty(store):
    assert os.listdir(store.mnt) == []
    st = os.stat(store.mnt)
    assert stat.S_ISDIR(st.st_mode)


def test_small_file_create_read_append(store):
    p = store.path("hello.txt")
    write_file(p, b"hello")
    assert read_file(p) == b"hello"
    assert os.stat(p).st_size == 5
    with open(p, "ab") as f:
        f.write(b", world\n")
    assert read_file(p) == b"hello, world\n"
    # overwrite in place
    with open(p, "r+b") as f:
        f.seek(0)
        f.write(b"J")
    assert read_file(p) == b"Jello, world\n"
    # O_TRUNC
    write_file(p, b"x")
    assert read_file(p) == b"x"
    assert os.stat(p).st_size == 1
    store.remount()
    assert read_file(p) == b"x"


def test_empty_file(store):
    p = store.path("empty")
    write_file(p, b"")
    assert os.stat(p).st_size == 0
    assert read_file(p) == b""
    store.remount()
    assert os.stat(p).st_size == 0
    assert read_file(p) == b""


@pytest.mark.parametrize("size", [B - 1, B, B + 1, 3 * B + 12345, 10 * B])
def test_multiblock_roundtrip(store, size):
    p = store.path("multi.bin")
    data = pattern_bytes(size, size)
    write_file(p, data)
    assert os.stat(p).st_size == size
    assert read_file(p) == data
    # partial reads crossing block boundaries
    for off in (0, B - 7, B, 2 * B - 1, size - 3):
        if 0 <= off < size:
            assert rsutil.pread_fresh(p, 100, off) == data[off:off + 100]
    store.remount()
    assert os.stat(p).st_size == size
    assert read_file(p) == data
    # the backing file exists where the layout says
    assert store.backing_path("multi.bin").is_file()


def test_overwrite_middle_and_append_multiblock(store):
    p = store.path("m.bin")
    data = bytearray(pattern_bytes(2 * B + 100, "m"))
    write_file(p, data)
    patch = pattern_bytes(B + 10, "patch")
    with open(p, "r+b") as f:
        f.seek(B - 5)
        f.write(patch)
    data[B - 5:B - 5 + len(patch)] = patch
    with open(p, "ab") as f:
        f.write(b"tail" * 1000)
    data += b"tail" * 1000
    assert read_file(p) == bytes(data)
    store.remount()
    assert read_file(p) == bytes(data)


def test_mkdir_ls_rmdir(store):
    d = store.path("a/b/c")
    os.makedirs(d)
    for i in range(20):
        write_file(d / ("f%02d" % i), b"%d" % i)
    assert sorted(os.listdir(d)) == ["f%02d" % i for i in range(20)]
    r = run(["ls", "-la", d], check=True)
    assert "f19" in r.stdout
    with pytest.raises(OSError) as ei:
        os.rmdir(store.path("a/b"))
    assert ei.value.errno == errno.ENOTEMPTY
    for i in range(20):
        os.unlink(d / ("f%02d" % i))
    os.rmdir(d)
    assert os.listdir(store.path("a/b")) == []
    os.rmdir(store.path("a/b"))
    ba = store.backing_path("a")
    os.rmdir(store.path("a"))
    assert os.listdir(store.mnt) == []
    assert not ba.exists()


def test_many_entries_readdir(store):
    d = store.path("many")
    os.mkdir(d)
    names = ["file-%04d-%s" % (i, "x" * (i % 50)) for i in range(1500)]
    for n in names:
        write_file(d / n, n.encode())
    assert sorted(os.listdir(d)) == sorted(names)
    store.remount()
    assert sorted(os.listdir(d)) == sorted(names)
    assert read_file(d / names[777]) == names[777].encode()


def test_unlink(store):
    p = store.path("gone")
    write_file(p, b"data" * 10000)
    bp = store.backing_path("gone")
    assert bp.exists()
    os.unlink(p)
    assert not os.path.exists(p)
    with pytest.raises(FileNotFoundError):
        open(p, "rb")
    assert not bp.exists()
    store.remount()
    assert not os.path.exists(p)


def test_unlink_while_open(store):
    p = store.path("open-unlinked")
    data = pattern_bytes(3 * B, "ou")
    write_file(p, data)
    fd = os.open(p, os.O_RDWR)
    try:
        os.unlink(p)
        assert not os.path.exists(p)
        assert os.pread(fd, 3 * B, 0) == data
        os.pwrite(fd, b"still writable", B)
        assert os.pread(fd, 14, B) == b"still writable"
    finally:
        os.close(fd)
    store.remount()
    assert os.listdir(store.mnt) == []


def test_chmod(store):
    p = store.path("f")
    write_file(p, b"x")
    for mode in (0o600, 0o640, 0o755, 0o4755, 0o2750, 0o1777, 0o000):
        os.chmod(p, mode)
        assert stat.S_IMODE(os.stat(p).st_mode) == mode
    os.chmod(p, 0o640)
    d = store.path("d")
    os.mkdir(d)
    os.chmod(d, 0o2775)
    store.remount()
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o2775


@backingfs.skip_unless("symlink_attrs", "it changes the owner of a symlink")
def test_chown(store):
    assert os.geteuid() == 0, "needs root"
    p = store.path("owned")
    write_file(p, b"x")
    os.chown(p, 1234, 1234)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 1234)
    os.mkdir(store.path("dir"))
    os.chown(store.path("dir"), 4321, 1234)
    os.symlink("owned", store.path("link"))
    os.chown(store.path("link"), 555, 666, follow_symlinks=False)
    store.remount()
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 1234)
    st = os.stat(store.path("dir"))
    assert (st.st_uid, st.st_gid) == (4321, 1234)
    st = os.lstat(store.path("link"))
    assert (st.st_uid, st.st_gid) == (555, 666)
    # target untouched by the symlink chown
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 1234)


def test_new_file_owned_by_caller(store):
    # a file created by an unprivileged process is owned by it, not by root
    store.remount(["-o", "allow_other"])
    d = store.path("pub")
    os.mkdir(d)
    os.chmod(d, 0o777)
    os.chmod(store.mnt, 0o755)
    r = run(["setpriv", "--reuid=1234", "--regid=1234", "--clear-groups",
             "sh", "-c", "echo hi > %s/userfile && mkdir %s/userdir" % (d, d)])
    assert r.returncode == 0, (
        "uid 1234 cannot create in a 0777 dir of a -o allow_other mount: %s"
        % r.stderr)
    st = os.stat(d / "userfile")
    assert (st.st_uid, st.st_gid) == (1234, 1234)
    st = os.stat(d / "userdir")
    assert (st.st_uid, st.st_gid) == (1234, 1234)
    # setgid directory: new entries inherit the directory's group
    os.chown(d, 0, 777)
    os.chmod(d, 0o2777)
    r = run(["setpriv", "--reuid=1234", "--regid=1234", "--clear-groups",
             "sh", "-c", "echo hi > %s/sg && mkdir %s/sgdir" % (d, d)])
    assert r.returncode == 0, r.stderr
    assert os.stat(d / "sg").st_gid == 777
    st = os.stat(d / "sgdir")
    assert st.st_gid == 777 and st.st_mode & stat.S_ISGID


def test_other_users_denied_without_allow_other(store):
    os.chmod(store.mnt, 0o755)
    write_file(store.path("pub"), b"p")
    os.chmod(store.path("pub"), 0o644)
    r = run(["setpriv", "--reuid=1234", "--regid=1234", "--clear-groups",
             "cat", store.path("pub")])
    assert r.returncode != 0, "another user read the mount without allow_other"


@backingfs.skip_unless("ns_times", "it sets and reads back nanosecond times")
def test_utime_nanoseconds(store):
    p = store.path("t")
    write_file(p, b"x")
    atime = 1_234_567_890_123_456_789
    mtime = 1_600_000_000_987_654_321
    os.utime(p, ns=(atime, mtime))
    st = os.stat(p)
    assert st.st_mtime_ns == mtime
    assert st.st_atime_ns == atime
    d = store.path("dd")
    os.mkdir(d)
    os.utime(d, ns=(atime, mtime + 1))
    os.symlink("t", store.path("ln"))
    os.utime(store.path("ln"), ns=(atime, mtime + 2), follow_symlinks=False)
    store.remount()
    st = os.stat(p)
    assert st.st_mtime_ns == mtime
    assert st.st_atime_ns == atime
    assert os.stat(d).st_mtime_ns == mtime + 1
    assert os.lstat(store.path("ln")).st_mtime_ns == mtime + 2
    assert os.stat(p).st_mtime_ns == mtime  # target untouched


def test_mtime_changes_on_write(store):
    p = store.path("m")
    write_file(p, b"x")
    os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    with open(p, "ab") as f:
        f.write(b"y")
    assert os.stat(p).st_mtime_ns > 1_000_000_000


def test_statfs(store):
    sv = os.statvfs(store.mnt)
    assert sv.f_bsize > 0
    assert sv.f_blocks > 0
    assert 0 < sv.f_bavail <= sv.f_blocks
    assert sv.f_namemax >= 255
    r = run(["df", "-k", store.mnt], check=True)
    assert str(store.mnt) in r.stdout


def test_user_xattrs_roundtrip(store):
    p = store.path("x")
    write_file(p, b"x")
    run(["setfattr", "-n", "user.comment", "-v", "hello world", p], check=True)
    os.setxattr(p, "user.bin", bytes(range(256)))
    os.setxattr(p, "user.empty", b"")
    r = run(["getfattr", "-n", "user.comment", "--only-values", p], check=True)
    assert r.stdout == "hello world"
    names = os.listxattr(p)
    assert {"user.comment", "user.bin", "user.empty"} <= set(names)
    d = store.path("dir")
    os.mkdir(d)
    os.setxattr(d, "user.d", b"dirattr")
    store.remount()
    assert os.getxattr(p, "user.comment") == b"hello world"
    assert os.getxattr(p, "user.bin") == bytes(range(256))
    assert os.getxattr(p, "user.empty") == b""
    assert os.getxattr(d, "user.d") == b"dirattr"
    os.removexattr(p, "user.comment")
    assert "user.comment" not in os.listxattr(p)
    with pytest.raises(OSError) as ei:
        os.getxattr(p, "user.comment")
    assert ei.value.errno == errno.ENODATA
    with pytest.raises(OSError) as ei:
        os.setxattr(p, "user.bin", b"new", os.XATTR_CREATE)
    assert ei.value.errno == errno.EEXIST
    with pytest.raises(OSError) as ei:
        os.setxattr(p, "user.nothere", b"new", os.XATTR_REPLACE)
    assert ei.value.errno == errno.ENODATA


def test_reserved_looking_names_at_root(store):
    # No name is reserved except /.ragstore: the descriptor's own name and
    # the backing layout's "root" must be usable at the mount root.
    write_file(store.path("ragstore.conf"), b"user data, not a descriptor\n")
    os.mkdir(store.path("root"))
    write_file(store.path("root/x"), b"inner")
    store.remount()
    assert read_file(store.path("ragstore.conf")) == b"user data, not a descriptor\n"
    assert read_file(store.path("root/x")) == b"inner"
    assert sorted(os.listdir(store.mnt)) == ["ragstore.conf", "root"]


def test_access_and_permissions(store):
    store.remount(["-o", "allow_other"])
    p = store.path("secret")
    write_file(p, b"s")
    os.chmod(p, 0o600)
    r = run(["setpriv", "--reuid=1234", "--regid=1234", "--clear-groups",
             "cat", p])
    assert r.returncode != 0, "uid 1234 could read a 0600 root file"
    os.chmod(p, 0o644)
    os.chmod(store.mnt, 0o755)
    r = run(["setpriv", "--reuid=1234", "--regid=1234", "--clear-groups",
             "cat", p])
    assert r.returncode == 0 and r.stdout == "s", r.stderr


def test_utime_right_after_close_sticks(store):
    """What cp -p, rsync and tar do: write, close, set times at once.  The
    times must not be overwritten by work the filesystem does after close
    (FUSE release is asynchronous)."""
    T, step = 1_500_000_000_123_456_789, 1
    if backingfs.lacks("ns_times"):   # kept to the second there
        T, step = 1_500_000_000_000_000_000, 1_000_000_000
    n = 60
    for i in range(n):
        p = store.path("u%02d" % i)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        chunk = pattern_bytes(32768, i)
        for k in range(4):          # 32 KiB writes: each 64 KiB block written twice
            os.write(fd, chunk)
        os.close(fd)
        os.utime(p, ns=(T + i * step, T + i * step))
    import time
    time.sleep(1)
    bad = [(i, os.stat(store.path("u%02d" % i)).st_mtime_ns) for i in range(n)
           if os.stat(store.path("u%02d" % i)).st_mtime_ns != T + i * step]
    assert not bad, "%d of %d files lost the mtime set right after close: %s" % (
        len(bad), n, bad[:5])
    store.remount()
    bad = [i for i in range(n) if os.stat(store.path("u%02d" % i)).st_mtime_ns != T + i * step]
    assert not bad, "after remount %d files lost their mtime" % len(bad)
