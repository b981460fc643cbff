"""Self-describing block contents for the crash test.

Block b of file f at version v: every 4096-byte page starts with a 32-byte tag
"F{f:03d}B{b:05d}V{v:010d}P{page:04d}" padded, and the rest of the page is
either the tag repeated (even files: compressible) or pseudo-random bytes
derived from (f, b, v, page) (odd files: incompressible)."""
import hashlib
import re

PAGE = 4096
TAG_RE = re.compile(rb"F(\d{3})B(\d{5})V(\d{10})P(\d{4})")


def tag(f, b, v, page):
    t = b"F%03dB%05dV%010dP%04d" % (f, b, v, page)
    return t + b"." * (31 - len(t)) + b"\n"


def page_bytes(f, b, v, page):
    t = tag(f, b, v, page)
    if f % 2 == 0:
        return t * (PAGE // 32)
    out = bytearray(t)
    ctr = 0
    while len(out) < PAGE:
        out += hashlib.blake2b(t + ctr.to_bytes(4, "little"), digest_size=64).digest()
        ctr += 1
    return bytes(out[:PAGE])


_cache = {}


def block_bytes(f, b, v, bs):
    key = (f, b, v, bs)
    if key not in _cache:
        if len(_cache) > 256:
            _cache.clear()
        _cache[key] = b"".join(page_bytes(f, b, v, p) for p in range(bs // PAGE))
    return _cache[key]


def identify(block, f, b, bs):
    """Return the version v if block is exactly block_bytes(f, b, v, bs), else
    a string describing what the pages hold."""
    m = TAG_RE.match(block[:32])
    if m and len(block) == bs:
        v = int(m.group(3))
        if (int(m.group(1)), int(m.group(2))) == (f, b) and \
                block == block_bytes(f, b, v, bs):
            return v
    desc = []
    for p in range(0, len(block), PAGE):
        pg = block[p:p + PAGE]
        m = TAG_RE.match(pg[:32])
        if not m:
            desc.append("page %d: %s" % (p // PAGE, "zeros" if not any(pg)
                                          else "garbage %r" % pg[:24]))
            continue
        ff, bb, vv, pp = (int(x) for x in m.groups())
        ok = pg == page_bytes(ff, bb, vv, pp)
        desc.append("page %d: f%d b%d v%d p%d%s" % (p // PAGE, ff, bb, vv, pp,
                                                   "" if ok else " (corrupt)"))
    return "; ".join(desc)
