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
    rsutil.write_file(m / "d" / "sub" / "x", b"x" * 1000)   # packed (FORMAT.md)
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

def raw(path):
    with open(path, "rb") as f:
        return f.read()


def record_at(path, block):
    """Offset of the ciphertext of block's record in a v2 backing file (past
    its nonce), and the ciphertext length, from the inline index."""
    rec = rsutil.v2_record(raw(path), block)
    assert rec is not None, "block %d of %s is a hole" % (block, path)
    return rec[0] + rsutil.V2_NONCE, rec[1] - rsutil.V2_NONCE


def slot_bytes(path, slot):
    return raw(path)[slot * rsutil.V2_SLOT:(slot + 1) * rsutil.V2_SLOT]


def put_bytes(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


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
    assert rsutil.is_v2(raw(s.paths["d/big"]))
    rsutil.flip_byte(s.paths["d/big"], record_at(s.paths["d/big"], 1)[0] + 5)
    r = fsck(s)
    assert r.returncode == 1 and lines_about(r, "/d/big"), r.stdout


def test_golden_v1_store_is_clean(ragstore_bin, tmp_path):
    backing = tmp_path / "backing"
    shutil.copytree(GOLDEN / "v1" / "store", backing, symlinks=True)
    r = run([ragstore_bin, "fsck", "--passfile", GOLDEN / "passphrase", backing])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no problems found" in r.stdout


def test_golden_v1_store_damage(ragstore_bin, tmp_path):
    """v1 files keep their own check and repair (docs/FSCK.md): a damaged
    spare header slot is rewritten, a bad block is reported and left."""
    backing = tmp_path / "backing"
    shutil.copytree(GOLDEN / "v1" / "store", backing, symlinks=True)
    fsck_cmd = [ragstore_bin, "fsck", "--passfile", GOLDEN / "passphrase"]
    docs = backing / "root" / "docs"            # plaintext names
    numbers, rnd = docs / "numbers.txt", docs / "random.bin"
    area = raw(numbers)[:4096]
    assert not rsutil.is_v2(area) and area[2048:2052] == b"RSFH"
    gens = [int.from_bytes(area[o + 8:o + 16], "little") for o in (0, 2048)]
    old = 0 if gens[0] < gens[1] else 1
    rsutil.flip_byte(numbers, old * 2048 + 45)       # the older slot's size
    for slot in (0, 1):                              # both records of block 1
        if raw(rnd)[rsutil.slot_offset(1, slot):][:4] == b"RSB1":
            rsutil.flip_byte(rnd, rsutil.payload_offset(1, slot) + 100)
    r = run(fsck_cmd + [backing])
    assert r.returncode == 1, r.stdout + r.stderr
    assert any("header slot %d does not authenticate" % old in l and
               "[--repair fixes this]" in l
               for l in lines_about(r, "/docs/numbers.txt")), r.stdout
    bad = lines_about(r, "/docs/random.bin")
    assert len(bad) == 1 and "1 block(s)" in bad[0] and ": 1 " in bad[0], r.stdout
    r = run(fsck_cmd + ["--repair", backing])
    assert r.returncode == 1, r.stdout + r.stderr
    assert any("[repaired]" in l for l in lines_about(r, "/docs/numbers.txt")), r.stdout
    bad = lines_about(r, "/docs/random.bin")
    assert len(bad) == 1 and "[repaired]" not in bad[0] and "hole" not in bad[0], r.stdout
    r = run(fsck_cmd + [backing])
    assert r.returncode == 1 and not lines_about(r, "/docs/numbers.txt"), r.stdout
    assert len(lines_about(r, "/docs/random.bin")) == 1, r.stdout
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    run([ragstore_bin, "mount", "--passfile", GOLDEN / "passphrase", backing, mnt],
        check=True)
    try:
        want = [l.split(" ") for l in (GOLDEN / "v1" / "manifest").read_text().splitlines()]
        want = {l[1]: l[3] for l in want if l[0] == "f"}
        assert rsutil.file_digest(mnt / "docs" / "numbers.txt") == want["./docs/numbers.txt"]
        assert len(rsutil.pread_fresh(mnt / "docs" / "random.bin", 100, 0)) == 100
        with pytest.raises(OSError) as e:
            rsutil.pread_fresh(mnt / "docs" / "random.bin", 100, rsutil.DEFAULT_BLOCK + 10)
        assert e.value.errno == errno.EIO
    finally:
        problems = rsutil.unmount(mnt, rsutil.daemon_pids(mnt))
    assert not problems, problems


# --------------------------------------------------------------------------
# damage in v2 files: records, headers, length

def test_flipped_record_byte_becomes_a_hole(full):
    big = full.paths["d/big"]
    assert rsutil.is_v2(raw(big))
    rsutil.flip_byte(big, record_at(big, 1)[0] + 100)
    before = backing_state(full.backing)
    r = fsck(full)
    assert r.returncode == 1
    bad = lines_about(r, "/d/big")
    assert len(bad) == 1 and "1 block(s)" in bad[0] and ": 1 " in bad[0], r.stdout
    assert "[--repair fixes this]" in bad[0], r.stdout
    assert len(r.stdout.splitlines()) == 3, r.stdout   # the line and the summary
    assert "(1 bad)" in r.stdout, r.stdout
    assert backing_state(full.backing) == before
    want = rsutil.pattern_bytes(BIG, 2)
    B = rsutil.DEFAULT_BLOCK
    full.mount()
    try:
        with pytest.raises(OSError) as e:
            rsutil.pread_fresh(full.mnt / "d" / "big", 100, B + 10)
        assert e.value.errno == errno.EIO
    finally:
        full.unmount()
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    fixed = lines_about(r, "/d/big")
    assert len(fixed) == 1 and "[repaired]" in fixed[0] and ": 1;" in fixed[0] and \
        "hole" in fixed[0], r.stdout
    assert_clean(full)
    full.mount()
    try:
        p = full.mnt / "d" / "big"
        assert os.stat(p).st_size == BIG
        data = rsutil.read_file(p)
        assert data[:B] == want[:B]
        assert data[B:2 * B] == bytes(B)               # a hole now, not EIO
        assert data[2 * B:] == want[2 * B:]
        assert rsutil.read_file(full.mnt / "d" / "a.txt") == rsutil.text_bytes(5000, 1)
    finally:
        full.unmount()


def test_cut_backing_file(full):
    big = full.paths["d/big"]
    h = rsutil.v2_header(raw(big))
    last = max(h["entries"], key=lambda e: e["off"])
    os.truncate(big, last["off"] + 10)               # its last record cut
    assert os.path.getsize(big) < h["data_end"]
    r = fsck(full)
    assert r.returncode == 1
    lines = lines_about(r, "/d/big")
    assert any("cut short" in l and "[--repair fixes this]" in l for l in lines), r.stdout
    assert any("1 block(s)" in l and ": %d " % last["block"] in l for l in lines), r.stdout
    full.mount()
    try:
        with pytest.raises(OSError) as e:
            rsutil.read_file(full.mnt / "d" / "big")
        assert e.value.errno == errno.EIO
    finally:
        full.unmount()
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    lines = lines_about(r, "/d/big")
    assert len(lines) == 2 and all("[repaired]" in l for l in lines), r.stdout
    assert os.path.getsize(big) >= h["data_end"]
    assert_clean(full)
    want = rsutil.pattern_bytes(BIG, 2)
    B = rsutil.DEFAULT_BLOCK
    lo, hi = last["block"] * B, min(BIG, (last["block"] + 1) * B)
    full.mount()
    try:
        data = rsutil.read_file(full.mnt / "d" / "big")
        assert len(data) == BIG
        assert data[:lo] == want[:lo] and data[hi:] == want[hi:]
        assert data[lo:hi] == bytes(hi - lo)
    finally:
        full.unmount()


def older_header(s, blocks=1):
    """A file d/grow whose header was rewritten once; returns its backing
    path, the slot that held the first header and that header's bytes (at
    rest that slot is zero again: a sync point cleared it)."""
    B = rsutil.DEFAULT_BLOCK
    s.mount()
    try:
        rsutil.write_file(s.mnt / "d" / "grow", rsutil.pattern_bytes(blocks * B, 7))
        p = s.backing_path("d/grow")
    finally:
        s.unmount()
    old_slot, _ = rsutil.v2_slots(raw(p))[0]
    old = slot_bytes(p, old_slot)
    s.mount()
    try:
        # A new block: the older header's records stay where they are.
        rsutil.write_file(s.mnt / "d" / "grow", rsutil.pattern_bytes(5000, 8), "ab")
    finally:
        s.unmount()
    slots = rsutil.v2_slots(raw(p))
    assert len(slots) == 1 and slots[0][0] != old_slot, slots
    assert slot_bytes(p, old_slot) == bytes(rsutil.V2_SLOT)
    ensure_clean_totals(s)
    return p, old_slot, old


def test_two_valid_header_slots(full):
    p, old_slot, old = older_header(full)
    put_bytes(p, old_slot * rsutil.V2_SLOT, old)      # as a crash leaves it
    assert len(rsutil.v2_slots(raw(p))) == 2
    r = fsck(full)
    assert r.returncode == 1
    lines = lines_about(r, "/d/grow")
    assert len(lines) == 1 and "older header (slot %d" % old_slot in lines[0] and \
        "[--repair fixes this]" in lines[0], r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    assert any("[repaired]" in l for l in lines_about(r, "/d/grow")), r.stdout
    assert slot_bytes(p, old_slot) == bytes(rsutil.V2_SLOT)
    assert_clean(full)
    full.mount()
    try:
        assert rsutil.read_file(full.mnt / "d" / "grow") == \
            rsutil.pattern_bytes(rsutil.DEFAULT_BLOCK, 7) + rsutil.pattern_bytes(5000, 8)
    finally:
        full.unmount()


def test_damaged_newest_header_rolls_back(full):
    p, old_slot, old = older_header(full)
    new_slot = 1 - old_slot
    put_bytes(p, old_slot * rsutil.V2_SLOT, old)
    rsutil.flip_byte(p, new_slot * rsutil.V2_SLOT + 490)   # its nonce
    before = backing_state(full.backing)
    r = fsck(full)
    assert r.returncode == 1
    assert any("newest header (slot %d" % new_slot in l and "does not authenticate" in l
               and "[--repair fixes this]" in l for l in lines_about(r, "/d/grow")), r.stdout
    assert backing_state(full.backing) == before
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    assert any("ROLLED BACK" in l and "[repaired]" in l
               for l in lines_about(r, "/d/grow")), r.stdout
    assert slot_bytes(p, new_slot) == bytes(rsutil.V2_SLOT)
    assert_clean(full)
    full.mount()
    try:
        assert rsutil.read_file(full.mnt / "d" / "grow") == \
            rsutil.pattern_bytes(rsutil.DEFAULT_BLOCK, 7)
    finally:
        full.unmount()


def test_damaged_newest_index_rolls_back(full):
    # More than 9 blocks: the index is a sealed blob in the data area.
    blocks = rsutil.V2_INLINE_ENTS + 1
    p, old_slot, old = older_header(full, blocks)
    new_slot = 1 - old_slot
    put_bytes(p, old_slot * rsutil.V2_SLOT, old)
    h = rsutil.v2_header(raw(p), new_slot)
    assert h["ninline"] == 0 and h["ix_len"] > 0, h
    rsutil.flip_byte(p, h["ix_off"] + 30)
    r = fsck(full)
    assert r.returncode == 1
    assert any("newest header (slot %d" % new_slot in l and "index" in l and "(EIO)" in l
               for l in lines_about(r, "/d/grow")), r.stdout
    full.mount()
    try:
        with pytest.raises(OSError) as e:
            rsutil.read_file(full.mnt / "d" / "grow")
        assert e.value.errno == errno.EIO
    finally:
        full.unmount()
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    assert any("ROLLED BACK" in l for l in lines_about(r, "/d/grow")), r.stdout
    assert_clean(full)
    full.mount()
    try:
        assert rsutil.read_file(full.mnt / "d" / "grow") == \
            rsutil.pattern_bytes(blocks * rsutil.DEFAULT_BLOCK, 7)
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
    # d/big: several blocks, never packed, so it has a header to destroy.
    x = full.paths["d/big"]
    ino = os.lstat(x).st_ino
    assert rsutil.is_v2(raw(x))
    rsutil.flip_byte(x, 20)                           # both slots' file id
    rsutil.flip_byte(x, rsutil.V2_SLOT + 20)
    r = fsck(full)
    assert r.returncode == 1
    assert any("file header missing or damaged" in l
               for l in lines_about(r, "/d/big")), r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    kept = full.backing / "lost+found" / ("#%d" % ino)
    assert kept.is_file() and os.lstat(kept).st_ino == ino
    r = assert_clean(full)
    assert "1 file(s) with a destroyed header" in r.stdout
    full.mount()
    try:
        assert not (full.mnt / "d" / "big").exists()
        assert rsutil.read_file(full.mnt / "d" / "a.txt") == rsutil.text_bytes(5000, 1)
    finally:
        full.unmount()


def test_damaged_spare_header_slot_is_zeroed(full):
    a = full.paths["d/big"]
    slots = rsutil.v2_slots(raw(a))
    assert len(slots) == 1, slots                    # at rest the other is zero
    spare = 1 - slots[0][0]
    rsutil.flip_byte(a, spare * rsutil.V2_SLOT + 45)
    r = fsck(full)
    assert r.returncode == 1
    assert any("header slot %d is damaged" % spare in l and "[--repair fixes this]" in l
               for l in lines_about(r, "/d/big")), r.stdout
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    assert slot_bytes(a, spare) == bytes(rsutil.V2_SLOT)
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


def test_older_xattr_blob_rebound(full):
    # A v2 header binds its file's attribute blob by its tag: an older copy
    # of the blob put back is refused (EIO) until --repair binds it.
    blobs = [b for b in (full.backing / "xattrs").iterdir() if b.name.startswith("66")]
    assert len(blobs) == 1, blobs                    # 'f': d/a.txt's
    blob = blobs[0]
    saved = raw(blob)
    full.mount()
    try:
        os.setxattr(full.mnt / "d" / "a.txt", "user.color", b"green")
    finally:
        full.unmount()
    assert raw(blob) != saved
    ensure_clean_totals(full)
    assert_clean(full)
    blob.write_bytes(saved)
    r = fsck(full)
    assert r.returncode == 1
    lines = lines_about(r, "/d/a.txt") + lines_about(r, "/hl")
    assert len(lines) == 1 and "not the ones its header names" in lines[0] and \
        "[--repair fixes this]" in lines[0], r.stdout
    full.mount()
    try:
        with pytest.raises(OSError) as e:
            os.getxattr(full.mnt / "d" / "a.txt", "user.color")
        assert e.value.errno == errno.EIO
    finally:
        full.unmount()
    r = fsck(full, "--repair")
    assert r.returncode == 0, r.stdout
    lines = lines_about(r, "/d/a.txt") + lines_about(r, "/hl")
    assert any("ROLLED BACK" in l and "[repaired]" in l for l in lines), r.stdout
    assert_clean(full)
    full.mount()
    try:
        assert os.getxattr(full.mnt / "d" / "a.txt", "user.color") == b"blue"
    finally:
        full.unmount()


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
