"""Fixtures for the ragstore integration tests.

store          a fresh, mounted, encrypted store (default block size)
store_factory  make more stores: store_factory(block_size=4096, encryption=False, ...)
policy_store   a store mounted with --config: policy_store(INI_TEXT)
ragstore_bin   path of the binary (built once with make if missing)
backing_top    where backing directories go: None (next to their mount), or
               a directory on the GlusterFS or sshfs filesystem that
               RAGSTORE_BACKING_FS asks for (backingfs.py)
backing_dir    a fresh directory for one backing directory, on that
               filesystem when there is one (else pytest's tmp_path)
"""
import os
import shutil
import subprocess
import tempfile
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backingfs  # noqa: E402
import rsutil  # noqa: E402
from rsutil import PASSPHRASE, REPO, run  # noqa: E402


@pytest.fixture(scope="session")
def ragstore_bin():
    binary = Path(os.environ.get("RAGSTORE_BIN", str(rsutil.BINARY)))
    if not binary.exists():
        r = subprocess.run(["make", "-C", str(REPO), "ragstore"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=600)
        if r.returncode != 0 or not binary.exists():
            pytest.fail("cannot build %s:\n%s" % (binary, r.stdout[-3000:]),
                        pytrace=False)
    if not os.path.exists("/dev/fuse"):
        pytest.fail("/dev/fuse missing", pytrace=False)
    # Run a private copy, so that a rebuild in the working tree during the
    # run cannot pull the binary away (the name stays "ragstore": daemon
    # lookup goes by it).
    private = Path(tempfile.mkdtemp(prefix="ragstore-it-bin-", dir="/tmp"))
    os.chmod(private, 0o755)
    copy = private / "ragstore"
    shutil.copy2(binary, copy)
    yield str(copy)
    shutil.rmtree(private, ignore_errors=True)


class Store:
    """One ragstore backing directory and its mountpoint."""

    def __init__(self, binary, base, block_size=None, encryption=True,
                 plaintext_names=False, cipher=None, init_extra=(), backing=None):
        self.bin = binary
        base = Path(base)
        base.mkdir(parents=True, exist_ok=True)
        self.base = base
        self.backing = Path(backing) if backing else base / "backing"
        self.mnt = base / "mnt"
        self.passfile = base / "passfile"
        self.block_size = block_size or rsutil.DEFAULT_BLOCK
        self.encryption = encryption
        self.mnt.mkdir()
        self.passfile.write_text(PASSPHRASE + "\n")
        self.pids = []
        self.problems = []
        args = [self.bin, "init"]
        if encryption:
            args += ["--passfile", self.passfile]
        else:
            args += ["--no-encryption"]
        if plaintext_names:
            args += ["--plaintext-names"]
        if cipher:
            args += ["--cipher", cipher]
        if block_size:
            args += ["--block-size", str(block_size)]
        args += list(init_extra)
        args.append(self.backing)
        run(args, check=True, timeout=120)

    # -- mount management ------------------------------------------------
    def mount_args(self, extra=()):
        args = [self.bin, "mount"]
        if self.encryption:
            args += ["--passfile", self.passfile]
        args += list(extra)
        args += [self.backing, self.mnt]
        return args

    def mount(self, extra=()):
        assert not rsutil.is_mounted(self.mnt), "already mounted"
        r = run(self.mount_args(extra), timeout=120)
        if r.returncode != 0:
            raise AssertionError("mount failed rc=%d: %s" % (r.returncode, r.stderr))
        assert rsutil.is_mounted(self.mnt), \
            "ragstore mount returned 0 but %s is not in /proc/mounts" % self.mnt
        self.pids = rsutil.daemon_pids(self.mnt)
        return r

    def unmount(self, timeout=30):
        problems = rsutil.unmount(self.mnt, self.pids, timeout=timeout)
        self.pids = []
        self.problems += problems
        assert not problems, "; ".join(problems)

    def remount(self, extra=()):
        self.unmount()
        self.mount(extra)

    def path(self, rel):
        return self.mnt / rel

    def backing_path(self, rel):
        return rsutil.backing_path(self.backing, rel, self.mnt)

    def teardown(self):
        # Never raise from here: always leave the system unmounted.
        pids = self.pids or rsutil.daemon_pids(self.mnt)
        try:
            rsutil.unmount(self.mnt, pids, timeout=15)
        except Exception:  # pragma: no cover
            subprocess.run(["fusermount3", "-uz", str(self.mnt)])


@pytest.fixture(scope="session")
def backing_top():
    """None, or the mounted GlusterFS or sshfs directory of this session
    (RAGSTORE_BACKING_FS, backingfs.py), started here and stopped at the end
    of the session even when tests failed."""
    if backingfs.kind() and not os.path.exists("/dev/fuse"):
        pytest.skip("%s=%s needs /dev/fuse, which this machine lacks" %
                    (backingfs.ENV, backingfs.kind()))
    fs = backingfs.make()
    if fs is None:
        yield None
        return
    try:
        yield fs.mnt
    finally:
        fs.stop()


def _backing_base(backing_top, prefix):
    if backing_top is None:
        return None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=str(backing_top)))


@pytest.fixture
def backing_dir(backing_top, tmp_path):
    """A fresh empty directory to hold one backing directory: on the
    backing filesystem of the session when there is one."""
    base = _backing_base(backing_top, "dir-")
    yield base or tmp_path
    if base is not None and not os.environ.get("RAGSTORE_IT_KEEP"):
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def store_factory(ragstore_bin, backing_top):
    """Stores live under a world-traversable /tmp/ragstore-it-* directory (not
    pytest's 0700 tmp_path) so tests can access the mount as another uid;
    their backing directories go on the session's backing filesystem when
    RAGSTORE_BACKING_FS names one."""
    made = []
    top = Path(tempfile.mkdtemp(prefix="ragstore-it-", dir="/tmp"))
    os.chmod(top, 0o755)
    btop = _backing_base(backing_top, "stores-")

    def make(name=None, mount=True, **kw):
        base = top / (name or "store%d" % len(made))
        if btop is not None:
            kw.setdefault("backing", btop / base.name / "backing")
            (btop / base.name).mkdir()
        s = Store(ragstore_bin, base, **kw)
        made.append(s)
        if mount:
            s.mount()
        return s

    yield make
    for s in reversed(made):
        s.teardown()
    # RAGSTORE_IT_KEEP=1 keeps the backing directories for a post-mortem.
    if not os.environ.get("RAGSTORE_IT_KEEP") and \
            not any(rsutil.is_mounted(s.mnt) for s in made):
        shutil.rmtree(top, ignore_errors=True)
        if btop is not None:
            shutil.rmtree(btop, ignore_errors=True)


@pytest.fixture
def store(store_factory):
    return store_factory("store")


@pytest.fixture
def policy_store(store_factory, tmp_path):
    """policy_store(TEXT): a store mounted with --config of a policy file
    holding TEXT (its path in s.cfg, for remounts)."""
    def make(text, name="policies.ini"):
        cfg = tmp_path / name
        cfg.write_text(text)
        s = store_factory(mount=False)
        s.cfg = cfg
        s.mount(["--config", str(cfg)])
        return s
    return make


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
