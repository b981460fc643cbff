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
