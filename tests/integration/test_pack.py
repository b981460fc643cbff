"""Packed small files (store version 3, docs/FORMAT.md "Packed small files").

After the last close of a small regular file (one block, at most 8192
stored bytes, no user xattrs, one link) a background packer moves its
record into its directory's pack, the `.diriv` backing file (32 bytes of
directory value, then records).  The file's own backing file becomes empty
and its size hint (`user.ragstore.h`) takes the 56-byte packed form.
statfs waits until everything queued is packed, so the tests call
os.statvfs(mnt) (`settle`) before they look at BACKING; they never sleep.

Everything goes through the real mount with ordinary tools (cp -a, cat,
cmp, sha256sum, ls, dd, truncate, setfattr, ln, mv, du, diff).  Tampering
is done on BACKING while the store is unmounted.

RAGSTORE_IT_PACK_OPTS (e.g. "-o nopack") adds mount options to every mount
of a store these tests expect to pack: a way to check that each test fails
when packing is off."""
import errno
import os
import random
import signal
import stat
import subprocess
from pathlib import Path

import pytest

import rsutil
from rsutil import run

B = rsutil.DEFAULT_BLOCK
HINT = "user.ragstore.h"
PACK_HINT_LEN = 56
PACK_FORM = 0x50          # byte 19 of a packed hint
V2_HINT_LEN = 19
PACK_START = 32           # the first record in a pack, after the directory value
NONCE = rsutil.V2_NONCE   # a record is nonce || stored bytes
STORED_MAX = 8192
NOPACK = ["-o", "nopack"]
PACK_OPTS = os.environ.get("RAGSTORE_IT_PACK_OPTS", "").split()


# --------------------------------------------------------------------------
# helpers

def pack_store(store_factory, name="pack"):
    """A default (encrypted-names) store, mounted the way packing is on."""
    s = store_factory(name, mount=False)
    s.mount(PACK_OPTS)
    return s


def remount(s, opts=None):
    s.remount(PACK_OPTS if opts is None else opts)


def settle(s):
    """statfs waits for the packer to finish everything queued."""
    os.statvfs(s.mnt)


def hint(bp):
    return os.getxattr(str(bp), HINT, follow_symlinks=False)


def packed(bp):
    """True when the backing file bp holds a packed file: empty, no blocks,
    56-byte hint of the packed form."""
    st = os.lstat(bp)
    h = hint(bp)
    return (st.st_size == 0 and st.st_blocks == 0 and len(h) == PACK_HINT_LEN
            and h[19] == PACK_FORM)


def describe(bp):
    st = os.lstat(bp)
    try:
        h = hint(bp)
    except OSError as e:
        h = b"<%s>" % e.strerror.encode()
    return "size %d, %d blocks, hint of %d bytes%s" % (
        st.st_size, st.st_blocks, len(h),
        " (byte 19 = %#x)" % h[19] if len(h) > 19 else "")


def assert_packed(bp, what):
    assert packed(bp), "%s is not packed: its backing file has %s" % (what, describe(bp))


def assert_unpacked_v2(bp, what):
    """The v2 form: a header and the record in the file, the 19-byte hint."""
    raw = rsutil.read_file(bp)
    h = hint(bp)
    assert rsutil.is_v2(raw) and len(h) == V2_HINT_LEN, \
        "%s: backing file is not in its unpacked v2 form: %s" % (what, describe(bp))


def record_ref(bp):
    """(offset in the pack, record length) of packed backing file bp, from
    its hint: stored length le32 at 24, offset le64 at 32."""
    h = hint(bp)
    assert len(h) == PACK_HINT_LEN and h[19] == PACK_FORM, describe(bp)
    stored = int.from_bytes(h[24:28], "little")
    off = int.from_bytes(h[32:40], "little")
    assert off >= PACK_START and stored > 0, "no record in hint %s" % h.hex()
    return off, NONCE + stored


def backing_map(s):
    """{backing inode: backing path} of every entry under BACKING/root."""
    out = {}
    for root, dirs, files in os.walk(s.backing / "root"):
        for n in dirs + files:
            p = Path(root) / n
            out[os.lstat(p).st_ino] = p
    return out


def backing_of(s, rel, bmap=None):
    """Backing entry of the user path rel (through the mount's inode
    numbers, which are the backing ones)."""
    rel = str(rel).strip("/")
    if not rel:
        return s.backing / "root"
    if bmap is None:
        return s.backing_path(rel)
    return bmap[os.lstat(s.mnt / rel).st_ino]


def pack_of(s, reldir, bmap=None):
    return backing_of(s, reldir, bmap) / ".diriv"


def set_hint(bp, value):
    run(["setfattr", "-n", HINT, "-v", "0x" + value.hex(), bp], check=True)


def read_fails_eio(path):
    """cat of path fails with EIO, and so does a read() through Python."""
    r = run(["cat", path], stdout=subprocess.DEVNULL)
    assert r.returncode != 0 and "Input/output error" in r.stderr, \
        "cat %s: rc %d, stderr %r (expected EIO)" % (path, r.returncode, r.stderr)
    with pytest.raises(OSError) as e:
        got = rsutil.read_file(path)
        raise AssertionError("read of %s returned %d bytes, expected EIO" % (path, len(got)))
    assert e.value.errno == errno.EIO, "%s: errno %s" % (path, e.value.errno)


def assert_listed(s, relpath):
    ents = rsutil.error_entries(s.mnt)
    assert any(e[1] == "integrity" and e[2] == relpath for e in ents), \
        "/.ragstore/errors does not name %s: %r" % (relpath, ents)


def du(path, *flags):
    return int(run(["du", "-s"] + list(flags) + [path], check=True).stdout.split()[0])


def diff_r(a, b):
    r = run(["diff", "-r", "--no-dereference", a, b], timeout=600)
    assert r.returncode == 0, "diff -r %s %s:\n%s%s" % (a, b, r.stdout[-3000:], r.stderr[-1000:])


def cp_a(src, dst):
    run(["cp", "-a", str(src) + "/.", dst], check=True, timeout=600)


def small_text(rnd, seed):
    """Text of 1..20,000 bytes, most of it short (as in a source tree)."""
    n = rnd.choice([rnd.randint(1, 600), rnd.randint(1, 4000), rnd.randint(1, 20000)])
    return rsutil.text_bytes(n, seed)


def make_tree(root, ndirs, per_dir, seed=1, docs=True):
    """A tree of small files: ndirs directories of per_dir text files of
    1..20,000 bytes, some of them nested; specials/ with empty files, an
    all-zero file, a 1-byte file, small and large incompressible files,
    a file over one block, one with a user xattr and a hard-linked pair;
    and a few /usr/share/doc package directories when there.  mtimes are
    set to distinct nanosecond values.  Returns {relpath: expect} for the
    regular files: "packed", "unpacked" or None (no claim)."""
    root = Path(root)
    rnd = random.Random(seed)
    expect = {}
    for d in range(ndirs):
        dd = root / ("d%02d" % d) / ("sub" if d % 3 == 2 else "")
        dd.mkdir(parents=True, exist_ok=True)
        for i in range(per_dir):
            p = dd / ("f%03d.txt" % i)
            rsutil.write_file(p, small_text(rnd, seed * 1000003 + d * 1009 + i))
            expect[str(p.relative_to(root))] = "packed"
    sp = root / "specials"
    sp.mkdir()
    for n in ("empty0", "empty1", "empty2"):
        rsutil.write_file(sp / n, b"")
        expect["specials/" + n] = None
    rsutil.write_file(sp / "zeros", bytes(5000))
    expect["specials/zeros"] = None
    rsutil.write_file(sp / "one", b"1")
    expect["specials/one"] = "packed"
    rsutil.write_file(sp / "random-3000", rsutil.pattern_bytes(3000, "r3"))
    expect["specials/random-3000"] = "packed"      # stored raw, 3000 <= 8192
    rsutil.write_file(sp / "random-12000", rsutil.pattern_bytes(12000, "r12"))
    expect["specials/random-12000"] = "unpacked"   # stored raw, > 8192 bytes
    rsutil.write_file(sp / "two-blocks", rsutil.text_bytes(B + 100, 9))
    expect["specials/two-blocks"] = "unpacked"     # more than one block
    rsutil.write_file(sp / "with-xattr", rsutil.text_bytes(700, 10))
    os.setxattr(sp / "with-xattr", "user.note", b"keep me")
    expect["specials/with-xattr"] = "unpacked"     # has a user xattr
    rsutil.write_file(sp / "linked-a", rsutil.text_bytes(800, 11))
    os.link(sp / "linked-a", sp / "linked-b")
    expect["specials/linked-a"] = expect["specials/linked-b"] = "unpacked"
    if docs:
        for pkg in ("bash", "apt", "attr", "bzip2", "adduser"):
            src = Path("/usr/share/doc") / pkg
            if src.is_dir() and not src.is_symlink():
                run(["cp", "-a", src, root / ("doc-" + pkg)], check=True)
        for dirpath, _, files in os.walk(root):
            for n in files:
                p = Path(dirpath) / n
                rel = str(p.relative_to(root))
                if rel in expect:
                    continue
                st = os.lstat(p)
                if not stat.S_ISREG(st.st_mode):
                    continue
                # One block whose raw form already fits: packed for sure.
                small = 0 < st.st_size <= 8000 and st.st_nlink == 1 and \
                    not rsutil.list_user_xattrs(p)
                expect[rel] = "packed" if small else None
    t = 1_600_000_000_000_000_000 + 123_456_789
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for n in sorted(filenames) + sorted(dirnames):
            p = os.path.join(dirpath, n)
            t += 1_000_003_007
            os.utime(p, ns=(t, t), follow_symlinks=False)
    return expect


def check_packing(s, expect, limit=20):
    """Problems (strings) of files that should be packed and are not, or
    the other way round, after settle(s)."""
    bmap = backing_map(s)
    bad = []
    for rel, want in sorted(expect.items()):
        if want is None:
            continue
        bp = backing_of(s, rel, bmap)
        if packed(bp) != (want == "packed"):
            bad.append("%s: expected %s, backing file has %s" % (rel, want, describe(bp)))
    return bad[:limit] + (["... %d in all" % len(bad)] if len(bad) > limit else [])


def unpacked_everywhere(s):
    """Backing files under BACKING/root that are packed (should be none)."""
    out = []
    for root, dirs, files in os.walk(s.backing / "root"):
        for n in files:
            p = Path(root) / n
            if n != ".diriv" and stat.S_ISREG(os.lstat(p).st_mode) and packed(p):
                out.append(str(p))
    return out


# --------------------------------------------------------------------------
# 1. a tree of small files

@pytest.mark.slow
def test_tree_of_small_files_is_packed(store_factory, tmp_path):
    src = tmp_path / "src"
    expect = make_tree(src, ndirs=10, per_dir=60)
    s = pack_store(store_factory, "pack")
    n = store_factory("nopack", mount=False)
    n.mount(NOPACK)
    cp_a(src, s.mnt)
    cp_a(src, n.mnt)
    settle(s)
    settle(n)

    bad = check_packing(s, expect)
    assert not bad, "packing after cp -a and statfs:\n  " + "\n  ".join(bad)
    assert not unpacked_everywhere(n), "-o nopack packed files: %s" % unpacked_everywhere(n)[:5]
    # The packs are where the records went: the directories' .diriv grew.
    bmap = backing_map(s)
    assert os.lstat(pack_of(s, "d00", bmap)).st_size > PACK_START + 60 * NONCE

    packed_b1 = du(s.backing, "-B1")
    nopack_b1 = du(n.backing, "-B1")
    print("du -sB1: packed %d, nopack %d (%.3f)" % (packed_b1, nopack_b1,
                                                  packed_b1 / nopack_b1))
    assert packed_b1 <= 0.6 * nopack_b1, \
        "du -sB1 BACKING: %d packed, %d with -o nopack" % (packed_b1, nopack_b1)

    diff_r(src, s.mnt)
    diff_r(src, n.mnt)
    remount(s)
    diff_r(src, s.mnt)
    settle(s)
    bad = check_packing(s, expect)
    assert not bad, "packing after remount:\n  " + "\n  ".join(bad)


# --------------------------------------------------------------------------
# 2. reading packed files

def backing_files_state(s):
    """Size, mtime, content digest and hint of every entry under
    BACKING/root: a read must change none of it."""
    out = {}
    for root, dirs, files in os.walk(s.backing / "root"):
        for n in dirs + files:
            p = Path(root) / n
            st = os.lstat(p)
            e = (st.st_size, st.st_mtime_ns)
            if stat.S_ISREG(st.st_mode):
                e += (rsutil.file_digest(p),)
                if n != ".diriv":
                    e += (hint(p),)
            out[str(p)] = e
    return out


def ls_l(d):
    """`ls -l` of a directory, without the "total" line (blocks)."""
    r = run(["ls", "-l", "--time-style=+%s.%N", d], check=True,
            env=dict(os.environ, LC_ALL="C"))
    return [l for l in r.stdout.splitlines() if not l.startswith("total ")]


def test_read_packed_files(store_factory, tmp_path):
    src = tmp_path / "src"
    expect = make_tree(src, ndirs=3, per_dir=40, seed=2, docs=False)
    s = pack_store(store_factory)
    cp_a(src, s.mnt)
    settle(s)
    files = sorted(r for r, w in expect.items() if w == "packed")
    bad = check_packing(s, expect)
    assert not bad, "\n  ".join(bad)

    def stats_equal():
        for rel in expect:
            a, b = os.stat(src / rel), os.stat(s.mnt / rel)
            assert (b.st_size, b.st_mtime_ns) == (a.st_size, a.st_mtime_ns), \
                "%s: size/mtime %r, source %r" % (
                    rel, (b.st_size, b.st_mtime_ns), (a.st_size, a.st_mtime_ns))
        for d in ("d00", "d01", "d02/sub", "specials"):
            assert ls_l(s.mnt / d) == ls_l(src / d), "ls -l %s differs" % d

    stats_equal()                     # packing changed no size and no mtime
    remount(s)                        # cold: every read goes to the daemon
    before = backing_files_state(s)
    stats_equal()
    for rel in files[::7]:
        r = subprocess.run(["cat", str(s.mnt / rel)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        assert r.returncode == 0 and r.stdout == rsutil.read_file(src / rel), \
            "cat %s: rc %d %r" % (rel, r.returncode, r.stderr)
    for rel in files:
        r = run(["cmp", src / rel, s.mnt / rel])
        assert r.returncode == 0, "cmp %s: %s%s" % (rel, r.stdout, r.stderr)
    rels = sorted(expect)
    want = run(["sha256sum"] + rels, cwd=src, check=True).stdout
    got = run(["sha256sum"] + rels, cwd=s.mnt, check=True).stdout
    assert got == want
    settle(s)
    assert backing_files_state(s) == before, "reading packed files wrote to BACKING"
    stats_equal()                     # reading changed no mtime either
    bad = check_packing(s, expect)
    assert not bad, "after reading:\n  " + "\n  ".join(bad)


# --------------------------------------------------------------------------
# 3. writes to packed files

def test_writes_to_packed_files(store_factory, tmp_path):
    s = pack_store(store_factory)
    m = s.mnt
    (m / "w").mkdir()
    model = {
        "append": rsutil.text_bytes(3000, 1),
        "middle": rsutil.text_bytes(5000, 2),
        "shrink": rsutil.text_bytes(4000, 3),
        "grow": rsutil.text_bytes(2000, 4),
        "to-zero": rsutil.text_bytes(1500, 5),
        "xattr": rsutil.text_bytes(2500, 6),
        "random": rsutil.pattern_bytes(4000, 7),
        "held": rsutil.text_bytes(1000, 8),
    }
    for n, data in model.items():
        rsutil.write_file(m / "w" / n, data)
    settle(s)
    bmap = backing_map(s)
    bp = {n: backing_of(s, "w/" + n, bmap) for n in model}
    for n in model:
        assert_packed(bp[n], n)

    # Opening for writing unpacks first: the v2 form is back while it is open.
    with open(m / "w" / "held", "r+b") as f:
        assert_unpacked_v2(bp["held"], "held, open for writing")
        f.seek(100)
        f.write(b"HELD")
    model["held"] = model["held"][:100] + b"HELD" + model["held"][104:]

    run(["sh", "-c", 'printf "%s" "appended line\n" >> "$1"', "sh", m / "w" / "append"],
        check=True)
    model["append"] += b"appended line\n"
    patch = tmp_path / "patch"
    rsutil.write_file(patch, b"P" * 500)
    run(["dd", "if=%s" % patch, "of=%s" % (m / "w" / "middle"), "bs=500", "seek=3",
         "conv=notrunc", "status=none"], check=True)
    model["middle"] = model["middle"][:1500] + b"P" * 500 + model["middle"][2000:]
    run(["truncate", "-s", "1234", m / "w" / "shrink"], check=True)
    model["shrink"] = model["shrink"][:1234]
    run(["truncate", "-s", "9000", m / "w" / "grow"], check=True)
    model["grow"] += bytes(9000 - 2000)
    os.truncate(m / "w" / "to-zero", 0)          # truncate(2) by path, no open
    model["to-zero"] = b""
    run(["setfattr", "-n", "user.x", "-v", "hello", m / "w" / "xattr"], check=True)

    def check(when):
        for n, data in model.items():
            p = m / "w" / n
            assert os.stat(p).st_size == len(data), "%s %s: size" % (n, when)
            got = rsutil.read_file(p)
            assert got == data, "%s %s: %d bytes, expected %d%s" % (
                n, when, len(got), len(data),
                " (same length, content differs)" if len(got) == len(data) else "")
        r = run(["getfattr", "--only-values", "-n", "user.x", m / "w" / "xattr"])
        assert r.returncode == 0 and r.stdout == "hello", (when, r.stdout, r.stderr)

    check("after the writes")
    settle(s)
    check("after statfs")
    bmap = backing_map(s)
    bp = {n: backing_of(s, "w/" + n, bmap) for n in model}
    # After the last close the packer takes the small files again; a file
    # with a user xattr stays unpacked.
    for n in ("append", "middle", "shrink", "grow", "random", "held"):
        assert_packed(bp[n], n + " after its last close")
    assert not packed(bp["xattr"]), "a file with a user xattr was packed"
    assert_unpacked_v2(bp["xattr"], "xattr")

    remount(s)
    check("after remount")
    # A second round on the repacked files, from a cold mount.
    run(["sh", "-c", 'printf "%s" "again\n" >> "$1"', "sh", m / "w" / "append"], check=True)
    model["append"] += b"again\n"
    run(["dd", "if=%s" % patch, "of=%s" % (m / "w" / "random"), "bs=500", "seek=1",
         "conv=notrunc", "status=none"], check=True)
    model["random"] = model["random"][:500] + b"P" * 500 + model["random"][1000:]
    check("after the second writes")
    settle(s)
    check("after the second statfs")
    remount(s)
    check("after the second remount")


# --------------------------------------------------------------------------
# 4. links and renames

def nlink_settled(path, want):
    """st_nlink of path; an older name's cached attributes catch up within
    the attribute timeout (docs/FORMAT.md, "Attribute caching")."""
    import time
    deadline = time.time() + 2.5
    while True:
        n = os.stat(path).st_nlink
        if n == want or time.time() > deadline:
            return n
        time.sleep(0.1)


def test_links_and_renames_of_packed_files(store_factory):
    s = pack_store(store_factory)
    m = s.mnt
    (m / "x").mkdir()
    (m / "y").mkdir()
    data = {n: rsutil.text_bytes(1000 + 700 * i, 20 + i)
            for i, n in enumerate(("linked", "moved", "renamed", "stays"))}
    for n, d in data.items():
        rsutil.write_file(m / "x" / n, d)
    settle(s)
    bmap = backing_map(s)
    for n in data:
        assert_packed(backing_of(s, "x/" + n, bmap), n)

    run(["ln", m / "x" / "linked", m / "y" / "link"], check=True)
    run(["mv", m / "x" / "moved", m / "y" / "moved"], check=True)
    run(["mv", m / "x" / "renamed", m / "x" / "renamed-2"], check=True)
    want = {"x/linked": (data["linked"], 2), "y/link": (data["linked"], 2),
            "y/moved": (data["moved"], 1), "x/renamed-2": (data["renamed"], 1),
            "x/stays": (data["stays"], 1)}

    # link() unpacked it: both names are one backing inode in its v2 form.
    bl = s.backing_path("y/link")
    assert os.lstat(bl).st_nlink == 2
    assert_unpacked_v2(bl, "y/link")
    # rename into another directory unpacked it (its record was bound to x's pack)
    assert_unpacked_v2(s.backing_path("y/moved"), "y/moved")
    # a rename within the directory leaves it packed
    assert_packed(s.backing_path("x/renamed-2"), "x/renamed-2")

    def check(when):
        for rel, (d, nl) in want.items():
            got = rsutil.read_file(m / rel)
            assert got == d, "%s %s: %d bytes, expected %d" % (rel, when, len(got), len(d))
            assert nlink_settled(m / rel, nl) == nl, "%s %s: nlink %d, expected %d" % (
                rel, when, os.stat(m / rel).st_nlink, nl)
        for gone in ("x/moved", "x/renamed"):
            assert not os.path.lexists(m / gone), "%s %s still there" % (gone, when)

    check("right away")
    settle(s)
    check("after statfs")
    assert not packed(s.backing_path("x/linked")), "a file with two links was packed"
    remount(s)
    check("after remount")
    # Writing through one name shows through the other.
    run(["sh", "-c", 'printf "%s" "more\n" >> "$1"', "sh", m / "y" / "link"], check=True)
    want["x/linked"] = want["y/link"] = (data["linked"] + b"more\n", 2)
    check("after appending through the second name")
    os.unlink(m / "y" / "link")
    want["x/linked"] = (want["x/linked"][0], 1)
    del want["y/link"]
    check("after removing the second name")
    remount(s)
    check("after the second remount")


# --------------------------------------------------------------------------
# 5. tampering with packs (the store unmounted)

@pytest.mark.parametrize("where", ["nonce", "ciphertext", "last"])
def test_flipped_record_byte_is_eio(store_factory, where):
    s = pack_store(store_factory)
    m = s.mnt
    (m / "d").mkdir()
    rsutil.write_file(m / "d" / "victim", rsutil.text_bytes(6000, 30))
    rsutil.write_file(m / "d" / "neighbour", rsutil.text_bytes(7000, 31))
    settle(s)
    bv, bn = s.backing_path("d/victim"), s.backing_path("d/neighbour")
    pack = s.backing_path("d") / ".diriv"
    assert_packed(bv, "victim")
    assert_packed(bn, "neighbour")
    s.unmount()
    off, length = record_ref(bv)
    assert off + length <= os.lstat(pack).st_size
    at = {"nonce": off + 5, "ciphertext": off + NONCE + (length - NONCE) // 2,
          "last": off + length - 1}[where]
    assert at >= PACK_START
    rsutil.flip_byte(pack, at)
    remount_after_tamper(s)
    read_fails_eio(m / "d" / "victim")
    assert_listed(s, "/d/victim")
    assert rsutil.read_file(m / "d" / "neighbour") == rsutil.text_bytes(7000, 31)
    os.statvfs(m)
    assert rsutil.read_file(m / "d" / "neighbour") == rsutil.text_bytes(7000, 31)


def remount_after_tamper(s):
    s.mount(PACK_OPTS)


def test_rolled_back_record_is_eio(store_factory):
    """An older copy of the record put back at the place the hint names."""
    s = pack_store(store_factory)
    m = s.mnt
    (m / "d").mkdir()
    old, new = rsutil.pattern_bytes(3000, "old"), rsutil.pattern_bytes(3000, "new")
    rsutil.write_file(m / "d" / "f", old)
    rsutil.write_file(m / "d" / "other", rsutil.text_bytes(2000, 32))
    settle(s)
    bf, pack = s.backing_path("d/f"), s.backing_path("d") / ".diriv"
    assert_packed(bf, "f")
    s.unmount()
    off1, len1 = record_ref(bf)
    old_rec = rsutil.read_file(pack)[off1:off1 + len1]
    s.mount(PACK_OPTS)
    rsutil.write_file(m / "d" / "f", new)        # same length, stored raw
    settle(s)
    assert_packed(bf, "f, rewritten")
    s.unmount()
    off2, len2 = record_ref(bf)
    assert len2 == len1, "the rewritten record has another length (%d, %d)" % (len1, len2)
    print("record of f at %d, after the rewrite at %d" % (off1, off2))
    rsutil.write_at(pack, off1, old_rec)         # as the brief: the old place
    if off2 != off1:
        rsutil.write_at(pack, off2, old_rec)     # and the place the hint names now
    s.mount(PACK_OPTS)
    read_fails_eio(m / "d" / "f")
    assert_listed(s, "/d/f")
    assert rsutil.read_file(m / "d" / "other") == rsutil.text_bytes(2000, 32)


def test_record_copied_from_another_directory_is_eio(store_factory):
    """a's record and hint put in place of b's, b in another directory:
    the record is bound to its own pack (and offset)."""
    s = pack_store(store_factory)
    m = s.mnt
    (m / "d1").mkdir()
    (m / "d2").mkdir()
    rsutil.write_file(m / "d1" / "a", rsutil.pattern_bytes(2500, "a"))
    rsutil.write_file(m / "d2" / "b", rsutil.pattern_bytes(2500, "b"))
    rsutil.write_file(m / "d2" / "c", rsutil.text_bytes(2500, 33))
    settle(s)
    ba, bb = s.backing_path("d1/a"), s.backing_path("d2/b")
    p1, p2 = s.backing_path("d1") / ".diriv", s.backing_path("d2") / ".diriv"
    assert_packed(ba, "d1/a")
    assert_packed(bb, "d2/b")
    s.unmount()
    offa, lena = record_ref(ba)
    offb, lenb = record_ref(bb)
    assert lena == lenb
    ha = hint(ba)
    # b now points (hint) where its own record is, and that record is a's.
    set_hint(bb, ha[:32] + offb.to_bytes(8, "little") + ha[40:])
    rsutil.write_at(p2, offb, rsutil.read_file(p1)[offa:offa + lena])
    s.mount(PACK_OPTS)
    read_fails_eio(m / "d2" / "b")
    assert_listed(s, "/d2/b")
    assert rsutil.read_file(m / "d1" / "a") == rsutil.pattern_bytes(2500, "a")
    assert rsutil.read_file(m / "d2" / "c") == rsutil.text_bytes(2500, 33)


def test_hint_copied_from_another_directory_is_eio(store_factory):
    """The brief's variant: only the hint xattr of a packed file copied onto
    a packed file in another directory (setfattr on the backing file)."""
    s = pack_store(store_factory)
    m = s.mnt
    (m / "d1").mkdir()
    (m / "d2").mkdir()
    rsutil.write_file(m / "d1" / "a", rsutil.text_bytes(3000, 34))
    rsutil.write_file(m / "d2" / "b", rsutil.text_bytes(3000, 35))
    settle(s)
    ba, bb = s.backing_path("d1/a"), s.backing_path("d2/b")
    assert_packed(ba, "d1/a")
    assert_packed(bb, "d2/b")
    s.unmount()
    set_hint(bb, hint(ba))
    s.mount(PACK_OPTS)
    read_fails_eio(m / "d2" / "b")
    assert_listed(s, "/d2/b")
    assert rsutil.read_file(m / "d1" / "a") == rsutil.text_bytes(3000, 34)


def test_record_moved_to_another_offset_is_eio(store_factory):
    """f's record (and hint) copied over g's place in the same pack."""
    s = pack_store(store_factory)
    m = s.mnt
    (m / "d").mkdir()
    rsutil.write_file(m / "d" / "f", rsutil.pattern_bytes(2000, "f"))
    rsutil.write_file(m / "d" / "g", rsutil.pattern_bytes(2000, "g"))
    settle(s)
    bf, bg = s.backing_path("d/f"), s.backing_path("d/g")
    pack = s.backing_path("d") / ".diriv"
    assert_packed(bf, "f")
    assert_packed(bg, "g")
    s.unmount()
    offf, lenf = record_ref(bf)
    offg, leng = record_ref(bg)
    assert offf != offg and lenf == leng
    hf = hint(bf)
    set_hint(bg, hf[:32] + offg.to_bytes(8, "little") + hf[40:])
    rsutil.write_at(pack, offg, rsutil.read_file(pack)[offf:offf + lenf])
    s.mount(PACK_OPTS)
    read_fails_eio(m / "d" / "g")
    assert_listed(s, "/d/g")
    assert rsutil.read_file(m / "d" / "f") == rsutil.pattern_bytes(2000, "f")


# --------------------------------------------------------------------------
# 6. apparent size and allocation

@pytest.mark.slow
def test_apparent_size_within_allocation(store_factory, tmp_path):
    src = tmp_path / "src"
    expect = make_tree(src, ndirs=30, per_dir=100, seed=6, docs=False)
    s = pack_store(store_factory)
    cp_a(src, s.mnt)
    settle(s)
    bad = check_packing(s, expect)
    assert not bad, "\n  ".join(bad)
    apparent = du(s.backing, "-b")
    allocated = du(s.backing, "-B1")
    print("du -sb %d, du -sB1 %d: apparent/allocated %.3f" % (
        apparent, allocated, apparent / allocated))
    assert apparent <= 1.1 * allocated, (apparent, allocated)
    s.unmount()
    apparent, allocated = du(s.backing, "-b"), du(s.backing, "-B1")
    print("unmounted: du -sb %d, du -sB1 %d: %.3f" % (apparent, allocated,
                                                      apparent / allocated))
    assert apparent <= 1.1 * allocated, (apparent, allocated)
    s.mount(PACK_OPTS)
    diff_r(src, s.mnt)


# --------------------------------------------------------------------------
# 7. SIGKILL of the daemon

def kill_daemon(s):
    pids = rsutil.daemon_pids(s.mnt)
    assert len(pids) == 1, "expected one ragstore daemon for %s, found %s" % (s.mnt, pids)
    os.kill(pids[0], signal.SIGKILL)
    assert rsutil.wait_pids_exit(pids, 10)
    run(["fusermount3", "-uz", s.mnt])
    assert not rsutil.is_mounted(s.mnt)
    s.pids = []


def write_durable(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


@pytest.mark.parametrize("settled", [True, False], ids=["after-statfs", "packer-busy"])
def test_kill_after_sync(store_factory, settled):
    s = pack_store(store_factory)
    m = s.mnt
    model = {}
    for d in range(4):
        (m / ("c%d" % d)).mkdir()
        for i in range(50):
            rel = "c%d/f%02d" % (d, i)
            model[rel] = rsutil.text_bytes(100 + 97 * i, d * 100 + i)
            write_durable(m / rel, model[rel])
    run(["sync"], check=True)
    settle(s)
    bmap = backing_map(s)
    notp = [r for r in model if not packed(backing_of(s, r, bmap))]
    assert not notp, "not packed after fsync and statfs: %s" % notp[:10]
    # Round two on packed files: appends, rewrites, new files, all fsynced.
    for i in range(0, 50, 3):
        for d in range(4):
            rel = "c%d/f%02d" % (d, i)
            if i % 2:
                model[rel] += b"appended %d\n" % i
                write_durable(m / rel, b"appended %d\n" % i, "ab")
            else:
                model[rel] = rsutil.text_bytes(50 + 31 * i, 7000 + d * 100 + i)
                write_durable(m / rel, model[rel])
            rel = "c%d/new%02d" % (d, i)
            model[rel] = rsutil.text_bytes(200 + 13 * i, 9000 + d * 100 + i)
            write_durable(m / rel, model[rel])
    for d in range(4):
        fd = os.open(m / ("c%d" % d), os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(fd)
        os.close(fd)
    run(["sync"], check=True)
    if settled:
        settle(s)
    kill_daemon(s)
    s.mount(PACK_OPTS)
    problems = []
    for rel, data in sorted(model.items()):
        try:
            got = rsutil.read_file(m / rel)
        except OSError as e:
            problems.append("%s: %s" % (rel, e))
            continue
        if got != data:
            problems.append("%s: %d bytes, expected %d" % (rel, len(got), len(data)))
    assert not problems, "after SIGKILL:\n  " + "\n  ".join(problems[:30])
    assert rsutil.error_entries(m) == []
    settle(s)
    remount(s)
    for rel, data in sorted(model.items()):
        assert rsutil.read_file(m / rel) == data, rel


# --------------------------------------------------------------------------
# 8. fsck

def fsck(s, *args):
    return run([s.bin, "fsck", "--passfile", s.passfile] + list(args) + [s.backing],
               timeout=300)


def totals_settled(s):
    from test_fsck import totals_settled as ts
    ts(s.mnt)


def fsck_store(store_factory):
    s = pack_store(store_factory, "fsck")
    totals_settled(s)
    m = s.mnt
    (m / "d" / "sub").mkdir(parents=True)
    for i in range(20):
        rsutil.write_file(m / "d" / ("t%02d" % i), rsutil.text_bytes(100 + 500 * i, 40 + i))
    rsutil.write_file(m / "d" / "sub" / "x", b"x" * 1000)
    rsutil.write_file(m / "d" / "big", rsutil.pattern_bytes(3 * B, 41))
    rsutil.write_file(m / "top", b"top\n")
    settle(s)
    bmap = backing_map(s)
    for rel in ["d/t%02d" % i for i in range(20)] + ["d/sub/x", "top"]:
        assert_packed(backing_of(s, rel, bmap), rel)
    victim = s.backing_path("d/t07")
    s.unmount()
    return s, victim


def test_fsck_clean_with_packed_files(store_factory):
    s, _ = fsck_store(store_factory)
    r = fsck(s)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no problems found" in r.stdout, r.stdout
    assert "23 files" in r.stdout, r.stdout
    s.mount(PACK_OPTS)
    assert rsutil.read_file(s.mnt / "d" / "t07") == rsutil.text_bytes(100 + 3500, 47)


def test_fsck_reports_flipped_record_byte(store_factory):
    s, victim = fsck_store(store_factory)
    off, length = record_ref(victim)
    rsutil.flip_byte(victim.parent / ".diriv", off + NONCE + length // 3)
    r = fsck(s)
    assert r.returncode == 1, r.stdout + r.stderr
    bad = [l for l in r.stdout.splitlines() if l.startswith("/d/t07: ")]
    assert len(bad) == 1, r.stdout
    others = [l for l in r.stdout.splitlines() if l.startswith("/") and
              not l.startswith("/d/t07: ") and not l.startswith(str(s.backing))]
    assert not others, r.stdout
