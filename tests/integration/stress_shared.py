#!/usr/bin/python3
"""Loop one race of shared mode many times on one pair of daemons
(docs/SHARED.md; not part of the suite, which runs each race a few
dozen times only).

    /usr/bin/python3 tests/integration/stress_shared.py KIND RACES [LOGDIR]

KIND is local, glusterfs or glusterfs-names (the pairs of test_shared.py).
Each race runs `mkdir -p rN/a/b/c/d` on both sides at the same moment, then
checks that both succeeded and that each side sees the whole path.  With
STRESS_MODE=test, the races run as test_concurrent_mkdir_p_of_one_path
runs them instead (12 paths under one top per round, a file written into
each, the two sides drifting apart): that pattern meets the GlusterFS
race of docs/SHARED.md far more often.  With
LOGDIR, the daemons log to LOGDIR/a.log and LOGDIR/b.log.  Prints the
failures and a count; exits 1 if any race failed.
"""
import os
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rsutil  # noqa: E402
import test_shared  # noqa: E402


class _Request:
    """Enough of pytest's request for test_shared._make_pair."""

    def __init__(self):
        self.fins = []

    def addfinalizer(self, fn):
        self.fins.append(fn)


def _mkdir_p(path, out, side, go):
    go.wait()
    r = subprocess.run(["mkdir", "-p", str(path)], stderr=subprocess.PIPE, text=True,
                       timeout=120)
    out[side] = (r.returncode, r.stderr.strip())


def race(pair, i):
    """One race; returns a list of problems."""
    rel = "r%d/a/b/c/d" % i
    out, go = {}, threading.Barrier(2)
    ts = [threading.Thread(target=_mkdir_p, args=(pair.mnts[s] / rel, out, s, go))
          for s in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(180)
    bad = ["race %d side %d: %s" % (i, s, out[s][1]) for s in (0, 1) if out[s][0]]
    for s in (0, 1):
        if not (pair.mnts[s] / rel).is_dir():
            bad.append("race %d side %d: %s is not a directory afterwards" % (i, s, rel))
    return bad


def _sequence(pair, side, rnd, out):
    """test_concurrent_mkdir_p_of_one_path's side: 12 paths under one top,
    in turn, a file written into each."""
    for i in range(12):
        rel = "deep%d/x%d/y/z/w" % (rnd, i)
        r = subprocess.run(["mkdir", "-p", str(pair.mnts[side] / rel)],
                           stderr=subprocess.PIPE, text=True, timeout=120)
        if r.returncode:
            out.append("round %d path %d side %d: %s" % (rnd, i, side, r.stderr.strip()))
        else:
            (pair.mnts[side] / rel / ("from%d" % side)).write_bytes(b"%d" % side)


def rounds(pair, rnd):
    """One round of 12 races as test_shared runs them; returns problems."""
    out = []
    ts = [threading.Thread(target=_sequence, args=(pair, s, rnd, out)) for s in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    return out


def main():
    kind, races = sys.argv[1], int(sys.argv[2])
    logdir = Path(sys.argv[3]).resolve() if len(sys.argv) > 3 else None
    binary = Path(os.environ.get("RAGSTORE_BIN", str(rsutil.BINARY)))
    req = _Request()
    if logdir:
        logdir.mkdir(parents=True, exist_ok=True)
        os.environ["RAGSTORE_IT_LOGDIR"] = str(logdir)  # read by Pair.mount
    pytest_skip = test_shared.pytest.skip.Exception
    failures = []
    try:
        pair = test_shared._make_pair(req, binary, kind)
        if os.environ.get("STRESS_MODE") == "test":
            for i in range((races + 11) // 12):
                failures += rounds(pair, i)
        else:
            for i in range(races):
                failures += race(pair, i)
    except pytest_skip as e:
        print("skipped:", e)
        return 0
    finally:
        for fn in req.fins:
            fn()
    for f in failures:
        print(f)
    print("%s: %d races, %d failures" % (kind, races, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
