#!/usr/bin/env python3
"""Soak test of a ragstore mount (issue 14; docs/SOAK.md).

usage: tests/soak/soak.py [--minutes M] [--workers N] [--tar FILE]
                          [--ragstore BIN] [--dir DIR] [--out CSV]

Mounts a fresh store and, for M minutes (default 20), runs N workers
(default 4) that each, over and over: untar a source tree into their own
directory, verify every file with sha256 against the tar, rename the tree,
overwrite parts of some files and truncate others (checking each), and
remove the tree.  Meanwhile /.ragstore/stats is read every second and a
scrub is started every 2 minutes.  Every 10 s the daemon's RSS, open file
descriptors and threads are recorded (to --out, CSV).

Fails (exit 1) on: any error of a worker, any checksum mismatch, integrity
or I/O errors in stats, RSS still growing after the first five minutes
(the peak of the last quarter of the run more than max(8 MiB, 5 %) above
the peak of the second quarter), or a leaked descriptor (more open after the
workers stopped than at the steady state of minutes 2-5, plus 16).
Needs root or a user who may mount FUSE.  Unmounts and removes everything it
made, also on failure."""
import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import rsutil  # noqa: E402  (mount helpers shared with the integration suite)

PASS = "soak-passphrase"


def default_tar(work):
    """A tree of about 30 MB of real sources and text, made from /usr."""
    out = os.path.join(work, "tree.tar")
    srcs = [d for d in ("/usr/include/linux", "/usr/share/perl", "/usr/lib/python3.11/email",
                        "/usr/share/doc/git") if os.path.isdir(d)]
    with tarfile.open(out, "w") as t:
        for i, d in enumerate(srcs):
            t.add(d, arcname="%d-%s" % (i, os.path.basename(d)))
    return out


def manifest(tar):
    """sha256 of every regular file of the tar, by member name."""
    m = {}
    with tarfile.open(tar) as t:
        for e in t:
            if e.isfile():
                m[e.name] = hashlib.sha256(t.extractfile(e).read()).hexdigest()
    return m


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


class Soak:
    def __init__(self, a):
        self.a = a
        self.stop = threading.Event()
        self.errors = []
        self.cycles = 0
        self.lock = threading.Lock()
        self.samples = []

    def fail(self, msg):
        with self.lock:
            self.errors.append(msg)
        self.stop.set()

    # -- the workers ------------------------------------------------------
    def worker(self, n):
        rnd = random.Random(n)
        top = os.path.join(self.mnt, "w%d" % n)
        os.mkdir(top)
        try:
            while not self.stop.is_set():
                self.cycle(top, rnd)
                with self.lock:
                    self.cycles += 1
        except Exception as e:  # any error fails the soak
            self.fail("worker %d: %r" % (n, e))

    def cycle(self, top, rnd):
        tree, moved = os.path.join(top, "tree"), os.path.join(top, "moved")
        os.mkdir(tree)
        subprocess.run(["tar", "xf", self.tar, "-C", tree], check=True)
        self.verify(tree)
        os.rename(tree, moved)
        names = sorted(self.sums)
        for name in rnd.sample(names, min(20, len(names))):
            p = os.path.join(moved, name)
            size = os.path.getsize(p)
            with open(p, "rb") as f:
                data = bytearray(f.read())
            if rnd.random() < 0.5:
                off = rnd.randrange(size + 1)
                new = os.urandom(rnd.randrange(1, 70000))
                with open(p, "r+b") as f:
                    f.seek(off)
                    f.write(new)
                data[off:off + len(new)] = new
            else:
                cut = rnd.randrange(size + 1)
                os.truncate(p, cut)
                del data[cut:]
                if rnd.random() < 0.5:
                    os.truncate(p, cut + 100000)
                    data += bytes(100000)
            if sha(p) != hashlib.sha256(bytes(data)).hexdigest():
                raise AssertionError("%s: content differs after overwrite/truncate" % p)
        shutil.rmtree(moved)

    def verify(self, tree):
        for name, want in self.sums.items():
            got = sha(os.path.join(tree, name))
            if got != want:
                raise AssertionError("%s: sha256 mismatch after untar" % name)

    # -- the monitor ------------------------------------------------------
    def stats(self):
        with open(os.path.join(self.mnt, ".ragstore", "stats")) as f:
            return json.load(f)

    def proc(self):
        pid = self.pid
        with open("/proc/%d/status" % pid) as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        fds = len(os.listdir("/proc/%d/fd" % pid))
        threads = len(os.listdir("/proc/%d/task" % pid))
        return rss, fds, threads

    def monitor(self, t0):
        last_sample = last_scrub = 0.0
        while not self.stop.wait(1.0):
            now = time.time() - t0
            try:
                st = self.stats()
            except Exception as e:
                self.fail("reading stats: %r" % e)
                return
            if st["integrity_errors"] or st["io_errors"]:
                self.fail("stats: integrity_errors %d, io_errors %d" %
                          (st["integrity_errors"], st["io_errors"]))
            if now - last_scrub >= 120:
                last_scrub = now
                try:
                    with open(os.path.join(self.mnt, ".ragstore", "control"), "w") as f:
                        f.write("scrub\n")
                except OSError as e:  # a scrub still running is busy
                    if e.errno != 16:
                        self.fail("starting a scrub: %r" % e)
            if now - last_sample >= 10:
                last_sample = now
                rss, fds, thr = self.proc()
                self.samples.append((now, rss, fds, thr, self.cycles))
                print("%6.0f s  rss %7d KiB  fds %4d  threads %3d  cycles %d" %
                      (now, rss, fds, thr, self.cycles), flush=True)

    # -- verdicts ---------------------------------------------------------
    def judge(self, minutes, fds_after):
        s = self.samples
        if len(s) < 8:
            return
        q = len(s) // 4
        second = max(x[1] for x in s[q:2 * q])
        last = max(x[1] for x in s[3 * q:])
        if minutes >= 8 and last > second + max(8192, second * 0.05):
            self.fail("RSS still growing: peak %d KiB in the second quarter, %d KiB in the last"
                      % (second, last))
        steady = [x[2] for x in s if 120 <= x[0] <= 300] or [x[2] for x in s[:q]]
        if fds_after > max(steady) + 16:
            self.fail("descriptors leaked: %d open after the run, at most %d at steady state"
                      % (fds_after, max(steady)))

    def run(self):
        a = self.a
        self.work = tempfile.mkdtemp(prefix="ragstore-soak-", dir=a.dir)
        backing, self.mnt = os.path.join(self.work, "b"), os.path.join(self.work, "mnt")
        pf = os.path.join(self.work, "pf")
        os.mkdir(self.mnt)
        with open(pf, "w") as f:
            f.write(PASS + "\n")
        self.tar = a.tar or default_tar(self.work)
        self.sums = manifest(self.tar)
        print("tree: %s, %d files" % (self.tar, len(self.sums)), flush=True)
        rsutil.run([a.ragstore, "init", "--passfile", pf, backing], check=True)
        rsutil.run([a.ragstore, "mount", "--passfile", pf, backing, self.mnt], check=True)
        pids = rsutil.daemon_pids(self.mnt)
        try:
            self.pid = pids[0]
            t0 = time.time()
            mon = threading.Thread(target=self.monitor, args=(t0,))
            mon.start()
            ws = [threading.Thread(target=self.worker, args=(i,)) for i in range(a.workers)]
            for w in ws:
                w.start()
            while not self.stop.wait(1.0) and time.time() - t0 < a.minutes * 60:
                pass
            self.stop.set()
            for w in ws:
                w.join()
            mon.join()
            time.sleep(2)
            _, fds_after, _ = self.proc()
            self.judge(a.minutes, fds_after)
            if a.out:
                with open(a.out, "w") as f:
                    f.write("seconds,rss_kib,fds,threads,cycles\n")
                    for x in self.samples:
                        f.write("%.0f,%d,%d,%d,%d\n" % x)
            rss = [x[1] for x in self.samples]
            print("%d cycles by %d workers in %.1f min; RSS %d..%d KiB; fds after %d; %s" %
                  (self.cycles, a.workers, (time.time() - t0) / 60, min(rss or [0]),
                   max(rss or [0]), fds_after, "FAILED" if self.errors else "ok"), flush=True)
        finally:
            problems = rsutil.unmount(self.mnt, pids, timeout=60)
            if problems:
                self.errors += problems
            shutil.rmtree(self.work, ignore_errors=True)
        for e in self.errors:
            print("soak: " + e, file=sys.stderr)
        return 1 if self.errors or self.cycles == 0 else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=20)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--tar", help="source tree to untar (default: made from /usr)")
    p.add_argument("--ragstore", default=os.path.join(HERE, "..", "..", "ragstore"))
    p.add_argument("--dir", default="/var/tmp", help="parent of the work directory")
    p.add_argument("--out", help="CSV of the samples")
    return Soak(p.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
