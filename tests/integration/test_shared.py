"""Shared mode (-o shared, docs/SHARED.md): two ragstore daemons serve one
store at once.

Each test runs twice: with both daemons on one local BACKING directory (two
daemons on one machine), and with each daemon on its own GlusterFS client
mount of one single-brick volume that the test starts (two machines
simulated on one), once with plaintext names and once with encrypted
names (which need the probe's fallback for mkdir on GlusterFS; skipped with
that reason where mkdir still fails with EINVAL).

After every test both daemons unmount, a fresh mount without -o shared
shows everything each side wrote (sha256), its totals match the tree, and
ragstore fsck is clean.
"""
import errno
import fcntl
import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import rsutil
from rsutil import PASSPHRASE, run

GLUSTER_OPTS_OFF = ("performance.write-behind", "performance.io-cache",
                    "performance.read-ahead", "performance.quick-read",
                    "performance.stat-prefetch", "performance.open-behind",
                    "performance.readdir-ahead", "performance.nl-cache")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def _pid_of(name):
    r = run(["pgrep", "-x", name])
    return [int(p) for p in r.stdout.split()] if r.returncode == 0 else []


def _glusterd_up():
    return run(["gluster", "--mode=script", "volume", "list"], timeout=60).returncode == 0


class Gluster:
    """A single-brick volume of our own, mounted twice.  Starts glusterd
    only if none runs, and stops only what it started."""

    CLIENT_OPTS = "attribute-timeout=0,entry-timeout=0,negative-timeout=0"

    def __init__(self, top, off=GLUSTER_OPTS_OFF, client_opts=CLIENT_OPTS):
        self.top = top
        self.off, self.client_opts = off, client_opts
        self.vol = "ragstore-shared-%d-%s" % (os.getpid(), os.urandom(3).hex())
        self.brick = top / "brick"
        self.clients = [top / "client1", top / "client2"]
        self.started_glusterd = None
        self.created = False

    def start(self):
        if not shutil.which("glusterd") or not shutil.which("gluster"):
            pytest.skip("glusterfs-server is not installed (tests/deps.sh installs it)")
        if not os.path.exists("/dev/fuse"):
            pytest.skip("no /dev/fuse")
        self.top.mkdir(parents=True, exist_ok=True)
        if not _glusterd_up():
            # None answers (or one is going away): start our own.
            before = set(_pid_of("glusterd"))
            rsutil.wait_pids_exit(sorted(before), 20)
            log = self.top / "glusterd.log"
            r = run(["glusterd", "--log-file=%s" % log], timeout=60)
            assert r.returncode == 0, r.stderr
            self.started_glusterd = sorted(set(_pid_of("glusterd")) - before)
            for _ in range(300):
                if _glusterd_up():
                    break
                time.sleep(0.1)
            assert _glusterd_up(), "glusterd did not come up: %s" % (
                log.read_text()[-2000:] if log.exists() else "no log")
        self.brick.mkdir(parents=True)
        host = socket.gethostname()
        g = ["gluster", "--mode=script", "volume"]
        r = run(g + ["create", self.vol, "%s:%s" % (host, self.brick), "force"], timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        self.created = True
        r = run(g + ["start", self.vol], timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        # Client-side caches would show one client what the other has
        # already changed (docs/SHARED.md, "GlusterFS").
        for opt in self.off:
            self.set(opt, "off")
        for c in self.clients:
            c.mkdir()
            r = run(["mount", "-t", "glusterfs"] +
                    (["-o", self.client_opts] if self.client_opts else []) +
                    ["%s:/%s" % (host, self.vol), str(c)], timeout=120)
            assert r.returncode == 0, r.stdout + r.stderr

    def set(self, opt, value):
        r = run(["gluster", "--mode=script", "volume", "set", self.vol, opt, value],
                timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr

    def stop(self):
        for c in self.clients:
            if rsutil.is_mounted(c):
                if run(["umount", str(c)], timeout=60).returncode != 0:
                    run(["umount", "-l", str(c)], timeout=60)
        g = ["gluster", "--mode=script", "volume"]
        if self.created:
            run(g + ["stop", self.vol, "force"], timeout=120)
            run(g + ["delete", self.vol], timeout=120)
        for pid in self.started_glusterd or ():
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        if self.started_glusterd:
            rsutil.wait_pids_exit(self.started_glusterd, 20)


class Pair:
    """One store, two daemons in shared mode: side a and side b."""

    def __init__(self, binary, top, backings, plaintext_names=False):
        self.bin = binary
        self.backings = backings            # side a's and side b's path of BACKING
        self.mnts = [top / "a", top / "b"]
        self.check_mnt = top / "check"
        self.passfile = top / "passfile"
        self.passfile.write_text(PASSPHRASE + "\n")
        for m in self.mnts + [self.check_mnt]:
            m.mkdir()
        args = [binary, "init", "--passfile", self.passfile, "--block-size", "4096"]
        if plaintext_names:
            args.append("--plaintext-names")
        run(args + [backings[0]], check=True, timeout=120)
        self.pids = {}

    def mount(self, side, shared=True, expect_ok=True):
        mnt = self.mnts[side]
        args = [self.bin, "mount", "--passfile", self.passfile]
        if shared:
            args += ["-o", "shared"]
        if os.environ.get("RAGSTORE_IT_LOGDIR"):  # for debugging a race
            args += ["-o", "logfile=%s/%s.log" % (os.environ["RAGSTORE_IT_LOGDIR"], "ab"[side])]
        r = run(args + [self.backings[side], mnt], timeout=120)
        if expect_ok:
            assert r.returncode == 0, r.stderr
            self.pids[side] = rsutil.daemon_pids(mnt)
        return r

    def unmount(self, side):
        problems = rsutil.unmount(self.mnts[side], self.pids.pop(side, ()))
        assert not problems, problems

    @property
    def a(self):
        return self.mnts[0]

    @property
    def b(self):
        return self.mnts[1]

    def teardown(self):
        for m in self.mnts + [self.check_mnt]:
            if rsutil.is_mounted(m):
                rsutil.unmount(m, rsutil.daemon_pids(m), timeout=15)

    def verify_alone(self, expect):
        """Both daemons gone: a fresh mount without -o shared sees expect
        ({relpath: sha256}), its totals are those of the tree, and fsck
        is clean."""
        for side in list(self.pids):
            self.unmount(side)
        m = self.check_mnt
        r = run([self.bin, "mount", "--passfile", self.passfile, self.backings[0], m],
                timeout=120)
        assert r.returncode == 0, r.stderr
        pids = rsutil.daemon_pids(m)
        try:
            for rel, digest in expect.items():
                assert sha((m / rel).read_bytes()) == digest, rel
            files = sum(len(fs) for _, _, fs in os.walk(m))
            dirs = sum(len(ds) for _, ds, _ in os.walk(m))
            for _ in range(100):
                st = json.loads((m / ".ragstore" / "stats").read_text())
                if st["totals"]["state"] != "rebuilding":
                    break
                time.sleep(0.1)
            assert (st["files"], st["directories"]) == (files, dirs), st["totals"]
        finally:
            problems = rsutil.unmount(m, pids)
        assert not problems, problems
        r = run([self.bin, "fsck", "--passfile", self.passfile, self.backings[0]], timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr


def _make_pair(request, ragstore_bin, kind):
    top = Path(tempfile.mkdtemp(prefix="ragstore-it-shared-", dir="/tmp"))
    os.chmod(top, 0o755)
    gl = None
    try:
        if kind == "local":
            back = top / "backing"
            pair = Pair(ragstore_bin, top, [back, back])
        else:
            gl = Gluster(top / "gluster")
            gl.start()
            names = kind == "glusterfs-names"
            backs = [c / "store" for c in gl.clients]
            pair = Pair(ragstore_bin, top, backs, plaintext_names=not names)
        pair.mount(0)
        pair.mount(1)
        if kind == "glusterfs-names":
            try:
                os.mkdir(pair.a / "probe-mkdir")
                os.rmdir(pair.a / "probe-mkdir")
            except OSError as e:
                if e.errno == errno.EINVAL:
                    pair.teardown()
                    pytest.skip("mkdir with encrypted names on GlusterFS fails with EINVAL "
                                "until the probe's fallback (issue 13, part 1) is merged")
                raise
    except BaseException:
        if gl:
            for m in (top / "a", top / "b", top / "check"):
                if rsutil.is_mounted(m):
                    rsutil.unmount(m, rsutil.daemon_pids(m), timeout=15)
            gl.stop()
        raise

    def fin():
        pair.teardown()
        if gl:
            gl.stop()
        if not os.environ.get("RAGSTORE_IT_KEEP"):
            shutil.rmtree(top, ignore_errors=True)
    request.addfinalizer(fin)
    pair.kind = kind
    return pair


@pytest.fixture(params=["local", "glusterfs", "glusterfs-names"])
def pair(request, ragstore_bin):
    return _make_pair(request, ragstore_bin, request.param)


@pytest.fixture
def local_pair(request, ragstore_bin):
    return _make_pair(request, ragstore_bin, "local")


# ---------------------------------------------------------------------------

def test_shared_and_exclusive_mounts_exclude_each_other(local_pair):
    p = local_pair
    cfg = (p.a / ".ragstore" / "config").read_text()
    assert "shared = yes" in cfg
    # A mount without -o shared is refused while shared ones run ...
    p.unmount(1)
    r = p.mount(1, shared=False, expect_ok=False)
    assert r.returncode != 0 and "-o shared" in r.stderr, r.stderr
    # ... and a shared one while an exclusive one runs.
    p.unmount(0)
    p.mount(1, shared=False)
    assert "shared = no" in (p.b / ".ragstore" / "config").read_text()
    r = p.mount(0, expect_ok=False)
    assert r.returncode != 0 and "without -o shared" in r.stderr, r.stderr
    r = run([p.bin, "fsck", "--passfile", p.passfile, p.backings[0]], timeout=120)
    assert r.returncode != 0  # fsck refuses a mounted store
    p.unmount(1)


def test_trees_written_on_one_side_read_on_the_other(pair):
    """Each side writes its own tree while the other reads back every file
    the writer has closed: every read is the whole, right content."""
    p = pair
    rnd = random.Random(13)
    sizes = [0, 1, 100, 4095, 4096, 4097, 20000, 70000, 300000]
    plan = {side: [("t%d/d%d/f%d" % (side, i % 3, i), rsutil.pattern_bytes(
        rnd.choice(sizes), seed=side * 1000 + i)) for i in range(24)] for side in (0, 1)}
    closed = {0: [], 1: []}
    errors = []
    done = threading.Event()

    def writer(side):
        try:
            for rel, data in plan[side]:
                path = p.mnts[side] / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                closed[side].append((rel, sha(data)))
        except Exception as e:  # noqa: BLE001
            errors.append("writer %d: %r" % (side, e))

    def reader(side):
        other = 1 - side
        seen = 0
        while not done.is_set() or seen < len(closed[other]):
            if seen == len(closed[other]):
                time.sleep(0.01)
                continue
            rel, digest = closed[other][seen]
            try:
                got = (p.mnts[side] / rel).read_bytes()
            except OSError as e:
                errors.append("reader %d: %s: %r" % (side, rel, e))
                return
            if sha(got) != digest:
                errors.append("reader %d: %s: wrong bytes (%d)" % (side, rel, len(got)))
            seen += 1

    ws = [threading.Thread(target=writer, args=(s,)) for s in (0, 1)]
    rs = [threading.Thread(target=reader, args=(s,)) for s in (0, 1)]
    for t in ws + rs:
        t.start()
    for t in ws:
        t.join(300)
    done.set()
    for t in rs:
        t.join(300)
    assert not errors, errors[:5]
    expect = {rel: sha(data) for side in (0, 1) for rel, data in plan[side]}
    for m in p.mnts:
        for rel, digest in expect.items():
            assert sha((m / rel).read_bytes()) == digest, (m, rel)
    p.verify_alone(expect)


def test_one_file_written_from_both_sides(pair):
    """Both daemons write disjoint blocks of one file at once: the per-file
    lock keeps each daemon's header and free space current, so nothing is
    lost and no block reads as another's or as EIO."""
    p = pair
    bs, n, rounds = 4096, 64, 3
    (p.a / "shared.bin").write_bytes(b"")

    def fill(i, r):
        return bytes([(i * 7 + r) % 251]) * bs

    errors = []

    def writer(side):
        try:
            fd = os.open(p.mnts[side] / "shared.bin", os.O_RDWR)
            try:
                for r in range(rounds):
                    for i in range(side, n, 2):
                        os.pwrite(fd, fill(i, r), i * bs)
            finally:
                os.close(fd)
        except OSError as e:
            errors.append(repr(e))

    ts = [threading.Thread(target=writer, args=(s,)) for s in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    assert not errors, errors
    want = b"".join(fill(i, rounds - 1) for i in range(n))
    for m in p.mnts:
        got = (m / "shared.bin").read_bytes()
        bad = [i for i in range(n) if got[i * bs:(i + 1) * bs] != fill(i, rounds - 1)]
        assert len(got) == len(want) and not bad, (m, len(got), bad[:10])
    p.verify_alone({"shared.bin": sha(want)})


def test_log_appended_from_both_sides_under_flock(pair):
    """flock on the mount is forwarded to the backing file, so it excludes
    the other daemon's holders: no line is lost or torn."""
    p = pair
    (p.a / "log").write_bytes(b"")
    n = 40

    def appender(side):
        log = p.mnts[side] / "log"
        for i in range(n):
            lfd = os.open(log, os.O_RDONLY)
            try:
                fcntl.flock(lfd, fcntl.LOCK_EX)
                with open(log, "ab") as f:  # a new open: close-to-open
                    f.write(b"side%d-line-%d-%s\n" % (side, i, b"0" * 60))
            finally:
                os.close(lfd)  # drops the flock

    ts = [threading.Thread(target=appender, args=(s,)) for s in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    want = {"side%d-line-%d-%s" % (s, i, "0" * 60) for s in (0, 1) for i in range(n)}
    for m in p.mnts:
        lines = (m / "log").read_text().splitlines()
        assert len(lines) == 2 * n and set(lines) == want, \
            (m, len(lines), sorted(set(lines) ^ want)[:5])
    data = (p.a / "log").read_bytes()
    p.verify_alone({"log": sha(data)})


def test_concurrent_mkdir_p_of_one_path(pair):
    p = pair
    paths = ["deep/x%d/y/z/w" % i for i in range(12)]
    errors = []

    def mk(side):
        for rel in paths:
            r = subprocess.run(["mkdir", "-p", str(p.mnts[side] / rel)],
                               stderr=subprocess.PIPE, text=True, timeout=120)
            if r.returncode:
                errors.append(r.stderr)
            else:
                (p.mnts[side] / rel / ("from%d" % side)).write_bytes(b"%d" % side)

    done = threading.Event()

    def look(side):
        # Lookups of the names being made, from each side: on GlusterFS
        # a lookup from one client during the brick's mkdir of another
        # makes that mkdir fail with EEXIST (docs/SHARED.md, "Names").
        while not done.is_set():
            for rel in paths:
                parts = rel.split("/")
                for n in range(2, len(parts) + 1):
                    try:
                        os.stat(p.mnts[side].joinpath(*parts[:n]))
                    except OSError:
                        pass

    ts = [threading.Thread(target=mk, args=(s,)) for s in (0, 1)]
    ls = [threading.Thread(target=look, args=(s,)) for s in (0, 1)]
    for t in ts + ls:
        t.start()
    for t in ts:
        t.join(300)
    done.set()
    for t in ls:
        t.join(60)
    assert not errors, errors[:3]
    expect = {}
    for rel in paths:
        for m in p.mnts:
            assert sorted(os.listdir(m / rel)) == ["from0", "from1"], (m, rel)
        for s in (0, 1):
            expect["%s/from%d" % (rel, s)] = sha(b"%d" % s)
    for m in p.mnts:
        assert sorted(os.listdir(m / "deep")) == sorted("x%d" % i for i in range(12))
    p.verify_alone(expect)


def test_rename_of_a_directory_while_the_other_side_lists_it(pair):
    p = pair
    (p.a / "dir").mkdir()
    names = ["entry-%03d" % i for i in range(60)]
    for nm in names:
        (p.a / "dir" / nm).write_bytes(nm.encode())
    stop = threading.Event()
    errors = []

    def renamer():
        try:
            for _ in range(15):
                os.rename(p.a / "dir", p.a / "dir2")
                os.rename(p.a / "dir2", p.a / "dir")
        except OSError as e:
            errors.append("rename: %r" % e)
        finally:
            stop.set()

    def lister():
        listings = 0
        while not stop.is_set() or listings < 3:
            for d in ("dir", "dir2"):
                try:
                    got = sorted(os.listdir(p.b / d))
                except FileNotFoundError:
                    continue
                listings += 1
                if got != names:
                    errors.append("listing of %s: %d entries, missing %s, extra %s" % (
                        d, len(got), sorted(set(names) - set(got))[:5], sorted(set(got) - set(names))[:5]))
                    return

    ts = [threading.Thread(target=renamer), threading.Thread(target=lister)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    assert not errors, errors[:3]
    for nm in names:
        assert (p.b / "dir" / nm).read_bytes() == nm.encode()
    # A file that b knows by its old name, renamed by a: b reaches it by
    # the new one (stat, chmod, an extended attribute), and a sees that.
    (p.a / "old").write_bytes(b"renamed")
    assert (p.b / "old").stat().st_size == 7
    os.rename(p.a / "old", p.a / "new")
    assert (p.b / "new").stat().st_size == 7
    os.chmod(p.b / "new", 0o600)
    os.setxattr(p.b / "new", "user.k", b"v")
    assert (p.a / "new").stat().st_mode & 0o777 == 0o600
    assert os.getxattr(p.a / "new", "user.k") == b"v"
    assert not (p.b / "old").exists()
    expect = {"dir/" + nm: sha(nm.encode()) for nm in names}
    expect["new"] = sha(b"renamed")
    p.verify_alone(expect)


def test_rmdir_racing_a_create_inside(local_pair):
    """rmdir on one side while the other creates in that directory: the
    directory either goes (and the create fails) or stays with the new file
    in it; a file that was created is never lost."""
    p = local_pair
    kept = {}
    for i in range(80):
        d = "r%d" % i
        (p.a / d).mkdir()
        go = threading.Barrier(2)
        res = {}

        def rm():
            go.wait()
            try:
                os.rmdir(p.a / d)
                res["rm"] = 0
            except OSError as e:
                res["rm"] = e.errno

        def create():
            go.wait()
            try:
                (p.b / d / "f").write_bytes(b"x")
                res["create"] = 0
            except OSError as e:
                res["create"] = e.errno

        ts = [threading.Thread(target=rm), threading.Thread(target=create)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        if res["create"] == 0:
            assert res["rm"] == errno.ENOTEMPTY, res
            assert (p.a / d / "f").read_bytes() == b"x"
            kept["%s/f" % d] = sha(b"x")
        else:
            assert res["rm"] == 0 and not (p.a / d).exists(), res
    p.verify_alone(kept)


def test_totals_of_two_daemons_after_a_crash(local_pair):
    """Each daemon counts its own changes and merges them into the totals
    file; a daemon killed without unmounting leaves the totals untrusted,
    so the next mount alone rebuilds them."""
    p = local_pair
    (p.a / "one").write_bytes(b"1" * 1000)
    (p.b / "two").write_bytes(b"2" * 3000)
    st = json.loads((p.a / ".ragstore" / "stats").read_text())
    assert st["shared"]["daemons"] == 2
    assert st["files"] == 1 + 0  # b has not merged yet
    st = json.loads((p.b / ".ragstore" / "stats").read_text())
    assert (st["files"], st["logical_bytes"]) == (2, 4000), st
    st = json.loads((p.a / ".ragstore" / "stats").read_text())
    assert (st["files"], st["logical_bytes"]) == (2, 4000), st
    (p.b / "three").write_bytes(b"3")
    for pid in p.pids.pop(1):
        os.kill(pid, 9)
    rsutil.wait_pids_exit(rsutil.daemon_pids(p.b), 10)
    run(["fusermount3", "-uz", str(p.b)])
    p.verify_alone({"one": sha(b"1" * 1000), "two": sha(b"2" * 3000), "three": sha(b"3")})


def test_glusterfs_settings_checked_at_mount(request, ragstore_bin):
    """A GlusterFS client with the volume's default caches (write-behind
    on) and default timeouts: -o shared is refused with one line naming
    what is wrong; a mount without it works and warns about write-behind
    (a log line, /.ragstore/config); ragstore info shows the settings; once
    they are right, -o shared mounts."""
    top = Path(tempfile.mkdtemp(prefix="ragstore-it-shared-", dir="/tmp"))
    os.chmod(top, 0o755)
    gl = Gluster(top / "gluster", off=(), client_opts="")
    request.addfinalizer(lambda: shutil.rmtree(top, ignore_errors=True))
    request.addfinalizer(gl.stop)
    gl.start()
    p = Pair(ragstore_bin, top, [c / "store" for c in gl.clients], plaintext_names=True)
    request.addfinalizer(p.teardown)
    r = p.mount(0, expect_ok=False)
    assert r.returncode == 1 and not rsutil.is_mounted(p.a), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    for what in ("performance.write-behind on", "performance.stat-prefetch on",
                 "attribute-timeout=1", "entry-timeout=1"):
        assert what in r.stderr, r.stderr
    assert "negative-timeout" not in r.stderr, r.stderr
    info = run([p.bin, "info", p.backings[1]], timeout=120).stdout
    assert "glusterfs = yes" in info and "gluster_write_behind = on" in info, info
    log = top / "a.log"
    r = run([p.bin, "mount", "--passfile", p.passfile, "-o", "logfile=%s" % log,
             p.backings[0], p.a], timeout=120)
    assert r.returncode == 0, r.stderr
    p.pids[0] = rsutil.daemon_pids(p.a)
    warned = [ln for ln in log.read_text().splitlines() if "GlusterFS" in ln]
    assert len(warned) == 1 and "performance.write-behind on" in warned[0], warned
    assert "stat-prefetch" not in warned[0], warned  # needed by -o shared only
    cfg = (p.a / ".ragstore" / "config").read_text()
    assert "gluster_write_behind = on\n# warning: every mount needs" in cfg, cfg
    (p.a / "f").write_bytes(b"x" * 5000)
    p.unmount(0)
    # The volume's caches off, the clients still with their 1 s timeouts:
    # refused for those alone.
    for opt in GLUSTER_OPTS_OFF:
        gl.set(opt, "off")
    time.sleep(2)  # the clients switch to the new graph
    r = p.mount(0, expect_ok=False)
    assert r.returncode == 1 and "performance." not in r.stderr, r.stderr
    assert "entry-timeout=1" in r.stderr, r.stderr
    # Remounted with timeouts 0: both sides mount shared.
    for c in gl.clients:
        assert run(["umount", str(c)], timeout=60).returncode == 0
        r = run(["mount", "-t", "glusterfs", "-o", Gluster.CLIENT_OPTS,
                 "%s:/%s" % (socket.gethostname(), gl.vol), str(c)], timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    p.mount(0)
    p.mount(1)
    assert "gluster_write_behind = off" in (p.b / ".ragstore" / "config").read_text()
    assert (p.b / "f").read_bytes() == b"x" * 5000
    p.verify_alone({"f": sha(b"x" * 5000)})


def _race(*fns):
    """Run fns at one moment, each in a thread; returns their results (0
    or the errno of the OSError each raised)."""
    go, res = threading.Barrier(len(fns)), [None] * len(fns)

    def one(i):
        go.wait()
        try:
            fns[i]()
            res[i] = 0
        except OSError as e:
            res[i] = e.errno

    ts = [threading.Thread(target=one, args=(i,)) for i in range(len(fns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return res


def test_rename_replacing_a_directory_while_the_other_side_creates_in_it(pair, request):
    """a renames a directory onto an empty one while b creates a file in
    the target: either the create comes first (the rename fails with
    ENOTEMPTY, or EEXIST, and both directories stay as they were), or the
    rename does (b's create lands in the directory now at that name, or
    fails with ENOENT while the name moves).  A file whose create
    succeeded is never lost."""
    p = pair
    if p.kind != "glusterfs":
        request.node.add_marker(pytest.mark.xfail(reason=(
            "encrypted names: the target is moved aside before the rename, and an "
            "entry the other daemon makes in it meanwhile stays hidden in the aside "
            "directory (docs/SHARED.md, not covered)"), strict=False))
    else:
        request.node.add_marker(pytest.mark.xfail(reason=(
            "GlusterFS has no O_TMPFILE: a create's temporary name (.tmp + 16 hex) can "
            "be left, and listed, in the renamed directory (seen once in 40 races under "
            "CI load; docs/SHARED.md, not covered)"), strict=False))
    expect = {}
    for i in range(40):
        src, tgt = "src%d" % i, "tgt%d" % i
        (p.a / src).mkdir()
        (p.a / src / "s").write_bytes(b"s%d" % i)
        (p.a / tgt).mkdir()
        body = b"from b %d" % i
        rn, cr = _race(lambda: os.rename(p.a / src, p.a / tgt),
                       lambda: (p.b / tgt / "f").write_bytes(body))
        assert rn in (0, errno.ENOTEMPTY, errno.EEXIST), (i, rn, cr)
        assert cr in (0, errno.ENOENT), (i, rn, cr)
        for m in p.mnts:
            got = sorted(os.listdir(m / tgt))
            if rn == 0:
                assert not (m / src).exists(), (i, m)
                assert got == (["f", "s"] if cr == 0 else ["s"]), (i, m, rn, cr, got)
            else:
                assert got == ["f"] and cr == 0, (i, m, rn, cr, got)
                assert sorted(os.listdir(m / src)) == ["s"], (i, m)
        if cr == 0:
            assert (p.b / tgt / "f").read_bytes() == body
            expect["%s/f" % tgt] = sha(body)
        expect["%s/s" % (tgt if rn == 0 else src)] = sha(b"s%d" % i)
    p.verify_alone(expect)


def test_rmdir_racing_a_create_with_a_long_name(pair, request):
    """As test_rmdir_racing_a_create_inside, with a 255-byte name (which,
    with encrypted names, has a side file), on every backing.  Always: a
    create that succeeded is never lost or hidden, and a directory kept is
    whole.  With encrypted names the answers can also be off in the ways
    docs/SHARED.md lists: an expected failure there."""
    p = pair
    if p.kind != "glusterfs":
        request.node.add_marker(pytest.mark.xfail(reason=(
            "encrypted names (docs/SHARED.md): a create can fail with EIO, or fail "
            "while its file stays, and a file creation's temporary can be left in the "
            "directory kept (fsck: leftover)"), strict=False))
    kept, odd = {}, []
    long_name = ("L%d-" % 7) + "n" * 252
    assert len(long_name.encode()) == 255
    for i in range(40):
        d = "r%d" % i
        (p.a / d).mkdir()
        body = b"x%d" % i
        rm, cr = _race(lambda: os.rmdir(p.a / d),
                       lambda: (p.b / d / long_name).write_bytes(body))
        if cr == 0:
            assert rm == errno.ENOTEMPTY, (i, rm, cr)
            for m in p.mnts:
                assert os.listdir(m / d) == [long_name], (i, m)
                assert (m / d / long_name).read_bytes() == body
            kept["%s/%s" % (d, long_name)] = sha(body)
            continue
        assert rm in (0, errno.ENOTEMPTY), (i, rm, cr)
        if cr != errno.ENOENT:
            odd.append("race %d: create failed with %s" % (i, errno.errorcode[cr]))
        if rm == 0:
            for m in p.mnts:
                assert not (m / d).exists(), (i, m)
            continue
        # The directory was kept (it saw the create's side file): whole,
        # and removable once the other side's create is over.
        for m in p.mnts:
            got = os.listdir(m / d)
            assert got in ([], [long_name]), (i, m, got)
        if os.listdir(p.b / d):
            odd.append("race %d: create failed, its file stayed" % i)
            os.unlink(p.b / d / long_name)
        os.rmdir(p.b / d)
    assert not odd, odd[:3]
    p.verify_alone(kept)


def test_xattr_changes_from_both_sides(pair):
    """Both daemons change extended attributes of one file at once, each
    its own names and one name they share: the file's contents never
    change, no change is lost, no getxattr returns bytes that were never
    set (docs/SHARED.md: the object's attributes are changed under a lock
    every daemon sees; the later change wins)."""
    p = pair
    data = rsutil.pattern_bytes(20000, seed=5)
    (p.a / "f").write_bytes(data)
    rounds = 30
    errors = []

    def changer(side):
        f = p.mnts[side] / "f"
        for i in range(rounds):
            try:
                os.setxattr(f, "user.side%d.%d" % (side, i), b"v%d-%d" % (side, i))
                os.setxattr(f, "user.same", b"side%d-%d" % (side, i))
            except OSError as e:
                errors.append((side, i, e.errno))

    ts = [threading.Thread(target=changer, args=(s,)) for s in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    assert not errors, errors[:5]
    want = {"user.side%d.%d" % (s, i) for s in (0, 1) for i in range(rounds)}
    for m in p.mnts:
        f = m / "f"
        assert f.read_bytes() == data, m
        names = os.listxattr(f)
        # no change was lost: each daemon rewrote the whole set
        assert want <= set(names), (m, sorted(want - set(names))[:5])
        for nm in names:
            v = os.getxattr(f, nm)
            if nm == "user.same":
                assert v in {b"side%d-%d" % (s, i) for s in (0, 1) for i in range(rounds)}
            else:
                _, side, i = nm.split(".")
                assert v == b"v%s-%s" % (side.encode()[-1:], i.encode()), (m, nm, v)
    # Each side's last change is its own: the side that changed last sees
    # its value of the shared name.
    os.setxattr(p.a / "f", "user.same", b"final")
    assert os.getxattr(p.b / "f", "user.same") == b"final"
    p.verify_alone({"f": sha(data)})
