"""Backing directories on a network filesystem, for running the mount tests
with BACKING on GlusterFS or sshfs (docs/BACKING.md).

RAGSTORE_BACKING_FS=glusterfs|sshfs makes the store fixtures of conftest.py
place every backing directory on a filesystem of that kind, which the test
session starts itself and stops at its end, even after a failure:

glusterfs  a single-brick volume: glusterd (reused when one already runs,
           else started here and stopped by pid), a brick under a temporary
           directory, `gluster volume create NAME HOST:BRICK force`,
           `gluster volume start`, `mount -t glusterfs HOST:/NAME DIR`.
sshfs      an sshd of Debian's openssh-server on a free port of 127.0.0.1,
           with a host key and an authorized key made for the run, run with
           -D and stopped by pid; `sshfs` mounts a directory through it.

Tests that cannot work on such a filesystem use skip_unless() with the
feature they need (the probe names of docs/BACKING.md).
"""
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ENV = "RAGSTORE_BACKING_FS"
KINDS = ("glusterfs", "sshfs")

# What each filesystem lacks, as `ragstore info` reports it (probe.h).
MISSING = {
    "glusterfs": {"tmpfile", "rename_noreplace", "rename_exchange"},
    "sshfs": {"tmpfile", "rename_noreplace", "rename_exchange", "user_xattr",
              "sparse", "punch_hole", "ns_times", "hardlink", "fifo", "symlink_attrs"},
}


# Volume options ragstore needs (docs/BACKING.md): Gluster's write-behind
# acknowledges a write before the brick has it, and under load a read of a
# record just written then comes back short (an integrity error, EIO),
# which is why Gluster's own db-workload profile turns it off too.
GLUSTER_OPTIONS = ("performance.write-behind=off",)


def kind():
    """The filesystem the backing directories go on, or None (local)."""
    k = os.environ.get(ENV, "").strip()
    if k and k not in KINDS:
        raise RuntimeError("%s=%s: expected one of %s" % (ENV, k, ", ".join(KINDS)))
    return k or None


def lacks(feature):
    """True when the backing filesystem of this run lacks feature."""
    k = kind()
    return bool(k) and feature in MISSING[k]


def skip_unless(features, why):
    """A pytest skipif marker for a test that needs features (one name, or
    several separated by spaces) of the backing filesystem: why says what
    the test looks at."""
    import pytest
    missing = [f for f in features.split() if lacks(f)]
    return pytest.mark.skipif(bool(missing), reason="%s backing has no %s: %s" %
                              (kind(), ", ".join(missing), why))


def _run(args, timeout=120, check=True):
    r = subprocess.run([str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(map(str, args)),
                                                   r.returncode, r.stdout.strip()))
    return r


def _wait_for(what, ok, timeout=60):
    """Setup only: poll ok() until it holds (a service coming up)."""
    end = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > end:
            raise RuntimeError("%s did not come up in %d s" % (what, timeout))
        time.sleep(0.2)


def _is_mount(path):
    return os.path.ismount(str(path))


def _umount(path, cmd, lazy):
    """Unmount path with cmd, or detach it with lazy when it is busy."""
    if _is_mount(path) and _run(cmd + [path], check=False).returncode != 0:
        _run(lazy + [path], check=False)


def _stop_pid(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class _Scratch:
    """A temporary directory of the run (self.top) with the mount point of
    the filesystem in it (self.mnt)."""

    def __init__(self, kind):
        self.top = Path(tempfile.mkdtemp(prefix="ragstore-it-%s-" % kind, dir="/tmp"))
        os.chmod(self.top, 0o755)
        self.mnt = self.top / "mnt"

    def _remove(self):
        if not _is_mount(self.mnt):
            shutil.rmtree(self.top, ignore_errors=True)


class Gluster(_Scratch):
    """A single-brick GlusterFS volume mounted at self.mnt."""

    def __init__(self):
        super().__init__("gluster")
        self.brick = self.top / "brick"
        self.host = socket.gethostname()
        self.volume = "ragstore-it-%d-%s" % (os.getpid(), os.urandom(3).hex())
        self.glusterd = None
        self.created = self.started = False

    @staticmethod
    def _glusterd_running():
        r = subprocess.run(["pgrep", "-x", "glusterd"], stdout=subprocess.DEVNULL)
        return r.returncode == 0

    def _cli(self, *args, check=True):
        return _run(["gluster", "--mode=script"] + list(args), check=check)

    def start(self):
        if not shutil.which("glusterd") and not os.path.exists("/usr/sbin/glusterd"):
            raise RuntimeError("glusterd missing: install glusterfs-server (tests/deps.sh)")
        if not self._glusterd_running():
            self.glusterd = subprocess.Popen(
                ["glusterd", "-N", "--log-file=%s" % (self.top / "glusterd.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for("glusterd",
                  lambda: self._cli("volume", "list", check=False).returncode == 0)
        self.brick.mkdir()
        self.mnt.mkdir()
        self._cli("volume", "create", self.volume, "%s:%s" % (self.host, self.brick), "force")
        self.created = True
        for opt in GLUSTER_OPTIONS:
            self._cli("volume", "set", self.volume, *opt.split("=", 1))
        self._cli("volume", "start", self.volume)
        self.started = True
        _run(["mount", "-t", "glusterfs", "%s:/%s" % (self.host, self.volume), self.mnt])
        return self.mnt

    def stop(self):
        try:
            _umount(self.mnt, ["umount"], ["umount", "-l"])
            if self.started:
                self._cli("volume", "stop", self.volume, "force", check=False)
            if self.created:
                self._cli("volume", "delete", self.volume, check=False)
        finally:
            _stop_pid(self.glusterd)
            self._remove()


class Sshfs(_Scratch):
    """sshfs of a local directory through an sshd of its own on 127.0.0.1."""

    def __init__(self):
        super().__init__("sshfs")
        self.remote = self.top / "remote"
        self.sshd = None

    @staticmethod
    def _free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    @staticmethod
    def _accepts(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                return c.recv(4).startswith(b"SSH")
        except OSError:
            return False

    def start(self):
        for tool in ("/usr/sbin/sshd", "sshfs", "ssh-keygen"):
            if not shutil.which(tool) and not os.path.exists(tool):
                raise RuntimeError("%s missing: install openssh-server and sshfs "
                                   "(tests/deps.sh)" % tool)
        # sshd refuses to start without its privilege separation directory,
        # which Debian's service unit would make.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        host, ident = self.top / "host_key", self.top / "id_key"
        for k in (host, ident):
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k])
        auth = self.top / "authorized_keys"
        shutil.copy(str(ident) + ".pub", auth)
        os.chmod(auth, 0o600)
        port = self._free_port()
        self.sshd = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null", "-p", str(port),
             "-h", str(host), "-o", "ListenAddress=127.0.0.1",
             "-o", "AuthorizedKeysFile=%s" % auth, "-o", "PidFile=none",
             "-o", "UsePAM=no", "-o", "StrictModes=no",
             "-o", "PermitRootLogin=prohibit-password",
             "-o", "Subsystem=sftp internal-sftp"],
            stdout=open(self.top / "sshd.log", "w"), stderr=subprocess.STDOUT)
        _wait_for("sshd", lambda: self.sshd.poll() is None and self._accepts(port))
        self.remote.mkdir()
        self.mnt.mkdir()
        _run(["sshfs", "-o", "port=%d,IdentityFile=%s,BatchMode=yes,"
              "StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null" % (port, ident),
              "%s@127.0.0.1:%s" % (getpass.getuser(), self.remote), self.mnt])
        return self.mnt

    def stop(self):
        try:
            _umount(self.mnt, ["fusermount3", "-u"], ["fusermount3", "-uz"])
        finally:
            _stop_pid(self.sshd)
            self._remove()


def make():
    """The started filesystem of this run (with .mnt and .stop()), or None."""
    k = kind()
    if not k:
        return None
    fs = Gluster() if k == "glusterfs" else Sshfs()
    try:
        fs.start()
    except BaseException:
        fs.stop()
        raise
    return fs
