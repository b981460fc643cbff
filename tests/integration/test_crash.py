"""SIGKILL the daemon while writers are busy; after remount every block holds
one complete version, and fsync'd data is there."""
import os
import signal
import subprocess
import sys
import time

import pytest

import rsutil
from crashpat import block_bytes, identify

HERE = os.path.dirname(os.path.abspath(__file__))
B = rsutil.DEFAULT_BLOCK
NB = 8
MODES = ["blocks", "blocks", "whole", "whole", "trunc", "trunc"]
META = 6   # file index of the namespace-churn writer (directory meta6/)


def check_meta(top):
    """Everything in the churned directory is readable and consistent."""
    problems = []
    def onerror(e):
        problems.append("listing %s: %s" % (e.filename, e))

    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror):
        for n in filenames:
            p = os.path.join(dirpath, n)
            if os.path.islink(p):
                if os.readlink(p) != "g":
                    problems.append("%s: symlink target %r" % (p, os.readlink(p)))
                continue
            try:
                data = rsutil.read_file(p)
            except OSError as e:
                problems.append("%s: %s" % (p, e))
                continue
            if len(data) == 0:
                continue    # created, write not yet done
            v = identify(data, META, 0, B)
            if isinstance(v, str):
                problems.append("%s: %d bytes, not one version: %s"
                                % (p, len(data), v[:300]))
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.2, 0.7, 1.5, 3.0])
def test_crash_consistency(store, delay):
    s = store
    files = [s.path("c%d" % f) for f in range(len(MODES))]
    # version 0 of every file, durable before the writers start
    for f, p in enumerate(files):
        with open(p, "wb") as fh:
            for b in range(NB):
                fh.write(block_bytes(f, b, 0, B))
            fh.flush()
            os.fsync(fh.fileno())
    log = s.base / "fsync.log"
    log.write_text("")
    procs = []
    try:
        for f, p in enumerate(files):
            procs.append(subprocess.Popen(
                [sys.executable, os.path.join(HERE, "crash_writer.py"), str(p),
                 str(f), str(NB), str(B), MODES[f], str(log)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "crash_writer.py"),
             str(s.path("meta%d" % META)), str(META), "1", str(B), "meta", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        # wait until every writer is really writing
        deadline = time.time() + 30
        while time.time() < deadline:
            started = [l for l in log.read_text().split("\n") if l.startswith("S ")]
            if len(started) == len(procs):
                break
            for p in procs:
                assert p.poll() is None, "writer died early: %s" % p.stderr.read()[-2000:]
            time.sleep(0.01)
        else:
            raise AssertionError("writers did not start writing within 30 s")
        t0 = time.time()
        # a file written and fsync'd (and its directory) before the kill
        durable = s.path("durable.bin")
        ddata = rsutil.pattern_bytes(3 * B + 777, "durable")
        fd = os.open(durable, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, ddata)
        os.fsync(fd)
        os.close(fd)
        dfd = os.open(s.mnt, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)
        rest = delay - (time.time() - t0)
        if rest > 0:
            time.sleep(rest)
        for p in procs:
            assert p.poll() is None, "writer died early: %s" % p.stderr.read()[-2000:]
        pids = rsutil.daemon_pids(s.mnt)
        assert len(pids) == 1, "expected one ragstore daemon for %s, found %s" % (
            s.mnt, pids)
        os.kill(pids[0], signal.SIGKILL)
        rsutil.wait_pids_exit(pids, 10)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    rsutil.run(["fusermount3", "-uz", s.mnt])
    assert not rsutil.is_mounted(s.mnt)
    s.pids = []
    s.mount()

    durable_v = {}
    for line in log.read_text().split("\n"):
        if line.strip() and not line.startswith("S "):
            f, v = map(int, line.split())
            durable_v[f] = max(durable_v.get(f, 0), v)
    problems = []
    versions = {}
    for f, p in enumerate(files):
        try:
            data = rsutil.read_file(p)
        except OSError as e:
            problems.append("c%d: read failed: %s" % (f, e))
            continue
        if MODES[f] != "trunc" and len(data) != NB * B:
            problems.append("c%d: size %d, expected %d" % (f, len(data), NB * B))
        if len(data) % B:
            problems.append("c%d: size %d not a multiple of the block size"
                            % (f, len(data)))
        for b in range(len(data) // B):
            v = identify(data[b * B:(b + 1) * B], f, b, B)
            if isinstance(v, str):
                problems.append("c%d block %d is not one version: %s" % (f, b, v[:600]))
                continue
            versions.setdefault(f, []).append(v)
            if MODES[f] != "trunc" and v < durable_v.get(f, 0):
                problems.append("c%d block %d: version %d older than fsync'd "
                                "version %d" % (f, b, v, durable_v[f]))
    try:
        got = rsutil.read_file(durable)
        if got != ddata:
            problems.append("durable.bin: %d bytes, expected %d (content %s)"
                            % (len(got), len(ddata),
                               "equal prefix" if ddata.startswith(got) else "differs"))
    except OSError as e:
        problems.append("durable.bin unreadable: %s" % e)
    try:
        problems += check_meta(str(s.path("meta%d" % META)))
    except OSError as e:
        problems.append("meta%d: walk failed: %s" % (META, e))
    print("meta entries:", sorted(os.listdir(s.path("meta%d" % META)))[-5:])
    print("versions per file:", versions, "fsync'd:", durable_v)
    assert not problems, "after SIGKILL at %.1fs:\n  %s" % (delay, "\n  ".join(problems))
    assert sum(durable_v.values()) > 0 or delay < 1, \
        "writers made no fsync'd progress in %.1fs" % delay

    # the store keeps working: write, clean remount, read
    rsutil.write_file(s.path("after"), b"after crash")
    s.remount()
    assert rsutil.read_file(s.path("after")) == b"after crash"
    for f, p in enumerate(files):
        rsutil.read_file(p)
