"""Helpers for test_posix.py: long relative paths, acting as another user,
utimensat with UTIME_NOW/UTIME_OMIT, and watching the daemon's resources."""
import contextlib
import ctypes
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

PATH_MAX = 4096           # includes the terminating NUL
NAME_MAX = 255
NOBODY = 65534            # the ordinary user the tests act as
NOGROUP = 65534

UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100

_libc = ctypes.CDLL(None, use_errno=True)


# --------------------------------------------------------------------------
# long paths

@contextlib.contextmanager
def cwd(path):
    """chdir into path for the block, so that relative paths given to system
    calls are counted from there (an absolute path of a deep entry inside
    the mount would exceed PATH_MAX together with the mountpoint).  Leaves
    the directory again before a remount would find the mount busy."""
    old = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.chdir(str(path))
        yield
    finally:
        os.fchdir(old)
        os.close(old)


def make_chain(top, components):
    """mkdir top/c1/c2/... one level at a time through directory fds, so
    no single system call gets a long path.  Returns the relative path."""
    fd = os.open(str(top), os.O_RDONLY | os.O_DIRECTORY)
    try:
        for c in components:
            os.mkdir(c, 0o755, dir_fd=fd)
            nfd = os.open(c, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
    finally:
        os.close(fd)
    return "/".join(components)


def chain_components(total, width, tag="d"):
    """Directory names of `width` bytes and a leaf length such that
    "c1/.../ck/leaf" is exactly `total` bytes with a leaf of 1..255 bytes.
    Returns (components, leaf_len)."""
    comps = []
    rest = total
    while rest > NAME_MAX:
        # one more directory level: width bytes plus the slash
        comps.append(("%s%04d" % (tag, len(comps))).ljust(width, tag)[:width])
        rest -= width + 1
    assert 1 <= rest <= NAME_MAX
    return comps, rest


# --------------------------------------------------------------------------
# acting as another user

_CHILD = r"""
import errno, json, os, sys

def create(path, mode=0o644):
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))

def write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)

def pwrite(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data.encode(), 0)
    finally:
        os.close(fd)

def fallocate(path, length):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.posix_fallocate(fd, 0, length)
    finally:
        os.close(fd)

def utime_ns(path, atime, mtime):
    os.utime(path, ns=(atime, mtime))

def utime_now(path):
    os.utime(path, None)

ops = dict(create=create, write=write, pwrite=pwrite, fallocate=fallocate,
           utime_ns=utime_ns, utime_now=utime_now)
out = []
for op in json.loads(sys.argv[1]):
    fn = ops.get(op[0]) or getattr(os, op[0])
    try:
        fn(*op[1:])
        out.append("ok")
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
print(json.dumps(out))
"""


def as_user(ops, uid=NOBODY, gid=NOGROUP, groups=()):
    """Run os-level operations as uid:gid (no supplementary groups unless
    given).  ops is a list like [("unlink", path), ("chown", p, -1, 5)];
    besides os.* names there are create(path[, mode]), write(path, text)
    (opened with O_TRUNC), pwrite(path, text) (at offset 0, no O_TRUNC),
    fallocate(path, length),
    utime_ns(path, atime, mtime) and utime_now(path).  Returns one string per
    op: "ok" or the errno name ("EPERM")."""
    ops = [[str(a) if isinstance(a, Path) else a for a in op] for op in ops]
    cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid]
    if groups:
        cmd.append("--groups=" + ",".join(str(g) for g in groups))
    else:
        cmd.append("--clear-groups")
    cmd += [sys.executable, "-c", _CHILD, json.dumps(ops)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, text=True, timeout=120)
    assert r.returncode == 0, "as_user child failed: %s" % r.stderr[-3000:]
    return json.loads(r.stdout)


# --------------------------------------------------------------------------
# utimensat

def utimensat(path, atime, mtime, follow=True, dirfd=AT_FDCWD):
    """utimensat(2) with raw timespecs: atime/mtime are ns integers or
    UTIME_NOW / UTIME_OMIT (in the tv_nsec field, as the kernel wants)."""
    class timespec(ctypes.Structure):
        _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

    def ts(v):
        if v in (UTIME_NOW, UTIME_OMIT):
            return timespec(0, v)
        return timespec(v // 10**9, v % 10**9)

    times = (timespec * 2)(ts(atime), ts(mtime))
    _libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p,
                                ctypes.POINTER(timespec), ctypes.c_int]
    r = _libc.utimensat(dirfd, os.fsencode(str(path)), times,
                        0 if follow else AT_SYMLINK_NOFOLLOW)
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), str(path))


# --------------------------------------------------------------------------
# the daemon and the backing directory

def read_stats(mnt):
    with open(os.path.join(str(mnt), ".ragstore", "stats")) as f:
        return json.load(f)


def backing_files(backing):
    """Relative paths of the regular files in the backing directory, except
    the store's own top-level files (ragstore.conf, ragstore.stats and the
    like, rewritten at mount and unmount) and the per-directory name values
    (.diriv), which come and go with their directories.  Other internal
    dot-files (long-name side files, anything a daemon might park an
    unlinked file as, in root/ or elsewhere) are deliberately included: a
    leftover of those is a leak too."""
    backing = str(backing)
    out = set()
    for root, dirs, files in os.walk(backing):
        for n in files:
            p = os.path.join(root, n)
            if n == ".diriv" or os.path.islink(p) or not os.path.isfile(p):
                continue
            if root == backing and n.startswith("ragstore."):
                continue
            out.add(os.path.relpath(p, backing))
    return out


def fd_count(pids):
    return sum(len(os.listdir("/proc/%d/fd" % p)) for p in pids)


class FdWatch:
    """Samples the daemon's open descriptor count in a thread until stopped;
    .peak is the highest count seen (sampling, not waiting for anything)."""

    def __init__(self, pids, interval=0.05):
        self.pids = list(pids)
        self.interval = interval
        self.peak = fd_count(self.pids)
        self.samples = 0
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, fd_count(self.pids))
                self.samples += 1
            except FileNotFoundError:   # daemon gone: the operation will fail
                return
            self._stop.wait(self.interval)

    def __enter__(self):
        self._th.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._th.join()
        self.peak = max(self.peak, fd_count(self.pids))
