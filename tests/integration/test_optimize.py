"""optimize: files stored with another algorithm than their policy now asks
are rewritten in the background (stored size drops, content and mtime
equal, a concurrent writer to other files unharmed), --dry-run only
counts, --stop stops, and SIGKILL during a run leaves every file intact."""
import json
import os
import signal
import threading
import time

import rsutil

LZ4 = "[policy logs]\nmatch = logs/**\ncompression = lz4\n"
ZSTD = "[policy logs]\nmatch = logs/**\ncompression = zstd:19\n"


def stats(s):
    return json.loads(s.path(".ragstore/stats").read_text())


def wait_done(s, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        o = stats(s)["optimize"]
        if o["state"] == "done":
            return o
        time.sleep(0.1)
    raise AssertionError("optimize did not finish: %s" % stats(s)["optimize"])


def make(store_factory, tmp_path, n=6, size=600000):
    p1, p2 = tmp_path / "lz4.ini", tmp_path / "zstd.ini"
    p1.write_text(LZ4)
    p2.write_text(ZSTD)
    s = store_factory(mount=False)
    s.mount(["--config", str(p1)])
    (s.mnt / "logs").mkdir()
    for i in range(n):
        rsutil.write_file(s.mnt / ("logs/f%d" % i), rsutil.text_bytes(size, i))
    os.utime(s.mnt / "logs/f0", (1_000_000_000, 1_000_000_000))
    s.remount(["--config", str(p2)])
    return s, p2


def algo(path):
    return os.getxattr(path, "user.ragstore.algorithms").decode().split()[0]


def test_optimize_rewrites_to_policy(store_factory, tmp_path):
    s, cfg = make(store_factory, tmp_path)
    files = sorted((s.mnt / "logs").iterdir())
    digests = {f: rsutil.file_digest(f) for f in files}
    mtimes = {f: os.stat(f).st_mtime_ns for f in files}
    stored0 = sum(int(os.getxattr(f, "user.ragstore.stored_size")) for f in files)
    assert all(algo(f) == "lz4" for f in files)
    # --dry-run: counts, changes nothing, and health says what to do.
    s.path(".ragstore/control").write_text("optimize --dry-run\n")
    o = wait_done(s)
    assert o["dry_run"] and o["files_rewritten"] == len(files) and o["files_done"] == len(files)
    assert all(algo(f) == "lz4" for f in files)
    recs = json.loads(s.path(".ragstore/health").read_text())["recommendations"]
    assert any("%d files" % len(files) in r and "policy logs" in r and "lz4" in r
               and "zstd:19" in r and "optimize" in r for r in recs), recs
    # The real run, with a writer busy on another file meanwhile.
    stop = threading.Event()
    other = s.mnt / "busy"
    written = []

    def writer():
        with open(other, "wb") as f:
            k = 0
            while not stop.is_set():
                chunk = rsutil.text_bytes(65536, 100 + k)
                f.write(chunk)
                written.append(chunk)
                k += 1
            f.flush()
    t = threading.Thread(target=writer)
    t.start()
    s.path(".ragstore/control").write_text("optimize\n")
    o = wait_done(s)
    stop.set()
    t.join()
    assert not o["dry_run"] and o["files_rewritten"] >= len(files)
    assert o["progress"] == 1 and o["bytes_done"] >= o["bytes_total"] - other.stat().st_size
    assert rsutil.read_file(other) == b"".join(written)
    rsutil.drop_caches()
    for f in files:
        assert algo(f) == "zstd", f
        assert rsutil.file_digest(f) == digests[f]
        assert os.stat(f).st_mtime_ns == mtimes[f]
    stored1 = sum(int(os.getxattr(f, "user.ragstore.stored_size")) for f in files)
    assert stored1 < stored0 * 0.9, (stored0, stored1)
    # Nothing left to do; and all of it holds after a remount.
    s.path(".ragstore/control").write_text("optimize --dry-run\n")
    assert wait_done(s)["files_rewritten"] == 0
    s.remount(["--config", str(cfg)])
    for f in files:
        assert rsutil.file_digest(f) == digests[f]


def test_optimize_stop_and_sigkill(store_factory, tmp_path):
    s, cfg = make(store_factory, tmp_path, n=30, size=400000)
    files = sorted((s.mnt / "logs").iterdir())
    digests = {f: rsutil.file_digest(f) for f in files}
    s.path(".ragstore/control").write_text("optimize\n")
    s.path(".ragstore/control").write_text("optimize --stop\n")
    o = stats(s)["optimize"]
    assert o["state"] == "done"
    if o["files_done"] < len(files):
        assert o["stopped"]
    # SIGKILL in the middle of a run, then remount: every file intact.
    s.path(".ragstore/control").write_text("optimize\n")
    time.sleep(0.3)
    for pid in s.pids:
        os.kill(pid, signal.SIGKILL)
    rsutil.unmount(s.mnt, s.pids, timeout=15)
    s.pids = []
    s.mount(["--config", str(cfg)])
    for f in files:
        assert rsutil.file_digest(f) == digests[f], f
    s.path(".ragstore/control").write_text("optimize\n")
    wait_done(s)
    for f in files:
        assert rsutil.file_digest(f) == digests[f], f
        assert algo(f) == "zstd"


def test_optimize_commands(store):
    ctl = store.path(".ragstore/control")
    ctl.write_text("optimize --stop\n")  # nothing runs: fine
    try:
        ctl.write_text("optimize --bogus\n")
        raise AssertionError("accepted")
    except OSError as e:
        assert e.errno == 22
    o = stats(store)["optimize"]
    assert o["state"] == "idle" and o["eta_seconds"] is None
