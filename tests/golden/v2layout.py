"""The parts of a format v2 backing file (include/fh2.h, src/format/fh2.c)
that the golden-store scripts read without the key: the two 512-byte header
slots and, for a file of at most 8 blocks, the inline index in the slot.
Kept here, not in tests/integration/rsutil.py, so that the scripts that made
the committed stores describe the layout those stores have."""

SLOT = 512
DATA_START = 1024
INLINE_ENTS = 8
ENTS_AT = 128
ENT_LEN = 40
NONCE = 24


def slots(raw):
    """[(slot, generation)] of the slots with the v2 magic and version,
    newest first (unverified)."""
    out = []
    for i in (0, 1):
        s = raw[i * SLOT:(i + 1) * SLOT]
        if len(s) == SLOT and s[:4] == b"RSFH" and int.from_bytes(s[4:8], "little") == 2:
            out.append((i, int.from_bytes(s[8:16], "little")))
    return sorted(out, key=lambda t: -t[1])


def is_v2(raw):
    return bool(slots(raw))


def newest_slot(raw):
    s = slots(raw)
    assert s, "no v2 header slot"
    return s[0][0]


def slot_bytes(raw, slot):
    return raw[slot * SLOT:(slot + 1) * SLOT]


def header(raw, slot=None):
    """Fields of header slot slot (the newest when None); entries are the
    inline ones (none when the index is a sealed blob)."""
    if slot is None:
        slot = newest_slot(raw)
    s = slot_bytes(raw, slot)
    le = lambda a, b: int.from_bytes(s[a:b], "little")  # noqa: E731
    h = {"slot": slot, "gen": le(8, 16), "file_id": s[16:32], "block_size": le(32, 36),
         "algo": s[36], "flags": le(38, 40), "size": le(40, 48), "data_end": le(48, 56),
         "nents": le(56, 60), "ninline": le(60, 64), "ix_off": le(64, 72),
         "ix_len": le(72, 76), "entries": [],
         # bytes 448-451: (1, main algorithm, zlib level, zstd level), or
         # zeros in a header of a release before the usage summary
         "usage": tuple(s[448:452])}
    for i in range(h["ninline"]):
        e = s[ENTS_AT + ENT_LEN * i:ENTS_AT + ENT_LEN * (i + 1)]
        w = int.from_bytes(e[8:16], "little")
        h["entries"].append({
            "block": int.from_bytes(e[0:8], "little"), "off": w & ((1 << 48) - 1),
            "algo": (w >> 48) & 0xff, "stored": int.from_bytes(e[16:20], "little"),
            "plain": int.from_bytes(e[20:24], "little")})
    return h


def record(raw, block, slot=None):
    """(offset, length) of block's record (nonce and ciphertext) from the
    inline index; None for a hole."""
    h = header(raw, slot)
    assert h["ninline"] == h["nents"], "the index is a sealed blob"
    for e in h["entries"]:
        if e["block"] == block:
            return e["off"], NONCE + e["stored"]
    return None


# Chunked records (include/fh2rec.h, src/format/fh2rec.c), written by the
# stores of tests/golden/v2-chunked*: a raw block of more than CHUNK bytes
# is a table of TAG-byte tags, one per 4 KiB chunk, then each chunk as
# nonce || ciphertext; the entry's algorithm is ALGO_CHUNKED.
ALGO_CHUNKED = 0x10
CHUNK = 4096
TAG = 16


def nchunks(plain):
    return (plain + CHUNK - 1) // CHUNK


def chunked_stored(plain):
    """The entry's stored length of a chunked record of plain bytes."""
    return plain + nchunks(plain) * (TAG + NONCE) - NONCE


def chunk_at(plain, j):
    """Offset of chunk j (its nonce) inside a chunked record of plain
    bytes; chunk j's tag is at j * TAG."""
    return nchunks(plain) * TAG + j * (NONCE + CHUNK)


def entry(raw, block, slot=None):
    """The inline index entry of block (header()'s form), None for a hole."""
    h = header(raw, slot)
    assert h["ninline"] == h["nents"], "the index is a sealed blob"
    for e in h["entries"]:
        if e["block"] == block:
            return e
    return None
