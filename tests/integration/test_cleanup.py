"""cleanup by retention policies: dry run and real run on files whose mtime
was set in the past with touch -d; nothing removed without the command."""
import json
import os

import pytest

import rsutil
from rsutil import run

CONFIG = """\
[defaults]
retention_days = 0

[policy cache]
match = cache/**
retention_days = 30

[policy logs]
match = *.log
retention_days = 90
"""


@pytest.fixture
def cstore(policy_store):
    s = policy_store(CONFIG)
    m = s.mnt
    (m / "cache/sub").mkdir(parents=True)
    (m / "keep").mkdir()
    files = {
        "cache/old": "40 days ago", "cache/sub/older": "400 days ago",
        "cache/new": "10 days ago", "keep/a.log": "100 days ago",
        "keep/b.log": "60 days ago", "keep/forever": "3000 days ago",
    }
    for rel, when in files.items():
        rsutil.write_file(m / rel, rsutil.text_bytes(5000 + len(rel), 1))
        run(["touch", "-d", when, str(m / rel)], check=True)
    os.mkdir(m / "cache/olddir")
    run(["touch", "-d", "400 days ago", str(m / "cache/olddir")], check=True)
    return s


DUE = {"/cache/old", "/cache/sub/older", "/keep/a.log"}


def report(s):
    lines = s.path(".ragstore/cleanup").read_text().splitlines()
    rows = [l.split("\t") for l in lines if not l.startswith("#")]
    return lines[0], {r[3]: (int(r[0]), r[2]) for r in rows}


def test_dry_run_removes_nothing(cstore):
    m = cstore.mnt
    before = rsutil.snapshot(m)
    assert "no cleanup" in cstore.path(".ragstore/cleanup").read_text()
    (m / ".ragstore/control").write_text("cleanup --dry-run\n")
    head, rows = report(cstore)
    assert "dry-run" in head and "would be removed" in head
    assert set(rows) == DUE
    for p, (size, pol) in rows.items():
        assert size == os.stat(str(m) + p).st_size
        assert pol == ("cache" if p.startswith("/cache") else "logs")
    assert rsutil.snapshot(m) == before
    # Nothing goes by itself, not even across a remount.
    cstore.remount(["--config", str(cstore.cfg)])
    assert rsutil.snapshot(m) == before


def test_cleanup_removes_due_files(cstore):
    m = cstore.mnt
    stats0 = json.loads(cstore.path(".ragstore/stats").read_text())
    sizes = {p: os.stat(str(m) + p).st_size for p in DUE}
    (m / ".ragstore/control").write_text("cleanup\n")
    head, rows = report(cstore)
    assert "removed" in head and "dry-run" not in head
    assert set(rows) == DUE
    for p in DUE:
        assert not os.path.exists(str(m) + p), p
    for p in ("cache/new", "keep/b.log", "keep/forever"):
        assert (m / p).exists(), p
    assert (m / "cache/olddir").is_dir()  # only regular files go
    stats1 = json.loads(cstore.path(".ragstore/stats").read_text())
    assert stats1["files"] == stats0["files"] - 3
    assert stats1["logical_bytes"] == stats0["logical_bytes"] - sum(sizes.values())
    # Nothing is left to do; and after a remount the files stay gone.
    (m / ".ragstore/control").write_text("cleanup --dry-run\n")
    assert report(cstore)[1] == {}
    cstore.remount(["--config", str(cstore.cfg)])
    for p in DUE:
        assert not os.path.exists(str(m) + p), p


def test_cleanup_without_policies_removes_nothing(store):
    rsutil.write_file(store.path("old"), b"x")
    run(["touch", "-d", "9000 days ago", str(store.path("old"))], check=True)
    store.path(".ragstore/control").write_text("cleanup\n")
    assert store.path("old").exists()
