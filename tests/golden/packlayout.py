"""The parts of a packed small file (store version 3, include/pack.h,
src/format/pack.c, docs/FORMAT.md "Packed small files") that the golden-store
scripts and tests read without the key: the 56-byte packed form of the size
hint `user.ragstore.h` of the (empty) backing file, and where its record
lies in the directory's pack, the value file `.diriv`.  Kept beside
v2layout.py so that the scripts that made the committed stores describe the
layout those stores have."""
import os

HINT_ATTR = "user.ragstore.h"
HINT_LEN = 56        # PACK_HINT_LEN
FORM_AT = 19
FORM = 0x50          # PACK_FORM
START = 32           # PACK_START: the directory value comes first
STORED_MAX = 8192    # PACK_STORED_MAX
NO_RECORD = 0xFF     # record algorithm of a packed file without record
V2_HINT_LEN = 19     # the ordinary hint of a v2 file
PACK_NAME = ".diriv"
REC_OVERHEAD = 24    # a record's bytes on disk are 24 + its stored length


def hint_of(path):
    """The raw size hint of a backing file (b"" when it has none)."""
    try:
        return os.getxattr(path, HINT_ATTR, follow_symlinks=False)
    except OSError:
        return b""


def is_packed_hint(h):
    return len(h) == HINT_LEN and h[FORM_AT] == FORM


def is_packed(path):
    return is_packed_hint(hint_of(path))


def decode(h):
    """The fields of a packed hint (docs/FORMAT.md's table); "rec" is None
    for a file without record, else its algorithm, lengths, offset in the
    pack and tag."""
    assert is_packed_hint(h), "not a packed hint: %r" % h
    le = lambda a, b: int.from_bytes(h[a:b], "little")  # noqa: E731
    r = {"size": le(0, 8), "flags": le(8, 10), "acct_algo": h[10], "gen": le(11, 19),
         "block_size": 1 << h[20], "algo": h[21], "level": h[22], "rec": None}
    if h[23] == NO_RECORD:
        assert h[24:] == bytes(HINT_LEN - 24), "a packed hint without record has zeros"
    else:
        r["rec"] = {"algo": h[23], "stored": le(24, 28), "plain": le(28, 32),
                    "off": le(32, 40), "tag": h[40:56]}
    return r


def ref(path):
    return decode(hint_of(path))


def span(r):
    """(offset, length) of the record of decoded hint r in its pack."""
    rec = r["rec"]
    assert rec is not None, "no record"
    return rec["off"], REC_OVERHEAD + rec["stored"]


def pack_of(backing_dir):
    """The pack (value file) of a backing directory."""
    return os.path.join(backing_dir, PACK_NAME)


def packed_files(backing_dir):
    """{backing name: decoded hint} of the packed files of a backing
    directory (a long name's entry `.L...` is one of them; the value file,
    side files `.N...` and temporary files are not)."""
    out = {}
    for n in sorted(os.listdir(backing_dir)):
        p = os.path.join(backing_dir, n)
        if n == PACK_NAME or n.startswith((".N", ".tmp")) or \
                not os.path.isfile(p) or os.path.islink(p):
            continue
        h = hint_of(p)
        if is_packed_hint(h):
            out[n] = decode(h)
    return out


def dead_bytes(backing_dir):
    """The pack's bytes after the directory value that no packed file of
    the directory names (dead space, docs/FORMAT.md "Space, and
    compaction")."""
    live = sum(span(r)[1] for r in packed_files(backing_dir).values() if r["rec"])
    return os.path.getsize(pack_of(backing_dir)) - START - live
