#!/usr/bin/env python3
"""Make the deliberately broken v3 golden store (packed small files,
docs/FORMAT.md "Packed small files") into a NEW directory: OUTDIR/store.tar
(one store, tests/golden/passphrase, one directory per attack on a pack or
a packed hint) and OUTDIR/expect (what reading each file must give, in the
format of tests/golden/v2-broken/expect).

    python3 tests/golden/make_v3_broken.py OUTDIR

From a fresh store: one file written through a mount without packing (its
v2 backing file saved), then small files written in several directories,
each directory's pack filled in a known order (statfs after each file lets
the packer finish), one file rewritten after it was packed; unmounted (which
packs what is queued), and then the packs and the packed hints damaged as an
attacker with write access to the backing directory would.  Next to each
damaged file, a file of the same pack that must still read.  The store is
kept as a tar with the backing files' attributes (a packed file IS its
56-byte hint; git would drop it).  Run only when deliberately making a new
store; it refuses to overwrite one."""
import hashlib
import os
import sys

import goldenlib as gl  # (the store made, mounted and kept as a tar)
import packlayout as pk  # (the packed hint, the pack)
import rsutil  # (mounts, processes, backing paths; goldenlib puts it on the path)
import v2layout as v2  # (the layout of v2 files)

from make_v2_broken import EXPECT_HEAD

# path in the mount -> (what was done, the expect lines)
CASES = {}


def settle(mnt):
    os.statvfs(mnt)   # the packer has dealt with every file closed so far


def build(tmp, store, mnt, mount, unmount):
    """Fill the store and damage it; the text of its expect file."""
    rnd = os.urandom
    text = rsutil.text_bytes
    # (e) first: a file that was never packed, its own v2 backing file
    mount("-o", "nopack")
    os.mkdir(mnt / "e")
    content = {"e/e_leftover_image.txt": b"this file was packed after this image was saved\n",
               "e/e_leftover_older.txt": b"the content of the image left in the backing file\n"}
    for rel, data in content.items():
        rsutil.write_file(mnt / rel, data)
    unmount()
    mount()
    image = {rel: rsutil.read_file(rsutil.backing_path(store, rel, mnt)) for rel in content}
    for raw in image.values():
        assert v2.is_v2(raw) and len(raw) > v2.DATA_START, len(raw)
    # the older one's content changes: its image holds what it had before
    content["e/e_leftover_older.txt"] = b"the packed content, which is what must be read\n"
    rsutil.write_file(mnt / "e/e_leftover_older.txt", content["e/e_leftover_older.txt"])

    # Each directory's pack in a known order: one file, then statfs.
    order = {
        "ctl": [("ctl/control.txt", b"an intact packed file\n"),
                ("ctl/control.bin", rnd(5000))],   # a chunked record
        "a": [("a/control.txt", text(1200, 1)), ("a/a_flipped.bin", rnd(3000)),
              ("a/control_after.txt", b"after the flipped record\n")],
        "b": [("b/b_rolled_back.bin", rnd(3000)), ("b/control.txt", b"beside b\n")],
        "c1": [("c1/donor.bin", rnd(3000))],
        "c2": [("c2/c_other_dir.bin", rnd(3000)), ("c2/control.txt", b"beside c\n")],
        "d": [("d/control_first.txt", text(2000, 2)), ("d/control_second.bin", rnd(2500)),
              ("d/d_cut.bin", rnd(3000))],
        "e": [("e/e_leftover_bytes.bin", rnd(2000))],
    }
    for d, files in order.items():
        os.makedirs(mnt / d, exist_ok=True)
        for rel, data in files:
            rsutil.write_file(mnt / rel, data)
            settle(mnt)
            content[rel] = data
    assert rsutil.read_file(mnt / "e/e_leftover_image.txt") == content["e/e_leftover_image.txt"]
    settle(mnt)    # the read's last close (and the rewrite's) noted them: packed now
    back = {rel: rsutil.backing_path(store, rel, mnt) for rel in content}
    pack = {d: pk.pack_of(rsutil.backing_path(store, d, mnt)) for d in order}
    for rel in content:
        assert pk.is_packed(back[rel]), rel
    # (b) packed, then rewritten with as many raw bytes: a new record of
    # the same length appended to the pack, the old one left dead
    rel = "b/b_rolled_back.bin"
    old_ref = pk.ref(back[rel])
    content[rel] = rnd(3000)
    rsutil.write_file(mnt / rel, content[rel])
    settle(mnt)
    for rel, data in content.items():
        assert rsutil.read_file(mnt / rel) == data, rel
    unmount()

    refs = {rel: pk.ref(b) for rel, b in back.items()}
    for rel, r in refs.items():
        assert os.path.getsize(back[rel]) == 0 and r["rec"] is not None, rel
    ok = lambda rel: "r ./%s OK %s" % (rel, hashlib.sha256(content[rel]).hexdigest())  # noqa: E731

    for rel in content:
        if "control" in rel or rel == "c1/donor.bin":
            CASES[rel] = ("control: packed in the pack of %s, not damaged"
                          % os.path.dirname(rel), [ok(rel)])
    CASES["c1/donor.bin"] = ("control: the file of c1/ whose record and hint (c) copies, "
                             "not damaged", [ok("c1/donor.bin")])

    # (a) one flipped byte in the ciphertext of a packed record.
    rel = "a/a_flipped.bin"
    off, n = pk.span(refs[rel])
    assert pk.span(refs["a/control_after.txt"])[0] == off + n
    rsutil.flip_byte(pack["a"], off + v2.NONCE + 1000)
    CASES[rel] = ("(a) one byte flipped in its record in a/.diriv (between two intact "
                  "records)", ["r ./%s EIO" % rel])

    # (b) the older record of the same file put where its current one is.
    rel = "b/b_rolled_back.bin"
    ooff, on = pk.span(old_ref)
    off, n = pk.span(refs[rel])
    assert on == n == pk.REC_OVERHEAD + 3000 and ooff != off, (old_ref, refs[rel])
    raw = rsutil.read_file(pack["b"])
    assert raw[ooff:ooff + on] != raw[off:off + n]
    rsutil.write_at(pack["b"], off, raw[ooff:ooff + on])
    CASES[rel] = ("(b) packed, rewritten (a new record of the same length, the old one "
                  "left dead in b/.diriv), then the old record copied over the new one; "
                  "accepted, it would read the content before the rewrite", ["r ./%s EIO" % rel])

    # (c) another directory's record and its hint: c1/donor.bin's record
    # (at offset 32 of c1's pack) copied over c2/c_other_dir.bin's (at
    # offset 32 of c2's pack) and c1/donor.bin's hint put on
    # c2/c_other_dir.bin: tag and offset match, only the binder (the
    # directory value) differs.
    rel = "c2/c_other_dir.bin"
    src = pk.span(refs["c1/donor.bin"])
    assert src == pk.span(refs[rel]) == (pk.START, pk.REC_OVERHEAD + 3000), src
    rsutil.write_at(pack["c2"], pk.START, rsutil.read_file(pack["c1"])[pk.START:sum(src)])
    os.setxattr(back[rel], pk.HINT_ATTR, pk.hint_of(back["c1/donor.bin"]))
    CASES[rel] = ("(c) the record of c1/donor.bin and its packed hint copied to "
                  "c2/c_other_dir.bin (same offset in c2's pack, same length): the tag "
                  "matches, the binder (c2's directory value) does not; accepted, it would "
                  "read c1/donor.bin's content", ["r ./%s EIO" % rel])

    # (d) the pack cut inside the last record.
    rel = "d/d_cut.bin"
    off, n = pk.span(refs[rel])
    assert off + n == os.path.getsize(pack["d"]), (off, n)
    assert all(sum(pk.span(refs[r])) <= off for r in ("d/control_first.txt",
                                                        "d/control_second.bin"))
    os.truncate(pack["d"], off + n // 2)
    CASES[rel] = ("(d) d/.diriv cut in the middle of its record, the last in the pack; "
                  "the records before the cut are intact", ["r ./%s EIO" % rel])

    # (e) leftover bytes in a packed file's backing file: a legal crash
    # state (a crash after the switch, before the truncate; docs/FORMAT.md
    # "Packing"), which nothing reads.
    rel = "e/e_leftover_image.txt"
    rsutil.write_file(back[rel], image[rel])
    CASES[rel] = ("(e) packed, and its backing file given back the v2 image it had before "
                  "it was packed (%d bytes; a crash between the switch and the truncate): "
                  "must read" % len(image[rel]), [ok(rel)])
    rel = "e/e_leftover_older.txt"
    rsutil.write_file(back[rel], image[rel])
    CASES[rel] = ("(e) packed after a rewrite, and its backing file given the valid v2 image "
                  "of its content before the rewrite (%d bytes): nothing reads leftovers, so "
                  "it must read the packed content, not the image's" % len(image[rel]),
                  [ok(rel)])
    rel = "e/e_leftover_bytes.bin"
    rsutil.write_file(back[rel], rnd(1500))
    CASES[rel] = ("(e) packed, and 1500 random bytes left in its backing file: must read",
                  [ok(rel)])
    for rel in ("e/e_leftover_image.txt", "e/e_leftover_older.txt", "e/e_leftover_bytes.bin"):
        assert pk.is_packed(back[rel]) and os.path.getsize(back[rel]) > 0, rel
    return gl.expect_text(EXPECT_HEAD, CASES)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_v3_broken.py OUTDIR")
    gl.make_store("make_v3_broken.py", sys.argv[1], "expect", build)
