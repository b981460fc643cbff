"""Golden stores: stores written by earlier builds must still mount and read.

Every tests/golden/v*/ holds a backing directory (store/), made by that format
version with tests/golden/passphrase, and a manifest of what it contains
(see tests/golden/README.md)."""
import os
import shutil

import pytest

import rsutil
from rsutil import REPO, run

GOLDEN = REPO / "tests" / "golden"
VERSIONS = sorted(p for p in GOLDEN.glob("v*") if (p / "store").is_dir())


def _check_manifest(mnt, manifest):
    seen = set()
    for line in manifest.read_text().splitlines():
        kind, rel, *rest = line.split(" ")
        p = mnt / rel
        seen.add(os.path.normpath(rel))
        if kind == "d":
            assert p.is_dir() and not p.is_symlink(), rel
        elif kind == "l":
            assert os.readlink(p) == rest[0], rel
        else:
            assert p.is_file() and not p.is_symlink(), rel
            assert p.stat().st_size == int(rest[0]), rel
            assert rsutil.file_digest(p) == rest[1], rel
    found = set()
    for root, dirs, files in os.walk(mnt):
        for n in dirs + files:
            found.add(os.path.normpath(os.path.relpath(os.path.join(root, n), mnt)))
    assert found == seen


@pytest.mark.parametrize("version", VERSIONS, ids=lambda p: p.name)
def test_golden_store_reads(ragstore_bin, tmp_path, version):
    backing = tmp_path / "backing"
    shutil.copytree(version / "store", backing, symlinks=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    bad = tmp_path / "bad"
    bad.write_text("not the golden passphrase\n")
    r = run([ragstore_bin, "mount", "--passfile", bad, backing, mnt])
    assert r.returncode == 3, r.stderr
    r = run([ragstore_bin, "mount", "--passfile", GOLDEN / "passphrase", backing, mnt])
    assert r.returncode == 0, r.stderr
    try:
        _check_manifest(mnt, version / "manifest")
    finally:
        rsutil.unmount(mnt, rsutil.daemon_pids(mnt))


def test_golden_store_exists():
    assert VERSIONS, "no golden store under tests/golden/"
