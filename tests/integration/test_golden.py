"""Golden store: a store made by an earlier build must still mount and read.

Expects tests/golden/store (a backing directory), tests/golden/passphrase and
tests/golden/manifest.  Skipped until the core engineer adds them; the
manifest format is assumed to be lines of "SHA256  SIZE  PATH" or
"sha256sum"-style "SHA256  PATH" (paths relative to the mount root)."""
import os
import shutil

import pytest

import rsutil
from rsutil import REPO, run

GOLDEN = REPO / "tests" / "golden"


def _parse_manifest(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1].isdigit():
            out[parts[2]] = (parts[0], int(parts[1]))
        elif len(parts) >= 2:
            out[line.split(None, 1)[1].lstrip("*")] = (parts[0], None)
    return out


def test_golden_store(ragstore_bin, tmp_path):
    store = GOLDEN / "store"
    manifest = GOLDEN / "manifest"
    passphrase = GOLDEN / "passphrase"
    if not (store.is_dir() and manifest.is_file()):
        pytest.skip("tests/golden/store and tests/golden/manifest not present yet")
    backing = tmp_path / "backing"
    shutil.copytree(store, backing, symlinks=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    args = [ragstore_bin, "mount"]
    if passphrase.exists():
        args += ["--passfile", passphrase]
    r = run(args + [backing, mnt])
    assert r.returncode == 0, r.stderr
    try:
        expect = _parse_manifest(manifest.read_text())
        assert expect, "empty or unparsable manifest"
        for rel, (digest, size) in expect.items():
            p = mnt / rel
            assert p.exists(), "missing %s" % rel
            if size is not None:
                assert p.stat().st_size == size, rel
            assert rsutil.file_digest(p) == digest, rel
    finally:
        rsutil.unmount(mnt, rsutil.daemon_pids(mnt))
