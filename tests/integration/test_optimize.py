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


def stored_sum(files):
    return sum(int(os.getxattr(f, "user.ragstore.stored_size")) for f in files)


def snapshot(files):
    """Digest and mtime of each file, and their stored size in all."""
    return ({f: rsutil.file_digest(f) for f in files},
            {f: os.stat(f).st_mtime_ns for f in files}, stored_sum(files))


def algo(path):
    return os.getxattr(path, "user.ragstore.algorithms").decode().split()[0]


def test_optimize_rewrites_to_policy(store_factory, tmp_path):
    s, cfg = make(store_factory, tmp_path)
    files = sorted((s.mnt / "logs").iterdir())
    digests, mtimes, stored0 = snapshot(files)
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
    stored1 = stored_sum(files)
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


def test_optimize_level_only_change(store_factory, tmp_path):
    """zstd:1 -> zstd:19 is a change too: the level each record was
    compressed at is recorded, health names it, optimize rewrites the
    records and the stored size drops, content and mtime equal."""
    p1, p2 = tmp_path / "z1.ini", tmp_path / "z19.ini"
    p1.write_text("[policy logs]\nmatch = logs/**\ncompression = zstd:1\n")
    p2.write_text(ZSTD)
    s = store_factory(mount=False)
    s.mount(["--config", str(p1)])
    (s.mnt / "logs").mkdir()
    files = [s.mnt / ("logs/f%d" % i) for i in range(3)]
    for i, f in enumerate(files):
        rsutil.write_file(f, rsutil.text_bytes(1000000, 20 + i))
    rsutil.write_file(s.mnt / "logs/random", os.urandom(200000))  # raw: matches
    s.remount(["--config", str(p2)])
    digests, mtimes, stored0 = snapshot(files)
    assert all(algo(f) == "zstd" for f in files)
    s.path(".ragstore/control").write_text("optimize --dry-run\n")
    o = wait_done(s)
    assert o["files_rewritten"] == len(files), o
    recs = json.loads(s.path(".ragstore/health").read_text())["recommendations"]
    assert any("%d files" % len(files) in r and "policy logs" in r and "zstd:1 " in r
               and "zstd:19" in r for r in recs), recs
    s.path(".ragstore/control").write_text("optimize\n")
    o = wait_done(s)
    assert o["files_rewritten"] == len(files) and o["stored_bytes_saved"] > 0, o
    rsutil.drop_caches()
    for f in files:
        assert rsutil.file_digest(f) == digests[f]
        assert os.stat(f).st_mtime_ns == mtimes[f]
        assert os.getxattr(f, "user.ragstore.compression") == b"zstd:19"
    stored1 = stored_sum(files)
    assert stored1 < stored0 * 0.9, (stored0, stored1)
    # The levels are recorded in the header: a remount still knows them.
    s.remount(["--config", str(p2)])
    s.path(".ragstore/control").write_text("optimize --dry-run\n")
    assert wait_done(s)["files_rewritten"] == 0
    for f in files:
        assert rsutil.file_digest(f) == digests[f]


def test_optimize_v1_files(ragstore_bin, tmp_path):
    """The v1 golden store (zstd:1, every file v1) mounted with a policy
    asking zstd:19: optimize recompresses its files in place (they stay
    v1), the text file's stored size drops, and everything reads back as
    the manifest says, before and after a remount."""
    import test_golden as tg
    backing = tg.golden_copy(tg.GOLDEN / "v1", tmp_path / "copy")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cfg = tmp_path / "p.ini"
    cfg.write_text("[defaults]\ncompression = zstd:19\n")
    args = [ragstore_bin, "mount", "--passfile", tg.GOLDEN / "passphrase", "--config", cfg,
            backing, mnt]

    class S:
        def path(self, rel):
            return mnt / rel
    s = S()
    r = rsutil.run(args)
    pids = rsutil.daemon_pids(mnt)
    try:
        assert r.returncode == 0, r.stderr
        num = mnt / "docs/numbers.txt"
        stored0 = int(os.getxattr(num, "user.ragstore.stored_size"))
        assert os.getxattr(num, "user.ragstore.compression") == b"zstd:1"
        s.path(".ragstore/control").write_text("optimize --dry-run\n")
        o = wait_done(s)
        assert o["files_rewritten"] >= 3, o   # numbers, x.txt, hello.txt, ...
        s.path(".ragstore/control").write_text("optimize\n")
        o = wait_done(s)
        assert o["files_rewritten"] >= 3 and o["stored_bytes_saved"] > 0, o
        rsutil.drop_caches()
        tg._check_manifest(mnt, tg.GOLDEN / "v1" / "manifest")
        assert os.getxattr(num, "user.ragstore.compression") == b"zstd:19"
        assert int(os.getxattr(num, "user.ragstore.stored_size")) < stored0
        s.path(".ragstore/control").write_text("optimize --dry-run\n")
        assert wait_done(s)["files_rewritten"] == 0
        assert tg.error_entries(mnt) == []
        assert not rsutil.unmount(mnt, pids)
        r = rsutil.run(args)
        pids = rsutil.daemon_pids(mnt)
        assert r.returncode == 0, r.stderr
        tg._check_manifest(mnt, tg.GOLDEN / "v1" / "manifest")
        # Still v1 files: the first header slot says version 1.
        raw = rsutil.read_file(backing / "root/docs/numbers.txt")
        assert raw[:4] == b"RSFH" and int.from_bytes(raw[4:8], "little") == 1
    finally:
        rsutil.unmount(mnt, pids or rsutil.daemon_pids(mnt))
