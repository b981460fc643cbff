#!/usr/bin/env python3
"""Fallback 4 KiB random-I/O IOPS meter for bench/run.sh when fio is missing.

usage: randio.py read|write FILE SECONDS [--direct]

Issues single-threaded, queue-depth-1 pread/pwrite calls of 4 KiB at random
4 KiB-aligned offsets within FILE (which must already exist) for SECONDS and
prints the IOPS as one number.  With --direct the file is opened O_DIRECT
(buffers are page-aligned via mmap); if the filesystem refuses O_DIRECT the
helper exits 3 so the caller can retry buffered.  Writes use incompressible
random data and the file is fsync()ed before the clock stops.
"""
import mmap
import os
import random
import sys
import time

BS = 4096


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[1] not in ("read", "write"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, path, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
    direct = "--direct" in sys.argv[4:]
    flags = os.O_RDONLY if mode == "read" else os.O_RDWR
    if direct:
        flags |= getattr(os, "O_DIRECT", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        print(f"randio: open {path}: {e}", file=sys.stderr)
        return 3 if direct else 1
    nblocks = os.fstat(fd).st_size // BS
    if nblocks < 1:
        print("randio: file too small", file=sys.stderr)
        return 1
    buf = mmap.mmap(-1, BS)  # page-aligned, as O_DIRECT needs
    if mode == "write":
        buf.write(os.urandom(BS))
    rnd = random.Random(12345)
    ops = 0
    t0 = time.monotonic()
    deadline = t0 + secs
    try:
        while True:
            off = rnd.randrange(nblocks) * BS
            if mode == "read":
                os.preadv(fd, [buf], off)
            else:
                os.pwritev(fd, [buf], off)
            ops += 1
            if (ops & 63) == 0 and time.monotonic() >= deadline:
                break
        if mode == "write":
            os.fsync(fd)
    except OSError as e:
        print(f"randio: {mode} {path}: {e}", file=sys.stderr)
        return 3 if direct and ops == 0 else 1
    elapsed = time.monotonic() - t0
    os.close(fd)
    print(f"{ops / elapsed:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
