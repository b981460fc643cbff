"""Confidentiality and integrity of the backing directory."""
import errno
import hashlib
import json
import os
import re
import stat

import pytest

import rsutil
from rsutil import pattern_bytes, pread_fresh, read_file, run, text_bytes, write_file

B = rsutil.DEFAULT_BLOCK
CHUNKED = 0x10              # algorithm of a chunked raw record (fh2rec.h)
REC = B + 40 * (B // 4096)  # chunked record of an incompressible full block
MARK = b"RAGSTORE-KNOWN-PLAINTEXT-7f3a9c1e: the distinctive line\n"


def _grep_backing(backing, needle):
    r = run(["grep", "-r", "-a", "-l", "-F", needle, backing])
    assert r.returncode in (0, 1), r.stderr
    return r.stdout.split("\n") if r.returncode == 0 else []


def test_layout_assumptions(store):
    """The v2 layout the corruption tests rely on (include/fh2.h): the newest
    header in slot 0 or 1 and the other slot zeros, an inline index (4
    blocks) whose entries locate each block's record (nonce || ciphertext),
    records packed back to back from 1024 up to the data end, which is the
    length of the backing file; incompressible blocks are chunked records
    (tag table, then 16 x nonce || ciphertext of 4 KiB)."""
    write_file(store.path("f"), pattern_bytes(4 * B, "lay"))
    bp = store.backing_path("f")
    store.unmount()
    raw = read_file(bp)
    assert raw[:4] == b"RSFH" and rsutil.is_v2(raw)
    h = rsutil.v2_header(raw)
    assert rsutil.v2_slot_bytes(raw, 1 - h["slot"]) == bytes(rsutil.V2_SLOT)
    assert (h["block_size"], h["size"], h["nents"], h["ninline"]) == (B, 4 * B, 4, 4)
    assert [e["block"] for e in h["entries"]] == [0, 1, 2, 3]
    for e in h["entries"]:
        # incompressible: stored raw in 4 KiB chunks
        assert (e["algo"], e["stored"], e["plain"]) == (CHUNKED, REC - rsutil.V2_NONCE, B), e
    spans = sorted(rsutil.v2_record(raw, i) for i in range(4))
    assert all(n == REC for _, n in spans), spans
    assert spans[0][0] == rsutil.V2_DATA_START
    for (o, n), (o2, _) in zip(spans, spans[1:]):
        assert o + n == o2, "records not back to back: %r" % spans
    assert spans[-1][0] + spans[-1][1] == h["data_end"] == len(raw)
    store.mount()


def test_no_plaintext_in_backing_compressible(store):
    text = MARK * (1024 * 1024 // len(MARK))
    write_file(store.path("plain.txt"), text)
    os.mkdir(store.path("sub"))
    write_file(store.path("sub/copy.txt"), text[:300000])
    store.unmount()
    for needle in (MARK.strip().decode(), "7f3a9c1e: the di",
                   "KNOWN-PLAINTEXT-"):
        hits = _grep_backing(store.backing, needle)
        assert not hits, "plaintext %r found in backing files %s" % (needle, hits)
    store.mount()
    assert read_file(store.path("plain.txt")) == text


def test_no_plaintext_in_backing_incompressible(store):
    # random data (stored uncompressed) with the marker embedded: still encrypted
    rnd = bytearray(pattern_bytes(2 * 1024 * 1024, "inc"))
    for k in range(0, len(rnd) - 100, 100003):
        rnd[k:k + len(MARK)] = MARK
    write_file(store.path("rnd.bin"), rnd)
    bp = store.backing_path("rnd.bin")
    store.unmount()
    hits = _grep_backing(store.backing, MARK.strip().decode())
    assert not hits, "plaintext found in %s" % hits
    # and no 32-byte run of the random data itself shows up raw
    raw = read_file(bp)
    for k in (0, B + 5, 7 * B + 1000):
        assert rnd[k + 200:k + 232] not in raw
    store.mount()
    assert read_file(store.path("rnd.bin")) == bytes(rnd)


def _four_block_file(store, name="f", seed="four"):
    data = pattern_bytes(4 * B, seed)
    write_file(store.path(name), data)
    return data


def _expect_eio(path, length, offset, what):
    with pytest.raises(OSError) as ei:
        got = pread_fresh(path, length, offset)
        raise AssertionError("%s: read succeeded, returned %d bytes (expected EIO)"
                             % (what, len(got)))
    assert ei.value.errno == errno.EIO, "%s: errno %s, expected EIO" % (
        what, ei.value.errno)


def _check_good_blocks(path, data, blocks):
    for i in blocks:
        got = pread_fresh(path, B, i * B)
        assert got == data[i * B:(i + 1) * B], "block %d wrong after tampering" % i


def _assert_listed(store, path, block):
    """/.ragstore/errors lists an integrity error of block of user path."""
    ents = rsutil.error_entries(store.mnt)
    assert ["integrity", path, str(block)] in [e[1:4] for e in ents], ents


def _assert_file_error_listed(store, path):
    """/.ragstore/errors lists an integrity error about the file as a whole
    (a header or index that does not authenticate).  The path may be "-":
    the open that finds it does not always know the user path."""
    ents = rsutil.error_entries(store.mnt)
    assert any(e[1] == "integrity" and e[2] in (path, "-") for e in ents), ents


def _check_block1_bad(store, data):
    p = store.path("f")
    _check_good_blocks(p, data, [0, 2, 3])
    _expect_eio(p, B, B, "read of block 1")
    _expect_eio(p, 10, 2 * B - 10, "read of the end of block 1")
    _expect_eio(p, 100, B - 50, "read spanning blocks 0-1")
    # one open descriptor: seek around the bad block
    fd = os.open(p, os.O_RDONLY)
    try:
        assert os.pread(fd, B, 3 * B) == data[3 * B:]
        with pytest.raises(OSError) as ei:
            os.pread(fd, 4096, B + 4096)
        assert ei.value.errno == errno.EIO
        assert os.pread(fd, B, 0) == data[:B]
        assert os.pread(fd, B, 2 * B) == data[2 * B:3 * B]
    finally:
        os.close(fd)
    # a whole-file read must fail, not return a short or altered file
    with pytest.raises(OSError) as ei:
        read_file(p)
    assert ei.value.errno == errno.EIO
    _assert_listed(store, "/f", 1)


@pytest.mark.parametrize("encryption", [True, False], ids=["encrypted", "no-encryption"])
def test_flipped_byte_is_eio(store_factory, encryption):
    """A flipped ciphertext byte of block 1's record."""
    s = store_factory(encryption=encryption)
    data = _four_block_file(s)
    bp = s.backing_path("f")
    s.unmount()
    rsutil.flip_byte(bp, rsutil.v2_ciphertext_offset(bp, 1) + 5)
    s.mount()
    _check_block1_bad(s, data)


@pytest.mark.parametrize("encryption,byte", [(True, 0), (True, 23), (False, 0)],
                         ids=["encrypted-first", "encrypted-last", "no-encryption"])
def test_flipped_nonce_byte_is_eio(store_factory, encryption, byte):
    """A changed nonce byte of a record (what v1's record prefix was) is
    detected too; without encryption the nonce is zeros and must stay so."""
    s = store_factory(encryption=encryption)
    data = _four_block_file(s)
    bp = s.backing_path("f")
    s.unmount()
    rsutil.flip_byte(bp, rsutil.v2_record_of(bp, 1)[0] + byte)
    s.mount()
    _check_block1_bad(s, data)


def test_flipped_byte_detected_after_drop_caches(store):
    """Same as above, but the mount stays up: only the page cache is dropped."""
    data = _four_block_file(store)
    os.sync()
    bp = store.backing_path("f")
    rsutil.flip_byte(bp, rsutil.v2_ciphertext_offset(bp, 1) + 5)
    rsutil.drop_caches()
    # the daemon may cache decrypted blocks; a remount is the reliable way
    # (covered above); here we only require: never *wrong* bytes.
    p = store.path("f")
    try:
        got = pread_fresh(p, B, B)
    except OSError as e:
        assert e.errno == errno.EIO
    else:
        assert got == data[B:2 * B], "tampered block returned wrong bytes"


def test_swapped_blocks_are_eio(store):
    """The records of blocks 0 and 1 (same length) trade places."""
    data = _four_block_file(store)
    bp = store.backing_path("f")
    store.unmount()
    raw = read_file(bp)
    (o0, n0), (o1, n1) = rsutil.v2_record(raw, 0), rsutil.v2_record(raw, 1)
    assert n0 == n1 == REC
    rsutil.write_at(bp, o0, raw[o1:o1 + n1])
    rsutil.write_at(bp, o1, raw[o0:o0 + n0])
    store.mount()
    p = store.path("f")
    _expect_eio(p, B, 0, "read of block 0 (swapped)")
    _expect_eio(p, B, B, "read of block 1 (swapped)")
    _check_good_blocks(p, data, [2, 3])
    _assert_listed(store, "/f", 0)
    _assert_listed(store, "/f", 1)


def test_block_moved_between_files_is_eio(store):
    """Block 1's record of file a copied over block 1's record of file b."""
    _four_block_file(store, "a", "aa")
    data_b = _four_block_file(store, "b", "bb")
    bpa, bpb = store.backing_path("a"), store.backing_path("b")
    store.unmount()
    raw_a = read_file(bpa)
    oa, na = rsutil.v2_record(raw_a, 1)
    ob, nb = rsutil.v2_record_of(bpb, 1)
    assert na == nb == REC
    rsutil.write_at(bpb, ob, raw_a[oa:oa + na])
    store.mount()
    p = store.path("b")
    _expect_eio(p, B, B, "block transplanted from another file")
    _check_good_blocks(p, data_b, [0, 2, 3])
    _assert_listed(store, "/b", 1)


@pytest.mark.parametrize("cut", ["last-record", "last-byte"])
def test_truncated_backing_file_is_eio(store, cut):
    """The backing file cut short (its last record, or only its last byte)
    is never read as a shorter file.  In v2 the header's data end no longer
    fits the file, so the whole file is refused: blocks before the cut may
    read as EIO too, but never as other bytes."""
    data = _four_block_file(store)
    bp = store.backing_path("f")
    store.unmount()
    raw = read_file(bp)
    last = rsutil.v2_record(raw, 3)[0]
    os.truncate(bp, last if cut == "last-record" else len(raw) - 1)
    store.mount()
    p = store.path("f")
    for i in range(3):
        try:
            got = pread_fresh(p, B, i * B)
        except OSError as e:
            assert e.errno == errno.EIO, "block %d: errno %d" % (i, e.errno)
        else:
            assert got == data[i * B:(i + 1) * B], "block %d wrong" % i
    _expect_eio(p, B, 3 * B, "read of the cut-off last block")
    _expect_eio(p, 10, 4 * B - 10, "read of the last bytes")
    # never silently a shorter file
    try:
        got = read_file(p)
    except OSError as e:
        assert e.errno == errno.EIO
    else:
        raise AssertionError("whole-file read of a truncated backing file "
                             "returned %d bytes without error" % len(got))


@pytest.mark.parametrize("how", ["zeros", "punch-hole"])
def test_zeroed_block_is_eio(store, how):
    """Block 1's record zeroed, or punched out (reads as zeros, no space)."""
    data = _four_block_file(store)
    bp = store.backing_path("f")
    store.unmount()
    off, n = rsutil.v2_record_of(bp, 1)
    if how == "zeros":
        rsutil.write_at(bp, off, bytes(n))
    else:
        rsutil.punch_hole(bp, off, n)
    assert read_file(bp)[off:off + n] == bytes(n)
    store.mount()
    _check_block1_bad(store, data)


# --------------------------------------------------------------------------
# format v2 attacks (issue 9): rollback, older header copies, damaged
# headers and index blobs, space

def _rewrite_block(store, data, block, new):
    """Write data as f (closed, unmounted: durable), keep a copy of its
    backing file, then through a new mount overwrite one block in place (dd
    conv=notrunc) and unmount.  Returns (backing path, the older backing
    bytes, the current backing bytes); the store is left unmounted."""
    write_file(store.path("f"), data)
    bp = store.backing_path("f")
    store.unmount()
    old = read_file(bp)
    src = store.base / "newblock"
    write_file(src, new)
    store.mount()
    run(["dd", "if=%s" % src, "of=%s" % store.path("f"), "bs=%d" % B,
         "seek=%d" % block, "count=1", "conv=notrunc", "status=none"], check=True)
    store.unmount()
    cur = read_file(bp)
    assert rsutil.v2_header(cur)["gen"] > rsutil.v2_header(old)["gen"]
    return bp, old, cur


@pytest.mark.parametrize("old_kind", ["same-length", "shorter"])
def test_rolled_back_block_is_eio(store, old_kind):
    """The older record of a block (from a saved copy of the backing file)
    put back where the current header's entry points: the entry holds the
    current record's tag, so the old record does not open.  same-length:
    random old and new block; shorter: the old block was text, its record
    (compressed) shorter than the current one."""
    data = bytearray(pattern_bytes(4 * B, "roll"))
    if old_kind == "shorter":
        data[B:2 * B] = text_bytes(B, 3)
    new = pattern_bytes(B, "roll-new")
    bp, old, cur = _rewrite_block(store, bytes(data), 1, new)
    (oo, on), (co, cn) = rsutil.v2_record(old, 1), rsutil.v2_record(cur, 1)
    assert old[oo:oo + on] != cur[co:co + cn]
    assert on == cn if old_kind == "same-length" else on < cn, (on, cn)
    rsutil.write_at(bp, co, old[oo:oo + on])
    store.mount()
    p = store.path("f")
    want = bytes(data[:B]) + new + bytes(data[2 * B:])
    _check_good_blocks(p, want, [0, 2, 3])
    _expect_eio(p, B, B, "read of the rolled-back block 1")
    with pytest.raises(OSError) as ei:
        read_file(p)
    assert ei.value.errno == errno.EIO
    _assert_listed(store, "/f", 1)


def test_rolled_back_header_is_eio(store):
    """The older newest header slot (from a saved copy) copied over the
    current newest slot: the file is refused, not served as the older
    version, not even the blocks that did not change since."""
    data = pattern_bytes(4 * B, "hdr")
    bp, old, cur = _rewrite_block(store, data, 1, pattern_bytes(B, "hdr-new"))
    cs = rsutil.v2_newest_slot(cur)
    rsutil.write_at(bp, cs * rsutil.V2_SLOT,
                    rsutil.v2_slot_bytes(old, rsutil.v2_newest_slot(old)))
    assert rsutil.v2_slot_bytes(cur, 1 - cs) == bytes(rsutil.V2_SLOT), \
        "the slot that is not the newest still holds a header: %r" % rsutil.v2_slots(cur)
    store.mount()
    p = store.path("f")
    with pytest.raises(OSError) as ei:
        got = read_file(p)
        raise AssertionError("read of the file under a rolled-back header returned "
                             "%d bytes (%s the older content)"
                             % (len(got), "exactly" if got == data else "not"))
    assert ei.value.errno == errno.EIO
    for i in (0, 2, 3):
        _expect_eio(p, B, i * B, "block %d (unchanged) under a rolled-back header" % i)
    _assert_file_error_listed(store, "/f")


def test_older_header_slot_zeroed(store):
    """At rest exactly one authenticated header exists: after a rewrite and
    close, and after each fsync or fdatasync of an open file, the slot that
    is not the newest is all zeros, so no older header can be fallen back
    to or rolled back to from inside the file."""
    def newest_gen(bp, what):
        raw = read_file(bp)
        n = rsutil.v2_newest_slot(raw)
        other = rsutil.v2_slot_bytes(raw, 1 - n)
        assert other == bytes(rsutil.V2_SLOT), \
            "%s: slot %d is not zeros (header generation %d is newest, the other " \
            "looks like %r)" % (what, 1 - n, rsutil.v2_header(raw)["gen"],
                                rsutil.v2_slots(raw))
        return rsutil.v2_header(raw)["gen"]

    p = store.path("f")
    data = bytearray(pattern_bytes(4 * B, "slots"))
    write_file(p, data)
    bp = store.backing_path("f")
    gen = newest_gen(bp, "after the first close")
    store.remount()  # the content is durable: the next header takes the other slot
    with open(p, "r+b") as f:
        f.seek(B)
        f.write(pattern_bytes(B, "slots-1"))
    data[B:2 * B] = pattern_bytes(B, "slots-1")
    g = newest_gen(bp, "after a rewrite and close")
    assert g > gen
    gen = g
    fd = os.open(p, os.O_RDWR)
    try:
        for k, sync in enumerate((os.fsync, os.fsync, os.fdatasync, os.fsync)):
            chunk = pattern_bytes(3000, "slots-sync-%d" % k)
            off = (k % 4) * B + 77
            os.pwrite(fd, chunk, off)
            data[off:off + len(chunk)] = chunk
            sync(fd)
            g = newest_gen(bp, "after %s #%d (descriptor open)" % (sync.__name__, k))
            assert g > gen
            gen = g
    finally:
        os.close(fd)
    newest_gen(bp, "after the close that followed the fsyncs")
    # A file created by this mount: its first fsync makes it durable, the
    # second writes the other slot.
    q = store.path("g")
    fd = os.open(q, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, pattern_bytes(2 * B, "g"))
        os.fsync(fd)
        bq = store.backing_path("g")
        newest_gen(bq, "new file, after its first fsync")
        os.pwrite(fd, b"again", 10)
        os.fsync(fd)
        newest_gen(bq, "new file, after its second fsync")
    finally:
        os.close(fd)
    store.unmount()
    newest_gen(bp, "after unmount")
    newest_gen(bq, "after unmount")
    store.mount()
    assert read_file(p) == bytes(data)


HEADER_BYTES = {"generation": 8, "size": 40, "data-end": 48, "xattr-binding": 96,
                "entry-offset": rsutil.V2_ENTS_AT + 8, "entry-tag": rsutil.V2_ENTS_AT + 24 + 5,
                "padding": 400, "nonce": 472, "tag": 511}


@pytest.mark.parametrize("history", ["fresh", "rewritten"])
@pytest.mark.parametrize("what", list(HEADER_BYTES))
def test_flipped_newest_header_byte_is_eio(store, history, what):
    """A flipped byte of the newest header slot of a file with data: EIO,
    with no fallback to an older header.  rewritten: after a remount, a
    small change to the text tail (too little dead space for a compaction),
    so an older header, had it been kept, would still find all its records
    and serve the older version."""
    data = bytearray(pattern_bytes(3 * B, "hflip") + text_bytes(1000, 5))
    write_file(store.path("f"), data)
    bp = store.backing_path("f")
    if history == "rewritten":
        store.remount()
        with open(store.path("f"), "r+b") as f:
            f.seek(3 * B + 10)
            f.write(b"rewritten")
        data[3 * B + 10:3 * B + 19] = b"rewritten"
    store.unmount()
    raw = read_file(bp)
    rsutil.flip_byte(bp, rsutil.v2_newest_slot(raw) * rsutil.V2_SLOT + HEADER_BYTES[what])
    store.mount()
    p = store.path("f")
    for i in (0, 3):
        _expect_eio(p, B, i * B, "block %d, newest header slot damaged (%s)" % (i, what))
    with pytest.raises(OSError) as ei:
        read_file(p)
    assert ei.value.errno == errno.EIO


BIG_BYTES = {"blob-nonce": 0, "blob-entry-6-tag": 24 + 6 * 40 + 24 + 3, "blob-last": -1,
             "header-ix-offset": "h64", "header-ix-tag": "h80"}


@pytest.mark.parametrize("what", list(BIG_BYTES))
def test_flipped_index_blob_byte_is_eio(store, what):
    """A file of 12 blocks has its index in a sealed blob (found through the
    header's ix_off/ix_len): a flipped byte of the blob, or of the header
    fields that locate and vouch for it, makes the file EIO (not only the
    block whose entry was hit)."""
    n = 12
    assert n > rsutil.V2_INLINE_ENTS
    data = bytearray(pattern_bytes(n * B, "blob"))
    write_file(store.path("f"), data)
    bp = store.backing_path("f")
    store.remount()
    with open(store.path("f"), "r+b") as f:   # a second index blob, a second slot
        f.seek(5 * B)
        f.write(pattern_bytes(B, "blob-5"))
    data[5 * B:6 * B] = pattern_bytes(B, "blob-5")
    store.unmount()
    raw = read_file(bp)
    h = rsutil.v2_header(raw)
    assert (h["nents"], h["ninline"]) == (n, 0)
    ix_off, ix_len = rsutil.v2_index_blob(raw)
    assert ix_len == rsutil.V2_NONCE + n * rsutil.V2_ENT_LEN
    assert rsutil.V2_DATA_START <= ix_off and ix_off + ix_len <= h["data_end"] == len(raw)
    at = BIG_BYTES[what]
    if isinstance(at, str):
        off = h["slot"] * rsutil.V2_SLOT + int(at[1:])
    else:
        off = ix_off + at if at >= 0 else ix_off + ix_len + at
    rsutil.flip_byte(bp, off)
    store.mount()
    p = store.path("f")
    for i in (0, 6, n - 1):
        _expect_eio(p, B, i * B, "block %d, index damaged (%s)" % (i, what))
    with pytest.raises(OSError) as ei:
        read_file(p)
    assert ei.value.errno == errno.EIO


@pytest.mark.parametrize("damage", ["header-byte", "cut", "index-blob-byte"])
def test_damaged_header_is_counted_and_listed(store, damage):
    """SPEC 3: the error is counted and reported, for a header or index
    that does not authenticate (or no longer fits the file) as for a block
    (docs/STATS.md: integrity_errors counts blocks, headers or names)."""
    n = 12 if damage == "index-blob-byte" else 4
    write_file(store.path("f"), pattern_bytes(n * B, "count"))
    bp = store.backing_path("f")
    store.unmount()
    raw = read_file(bp)
    if damage == "header-byte":
        rsutil.flip_byte(bp, rsutil.v2_newest_slot(raw) * rsutil.V2_SLOT + 40)
    elif damage == "cut":
        os.truncate(bp, len(raw) - 1)
    else:
        rsutil.flip_byte(bp, rsutil.v2_index_blob(raw)[0] + 30)
    store.mount()
    with pytest.raises(OSError) as ei:
        read_file(store.path("f"))
    assert ei.value.errno == errno.EIO
    with open(store.mnt / ".ragstore" / "stats") as f:
        assert json.load(f)["integrity_errors"] >= 1
    _assert_file_error_listed(store, "/f")


def test_backing_takes_what_it_holds(store):
    """Packed files (no sparse slots): the apparent size of BACKING is at
    most 1.1 times what it occupies, after a mixed tree (small files,
    compressible and random 5 MiB files, a sparse 100 MiB file); a file of
    2,000 bytes of text, a 1-byte and an empty file occupy at most one
    4 KiB block, and a directory of 40 small files a few blocks in all."""
    m = store.mnt
    os.mkdir(m / "small")
    for i in range(40):
        write_file(m / "small" / ("s%02d" % i), text_bytes(50 + 97 * i, i))
    write_file(m / "text.txt", text_bytes(5 << 20, 1))
    write_file(m / "random.bin", pattern_bytes(5 << 20, "du"))
    run(["truncate", "-s", "100M", m / "sparse"], check=True)
    fd = os.open(m / "sparse", os.O_WRONLY)
    try:
        for off in (0, (10 << 20) + 5, 50 << 20, (100 << 20) - 3000):
            os.pwrite(fd, text_bytes(2000, off), off)
    finally:
        os.close(fd)
    write_file(m / "t2000", text_bytes(2000, 2))
    write_file(m / "one", b"x")
    write_file(m / "empty", b"")
    names = ("t2000", "one", "empty", "sparse", "random.bin", "text.txt")
    bps = {n: store.backing_path(n) for n in names}
    small_dir = store.backing_path("small/s00").parent
    store.unmount()
    os.sync()
    apparent = int(run(["du", "-sb", store.backing], check=True).stdout.split()[0])
    occupied = int(run(["du", "-sB1", store.backing], check=True).stdout.split()[0])
    detail = {n: (os.stat(bps[n]).st_size, os.stat(bps[n]).st_blocks * 512) for n in names}
    assert apparent <= 1.1 * occupied, \
        "du -sb %d > 1.1 x du -sB1 %d (apparent, occupied: %r)" % (apparent, occupied, detail)
    occ = {n: d[1] for n, d in detail.items()}
    assert occ["t2000"] <= 4096, detail
    assert occ["one"] <= 4096 and occ["empty"] <= 4096, detail
    # Small files share their directory's pack (docs/FORMAT.md, "Packed
    # small files"): the 40 of small/ (50 to 3,833 bytes of text) take a
    # few blocks, not one each.
    small = int(run(["du", "-sB1", small_dir], check=True).stdout.split()[0])
    assert small <= 8 * 4096, "small/ occupies %d bytes" % small
    assert occ["sparse"] <= 64 * 1024, "holes take space: %r" % detail
    store.mount()
    assert os.stat(m / "sparse").st_size == 100 << 20
    assert read_file(m / "t2000") == text_bytes(2000, 2)


def test_wrong_passphrase_exit_3(store):
    store.unmount()
    conf = store.backing / "ragstore.conf"
    before = hashlib.sha256(conf.read_bytes()).hexdigest()
    bad = store.base / "badpass"
    bad.write_text("not the passphrase\n")
    r = run([store.bin, "mount", "--passfile", bad, store.backing, store.mnt],
            timeout=120)
    assert r.returncode == 3, "rc=%d stderr=%s" % (r.returncode, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not rsutil.is_mounted(store.mnt)
    assert hashlib.sha256(conf.read_bytes()).hexdigest() == before
    store.mount()


def test_non_store_dir_exit_4(ragstore_bin, tmp_path):
    pf = tmp_path / "pass"
    pf.write_text("x\n")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    for name, setup in (("empty", None), ("junk", "files")):
        d = tmp_path / name
        d.mkdir()
        if setup:
            write_file(d / "somefile", b"hello")
            (d / "root").mkdir()
        r = run([ragstore_bin, "mount", "--passfile", pf, d, mnt], timeout=60)
        assert r.returncode == 4, "%s: rc=%d stderr=%s" % (name, r.returncode, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not rsutil.is_mounted(mnt)


def test_garbage_descriptor_exit_4(store):
    store.unmount()
    (store.backing / "ragstore.conf").write_bytes(b"\x00\x01garbage\n[[[\n")
    r = run(store.mount_args(), timeout=60)
    assert r.returncode == 4, "rc=%d stderr=%s" % (r.returncode, r.stderr)
    assert r.stderr.strip()
    assert not rsutil.is_mounted(store.mnt)


def _edit_descriptor(store, key, value):
    conf = store.backing / "ragstore.conf"
    text = conf.read_text()
    new, n = re.subn(r"(?m)^(\s*%s\s*=\s*).*$" % re.escape(key),
                     lambda m: m.group(1) + value, text)
    assert n >= 1, "no %s line in ragstore.conf:\n%s" % (key, text)
    conf.write_text(new)
    return text


def test_descriptor_cipher_downgrade_refused(store):
    write_file(store.path("f"), b"secret data")
    store.unmount()
    _edit_descriptor(store, "cipher", "none")
    r = run(store.mount_args(), timeout=60)
    assert r.returncode != 0, "mount accepted a descriptor whose cipher was set to none"
    assert r.stderr.strip(), "no error message"
    assert not rsutil.is_mounted(store.mnt)
    # also with no passphrase at all (what an attacker would try)
    r = run([store.bin, "mount", store.backing, store.mnt], timeout=60)
    assert r.returncode != 0
    assert not rsutil.is_mounted(store.mnt)


def test_descriptor_block_size_change_refused(store):
    store.unmount()
    text = (store.backing / "ragstore.conf").read_text()
    key = "block_size" if re.search(r"(?m)^\s*block_size\s*=", text) else None
    if key is None:
        pytest.skip("descriptor has no block_size line")
    _edit_descriptor(store, key, "4096")
    r = run(store.mount_args(), timeout=60)
    assert r.returncode != 0, "changed authenticated field was accepted"
    assert not rsutil.is_mounted(store.mnt)


def test_no_encryption_roundtrip(store_factory):
    s = store_factory(encryption=False)
    data = pattern_bytes(3 * B + 99, "noenc")
    write_file(s.path("f"), data)
    os.mkdir(s.path("d"))
    write_file(s.path("d/t.txt"), MARK * 1000)
    s.remount()
    assert read_file(s.path("f")) == data
    assert read_file(s.path("d/t.txt")) == MARK * 1000


def test_descriptor_mode_0600(store):
    st = os.stat(store.backing / "ragstore.conf")
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert st.st_uid == os.getuid()


def test_descriptor_holds_no_passphrase(store):
    text = (store.backing / "ragstore.conf").read_bytes()
    assert rsutil.PASSPHRASE.encode() not in text
    assert b"correct horse" not in text


def test_shrunk_size_hint_is_eio(store):
    """The size hint on the backing file (what stat shows before an open) is
    never smaller than the size of the durable header whose generation it
    names: a smaller one was edited (EIO).  Of a file never synced, the hint
    names no durable header and a crash may leave it smaller: it is
    repaired at open, and the whole file reads (the kernel is told)."""
    data = pattern_bytes(3 * B, "hint")
    write_file(store.path("g"), data)
    gp = store.backing_path("g")
    write_file(store.path("f"), data)
    with open(store.path("f"), "rb+") as fh:
        os.fsync(fh.fileno())      # a sync point: the hint names this header
    bp = store.backing_path("f")
    store.unmount()
    w = os.getxattr(gp, "user.ragstore.h")
    assert int.from_bytes(w[11:19], "little") == 0
    os.setxattr(gp, "user.ragstore.h", (100).to_bytes(8, "little") + w[8:])
    store.mount()
    assert read_file(store.path("g")) == data
    assert int.from_bytes(os.getxattr(gp, "user.ragstore.h")[:8], "little") == len(data)
    store.unmount()
    v = os.getxattr(bp, "user.ragstore.h")
    assert int.from_bytes(v[11:19], "little") > 0
    assert int.from_bytes(v[:8], "little") == len(data)
    os.setxattr(bp, "user.ragstore.h", (100).to_bytes(8, "little") + v[8:])
    store.mount()
    with pytest.raises(OSError) as ei:
        read_file(store.path("f"))
    assert ei.value.errno == errno.EIO
    # an enlarged hint (as a crash can leave) is repaired at open
    store.unmount()
    os.setxattr(bp, "user.ragstore.h", (10 * B).to_bytes(8, "little") + v[8:])
    store.mount()
    assert read_file(store.path("f")) == data
    assert os.getxattr(bp, "user.ragstore.h") == v
