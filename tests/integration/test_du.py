"""ragstore du: per algorithm actually stored, and per policy; totals equal
the sum of the files' virtual attributes and /.ragstore/stats."""
import json
import os
import re

import rsutil
from rsutil import run

CONFIG = """\
[policy raw]
match = raw/**
compression = none

[policy fast]
match = fast/**
compression = lz4
"""


def table(out):
    rows = {}
    for line in out.splitlines()[2:]:
        name, files, logical, stored, ratio = line.split()
        rows[name] = (int(files), int(logical), int(stored), float(ratio))
    return rows


def test_du_totals_and_algorithms(policy_store):
    s = policy_store(CONFIG)
    m = s.mnt
    for d in ("raw", "fast", "home"):
        (m / d).mkdir()
    rsutil.write_file(m / "raw/t", rsutil.text_bytes(200000, 1))
    rsutil.write_file(m / "fast/t", rsutil.text_bytes(200000, 2))
    rsutil.write_file(m / "home/t", rsutil.text_bytes(200000, 3))
    # Random data stored under zstd: its blocks are stored raw (none).
    rsutil.write_file(m / "home/random.gz", os.urandom(150000))
    rsutil.write_file(m / "home/empty", b"")
    os.link(m / "home/t", m / "home/t2")  # counted once
    os.statvfs(m)  # packing (docs/FORMAT.md) has settled what files store
    r = run([s.bin, "du", "-b", str(m)])
    assert r.returncode == 0, r.stderr
    rows = table(r.stdout)
    assert r.stdout.startswith("Processed 5 files.")
    files = [m / "raw/t", m / "fast/t", m / "home/t", m / "home/random.gz", m / "home/empty"]
    logical = sum(int(os.getxattr(f, "user.ragstore.logical_size")) for f in files)
    stored = sum(int(os.getxattr(f, "user.ragstore.stored_size")) for f in files)
    assert rows["TOTAL"][:3] == (5, logical, stored)
    st = json.loads(s.path(".ragstore/stats").read_text())
    assert (st["files"], st["logical_bytes"], st["stored_bytes"]) == (5, logical, stored)
    assert set(rows) == {"none", "lz4", "zstd", "TOTAL"}
    # none: raw/t and the random file (stored raw under zstd), and empty.
    assert rows["none"][0] == 3 and rows["lz4"][0] == 1 and rows["zstd"][0] == 1
    assert rows["none"][1] == 200000 + 150000
    assert rows["zstd"][3] < 0.5 and rows["none"][3] > 0.9
    assert sum(v[1] for k, v in rows.items() if k != "TOTAL") == logical
    assert sum(v[2] for k, v in rows.items() if k != "TOTAL") == stored
    # --policy groups by policy.
    r = run([s.bin, "du", "-b", "--policy", str(m / "raw"), str(m / "home")])
    rows = table(r.stdout)
    assert set(rows) == {"raw", "default", "TOTAL"}
    assert rows["raw"][:2] == (1, 200000) and rows["default"][0] == 3
    # Human units by default.
    r = run([s.bin, "du", str(m)])
    assert re.search(r"\d+\.\d (KiB|MiB)", r.stdout), r.stdout


def test_du_outside_a_mount(ragstore_bin, tmp_path):
    r = run([ragstore_bin, "du", str(tmp_path)])
    assert r.returncode == 4 and "not inside a ragstore mount" in r.stderr
    r = run([ragstore_bin, "du"])
    assert r.returncode == 2


def stats_algos(s):
    st = json.loads(s.path(".ragstore/stats").read_text())
    return {a: (v["files"], v["logical_bytes"], v["stored_bytes"])
            for a, v in st["algorithms"].items()}, st


def wait_totals(s, timeout=60):
    import time
    end = time.time() + timeout
    while time.time() < end:
        st = json.loads(s.path(".ragstore/stats").read_text())
        if st["totals"]["state"] != "rebuilding":
            return st
        time.sleep(0.1)
    raise AssertionError("totals still rebuilding")


def test_stats_algorithms_count_what_is_stored(policy_store):
    """/.ragstore/stats groups files by the algorithm their blocks are
    stored with, not by their setting: random data under zstd counts as
    none, text under its algorithm; du, the files' attributes and stats
    agree, and so they do after a remount and after a totals rebuild."""
    s = policy_store(CONFIG + "\n[defaults]\ncompression = zstd:3\n")
    m = s.mnt
    for d in ("fast", "home"):
        (m / d).mkdir()
    rsutil.write_file(m / "home/text.txt", rsutil.text_bytes(300000, 4))
    rsutil.write_file(m / "home/random.gz", os.urandom(300000))
    rsutil.write_file(m / "fast/t.log", rsutil.text_bytes(150000, 5))
    rsutil.write_file(m / "home/empty", b"")
    rsutil.write_file(m / "home/small", rsutil.text_bytes(3000, 6))
    assert os.getxattr(m / "home/random.gz", "user.ragstore.compression") == b"zstd:3"
    files = [m / "home/text.txt", m / "home/random.gz", m / "fast/t.log",
             m / "home/empty", m / "home/small"]

    def check():
        os.statvfs(m)  # packing (docs/FORMAT.md) has settled what files store
        r = run([s.bin, "du", "-b", str(m)])
        assert r.returncode == 0, r.stderr
        rows = table(r.stdout)
        algos, st = stats_algos(s)
        logical = sum(int(os.getxattr(f, "user.ragstore.logical_size")) for f in files)
        stored = sum(int(os.getxattr(f, "user.ragstore.stored_size")) for f in files)
        assert rows["TOTAL"][:3] == (5, logical, stored)
        assert (st["files"], st["logical_bytes"], st["stored_bytes"]) == (5, logical, stored)
        # No file mixes algorithms here: stats and du agree row by row.
        for a, v in algos.items():
            assert v == (rows[a][:3] if a in rows else (0, 0, 0)), (a, v, rows)
        # The random file (and the empty one) count as none, not zstd.
        assert algos["none"][:2] == (2, 300000), algos
        assert algos["zstd"][:2] == (2, 303000), algos
        assert algos["lz4"][:2] == (1, 150000), algos
        return algos

    first = check()
    s.remount(["--config", str(s.cfg)])
    assert check() == first
    # fsck's walk of the totals (the hints, the headers) finds the same.
    s.unmount()
    r = run([s.bin, "fsck", "--read-only", "--passfile", s.passfile, s.backing])
    assert r.returncode == 0 and "no problems found" in r.stdout, r.stdout + r.stderr
    # After an unclean shutdown the totals are rebuilt by a walk of the
    # headers: the same numbers.
    f = s.backing / "ragstore.stats"
    f.write_text(f.read_text().replace("state = clean", "state = in-use"))
    s.mount(["--config", str(s.cfg)])
    st = wait_totals(s)
    assert st["totals"]["state"] == "rebuilt" and st["totals"]["rebuilt_after_unclean_shutdown"]
    assert check() == first
    # A rewrite in place moves a file between rows: random data
    # overwritten with text now counts as zstd; removing it leaves none.
    rsutil.write_file(m / "home/random.gz", rsutil.text_bytes(300000, 7))
    algos, st = stats_algos(s)
    assert algos["none"][:2] == (1, 0) and algos["zstd"][:2] == (3, 603000), algos
    os.unlink(m / "home/random.gz")
    s.remount(["--config", str(s.cfg)])
    os.unlink(m / "home/text.txt")
    algos, st = stats_algos(s)
    assert algos["zstd"][:2] == (1, 3000) and algos["none"][:2] == (1, 0), algos
    assert sum(v[0] for v in algos.values()) == st["files"] == 3
    assert sum(v[2] for v in algos.values()) == st["stored_bytes"]


def test_mixed_file_counts_under_its_main_algorithm(store):
    """A file whose blocks mix algorithms: du splits it by its blocks, stats
    counts it whole under the algorithm most of its stored bytes use (the
    documented rule), and both put it in the same main row."""
    B = rsutil.DEFAULT_BLOCK
    m = store.mnt
    rsutil.write_file(m / "mostly_raw", rsutil.text_bytes(B, 1) + os.urandom(2 * B))
    rsutil.write_file(m / "mostly_text", rsutil.text_bytes(3 * B, 2) + os.urandom(B // 4))
    r = run([store.bin, "du", "-b", str(m / "mostly_raw")])
    rows = table(r.stdout)
    assert set(rows) == {"none", "zstd", "TOTAL"}, rows
    assert rows["none"][1] == 2 * B and rows["zstd"][1] == B, rows
    algos, st = stats_algos(store)
    stored = {f: int(os.getxattr(m / f, "user.ragstore.stored_size"))
              for f in ("mostly_raw", "mostly_text")}
    assert algos["none"] == (1, 3 * B, stored["mostly_raw"]), algos
    assert algos["zstd"] == (1, 3 * B + B // 4, stored["mostly_text"]), algos
    r = run([store.bin, "du", "-b", str(m / "mostly_text")])
    rows = table(r.stdout)
    assert rows["zstd"][1] == 3 * B and rows["none"][1] == B // 4, rows
