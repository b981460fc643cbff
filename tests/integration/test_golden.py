"""Golden stores: stores written by earlier builds must still mount and read.

Every tests/golden/vN/ (and vN-KIND/, such as v2-chunked/, a store of
format N that holds a record kind added later) with a manifest holds a
backing directory made by that format version with tests/golden/passphrase,
as a tree (store/) or as a tar (store.tar, which keeps hard links and the
backing files' attributes), and a manifest of what it contains (see
tests/golden/README.md)."""
import hashlib
import os
import random
import re
import shutil

import pytest

import backingfs
import rsutil
from rsutil import REPO, run

GOLDEN = REPO / "tests" / "golden"
VERSIONS = sorted(p for p in GOLDEN.glob("v*")
                  if re.fullmatch(r"v[0-9]+(-[a-z]+)?", p.name) and (p / "manifest").is_file() and
                  ((p / "store").is_dir() or (p / "store.tar").is_file()))
CHUNKED = GOLDEN / "v2-chunked"


def golden_copy(version, dest, local=None):
    """A private copy of the golden store of directory version at dest (the
    test writes to it: mounting repairs hints, saves the totals).  With a
    backing filesystem (RAGSTORE_BACKING_FS), the copy is made in local
    first and copied to dest with what that filesystem keeps: contents,
    modes, hard links, and the size hints where it has user attributes
    (without them the store is read without its hints)."""
    if backingfs.kind() and local is not None:
        src = golden_copy(version, local)
        keep = "mode,links" + ("" if backingfs.lacks("user_xattr") else ",xattr")
        run(["cp", "-rP", "--preserve=" + keep, src, dest], check=True)
        return dest
    if (version / "store.tar").is_file():
        dest.mkdir()
        r = run(["tar", "-x", "-p", "--xattrs", "--xattrs-include=user.*",
                 "-f", version / "store.tar", "-C", dest], check=True)
        assert not r.stderr.strip(), r.stderr
        shutil.move(str(dest / "store"), str(dest / "backing"))
        return dest / "backing"
    shutil.copytree(version / "store", dest, symlinks=True)
    return dest


def error_entries(mnt):
    """/.ragstore/errors of the mount, each line split into its fields
    [time, kind, path, block, cause] (docs/STATS.md)."""
    text = (mnt / ".ragstore" / "errors").read_bytes().decode()
    return [ln.split("\t") for ln in text.splitlines()]


def _user_xattrs(p):
    return {n: os.getxattr(p, n, follow_symlinks=False)
            for n in os.listxattr(p, follow_symlinks=False)
            if n.startswith("user.")}


def _check_manifest(mnt, manifest):
    seen = set()
    files, links = set(), {}
    xattrs, codecs = {}, {}
    for line in manifest.read_text().splitlines():
        kind, rel, *rest = line.split(" ")
        p = mnt / rel
        rel = os.path.normpath(rel)
        seen.add(rel)
        if kind == "d":
            assert p.is_dir() and not p.is_symlink(), rel
        elif kind == "l":
            assert os.readlink(p) == rest[0], rel
        elif kind == "f":
            assert p.is_file() and not p.is_symlink(), rel
            assert p.stat().st_size == int(rest[0]), rel
            assert rsutil.file_digest(p) == rest[1], rel
            files.add(rel)
        elif kind == "x":      # x PATH NAME VALUE-HEX
            xattrs.setdefault(rel, {})[rest[0]] = bytes.fromhex(rest[1])
        elif kind == "h":      # h PATH OTHERPATH: one inode, two names
            links.setdefault(os.path.normpath(rest[0]), {os.path.normpath(rest[0])}).add(rel)
        elif kind == "c":      # c PATH COMPRESSION (user.ragstore.compression)
            codecs[rel] = rest[0]
        else:
            raise AssertionError("unknown manifest line %r" % line)
    found = set()
    for root, dirs, fnames in os.walk(mnt):
        for n in dirs + fnames:
            found.add(os.path.normpath(os.path.relpath(os.path.join(root, n), mnt)))
    assert found == seen
    # sshfs has no inode numbers or link counts of its own: the names of a
    # hard link read the same contents, as two files (docs/BACKING.md).
    if links and not backingfs.lacks("hardlink"):
        linked = set()
        for group in links.values():
            sts = {rel: os.lstat(mnt / rel) for rel in group}
            assert len({st.st_ino for st in sts.values()}) == 1, sts
            assert all(st.st_nlink == len(group) for st in sts.values()), sts
            linked |= group
        for rel in files - linked:
            assert os.lstat(mnt / rel).st_nlink == 1, rel
    if xattrs or codecs:
        # Every user attribute listed, none missing, none extra.
        for rel in seen:
            p = mnt / rel
            if p.is_symlink():
                continue
            want = dict(xattrs.get(rel, {}))
            if rel in codecs:
                want["user.ragstore.compression"] = codecs[rel].encode()
            assert _user_xattrs(p) == want, rel
        for rel, codec in codecs.items():
            assert os.getxattr(mnt / rel, "user.ragstore.compression") == codec.encode(), rel


@pytest.mark.parametrize("version", VERSIONS, ids=lambda p: p.name)
def test_golden_store_reads(ragstore_bin, tmp_path, backing_dir, version):
    if backingfs.kind() == "sshfs" and version.name == "v1":
        pytest.skip("sshfs reads no symlink target holding '..' or starting with '/' "
                    "(EPERM), and this plaintext-names store has such targets")
    if version.name.startswith("v3") and backingfs.lacks("user_xattr"):
        pytest.skip("a packed file is its size hint attribute (docs/FORMAT.md \"Packed "
                    "small files\"): a copy without user attributes loses its content")
    backing = golden_copy(version, backing_dir / "copy", tmp_path / "local")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    bad = tmp_path / "bad"
    bad.write_text("not the golden passphrase\n")
    r = run([ragstore_bin, "mount", "--passfile", bad, backing, mnt])
    assert r.returncode == 3, r.stderr
    r = run([ragstore_bin, "mount", "--passfile", GOLDEN / "passphrase", backing, mnt])
    pids = rsutil.daemon_pids(mnt)
    try:
        assert r.returncode == 0, r.stderr
        _check_manifest(mnt, version / "manifest")
        # Reading a golden store is not an error anywhere.
        assert error_entries(mnt) == []
    finally:
        problems = rsutil.unmount(mnt, pids or rsutil.daemon_pids(mnt))
    assert not problems


def test_golden_store_exists():
    assert VERSIONS, "no golden store under tests/golden/"
    assert {p.name for p in VERSIONS} >= {"v1", "v2", "v2-chunked", "v2-usage", "v3"}, VERSIONS


V3 = GOLDEN / "v3"


def test_golden_packed_layout(tmp_path):
    """v3 holds what it is for (tests/golden/make_v3.py): descriptor
    version 3; packed files (empty backing files whose size hint is the
    56-byte packed form, docs/FORMAT.md "Packed small files") in several
    directories, with and without a record, one a chunked record and one a
    compressed record near the pack limit, each record inside its
    directory's pack; unpacked v2 files beside them; and a pack with dead
    space."""
    import sys
    sys.path.insert(0, str(GOLDEN))
    import packlayout as pk
    backing = golden_copy(V3, tmp_path / "copy")
    conf = (backing / "ragstore.conf").read_text()
    assert "\nversion = 3\n" in conf and "plaintext_names = no" in conf, conf
    dirs, norec, chunked, near, unpacked, dead = 0, 0, 0, 0, 0, 0
    for root, subdirs, files in os.walk(backing / "root"):
        packed = pk.packed_files(root)
        dirs += bool(packed)
        dead += pk.dead_bytes(root) > 0
        for name, r in packed.items():
            assert os.path.getsize(os.path.join(root, name)) == 0, name
            if r["rec"] is None:
                norec += 1
                continue
            off, n = pk.span(r)
            assert off >= pk.START and off + n <= os.path.getsize(pk.pack_of(root)), r
            chunked += r["rec"]["algo"] == rsutil.V2_ALGO_CHUNKED
            near += 7800 < r["rec"]["stored"] <= pk.STORED_MAX
        for name in files:
            p = os.path.join(root, name)
            if name == pk.PACK_NAME or name.startswith(".N") or name in packed or \
                    os.path.islink(p):
                continue
            assert rsutil.is_v2(rsutil.read_file(p)), p
            assert len(pk.hint_of(p)) == pk.V2_HINT_LEN, p
            unpacked += 1
    assert dirs >= 4 and norec == 2 and chunked == 1 and near == 1 and dead == 1, \
        (dirs, norec, chunked, near, dead)
    assert unpacked >= 7, unpacked


def test_golden_chunked_layout(tmp_path):
    """v2-chunked holds what it is for: chunked records (include/fh2rec.h),
    in whole blocks and in short last blocks, beside whole records; each
    chunked entry has the stored length of its plain length."""
    backing = golden_copy(CHUNKED, tmp_path / "copy")
    chunked, short, whole, blobs = 0, 0, 0, 0
    for root, dirs, files in os.walk(backing / "root"):
        for f in files:
            if f.startswith("."):
                continue
            h = rsutil.v2_header(rsutil.read_file(os.path.join(root, f)))
            blobs += h["nents"] > h["ninline"]
            for e in h["entries"]:
                if e["algo"] == rsutil.V2_ALGO_CHUNKED:
                    assert e["plain"] > rsutil.V2_CHUNK, e
                    assert e["stored"] == rsutil.v2_chunked_stored(e["plain"]), e
                    chunked += 1
                    short += e["plain"] % rsutil.V2_CHUNK != 0
                else:
                    whole += 1
    assert chunked >= 15 and short >= 3 and whole >= 4 and blobs == 1, \
        (chunked, short, whole, blobs)


def test_golden_chunked_ranges(ragstore_bin, tmp_path, backing_dir):
    """Every file of v2-chunked read in ranges that reach the daemon as
    they are (O_DIRECT): each 4 KiB chunk, and ranges of random offset and
    length, agree with the whole file, whose sha256 the manifest has."""
    backing = golden_copy(CHUNKED, backing_dir / "copy", tmp_path / "local")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run([ragstore_bin, "mount", "--passfile", GOLDEN / "passphrase", backing, mnt])
    pids = rsutil.daemon_pids(mnt)
    rnd = random.Random(4096)
    try:
        assert r.returncode == 0, r.stderr
        for line in (CHUNKED / "manifest").read_text().splitlines():
            kind, rel, *rest = line.split(" ")
            if kind != "f":
                continue
            p = mnt / rel
            data = rsutil.read_file(p)
            assert hashlib.sha256(data).hexdigest() == rest[1], rel
            for off in range(0, len(data), rsutil.V2_CHUNK):
                assert rsutil.pread_direct(p, off, rsutil.V2_CHUNK) == \
                    data[off:off + rsutil.V2_CHUNK], (rel, off)
            for _ in range(20):
                off = rnd.randrange(len(data) + 1) if data else 0
                n = rnd.randint(1, 3 * rsutil.V2_CHUNK)
                assert rsutil.pread_direct(p, off, n) == data[off:off + n], (rel, off, n)
        assert error_entries(mnt) == []
    finally:
        problems = rsutil.unmount(mnt, pids or rsutil.daemon_pids(mnt))
    assert not problems


USAGE = GOLDEN / "v2-usage"


def test_golden_usage_counts(ragstore_bin, tmp_path):
    """v2-usage's headers record what their records are stored with: a
    totals rebuild (the saved totals removed) counts the random file and
    the mostly raw one as none, and an optimizer dry run under zstd:19
    finds exactly the files with zstd records at another level."""
    backing = golden_copy(USAGE, tmp_path / "copy")
    (backing / "ragstore.stats").unlink()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cfg = tmp_path / "p.ini"
    cfg.write_text("[defaults]\ncompression = zstd:19\n")
    r = run([ragstore_bin, "mount", "--passfile", GOLDEN / "passphrase", "--config", cfg,
             backing, mnt])
    pids = rsutil.daemon_pids(mnt)
    try:
        assert r.returncode == 0, r.stderr
        import json
        import time
        for _ in range(600):
            st = json.loads((mnt / ".ragstore/stats").read_text())
            if st["totals"]["state"] != "rebuilding":
                break
            time.sleep(0.1)
        assert st["totals"]["state"] == "rebuilt", st["totals"]
        files = {a: v["files"] for a, v in st["algorithms"].items()}
        # none: random.gz, mixed.bin, empty; lz4: lz4.log; zstd: the rest
        assert files == {"none": 3, "lz4": 1, "zlib": 0, "zstd": 4}, files
        (mnt / ".ragstore/control").write_text("optimize --dry-run\n")
        for _ in range(600):
            o = json.loads((mnt / ".ragstore/stats").read_text())["optimize"]
            if o["state"] == "done":
                break
            time.sleep(0.1)
        # text.txt, big.txt, mixed.bin (a zstd:1 block), levels.txt (two
        # levels); lz4.log has its own setting, text19.txt is at 19.
        assert o["state"] == "done" and o["files_rewritten"] == 4, o
        _check_manifest(mnt, USAGE / "manifest")
        assert error_entries(mnt) == []
    finally:
        problems = rsutil.unmount(mnt, pids or rsutil.daemon_pids(mnt))
    assert not problems
