"""The broken golden stores: each tests/golden/v*-broken/store.tar is one v2
store (tests/golden/passphrase) with one file per attack on its backing
files, made by the script its README entry names (tests/golden/README.md);
its expect file says what reading each must give.  v2-broken/ attacks whole
records, headers and xattr blobs; v2-chunked-broken/ attacks chunked
records (include/fh2rec.h), also at the granularity of a 4 KiB chunk;
v3-broken/ (store version 3) attacks packed small files: the records in a
directory's pack and the packed size hints (docs/FORMAT.md "Packed small
files"), and holds leftover bytes in packed files' backing files, a legal
crash state that must read.
Every expect line is checked on its own fresh copy and mount: the outcome
(EIO, or the intact content), and that an EIO is listed in
/.ragstore/errors as an integrity error while an intact read lists
nothing."""
import errno
import hashlib
import os

import pytest

import rsutil
from rsutil import run
from test_golden import GOLDEN, error_entries, golden_copy

BROKEN = GOLDEN / "v2-broken"
CHUNKED = GOLDEN / "v2-chunked-broken"
PACKED = GOLDEN / "v3-broken"
BROKEN_DIRS = sorted(p for p in GOLDEN.glob("v*-broken")
                     if (p / "store.tar").is_file() and (p / "expect").is_file())


def _expect(bdir):
    out = []
    for n, line in enumerate((bdir / "expect").read_text().splitlines(), 1):
        if line and not line.startswith("#"):
            out.append(pytest.param(bdir, line, id="%s:%d:%s" % (
                bdir.name, n, " ".join(line.split(" ")[:3]))))
    return out


EXPECT = [p for d in BROKEN_DIRS for p in _expect(d)]

# Attacks the current code does not detect (the outcome test) or detects
# without listing them in /.ragstore/errors (the listing test), keyed by
# the broken store's directory name and the path the expect line names.
NOT_DETECTED = {
    ("v2-broken", "./g_rolled_back_header_no_hint.bin"):
        "an older header whose records are all intact is refused only by the "
        "generation in the backing file's user.ragstore.h attribute; without "
        "the attribute it is taken, silently repaired into the hint, and the "
        "file reads its older content",
}
NOT_LISTED = dict(NOT_DETECTED)


def _mark(bdir, line, known):
    rel = line.split(" ")[1]
    if (bdir.name, rel) in known:
        return pytest.mark.xfail(strict=True, reason=known[(bdir.name, rel)])
    return None


@pytest.fixture
def mount_broken(ragstore_bin, tmp_path):
    """mount_broken(bdir): a fresh copy of broken store bdir, mounted;
    returns the mountpoint (unmounted at the end of the test)."""
    mounted = []

    def mount(bdir):
        backing = golden_copy(bdir, tmp_path / "copy")
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        r = run([ragstore_bin, "mount", "--passfile", GOLDEN / "passphrase", backing, mnt])
        mounted.append((mnt, rsutil.daemon_pids(mnt)))
        assert r.returncode == 0, r.stderr
        assert error_entries(mnt) == []
        return mnt

    yield mount
    problems = []
    for mnt, pids in mounted:
        problems += rsutil.unmount(mnt, pids or rsutil.daemon_pids(mnt))
    assert not problems


def _do(mnt, line):
    """Carry out the expect line; returns (outcome, what was seen)."""
    kind, rel, *rest = line.split(" ")
    p = mnt / rel
    try:
        if kind == "r":      # r PATH EIO | r PATH OK SHA256
            with open(p, "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
            want = rest[1] if rest[0] == "OK" else None
        elif kind == "x":    # x PATH NAME EIO | x PATH NAME OK HEX
            got = os.getxattr(p, rest[0]).hex()
            want = rest[2] if rest[1] == "OK" else None
        elif kind == "p":    # p PATH OFFSET LENGTH EIO | ... OK SHA256
            data = rsutil.pread_direct(p, int(rest[0]), int(rest[1]))
            assert len(data) == int(rest[1]), "short read: %d bytes" % len(data)
            got = hashlib.sha256(data).hexdigest()
            want = rest[3] if rest[2] == "OK" else None
        else:
            raise AssertionError("unknown expect line %r" % line)
    except OSError as e:
        return "EIO" if e.errno == errno.EIO else "errno %d" % e.errno, str(e)
    if want is None:
        return "a successful read", got
    return ("OK" if got == want else "other content"), got


def _params(known):
    out = []
    for p in EXPECT:
        mark = _mark(*p.values, known)
        out.append(pytest.param(*p.values, id=p.id, marks=[mark] if mark else []))
    return out


@pytest.mark.parametrize("bdir,line", _params(NOT_DETECTED))
def test_broken_outcome(mount_broken, bdir, line):
    outcome, seen = _do(mount_broken(bdir), line)
    want = "EIO" if line.endswith(" EIO") else "OK"
    assert outcome == want, "%s: got %s (%s)" % (line, outcome, seen)


@pytest.mark.parametrize("bdir,line", _params(NOT_LISTED))
def test_broken_errors_listed(mount_broken, bdir, line):
    rel = os.path.normpath(line.split(" ")[1])
    mnt = mount_broken(bdir)
    _do(mnt, line)
    ents = error_entries(mnt)
    if line.endswith(" EIO"):
        assert [e for e in ents if e[1] == "integrity"], "%s: nothing listed" % line
        assert all(e[1] == "integrity" and e[2] in ("/" + rel, "-") for e in ents), ents
    else:
        assert ents == [], ents


def _names(bdir):
    return {p.values[1].split(" ")[1] for p in EXPECT if p.values[0] == bdir}


def test_broken_stores_exist():
    assert BROKEN in BROKEN_DIRS and CHUNKED in BROKEN_DIRS and PACKED in BROKEN_DIRS, \
        BROKEN_DIRS


def test_broken_store_is_v2():
    """The attacks are on a descriptor-2 store of v2 files, each expect line
    names a file of it, and every attack has its expect line."""
    names = _names(BROKEN)
    assert names, "no tests/golden/v2-broken/expect"
    assert {n for n in names if not n.startswith("./control")} >= \
        {"./a_flipped_record.bin", "./b_rolled_back_block.bin",
         "./c_rolled_back_header.bin", "./d_rolled_back_xattrs.txt",
         "./e_truncated.bin", "./f_flipped_header.txt"}
    assert any(n.startswith("./control") for n in names)


def test_chunked_broken_store_is_chunked(tmp_path):
    """Every attack of v2-chunked-broken has its expect lines, at whole-file
    and at chunk granularity, and every file of it is made of chunked
    records (the attacks damage record bytes, never a header)."""
    names = _names(CHUNKED)
    assert {n for n in names if not n.startswith("./control")} == \
        {"./a_flipped_chunk.bin", "./b_flipped_tag_table.bin", "./c_older_chunk.bin",
         "./d_older_chunk_and_tag.bin", "./e_older_record.bin", "./f_cut_in_chunk.bin",
         "./g_swapped_chunks.bin", "./h_chunk_from_block_0.bin"}
    assert "./control.bin" in names
    for n in names:
        lines = [p.values[1] for p in EXPECT
                 if p.values[0] == CHUNKED and p.values[1].split(" ")[1] == n]
        assert any(ln.startswith("p ") and " OK " in ln for ln in lines), n
        if n != "./control.bin":
            assert "r %s EIO" % n in lines, n
            assert any(ln.startswith("p ") and ln.endswith(" EIO") for ln in lines), n
    backing = golden_copy(CHUNKED, tmp_path / "copy")
    count = 0
    for root, dirs, files in os.walk(backing / "root"):
        for f in files:
            if f.startswith("."):
                continue
            h = rsutil.v2_header(rsutil.read_file(os.path.join(root, f)))
            assert h["nents"] == 4 and all(
                e["algo"] == rsutil.V2_ALGO_CHUNKED for e in h["entries"]), (f, h)
            count += 1
    assert count == len(names)


def _packlayout():
    import sys
    sys.path.insert(0, str(GOLDEN))
    import packlayout
    return packlayout


def test_packed_broken_store_is_packed(tmp_path):
    """Every attack of v3-broken has its expect line, next to controls in
    the same packs, every file of it is packed (an empty backing file with
    the packed hint), and the leftover cases (e) do have bytes in their
    backing files."""
    pk = _packlayout()
    names = _names(PACKED)
    assert {n for n in names if "control" not in n and n != "./c1/donor.bin"} == \
        {"./a/a_flipped.bin", "./b/b_rolled_back.bin", "./c2/c_other_dir.bin",
         "./d/d_cut.bin", "./e/e_leftover_image.txt", "./e/e_leftover_older.txt",
         "./e/e_leftover_bytes.bin"}
    for d in ("a", "b", "c2", "d"):
        assert any(n.startswith("./%s/control" % d) for n in names), d
    lines = [p.values[1] for p in EXPECT if p.values[0] == PACKED]
    for n in names:
        want = "EIO" if n[2] in "abcd" and "control" not in n and "donor" not in n else "OK"
        assert any(ln.split(" ")[1] == n and ln.split(" ")[2] == want for ln in lines), n
    backing = golden_copy(PACKED, tmp_path / "copy")
    count, leftover = 0, 0
    for root, dirs, files in os.walk(backing / "root"):
        packed = pk.packed_files(root)
        for f in files:
            if f == pk.PACK_NAME:
                continue
            assert f in packed and packed[f]["rec"] is not None, f
            leftover += os.path.getsize(os.path.join(root, f)) > 0
            count += 1
    assert count == len(names) and leftover == 3, (count, leftover)


@pytest.mark.parametrize("bdir", BROKEN_DIRS, ids=lambda p: p.name)
def test_broken_store_descriptor(tmp_path, bdir):
    """Descriptor version 2 with every file v2, or (v3-broken) version 3
    with every file v2 or packed."""
    backing = golden_copy(bdir, tmp_path / "copy")
    conf = (backing / "ragstore.conf").read_text()
    version = 3 if bdir.name.startswith("v3") else 2
    assert "\nversion = %d\n" % version in conf and "plaintext_names = no" in conf
    pk = _packlayout()
    n = 0
    for root, dirs, files in os.walk(backing / "root"):
        for f in files:
            if not f.startswith("."):
                p = os.path.join(root, f)
                assert rsutil.is_v2(rsutil.read_file(p)) or \
                    (version == 3 and pk.is_packed(p)), f
                n += 1
    assert n == len(_names(bdir))
