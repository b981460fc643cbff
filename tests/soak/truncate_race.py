#!/usr/bin/env python3
"""Reproducer of a known bug (found by soak.py, present since before format
chunked records and the block cache: it reproduces with the binary of git
77d3c40 too): a truncate by path that follows close() of the same file can
be lost when several processes work at once.

usage: tests/soak/truncate_race.py MNT [SECONDS]

Four processes each, over and over, write a file (open "wb", write, close),
then modify it: overwrite part of it, or truncate it by path (os.truncate)
and sometimes grow it again, comparing its content with a model after every
step.  On this 2-core VM one of them reports a mismatch within a minute: the
bytes after a truncate point come back (the shrink is lost), or the size is
wrong.  With a 10 ms pause between close() and the truncate no mismatch is
seen (4 x 1200 cycles), so it is a race between the asynchronous FUSE
RELEASE of the closed handle and the SETATTR of the truncate.  After a
mismatch the daemon itself reports the wrong size (user.ragstore.logical_size
and stat agree, also 1.5 s later): the update is lost in the daemon, not
cached wrongly by the kernel.  Exit 1 on a mismatch, 0 if none was seen."""
import multiprocessing
import os
import random
import sys
import time

TEXT = b"".join(b"line %06d of the truncate race reproducer: some words\n" % i
                for i in range(3000))


def worker(mnt, seed, deadline, out):
    rnd = random.Random(seed)
    it = 0
    while time.time() < deadline:
        p = os.path.join(mnt, "race-%d-%d" % (seed, it % 7))
        data = bytearray(TEXT[:rnd.randrange(1, len(TEXT))])
        log = ["create %d" % len(data)]
        with open(p, "wb") as f:
            f.write(data)
        for _ in range(rnd.randrange(1, 6)):
            if rnd.random() < 0.5:
                off = rnd.randrange(len(data) + 1)
                new = os.urandom(rnd.randrange(1, 70000))
                with open(p, "r+b") as f:
                    f.seek(off)
                    f.write(new)
                data[off:off + len(new)] = new
                log.append("write %d at %d" % (len(new), off))
            else:
                cut = rnd.randrange(len(data) + 1)
                os.truncate(p, cut)
                del data[cut:]
                log.append("truncate to %d" % cut)
                if rnd.random() < 0.5:
                    os.truncate(p, cut + 100000)
                    data += bytes(100000)
                    log.append("grow to %d" % (cut + 100000))
            with open(p, "rb") as f:
                got = f.read()
            if got != bytes(data):
                at = next((k for k in range(min(len(got), len(data))) if got[k] != data[k]),
                          min(len(got), len(data)))
                out.put("worker %d cycle %d: %s: read %d bytes, want %d, first difference at %d"
                        % (seed, it, "; ".join(log), len(got), len(data), at))
                return
        it += 1
    out.put(None)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    mnt, secs = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 60
    out = multiprocessing.Queue()
    deadline = time.time() + secs
    ps = [multiprocessing.Process(target=worker, args=(mnt, i, deadline, out)) for i in range(4)]
    for p in ps:
        p.start()
    results = [out.get() for _ in ps]
    for p in ps:
        p.join()
    bad = [r for r in results if r]
    for r in bad:
        print(r)
    print("mismatch" if bad else "no mismatch in %.0f s" % secs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
