"""The daemon frees what it allocates (issue 14): `ragstore mount -f` runs a
workload that touches every kind of object and cache, is unmounted, and
must exit 0.  In a sanitizer build (make check SANITIZE=address,undefined,
tests/sanitize.sh) LeakSanitizer checks the daemon at that exit, and any
report it or another sanitizer wrote for the daemon's pid fails the test
with the report; in a normal build the test still checks the clean exit."""
import glob
import os
import re

import rsutil
from rsutil import write_file
from test_daemon_habits import start_foreground, stop_foreground


def reports_of(pid):
    """Sanitizer report files written for pid (log_path=PREFIX makes
    PREFIX.PID)."""
    found = []
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
        m = re.search(r"log_path=([^:]+)", os.environ.get(var, ""))
        if m:
            found += glob.glob("%s.%d" % (m.group(1), pid))
    return found


def workload(s):
    top = s.path("d")
    top.mkdir()
    for i in range(20):
        write_file(top / ("f%d" % i), os.urandom(3000) * (i + 1))
    write_file(s.path("big"), b"compressible text\n" * 200000)
    os.link(top / "f1", s.path("hard"))
    os.symlink("d/f2", s.path("link"))
    os.setxattr(top / "f3", "user.note", b"kept")
    os.setxattr(top, "user.dir", b"dir attr")
    os.rename(top / "f4", s.path("moved"))
    os.truncate(top / "f5", 100)
    os.unlink(top / "f6")
    fd = os.open(top / "f7", os.O_RDWR)
    os.pwrite(fd, b"x" * 4096, 8192)
    os.fsync(fd)
    os.close(fd)
    with open(s.path("big"), "rb") as f:
        assert f.read() == b"compressible text\n" * 200000
    for name in ("stats", "health", "metrics", "config", "errors"):
        (s.mnt / ".ragstore" / name).read_bytes()
    assert sorted(os.listdir(top))[:2] == ["f0", "f1"]
    assert os.readlink(s.path("link")) == "d/f2"


def test_foreground_daemon_exits_clean_without_leaks(store):
    s = store
    s.unmount()
    p, errpath = start_foreground(s)
    try:
        workload(s)
    finally:
        rc = stop_foreground(s, p)
    found = reports_of(p.pid)
    assert not found, "sanitizer reports for the daemon:\n" + \
        "\n".join(open(f).read()[:4000] for f in found)
    assert rc == 0, "mount -f exited %d: %s" % (rc, errpath.read_text())
    assert not rsutil.is_mounted(s.mnt)
