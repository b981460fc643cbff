#!/usr/bin/env python3
"""Make the deliberately broken v2 golden store into a NEW directory:
OUTDIR/store.tar (one store, tests/golden/passphrase, one file per attack)
and OUTDIR/expect (what reading each file must give).

    python3 tests/golden/make_v2_broken.py OUTDIR

From a fresh store: write the files, unmount, save copies of backing files,
remount, change them, unmount, then damage the backing files as an attacker
with write access to the backing directory would.  The store is kept as a
tar with the backing files' attributes (the size hint names the header
generation; git would drop it).  Run only when deliberately making a new
store; it refuses to overwrite one."""
import hashlib
import os
import sys

import goldenlib as gl  # (the store made, mounted and kept as a tar)
import rsutil  # (mounts, processes, backing paths; goldenlib puts it on the path)
import v2layout as v2  # (the layout of the files)

BS = rsutil.DEFAULT_BLOCK

# path in the mount -> (what was done, the expect lines)
CASES = {}


def text(n, seed):
    return rsutil.text_bytes(n, seed)


EXPECT_HEAD = """\
# What reading each file of store.tar must give (tests/golden/README.md).
#   r PATH EIO             open or read of the whole file fails with EIO
#   r PATH OK SHA256       it reads, with that content
#   x PATH NAME EIO        getxattr NAME fails with EIO
#   x PATH NAME OK HEX     getxattr NAME gives that value
# Every EIO must also be listed in /.ragstore/errors as an integrity error
# (with this path, or - where the code does not know it); an OK leaves the
# list empty.
"""


def build(tmp, store, mnt, mount, unmount):
    """Fill the store and damage it; the text of its expect file."""
    mount()
    m = lambda rel: mnt / rel  # noqa: E731
    rnd = os.urandom
    plain = {
        "control.bin": rnd(150000),
        "control.txt": b"an intact small file",
        "a_flipped_record.bin": rnd(150000),
        "b_rolled_back_block.bin": rnd(150000),
        # c, g: three incompressible blocks and a compressible fourth, so
        # that rewriting the fourth frees too little for the close to
        # compact: the old records stay where the old header says.
        "c_rolled_back_header.bin": rnd(3 * BS) + text(30000, 1),
        "d_rolled_back_xattrs.txt": b"the state of this file is in user.state\n",
        "e_truncated.bin": rnd(150000),
        "f_flipped_header.txt": b"twenty bytes inline\n",
        "g_rolled_back_header_no_hint.bin": rnd(3 * BS) + text(30000, 2),
    }
    back = gl.write_files(store, mnt, plain)
    for rel in ("control.bin", "d_rolled_back_xattrs.txt"):
        os.setxattr(m(rel), "user.state", b"approved")
    blob = {rel: store / "xattrs" / ("66" + rsutil.read_file(back[rel])[16:32].hex())
            for rel in ("control.bin", "d_rolled_back_xattrs.txt")}
    unmount()

    old = gl.read_backing(back)
    old_blob = {rel: rsutil.read_file(p) for rel, p in blob.items()}
    for rel, raw in old.items():
        assert v2.is_v2(raw), rel

    # Change them (through the mount, as a user would).
    mount()
    now = dict(plain)
    for rel in ("control.bin", "b_rolled_back_block.bin"):
        new = rnd(BS)
        with open(m(rel), "r+b") as f:
            f.seek(BS)
            f.write(new)
        now[rel] = plain[rel][:BS] + new + plain[rel][2 * BS:]
    for i, rel in enumerate(("c_rolled_back_header.bin", "g_rolled_back_header_no_hint.bin")):
        new = text(30000, 10 + i)
        with open(m(rel), "r+b") as f:
            f.seek(3 * BS)
            f.write(new)
        now[rel] = plain[rel][:3 * BS] + new
    for rel in ("control.bin", "d_rolled_back_xattrs.txt"):
        os.setxattr(m(rel), "user.state", b"revoked")
    for rel, data in now.items():
        assert rsutil.read_file(m(rel)) == data, rel
    unmount()
    cur = gl.read_backing(back)
    ok = lambda rel: "r ./%s OK %s" % (rel, hashlib.sha256(now[rel]).hexdigest())  # noqa: E731

    CASES["control.bin"] = (
        "control: written, changed (block 1, user.state) like b and d, not damaged",
        [ok("control.bin"), "x ./control.bin user.state OK %s" % b"revoked".hex()])
    CASES["control.txt"] = ("control: a small inline file like f, not damaged",
                            [ok("control.txt")])

    # (a) one flipped byte in the ciphertext of block 1's record.
    rel = "a_flipped_record.bin"
    rsutil.flip_byte(back[rel], v2.record(cur[rel], 1)[0] + v2.NONCE + 1000)
    CASES[rel] = ("(a) one byte flipped in the record of block 1", ["r ./%s EIO" % rel])

    # (b) the older record of block 1 put where the current one is.
    rel = "b_rolled_back_block.bin"
    off, length = v2.record(cur[rel], 1)
    ooff, olength = v2.record(old[rel], 1)
    assert length == olength == v2.NONCE + BS, (length, olength)
    older = old[rel][ooff:ooff + olength]
    assert older != cur[rel][off:off + length]
    rsutil.write_at(back[rel], off, older)
    CASES[rel] = ("(b) block 1's record replaced by its older version (a valid record "
                  "of this file and block, older than the header's tag)", ["r ./%s EIO" % rel])

    # (c) the older header slot copied over the newest one.  The older
    # header is consistent with what is on disk (its records are intact):
    # only the generation in the size hint can tell it is old.
    for rel, strip in (("c_rolled_back_header.bin", False),
                       ("g_rolled_back_header_no_hint.bin", True)):
        oslot, nslot = v2.newest_slot(old[rel]), v2.newest_slot(cur[rel])
        oh, nh = v2.header(old[rel]), v2.header(cur[rel])
        assert oh["gen"] < nh["gen"] and oh["nents"] == nh["nents"] == 4, (oh, nh)
        rsutil.write_at(back[rel], nslot * v2.SLOT, v2.slot_bytes(old[rel], oslot))
        raw = rsutil.read_file(back[rel])
        assert v2.slots(raw) == [(nslot, oh["gen"])], v2.slots(raw)
        for e in oh["entries"]:
            span = slice(e["off"], e["off"] + v2.NONCE + e["stored"])
            assert raw[span] == old[rel][span], (rel, e)
        if strip:
            os.removexattr(back[rel], "user.ragstore.h")
    before = lambda rel: hashlib.sha256(plain[rel]).hexdigest()  # noqa: E731
    CASES["c_rolled_back_header.bin"] = (
        "(c) the header slot saved before the change (older generation, every record it "
        "names still intact) copied over the newest slot; the size hint is kept.  "
        "Accepted, it would read the content before the change, sha256 %s"
        % before("c_rolled_back_header.bin"),
        ["r ./c_rolled_back_header.bin EIO"])
    CASES["g_rolled_back_header_no_hint.bin"] = (
        "(g) as (c), and the backing file's user.ragstore.h attribute (the size hint, "
        "which names the header generation) removed.  Accepted, it would read the "
        "content before the change, sha256 %s" % before("g_rolled_back_header_no_hint.bin"),
        ["r ./g_rolled_back_header_no_hint.bin EIO"])

    # (d) the older xattr blob (user.state=approved) put back.
    rel = "d_rolled_back_xattrs.txt"
    assert rsutil.read_file(blob[rel]) != old_blob[rel]
    rsutil.write_file(blob[rel], old_blob[rel])
    CASES[rel] = ("(d) the xattr blob saved while user.state was approved put back after "
                  "it was set to revoked; the content is intact",
                  ["x ./%s user.state EIO" % rel, ok(rel)])

    # (e) the backing file cut in the middle of its last record.
    rel = "e_truncated.bin"
    last = max(v2.header(cur[rel])["entries"], key=lambda e: e["off"])
    end = last["off"] + v2.NONCE + last["stored"]
    assert end == len(cur[rel]), (end, len(cur[rel]))
    os.truncate(back[rel], last["off"] + (v2.NONCE + last["stored"]) // 2)
    CASES[rel] = ("(e) backing file cut in the middle of its last record (block %d)"
                  % last["block"], ["r ./%s EIO" % rel])

    # (f) one flipped byte in the header of a 20-byte inline file: the low
    # byte of the size (20 -> 78).
    rel = "f_flipped_header.txt"
    assert len(cur[rel]) <= 4096 and v2.header(cur[rel])["size"] == 20
    rsutil.flip_byte(back[rel], v2.newest_slot(cur[rel]) * v2.SLOT + 40)
    CASES[rel] = ("(f) 20-byte inline file, one byte of its header flipped (the size)",
                  ["r ./%s EIO" % rel])
    return gl.expect_text(EXPECT_HEAD, CASES)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_v2_broken.py OUTDIR")
    gl.make_store("make_v2_broken.py", sys.argv[1], "expect", build)
