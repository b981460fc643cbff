#!/usr/bin/python3
"""ragstore beside gocryptfs with BACKING on a network filesystem.

    make bench BACKING=glusterfs        (runs: bench/backing.py glusterfs)

A single-brick GlusterFS volume is started for the run and stopped at its
end (tests/integration/backingfs.py: glusterd reused when one runs, the
volume options of docs/BACKING.md).  Three targets, each on a fresh
directory of that one volume: the volume itself (plain, the baseline),
gocryptfs (-scryptn 16, default options) and ragstore (default options).
Steps, once per target (a report of one run: no timing assertions):

  seq write    dd 1 MiB blocks + fsync of a compressible (log lines) and an
               incompressible (urandom) file of BENCH_SIZE_MB MiB each
  seq read     both files read back cold (daemon restarted, caches dropped)
  untar        tar xf of the first BENCH_LINUX_ENTRIES entries of the Linux
               source (BENCH_LINUX_TAR) + sync: entries/s and MB/s
  cp -a        of BENCH_CP_DIRS + sync: MB/s of their du -sb

Environment: BENCH_SIZE_MB (256), BENCH_LINUX_ENTRIES (5000),
BENCH_LINUX_TAR (/usr/src/linux-source-6.1.tar.xz), BENCH_CP_DIRS
(/usr/share/perl /usr/include/linux /usr/share/man/man3), BENCH_DIR
(/var/tmp: local scratch for the sources), BENCH_OUT_MD
(bench/last-backing.md), RAGSTORE (the binary, <repo>/ragstore).
"""
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
import backingfs  # noqa: E402

SIZE_MB = int(os.environ.get("BENCH_SIZE_MB", "256"))
LX_ENTRIES = int(os.environ.get("BENCH_LINUX_ENTRIES", "5000"))
LX_TAR = os.environ.get("BENCH_LINUX_TAR", "/usr/src/linux-source-6.1.tar.xz")
CP_DIRS = os.environ.get("BENCH_CP_DIRS",
                         "/usr/share/perl /usr/include/linux /usr/share/man/man3").split()
OUT_MD = Path(os.environ.get("BENCH_OUT_MD", str(REPO / "bench" / "last-backing.md")))
RAGSTORE = os.environ.get("RAGSTORE", str(REPO / "ragstore"))
TARGETS = ("plain", "gocryptfs", "ragstore")


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def sh(args, timeout=1800):
    return subprocess.run([str(a) for a in args], check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def daemon(args):
    """Run a mount command whose daemon stays in the background: not through
    a pipe, which the daemon would keep open."""
    subprocess.run([str(a) for a in args], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def drop_caches():
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        log("cannot drop caches (not root?): reads are warm")


def timed(fn):
    t = time.monotonic()
    fn()
    return time.monotonic() - t


class Target:
    """One filesystem under test: its directory on the volume, and for an
    encrypted one its mount."""

    def __init__(self, name, vol, work):
        self.name = name
        self.backing = vol / ("bench-" + name)
        self.mnt = work / ("mnt-" + name)
        self.passfile = work / "passfile"
        self.backing.mkdir()
        self.mnt.mkdir()
        if name == "gocryptfs":
            sh(["gocryptfs", "-q", "-init", "-passfile", self.passfile, "-scryptn", "16",
                self.backing])
        elif name == "ragstore":
            sh([RAGSTORE, "init", "--passfile", self.passfile, self.backing])

    def root(self):
        return self.backing if self.name == "plain" else self.mnt

    def mount(self):
        if self.name == "gocryptfs":
            daemon(["gocryptfs", "-q", "-nosyslog", "-passfile", self.passfile, self.backing,
                    self.mnt])
        elif self.name == "ragstore":
            daemon([RAGSTORE, "mount", "--passfile", self.passfile, self.backing, self.mnt])

    def unmount(self):
        if self.name == "plain" or not os.path.ismount(self.mnt):
            return
        sh(["fusermount3", "-u", self.mnt])
        # Wait for the daemon to finish writing back (its argv names mnt).
        for _ in range(600):
            if not daemon_running(self.mnt):
                return
            time.sleep(0.1)

    def cold(self):
        self.unmount()
        drop_caches()
        self.mount()


def daemon_running(mnt):
    for p in Path("/proc").glob("[0-9]*"):
        try:
            if str(mnt).encode() in (p / "cmdline").read_bytes().split(b"\0"):
                return True
        except OSError:
            pass
    return False


def du_bytes(paths):
    r = sh(["du", "-sbc"] + list(paths))
    return int(r.stdout.strip().splitlines()[-1].split()[0])


def sources(work):
    """The local inputs, made once before any timing."""
    comp = work / "compressible"
    with open(comp, "w") as f:
        i = 0
        while f.tell() < SIZE_MB << 20:
            f.write("2026-12-01T10:%02d:%02d host ragstore[%d]: request %d served in %d us\n"
                    % (i // 60 % 60, i % 60, 1000 + i % 7, i, i * 37 % 9000))
            i += 1
    os.truncate(comp, SIZE_MB << 20)
    rnd = work / "random"
    with open(rnd, "wb") as f:
        for _ in range(SIZE_MB):
            f.write(os.urandom(1 << 20))
    tar = work / "linux.tar"
    entries = 0
    with tarfile.open(LX_TAR, "r|*") as src, tarfile.open(tar, "w") as dst:
        for m in src:
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
            entries += 1
            if entries == LX_ENTRIES:
                break
    return comp, rnd, tar, entries


def run_target(t, comp, rnd, tar, entries, cp_bytes):
    res = {}
    t.mount()
    root = t.root()
    mb = SIZE_MB
    for key, src in (("seq write compressible", comp), ("seq write incompressible", rnd)):
        s = timed(lambda: sh(["dd", "if=%s" % src, "of=%s" % (root / src.name), "bs=1M",
                              "conv=fsync"]))
        res[key + " (MB/s)"] = mb * 1.048576 / s
    t.cold()
    root = t.root()
    for key, src in (("seq read compressible", comp), ("seq read incompressible", rnd)):
        s = timed(lambda: sh(["dd", "if=%s" % (root / src.name), "of=/dev/null", "bs=1M"]))
        res[key + " (MB/s)"] = mb * 1.048576 / s
    (root / "tree").mkdir()
    s = timed(lambda: (sh(["tar", "xf", tar, "-C", root / "tree"]), os.sync()))
    res["untar (entries/s)"] = entries / s
    res["untar (MB/s)"] = tar.stat().st_size / 1e6 / s
    (root / "copy").mkdir()
    s = timed(lambda: (sh(["cp", "-a"] + CP_DIRS + [root / "copy"]), os.sync()))
    res["cp -a (MB/s)"] = cp_bytes / 1e6 / s
    t.unmount()
    return res


def report(kind, results, entries, cp_bytes, cp_files):
    rows = list(results["plain"])
    head = "| step | " + " | ".join(TARGETS) + " | rag/gocryptfs |"
    lines = ["# ragstore with BACKING on %s (%s)" % (kind, time.strftime("%Y-%m-%d")), "",
             "Single-brick volume on this machine (%s), one run, %d MiB files, untar of "
             "the first %d entries of %s, cp -a of %s (%.1f MB, %d files)."
             % (", ".join(backingfs.GLUSTER_OPTIONS), SIZE_MB, entries,
                os.path.basename(LX_TAR), " ".join(CP_DIRS), cp_bytes / 1e6, cp_files),
             "", head, "|" + "---|" * (len(TARGETS) + 2)]
    for r in rows:
        vals = [results[t][r] for t in TARGETS]
        lines.append("| %s | %s | %.2f |" % (r, " | ".join("%.1f" % v for v in vals),
                                             results["ragstore"][r] / results["gocryptfs"][r]))
    return "\n".join(lines) + "\n"


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "glusterfs"
    if kind != "glusterfs":
        sys.exit("bench/backing.py: only BACKING=glusterfs is benchmarked, not %r" % kind)
    if not shutil.which("gocryptfs"):
        sys.exit("bench/backing.py: gocryptfs missing (apt-get install gocryptfs)")
    work = Path(tempfile.mkdtemp(prefix="ragstore-bench-backing.",
                                 dir=os.environ.get("BENCH_DIR", "/var/tmp")))
    (work / "passfile").write_text("ragstore-bench-passphrase\n")
    os.environ[backingfs.ENV] = kind
    log("sources in %s" % work)
    comp, rnd, tar, entries = sources(work)
    cp_bytes = du_bytes(CP_DIRS)
    cp_files = int(sh(["sh", "-c", "find \"$@\" -type f | wc -l", "-"] + CP_DIRS).stdout)
    log("starting %s" % kind)
    fs = backingfs.make()
    targets = []
    results = {}
    try:
        for name in TARGETS:
            log("target %s" % name)
            t = Target(name, fs.mnt, work)
            targets.append(t)
            results[name] = run_target(t, comp, rnd, tar, entries, cp_bytes)
    finally:
        for t in targets:
            t.unmount()
        fs.stop()
        shutil.rmtree(work, ignore_errors=True)
    text = report(kind, results, entries, cp_bytes, cp_files)
    OUT_MD.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
