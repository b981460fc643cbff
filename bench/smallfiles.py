#!/usr/bin/env python3
"""Small-file creation load for bench/run.sh.

usage: smallfiles.py DIR COUNT [PER_DIR]

Creates COUNT files of 1-4 KiB each below DIR (which must exist), PER_DIR
files (default 1000) per subdirectory d0000, d0001, ...  Each file is made
with one os.open(O_CREAT|O_EXCL|O_WRONLY), one os.write and one os.close:
no Python file objects, no buffering layers.  Sizes are uniform in
1024..4096 bytes from a fixed seed, and the content is random bytes (taken
at random offsets from one 1 MiB urandom pool), so compression does not help.
Prints the number of files and bytes written as "FILES BYTES".  The caller
times the run (and the sync after it).
"""
import os
import random
import sys


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    top, count = sys.argv[1], int(sys.argv[2])
    per_dir = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    rnd = random.Random(20240501)
    pool = os.urandom(1 << 20)
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
    total = 0
    d = None
    for i in range(count):
        if i % per_dir == 0:
            d = os.path.join(top, "d%04d" % (i // per_dir))
            os.mkdir(d)
        size = rnd.randint(1024, 4096)
        off = rnd.randrange(len(pool) - size)
        fd = os.open(os.path.join(d, "f%06d" % i), flags, 0o644)
        try:
            data = pool[off:off + size]
            n = os.write(fd, data)
            if n != size:  # short write: finish it
                n += os.write(fd, data[n:])
            total += n
        finally:
            os.close(fd)
    print(count, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
