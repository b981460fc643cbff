#!/usr/bin/env python3
"""Make the deliberately broken golden store of chunked records into a NEW
directory: OUTDIR/store.tar (one store, tests/golden/passphrase, one file
per attack on a chunked record) and OUTDIR/expect (what reading each file,
and ranges of it, must give), with the conventions of tests/golden/v2-broken/.

    python3 tests/golden/make_v2_chunked_broken.py OUTDIR

From a fresh store: write four blocks of random data into each file (so
every block is a chunked record, include/fh2rec.h), unmount, save the
backing files, remount, patch chunk 3 of block 1 by a 4 KiB write through
the mount, unmount, then damage the backing files as an attacker with write
access to the backing directory would.  Run only when deliberately making a
new store; it refuses to overwrite one."""
import hashlib
import os
import sys

import goldenlib as gl  # (the store made, mounted and kept as a tar)
import rsutil  # (mounts, processes, backing paths; goldenlib puts it on the path)
import v2layout as v2  # (the layout of the files)

B = rsutil.DEFAULT_BLOCK
CH = v2.CHUNK

# path in the mount -> (what was done, the expect lines)
CASES = {}

EXPECT_HEAD = """\
# What reading each file of store.tar must give (tests/golden/README.md).
#   r PATH EIO                   open or read of the whole file fails with EIO
#   r PATH OK SHA256             it reads, with that content
#   p PATH OFFSET LENGTH EIO     an O_DIRECT pread of that range fails with EIO
#   p PATH OFFSET LENGTH OK SHA256   it reads, with that content
# Every EIO must also be listed in /.ragstore/errors as an integrity error
# (with this path, or - where the code does not know it); an OK leaves the
# list empty.  Each file has four blocks of 64 KiB, each a chunked record of
# sixteen 4 KiB chunks; chunk 3 of block 1 was rewritten through the mount.
"""


NAMES = ("control.bin", "a_flipped_chunk.bin", "b_flipped_tag_table.bin",
         "c_older_chunk.bin", "d_older_chunk_and_tag.bin", "e_older_record.bin",
         "f_cut_in_chunk.bin", "g_swapped_chunks.bin", "h_chunk_from_block_0.bin")


def build(tmp, store, mnt, mount, unmount):
    """Fill the store and damage it; the text of its expect file."""
    mount()
    plain = {rel: os.urandom(4 * B) for rel in NAMES}
    back = gl.write_files(store, mnt, plain)
    unmount()
    old = gl.read_backing(back)

    # Chunk 3 of block 1 rewritten with dd through the mount.
    mount()
    now = {}
    for rel in NAMES:
        new = os.urandom(CH)
        gl.dd_patch(tmp, mnt / rel, B + 3 * CH, new)
        now[rel] = plain[rel][:B + 3 * CH] + new + plain[rel][B + 4 * CH:]
        assert rsutil.read_file(mnt / rel) == now[rel], rel
    unmount()
    cur = gl.read_backing(back)
    for rel in NAMES:
        h = v2.header(cur[rel])
        assert h["nents"] == 4 and all(
            (e["algo"], e["plain"], e["stored"]) == (v2.ALGO_CHUNKED, B, v2.chunked_stored(B))
            for e in h["entries"]), (rel, h)

    def rec(rel, raw=None, block=1):
        return v2.entry(cur[rel] if raw is None else raw, block)

    def chunk_off(e, j):
        return e["off"] + v2.chunk_at(e["plain"], j)

    def tag_off(e, j):
        return e["off"] + j * v2.TAG

    def rng(rel, block, j, n=CH):
        """p lines: the bytes [block * B + j * CH, + n)."""
        return block * B + j * CH, n

    def p_ok(rel, block, j, n=CH):
        off, n = rng(rel, block, j, n)
        return "p ./%s %d %d OK %s" % (rel, off, n,
                                       hashlib.sha256(now[rel][off:off + n]).hexdigest())

    def p_eio(rel, block, j, n=CH):
        off, n = rng(rel, block, j, n)
        return "p ./%s %d %d EIO" % (rel, off, n)

    def r_eio(rel):
        return "r ./%s EIO" % rel

    CASES["control.bin"] = (
        "control: written, chunk 3 of block 1 rewritten, not damaged",
        ["r ./control.bin OK %s" % hashlib.sha256(now["control.bin"]).hexdigest(),
         p_ok("control.bin", 1, 3), p_ok("control.bin", 1, 2, 2 * CH + 100)])

    # (a) one byte flipped in chunk 5's ciphertext: only chunk 5 fails, the
    # tag table still matches the entry.
    rel = "a_flipped_chunk.bin"
    rsutil.flip_byte(back[rel], chunk_off(rec(rel), 5) + v2.NONCE + 1000)
    CASES[rel] = ("(a) one byte flipped in the ciphertext of chunk 5 of block 1: that chunk "
                  "fails, the other chunks of the block still open",
                  [r_eio(rel), p_eio(rel, 1, 5), p_eio(rel, 1, 4, 2 * CH),
                   p_ok(rel, 1, 6), p_ok(rel, 1, 3), p_ok(rel, 0, 0, B), p_ok(rel, 2, 0, 2 * B)])

    # (b) one byte of the tag table (chunk 5's tag) flipped: the table no
    # longer matches the entry's digest, no chunk of the block opens.
    rel = "b_flipped_tag_table.bin"
    rsutil.flip_byte(back[rel], tag_off(rec(rel), 5) + 7)
    CASES[rel] = ("(b) one byte flipped in the tag table of block 1 (chunk 5's tag): no chunk "
                  "of block 1 opens",
                  [r_eio(rel), p_eio(rel, 1, 5), p_eio(rel, 1, 12), p_ok(rel, 0, 0, B),
                   p_ok(rel, 2, 0, 2 * B)])

    # (c) chunk 3 as it was before the rewrite (nonce and ciphertext, a
    # valid chunk of this file and block) put back into the current record.
    rel = "c_older_chunk.bin"
    o, e = rec(rel, old[rel]), rec(rel)
    older = old[rel][chunk_off(o, 3):chunk_off(o, 3) + v2.NONCE + CH]
    assert older != cur[rel][chunk_off(e, 3):chunk_off(e, 3) + v2.NONCE + CH]
    rsutil.write_at(back[rel], chunk_off(e, 3), older)
    CASES[rel] = ("(c) chunk 3 of block 1 replaced by its older version (before the 4 KiB "
                  "write): it fails against its tag in the table",
                  [r_eio(rel), p_eio(rel, 1, 3), p_ok(rel, 1, 4), p_ok(rel, 0, 0, B)])

    # (d) the older chunk 3 and its older tag: each authentic, but the
    # table is not the one the header's entry vouches for.
    rel = "d_older_chunk_and_tag.bin"
    o, e = rec(rel, old[rel]), rec(rel)
    rsutil.write_at(back[rel], chunk_off(e, 3),
                old[rel][chunk_off(o, 3):chunk_off(o, 3) + v2.NONCE + CH])
    rsutil.write_at(back[rel], tag_off(e, 3), old[rel][tag_off(o, 3):tag_off(o, 3) + v2.TAG])
    CASES[rel] = ("(d) chunk 3 of block 1 and its tag in the table put back as they were "
                  "before the 4 KiB write: the table no longer matches the header's entry",
                  [r_eio(rel), p_eio(rel, 1, 3), p_eio(rel, 1, 4), p_ok(rel, 0, 0, B)])

    # (e) the whole older record of block 1 (a valid chunked record of this
    # file and block) put where the current one is.
    rel = "e_older_record.bin"
    o, e = rec(rel, old[rel]), rec(rel)
    n = v2.NONCE + e["stored"]
    assert n == v2.NONCE + o["stored"]
    rsutil.write_at(back[rel], e["off"], old[rel][o["off"]:o["off"] + n])
    CASES[rel] = ("(e) block 1's chunked record replaced by its older version, whole",
                  [r_eio(rel), p_eio(rel, 1, 3), p_eio(rel, 1, 9), p_ok(rel, 3, 0, B)])

    # (f) the backing file cut inside the last chunk of its last record:
    # the chunks before the cut still open.
    rel = "f_cut_in_chunk.bin"
    last = max(v2.header(cur[rel])["entries"], key=lambda x: x["off"])
    assert last["off"] + v2.NONCE + last["stored"] == len(cur[rel])
    os.truncate(back[rel], chunk_off(last, 15) + v2.NONCE + 2000)
    b = last["block"]
    CASES[rel] = ("(f) backing file cut in the middle of chunk 15 of its last record (block "
                  "%d)" % b,
                  [r_eio(rel), p_eio(rel, b, 15), p_ok(rel, b, 14), p_ok(rel, b, 0),
                   p_ok(rel, (b + 1) % 4, 0, B)])

    # (g) chunks 2 and 7 of block 1 swapped, with their tags: each chunk
    # is bound to its index, and the table to the entry.
    rel = "g_swapped_chunks.bin"
    e = rec(rel)
    c2 = cur[rel][chunk_off(e, 2):chunk_off(e, 2) + v2.NONCE + CH]
    c7 = cur[rel][chunk_off(e, 7):chunk_off(e, 7) + v2.NONCE + CH]
    t2 = cur[rel][tag_off(e, 2):tag_off(e, 2) + v2.TAG]
    t7 = cur[rel][tag_off(e, 7):tag_off(e, 7) + v2.TAG]
    rsutil.write_at(back[rel], chunk_off(e, 2), c7)
    rsutil.write_at(back[rel], chunk_off(e, 7), c2)
    rsutil.write_at(back[rel], tag_off(e, 2), t7)
    rsutil.write_at(back[rel], tag_off(e, 7), t2)
    CASES[rel] = ("(g) chunks 2 and 7 of block 1 swapped, their tags in the table too",
                  [r_eio(rel), p_eio(rel, 1, 2), p_eio(rel, 1, 7), p_eio(rel, 1, 0),
                   p_ok(rel, 0, 0, B)])

    # (h) chunk 4 of block 0 (with its tag) copied over chunk 4 of block 1.
    rel = "h_chunk_from_block_0.bin"
    e0, e1 = rec(rel, block=0), rec(rel)
    rsutil.write_at(back[rel], chunk_off(e1, 4),
                cur[rel][chunk_off(e0, 4):chunk_off(e0, 4) + v2.NONCE + CH])
    rsutil.write_at(back[rel], tag_off(e1, 4), cur[rel][tag_off(e0, 4):tag_off(e0, 4) + v2.TAG])
    CASES[rel] = ("(h) chunk 4 of block 0 and its tag copied over chunk 4 of block 1",
                  [r_eio(rel), p_eio(rel, 1, 4), p_eio(rel, 1, 5), p_ok(rel, 0, 4),
                   p_ok(rel, 0, 0, B)])
    return gl.expect_text(EXPECT_HEAD, CASES)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_v2_chunked_broken.py OUTDIR")
    gl.make_store("make_v2_chunked_broken.py", sys.argv[1], "expect", build)
