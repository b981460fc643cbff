"""A store of format version 1 mounted by this build: its v1 files keep
reading and stay v1, new files are format v2, and the descriptor is raised to
version 3 before the first v2 file exists (so an older build refuses the
store instead of failing file by file).  A mount that creates nothing leaves
the descriptor alone."""
import shutil

import rsutil
from rsutil import REPO, run

GOLDEN = REPO / "tests" / "golden"


def _version(backing):
    for line in (backing / "ragstore.conf").read_text().splitlines():
        k, _, v = line.partition("=")
        if k.strip() == "version":
            return int(v)
    raise AssertionError("no version in ragstore.conf")


def _mount(ragstore_bin, backing, mnt):
    run([ragstore_bin, "mount", "--passfile", GOLDEN / "passphrase", backing, mnt],
        check=True)


def test_v1_store_upgrades_at_first_new_file(ragstore_bin, tmp_path):
    backing = tmp_path / "b"
    shutil.copytree(GOLDEN / "v1" / "store", backing, symlinks=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    assert _version(backing) == 1
    _mount(ragstore_bin, backing, mnt)
    try:
        old = (mnt / "hello.txt").read_bytes()
        assert old == b"hello, golden world\n"
    finally:
        rsutil.unmount(mnt, rsutil.daemon_pids(mnt))
    assert _version(backing) == 1, "reading must not upgrade the store"

    _mount(ragstore_bin, backing, mnt)
    try:
        (mnt / "new.txt").write_bytes(b"written by format v2\n")
        assert "format_version = 3" in (mnt / ".ragstore" / "config").read_text()
        new_bp = rsutil.backing_path(backing, "new.txt", mnt)
        old_bp = rsutil.backing_path(backing, "hello.txt", mnt)
        (mnt / "hello.txt").open("ab").write(b"appended\n")
    finally:
        rsutil.unmount(mnt, rsutil.daemon_pids(mnt))
    assert _version(backing) == 3
    assert rsutil.is_v2(new_bp.read_bytes())
    # A v1 file stays v1 when it is written to.
    raw = old_bp.read_bytes()
    assert not rsutil.is_v2(raw) and raw[:4] == b"RSFH"

    _mount(ragstore_bin, backing, mnt)
    try:
        assert (mnt / "new.txt").read_bytes() == b"written by format v2\n"
        assert (mnt / "hello.txt").read_bytes() == old + b"appended\n"
    finally:
        rsutil.unmount(mnt, rsutil.daemon_pids(mnt))


def test_new_store_is_version_3(ragstore_bin, tmp_path):
    b = tmp_path / "b"
    run([ragstore_bin, "init", "--passfile", GOLDEN / "passphrase", b], check=True)
    assert _version(b) == 3
