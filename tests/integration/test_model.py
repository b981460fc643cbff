"""Randomised model test: random I/O on several files, checked byte for byte
against in-memory bytearrays, then again after a remount.

Reproduce a failure with the printed seed:
    RAGSTORE_MODEL_SEED=<seed> tests/integration/run.sh -k test_model
RAGSTORE_MODEL_OPS overrides the number of operations."""
import os
import random

import pytest

import rsutil

NFILES = 4


class Model:
    def __init__(self, store, rnd, b, log):
        self.s = store
        self.rnd = rnd
        self.b = b
        self.log = log
        self.data = [bytearray() for _ in range(NFILES)]
        self.fds = [None] * NFILES
        self.paths = [store.path("m%d" % i) for i in range(NFILES)]
        for p in self.paths:
            rsutil.write_file(p, b"")

    def fd(self, i):
        if self.fds[i] is None:
            self.fds[i] = os.open(self.paths[i], os.O_RDWR)
        return self.fds[i]

    def close_all(self):
        for i, fd in enumerate(self.fds):
            if fd is not None:
                os.close(fd)
                self.fds[i] = None

    def rand_off(self, i):
        b, rnd = self.b, self.rnd
        n = len(self.data[i])
        choice = rnd.random()
        if choice < 0.4:   # near a block boundary
            k = rnd.randint(0, max(1, (n + 2 * b) // b))
            return max(0, k * b + rnd.randint(-17, 17))
        if choice < 0.6 and n:  # near the end of file
            return max(0, n + rnd.randint(-b, b // 2))
        return rnd.randint(0, max(1, n + b))

    def rand_len(self):
        b, rnd = self.b, self.rnd
        c = rnd.random()
        if c < 0.3:
            return rnd.randint(1, 64)
        if c < 0.6:
            return rnd.randint(1, b + 1) | 1   # odd sizes
        return rnd.randint(1, 3 * b)

    def step(self, n):
        rnd, b = self.rnd, self.b
        i = rnd.randrange(NFILES)
        model = self.data[i]
        op = rnd.random()
        if op < 0.45:
            off, ln = self.rand_off(i), self.rand_len()
            buf = rnd.randbytes(ln) if rnd.random() < 0.5 else \
                bytes([rnd.randrange(256)]) * ln   # compressible
            self.log.append("%d pwrite f%d off=%d len=%d" % (n, i, off, ln))
            assert os.pwrite(self.fd(i), buf, off) == ln
            if off > len(model):
                model += bytes(off - len(model))
            model[off:off + ln] = buf
        elif op < 0.75:
            off, ln = self.rand_off(i), self.rand_len()
            self.log.append("%d pread f%d off=%d len=%d" % (n, i, off, ln))
            got = os.pread(self.fd(i), ln, off)
            exp = bytes(model[off:off + ln])
            if got != exp:
                self.fail("pread f%d off=%d len=%d: got %d bytes, expected %d%s"
                          % (i, off, ln, len(got), len(exp),
                             first_diff(got, exp, off)))
        elif op < 0.83:
            n_new = max(0, self.rand_off(i) + rnd.randint(-3, 3))
            how = rnd.choice(["ftruncate", "truncate"])
            self.log.append("%d %s f%d %d" % (n, how, i, n_new))
            if how == "ftruncate":
                os.ftruncate(self.fd(i), n_new)
            else:
                os.truncate(self.paths[i], n_new)
            if n_new < len(model):
                del model[n_new:]
            else:
                model += bytes(n_new - len(model))
        elif op < 0.88:
            self.log.append("%d append f%d" % (n, i))
            buf = rnd.randbytes(rnd.randint(1, 2 * b))
            fd = os.open(self.paths[i], os.O_WRONLY | os.O_APPEND)
            os.write(fd, buf)
            os.close(fd)
            model += buf
        elif op < 0.93:
            self.log.append("%d close f%d" % (n, i))
            if self.fds[i] is not None:
                os.close(self.fds[i])
                self.fds[i] = None
        elif op < 0.96:
            self.log.append("%d fsync f%d" % (n, i))
            os.fsync(self.fd(i))
        else:
            self.log.append("%d stat f%d" % (n, i))
            st = os.stat(self.paths[i])
            if st.st_size != len(model):
                self.fail("stat f%d size %d, expected %d"
                          % (i, st.st_size, len(model)))

    def check_all(self, when):
        for i in range(NFILES):
            got = rsutil.read_file(self.paths[i])
            if got != bytes(self.data[i]):
                self.fail("%s: f%d content differs (got %d bytes, expected %d)%s"
                          % (when, i, len(got), len(self.data[i]),
                             first_diff(got, bytes(self.data[i]), 0)))

    def fail(self, msg):
        raise AssertionError("%s\nseed=%s block=%d; last ops:\n  %s"
                             % (msg, self.seed, self.b, "\n  ".join(self.log[-25:])))


def first_diff(got, exp, base):
    for k in range(min(len(got), len(exp))):
        if got[k] != exp[k]:
            return "; first difference at file offset %d" % (base + k)
    if len(got) != len(exp):
        return "; common prefix equal, lengths differ"
    return ""


@pytest.mark.slow
@pytest.mark.parametrize("block_size,default_ops", [(None, 6000), (4096, 8000)],
                         ids=["default-block", "block-4096"])
def test_model(store_factory, block_size, default_ops):
    seed = int(os.environ.get("RAGSTORE_MODEL_SEED", "20240607"))
    ops = int(os.environ.get("RAGSTORE_MODEL_OPS", str(default_ops)))
    print("model test seed=%d ops=%d block_size=%s" % (seed, ops, block_size))
    s = store_factory(block_size=block_size)
    rnd = random.Random(seed)
    m = Model(s, rnd, block_size or rsutil.DEFAULT_BLOCK, [])
    m.seed = seed
    try:
        for n in range(ops):
            m.step(n)
            if n % 500 == 499:
                # defeat the page cache so reads exercise the filesystem
                for fd in m.fds:
                    if fd is not None:
                        os.fsync(fd)
                rsutil.drop_caches()
                m.check_all("after op %d + drop_caches" % n)
            if n == ops // 2:
                m.close_all()
                s.remount()
                m.log.append("%d remount" % n)
                m.check_all("after mid-run remount")
        m.close_all()
        m.check_all("end of run")
        s.remount()
        m.check_all("after final remount")
        for i in range(NFILES):
            assert os.stat(m.paths[i]).st_size == len(m.data[i])
    finally:
        m.close_all()
