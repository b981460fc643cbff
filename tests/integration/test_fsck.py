"""ragstore fsck: the offline check and its repair (docs/FSCK.md).

Each damage test breaks one thing in an unmounted store the way a disk or an
attacker would, checks that fsck names it (exit 1, the right path), then, for
what is repairable, that --repair fixes it so that a second fsck is clean and
the store mounts and reads.  What is not repairable stays reported and is not
deleted."""
import errno
import os
import shutil
import stat
from pathlib import Path

import pytest

import rsutil
from rsutil import REPO, run

GOLDEN = REPO / "tests" / "golden"
LONG = "L" * 200                 # a name whose encrypted form needs a side file
BIG = 3 * rsutil.DEFAULT_BLOCK + 100


def fsck(s, *args, passfile=None):
    cmd = [s.bin, "fsck"]
    if s.encryption:
        cmd += ["--passfile", passfile or s.passfile]
    return run(cmd + list(args) + [s.backing], timeout=300)


def lines_about(r, path):
    """The problem lines of fsck output r that name path."""
    return [l for l in r.stdout.splitlines() if l.startswith(str(path) + ": ")]


def assert_clean(s):
    r = fsck(s)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no problems found" in r.stdout
    return r


def ensure_clean_totals(s):
    """A first mount rebuilds the totals in the background; a store used and
    unmounted at once may still have them unclean (a note, not a problem).
    Make them clean, so that tests can compare exact output."""
    r = fsck(s, "--repair")
    assert r.returncode == 0, r.stdout + r.stderr


def totals_settled(mnt, timeout=30):
    """Wait until the daemon's first walk of a new store's totals is over:
    files written while it runs can be counted twice (see the report of
    issue 12), which fsck would rightly call stale totals."""
    import json
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(Path(mnt) / ".ragstore" / "stats") as f:
            if json.load(f)["totals"]["state"] not in ("rebuilding", "untrusted"):
                return
        time.sleep(0.05)
    raise AssertionError("totals still rebuilding after %ds" % timeout)


def populate(s):
    """A small tree with every kind of object; returns its backing paths
    (found through the mount, since names are encrypted)."""
    m = s.mnt
    totals_settled(m)
    (m / "d" / "sub").mkdir(parents=True)
    rsutil.write_file(m / "d" / "a.txt", rsutil.text_bytes(5000, 1))
    rsutil.write_file(m / "d" / "big", rsutil.pattern_bytes(BIG, 2))
    rsutil.write_file(m / "d" / "sub" / "x", b"x" * 1000)
    rsutil.write_file(m / "d" / LONG, b"long name\n")
    os.symlink("a.txt", m / "d" / "ln")
    os.link(m / "d" / "a.txt", m / "hl")
    os.setxattr(m / "d" / "a.txt", "user.color", b"blue")
    os.setxattr(m / "d", "user.kind", b"dir")
    with open(m / "sparse", "wb") as f:
        f.truncate(5 * rsutil.DEFAULT_BLOCK)
    os.mkfifo(m / "fifo")
    paths = {rel: s.backing_path(rel) for rel in
             ("d", "d/a.txt", "d/big", "d/sub", "d/sub/x", "d/" + LONG, "d/ln")}
    s.unmount()
    return paths


@pytest.fixture
def full(store_factory):
    s = store_factory("fsck")
    s.paths = populate(s)
    ensure_clean_totals(s)
    return s


def mount_and_read(s, must_read=("d/a.txt", "d/big", "hl")):
    s.mount()
    try:
        for rel in must_read:
            rsutil.read_file(s.mnt / rel)
    finally:
        s.unmount()


def backing_state(backing):
    """Everything a read-only check must leave alone."""
    out = {}
    for root, dirs, files in os.walk(backing):
        for n in dirs + files:
            p = Path(root) / n
            st = os.lstat(p)
            e = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
            if stat.S_ISREG(st.st_mode):
                e += (rsutil.file_digest(p),
                      tuple(sorted((x, os.getxattr(p, x, follow_symlinks=False))
                                   for x in os.listxattr(p, follow_symlinks=False))))
            out[str(p.relative_to(backing))] = e
    return out


# --------------------------------------------------------------------------
# clean stores

def test_clean_store_passes_and_read_only_changes_nothing(store_factory):
    full = store_factory("fsck")
    populate(full)
    before = backing_state(full.backing)
    r = assert_clean(full)
    assert "2 directories, 5 files, 1 symlinks, 1 other" in r.stdout, r.stdout
    r = fsck(full, "--read-only")
    assert r.returncode == 0, r.stdout + r.stderr
    assert backing_state(full.backing) == before


@pytest.mark.parametrize("kind", ["plaintext-names", "no-encryption"])
def test_clean_plain_stores(store_factory, kind):
    s = store_factory(kind, plaintext_names=kind == "plaintext-names",
                      encryption=kind != "no-encryption")
    s.paths = populate(s)
    assert_clean(s)
    # Damage is found there too: checksums stand in for MACs.
    rsutil.flip_byte(s.paths["d/big"], rsutil.payload_offset(1) + 5)
    r = fsck(s)
    assert r.returncode == 1 and lines_about(r, "/d/big"), r.stdout


def test_golden_v1_store_is_clean(ragstore_bin, tmp_path):
    backing = tmp_path / "backing"
    shutil.copytree(GOLDEN / "v1" / "store", backing, symlinks=True)
    r = run([ragstore_bin, "fsck", "--passfile", GOLDEN / "passphrase", backing])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no problems found" in r.stdout


# --------------------------------------------------------------------------
# damage that is reported and stays reported

def test_flipped_block_byte_reported_not_deleted(full):
    rsutil.flip_byte(full.paths["d/big"], rsutil.payload_offset(1) + 100)
    r = fsck(full)
    assert r.returncode == 1
    bad = lines_about(r, "/d/big")
    assert len(bad) == 1 and "1 block(s)" in bad[0] and ": 1 " in bad[0], r.stdout
    assert len(r.stdout.splitlines()) == 3, r.stdout   # the line and the summary
    r = fsck(full, "--repair")
    assert r.returncode == 1 and lines_about(r, "/d/big"), r.stdout
    full.mount()
    try:
        data = rsutil.read_file(full.mnt / "d" / "a.txt")
        assert data == rsutil.text_bytes(5000, 1)
        p = full.mnt / "d" / "big"
        assert rsutil.pread_fresh(p, 100, 0) == rsutil.pattern_bytes(BIG, 2)[:100]
        with pytest.raises(OSError) as e:
            rsutil.pread_fresh(p, 100, rsutil.DEFAULT_BLOCK + 10)
        assert e.value.errno == errno.EIO
    finally:
        full.unmount()


def test_damaged_diriv_value(full):
    rsutil.flip_byte(full.paths["d"] / ".diriv", 3)   # the value itself
    r = fsck(full, "--repair")
    assert r.returncode == 1
    assert any(".diriv damaged" in l for l in lines_about(r, "/d")), r.stdout
    # The objects below are still checked, under the names "?BACKINGNAME".
    assert "5 files" in r.stdout, r.stdout
    r2 = fsck(full)
    assert r2.returncode == 1 and lines_about(r2, "/d")


def test_damaged_diriv_mac_is_repaired(full):
    rsutil.flip_byte(full.paths["d"] / ".diriv", 20)  # its MAC only
    r = fsck(full)
    assert r.returncode == 1
    assert any(".diriv damaged" in l and "[--repair fixes this]" in l
               for l in lines_about(r, "/d")), r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0 and "[repaired]" in r.stdout, r.stdout
    assert_clean(full)
    mount_and_read(full, ("d/a.txt", "d/big", "d/" + LONG))


# --------------------------------------------------------------------------
# damage that --repair fixes

def test_destroyed_header_moved_out_of_the_tree(full):
    x = full.paths["d/sub/x"]
    ino = os.lstat(x).st_ino
    rsutil.flip_byte(x, 20)
    rsutil.flip_byte(x, 2048 + 20)
    r = fsck(full)
    assert r.returncode == 1
    assert any("file header missing or damaged" in l
               for l in lines_about(r, "/d/sub/x")), r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    kept = full.backing / "lost+found" / ("#%d" % ino)
    assert kept.is_file() and os.lstat(kept).st_ino == ino
    r = assert_clean(full)
    assert "1 file(s) with a destroyed header" in r.stdout
    full.mount()
    try:
        assert not (full.mnt / "d" / "sub" / "x").exists()
        assert rsutil.read_file(full.mnt / "d" / "a.txt") == rsutil.text_bytes(5000, 1)
    finally:
        full.unmount()


def test_damaged_header_slot_is_rewritten(full):
    a = full.paths["d/big"]
    with open(a, "rb") as f:
        area = f.read(4096)
    # The current slot is the one with the higher generation.
    gens = [int.from_bytes(area[o + 8:o + 16], "little") for o in (0, 2048)]
    cur = 0 if gens[0] > gens[1] else 1
    rsutil.flip_byte(a, cur * 2048 + 45)              # its size field
    r = fsck(full)
    assert r.returncode == 1
    assert any("header slot %d does not authenticate" % cur in l
               for l in lines_about(r, "/d/big")), r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    assert_clean(full)
    mount_and_read(full)


def test_tampered_name_goes_to_lost_found(full):
    x = full.paths["d/sub/x"]
    name = x.name
    bad = name[:5] + ("A" if name[5] != "A" else "B") + name[6:]
    os.rename(x, x.parent / bad)
    r = fsck(full)
    assert r.returncode == 1
    assert any("does not decrypt" in l for l in lines_about(r, "/d/sub/?" + bad)), r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    assert_clean(full)
    assert not (x.parent / bad).exists()
    full.mount()
    try:
        found = os.listdir(full.mnt / "lost+found")
        assert len(found) == 1 and found[0].startswith("#"), found
        assert rsutil.read_file(full.mnt / "lost+found" / found[0]) == b"x" * 1000
        assert os.listdir(full.mnt / "d" / "sub") == []
    finally:
        full.unmount()


def test_entry_moved_from_another_directory(full):
    # A valid name, but from another directory: it does not decrypt here.
    a = full.paths["d/big"]
    os.rename(a, full.backing / "root" / a.name)
    r = fsck(full)
    assert r.returncode == 1 and lines_about(r, "/?" + a.name), r.stdout


def test_orphan_xattr_blob_removed(full):
    xdir = full.backing / "xattrs"
    blobs = sorted(xdir.iterdir())
    assert len(blobs) == 2
    orphan = xdir / ("66" + "ab" * 16)
    shutil.copy(blobs[0], orphan)
    r = fsck(full)
    assert r.returncode == 1
    assert lines_about(r, "%s/xattrs/%s" % (full.backing, orphan.name)), r.stdout
    assert len(r.stdout.splitlines()) == 3, r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0 and not orphan.exists(), r.stdout
    assert sorted(xdir.iterdir()) == blobs
    assert_clean(full)
    full.mount()
    try:
        assert os.getxattr(full.mnt / "d" / "a.txt", "user.color") == b"blue"
        assert os.getxattr(full.mnt / "d", "user.kind") == b"dir"
    finally:
        full.unmount()


def test_damaged_xattr_blob_reported(full):
    for b in (full.backing / "xattrs").iterdir():
        if b.name.startswith("66"):                   # 'f': the file's
            rsutil.flip_byte(b, 30)
    r = fsck(full, "--repair")
    assert r.returncode == 1
    # The file has two names; the walk meets either first.
    assert any("extended attributes do not authenticate" in l
               for l in lines_about(r, "/d/a.txt") + lines_about(r, "/hl")), r.stdout


def test_orphan_side_file_removed(full):
    side = full.paths["d"] / (".N" + "Q" * 43)
    side.write_text("not a name\n")
    r = fsck(full)
    assert r.returncode == 1
    assert any("orphaned long-name side file" in l
               for l in lines_about(r, "/d/" + side.name)), r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0 and not side.exists(), r.stdout
    assert_clean(full)
    mount_and_read(full, ("d/" + LONG,))


def test_missing_side_file_reported(full):
    longent = full.paths["d/" + LONG]
    assert longent.name.startswith(".L")
    (longent.parent / (".N" + longent.name[2:])).unlink()
    r = fsck(full)
    assert r.returncode == 1
    assert any("side file is missing" in l
               for l in lines_about(r, "/d/?" + longent.name)), r.stdout


def test_leftover_tmp_directory_removed(full):
    tmp = full.paths["d"] / ".tmp0123456789abcdef"
    tmp.mkdir()
    shutil.copy(full.paths["d"] / ".diriv", tmp / ".diriv")
    r = fsck(full)
    assert r.returncode == 1 and lines_about(r, "/d/" + tmp.name), r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0 and not tmp.exists(), r.stdout
    assert_clean(full)


@pytest.mark.parametrize("delta", [+1000, -1000])
def test_wrong_size_hint_rewritten(full, delta):
    big = full.paths["d/big"]
    os.setxattr(big, "user.ragstore.h",
                (BIG + delta).to_bytes(8, "little") + b"\0\0")
    r = fsck(full)
    assert r.returncode == 1
    assert any("size hint" in l for l in lines_about(r, "/d/big")), r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    assert os.getxattr(big, "user.ragstore.h")[:8] == BIG.to_bytes(8, "little")
    assert_clean(full)
    full.mount()
    try:
        assert os.stat(full.mnt / "d" / "big").st_size == BIG
        assert rsutil.read_file(full.mnt / "d" / "big") == rsutil.pattern_bytes(BIG, 2)
    finally:
        full.unmount()


def test_stale_totals_rebuilt(full):
    f = full.backing / "ragstore.stats"
    text = f.read_text()
    files = [l for l in text.splitlines() if l.startswith("files = ")][0]
    f.write_text(text.replace(files, "files = 99"))
    r = fsck(full)
    assert r.returncode == 1
    assert any("store totals are stale" in l and "99 files" in l
               for l in lines_about(r, "%s/ragstore.stats" % full.backing)), r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    text = f.read_text()
    assert "state = clean" in text and "files = 5\n" in text, text
    assert_clean(full)


def test_unclean_totals_are_a_note(full):
    # Left by a daemon that did not unmount: it rebuilds them itself at the
    # next mount, so this is no problem; --repair rebuilds them now.
    f = full.backing / "ragstore.stats"
    f.write_text(f.read_text().replace("state = clean", "state = in-use"))
    r = fsck(full)
    assert r.returncode == 0, r.stdout
    assert any("(note)" in l for l in lines_about(r, "%s/ragstore.stats" % full.backing))
    r = fsck(full, "--repair")
    assert r.returncode == 0 and "state = clean" in f.read_text(), r.stdout


def test_tampered_symlink_target(full):
    ln = full.paths["d/ln"]
    target = os.readlink(ln)
    os.unlink(ln)
    os.symlink(target[:10] + ("A" if target[10] != "A" else "B") + target[11:], ln)
    r = fsck(full)
    assert r.returncode == 1
    assert any("symlink target does not authenticate" in l
               for l in lines_about(r, "/d/ln")), r.stdout


# --------------------------------------------------------------------------
# refusals and exit codes

def test_mounted_store_refused(store):
    r = fsck(store)
    assert r.returncode == 10, r.stdout + r.stderr
    assert "mounted" in r.stderr
    r = fsck(store, "--repair")
    assert r.returncode == 10


def test_wrong_passphrase_exit_3(full, tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("wrong\n")
    r = fsck(full, passfile=bad)
    assert r.returncode == 3, r.stdout + r.stderr


def test_usage_and_not_a_store(ragstore_bin, tmp_path, full):
    assert run([ragstore_bin, "fsck"]).returncode == 2
    r = run([ragstore_bin, "fsck", "--repair", "--read-only", full.backing])
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    r = run([ragstore_bin, "fsck", "--passfile", full.passfile, tmp_path])
    assert r.returncode == 4, r.stderr
    r = run([ragstore_bin, "help", "fsck"])
    assert r.returncode == 0 and "--repair" in r.stdout
    r = run([ragstore_bin, "fsck", "--help"])
    assert r.returncode == 0 and "--read-only" in r.stdout


def test_progress_bar_only_on_a_terminal(full):
    r = fsck(full)
    assert "\r" not in r.stderr and "ETA" not in r.stderr
    import pty
    import subprocess
    master, slave = pty.openpty()
    try:
        p = subprocess.run([full.bin, "fsck", "--passfile", str(full.passfile),
                            str(full.backing)], stdout=subprocess.PIPE, stderr=slave,
                           stdin=subprocess.DEVNULL, timeout=120)
        os.close(slave)
        slave = None
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert p.returncode == 0
    assert b"files" in seen and b"ETA" in seen and b"%" in seen, seen
    assert b"ETA" not in p.stdout
