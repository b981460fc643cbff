"""Writer process for test_crash: overwrites one file forever with versioned,
self-describing blocks until the filesystem goes away.

usage: crash_writer.py PATH FILE_INDEX NBLOCKS BLOCK_SIZE MODE LOG
MODE: blocks  (one pwrite per block, in place)
      whole   (one pwrite of the whole file, in place)
      trunc   (open O_TRUNC, then write block by block)
      meta    (PATH is a directory: create, write, rename, symlink, rename
               directory, delete, over and over)
After every third version the file is fsync'd and "FILE VERSION" is appended
to LOG (only after fsync returned).  "S FILE" is logged once the first
version is written."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crashpat import block_bytes  # noqa: E402


def meta(top, f, bs, logf):
    """Namespace churn in directory top: mkdir, create+write, rename file,
    symlink, rename directory, remove old directories."""
    os.makedirs(top, exist_ok=True)
    v = 0
    while True:
        v += 1
        d = os.path.join(top, "new%06d" % v)
        os.mkdir(d)
        fd = os.open(os.path.join(d, "f"), os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, block_bytes(f, 0, v, bs))
        os.close(fd)
        os.rename(os.path.join(d, "f"), os.path.join(d, "g"))
        os.symlink("g", os.path.join(d, "l"))
        os.rename(d, os.path.join(top, "done%06d" % v))
        old = os.path.join(top, "done%06d" % (v - 3))
        if v > 3:
            for n in ("l", "g"):
                os.unlink(os.path.join(old, n))
            os.rmdir(old)
        # plain mkdir/rmdir churn: rmdir must be atomic across a crash
        for k in range(20):
            e = os.path.join(top, "empty%06d-%02d" % (v, k))
            os.mkdir(e)
            os.rmdir(e)
        if v == 1:
            logf.write("S %d\n" % f)


def main():
    path, f, nb, bs, mode, log = sys.argv[1:7]
    f, nb, bs = int(f), int(nb), int(bs)
    logf = open(log, "a", buffering=1)
    if mode == "meta":
        try:
            meta(path, f, bs, logf)
        except OSError:
            return 0
    v = 0
    try:
        while True:
            v += 1
            if mode == "trunc":
                fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            else:
                fd = os.open(path, os.O_WRONLY)
            try:
                if mode == "whole":
                    buf = b"".join(block_bytes(f, b, v, bs) for b in range(nb))
                    os.pwrite(fd, buf, 0)
                else:
                    for b in range(nb):
                        os.pwrite(fd, block_bytes(f, b, v, bs), b * bs)
                if v == 1:
                    logf.write("S %d\n" % f)
                if v % 3 == 0:
                    os.fsync(fd)
                    logf.write("%d %d\n" % (f, v))
            finally:
                os.close(fd)
    except OSError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
