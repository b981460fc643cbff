"""Command line: init, mount, exit codes, messages."""
import hashlib
import os
import subprocess
import time

import pytest

import rsutil
from rsutil import PASSPHRASE, run, write_file


def one_line(stderr):
    lines = [l for l in stderr.strip().splitlines() if l.strip()]
    return len(lines) == 1


@pytest.fixture
def pf(tmp_path):
    p = tmp_path / "pass"
    p.write_text(PASSPHRASE + "\n")
    return p


def test_help_and_version(ragstore_bin):
    r = run([ragstore_bin, "--help"])
    assert r.returncode == 0
    assert "init" in r.stdout and "mount" in r.stdout
    r = run([ragstore_bin, "--version"])
    assert r.returncode == 0
    assert r.stdout.strip()


def test_help_command(ragstore_bin):
    r = run([ragstore_bin, "help", "mount"])
    assert r.returncode == 0, r.stderr
    assert "mount" in r.stdout


@pytest.mark.parametrize("args", [["frobnicate"], ["--no-such-option"],
                                  ["init"], ["mount", "/tmp"], []],
                         ids=["unknown-cmd", "unknown-opt", "init-no-arg",
                              "mount-one-arg", "no-args"])
def test_usage_errors_exit_2(ragstore_bin, args):
    r = run([ragstore_bin] + args)
    assert r.returncode == 2, "rc=%d stderr=%s" % (r.returncode, r.stderr)
    assert r.stderr.strip(), "usage error without a message on stderr"


def test_init_creates_layout(ragstore_bin, tmp_path, pf):
    b = tmp_path / "new" / "backing"  # parent missing too? only BACKING needs creating
    b.parent.mkdir()
    r = run([ragstore_bin, "init", "--passfile", pf, b])
    assert r.returncode == 0, r.stderr
    assert (b / "ragstore.conf").is_file()
    assert (b / "root").is_dir()
    # existing empty directory is fine
    e = tmp_path / "emptydir"
    e.mkdir()
    r = run([ragstore_bin, "init", "--passfile", pf, e])
    assert r.returncode == 0, r.stderr


def test_init_non_empty_fails(ragstore_bin, tmp_path, pf):
    b = tmp_path / "b"
    b.mkdir()
    write_file(b / "precious", b"keep me")
    r = run([ragstore_bin, "init", "--passfile", pf, b])
    assert r.returncode != 0
    assert one_line(r.stderr), r.stderr
    assert sorted(os.listdir(b)) == ["precious"]
    assert (b / "precious").read_bytes() == b"keep me"


def test_init_twice_fails(ragstore_bin, tmp_path, pf):
    b = tmp_path / "b"
    run([ragstore_bin, "init", "--passfile", pf, b], check=True)
    h = hashlib.sha256((b / "ragstore.conf").read_bytes()).hexdigest()
    r = run([ragstore_bin, "init", "--passfile", pf, b])
    assert r.returncode != 0
    assert one_line(r.stderr), r.stderr
    assert hashlib.sha256((b / "ragstore.conf").read_bytes()).hexdigest() == h


def _no_tty(args, timeout=30):
    return subprocess.run([str(a) for a in args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout, start_new_session=True)


def test_no_passphrase_no_tty_fails(ragstore_bin, tmp_path, pf):
    b = tmp_path / "b"
    r = _no_tty([ragstore_bin, "init", b])
    assert r.returncode != 0, "init without passphrase source and no tty succeeded"
    assert one_line(r.stderr), r.stderr
    assert not (b / "ragstore.conf").exists()
    run([ragstore_bin, "init", "--passfile", pf, b], check=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        r = _no_tty([ragstore_bin, "mount", b, mnt])
        assert r.returncode != 0, "mount without passphrase and no tty succeeded"
        assert one_line(r.stderr), r.stderr
        assert not rsutil.is_mounted(mnt)
    finally:
        if rsutil.is_mounted(mnt):
            rsutil.unmount(mnt, rsutil.daemon_pids(mnt))


def test_passphrase_not_from_environment_or_args(ragstore_bin, tmp_path):
    b = tmp_path / "b"
    env = dict(os.environ, RAGSTORE_PASSPHRASE="x", RAGSTORE_PASSWORD="x",
               PASSPHRASE="x")
    r = subprocess.run([ragstore_bin, "init", str(b)], env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30,
                       start_new_session=True)
    assert r.returncode != 0, "passphrase was taken from the environment"


def test_extpass(ragstore_bin, tmp_path, pf):
    b = tmp_path / "b"
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run([ragstore_bin, "init", "--extpass", "cat %s" % pf, b])
    assert r.returncode == 0, r.stderr
    try:
        r = run([ragstore_bin, "mount", "--extpass", "cat %s" % pf, b, mnt])
        assert r.returncode == 0, r.stderr
        assert rsutil.is_mounted(mnt)
        write_file(mnt / "f", b"via extpass")
        rsutil.unmount(mnt, rsutil.daemon_pids(mnt))
        # the same passphrase through --passfile
        r = run([ragstore_bin, "mount", "--passfile", pf, b, mnt])
        assert r.returncode == 0, r.stderr
        assert (mnt / "f").read_bytes() == b"via extpass"
        rsutil.unmount(mnt, rsutil.daemon_pids(mnt))
        # a failing or wrong extpass
        r = run([ragstore_bin, "mount", "--extpass", "echo wrong", b, mnt])
        assert r.returncode == 3, "rc=%d %s" % (r.returncode, r.stderr)
        r = run([ragstore_bin, "mount", "--extpass", "false", b, mnt])
        assert r.returncode != 0
        assert not rsutil.is_mounted(mnt)
    finally:
        if rsutil.is_mounted(mnt):
            rsutil.unmount(mnt, rsutil.daemon_pids(mnt))


def test_passfile_trailing_newline_stripped(ragstore_bin, tmp_path, pf):
    b = tmp_path / "b"
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    run([ragstore_bin, "init", "--passfile", pf, b], check=True)
    nonl = tmp_path / "nonl"
    nonl.write_text(PASSPHRASE)  # same passphrase without newline
    extra = tmp_path / "extra"
    extra.write_text(PASSPHRASE + "\nsecond line ignored\n")
    try:
        for p in (nonl, extra):
            r = run([ragstore_bin, "mount", "--passfile", p, b, mnt])
            assert r.returncode == 0, "%s: %s" % (p.name, r.stderr)
            rsutil.unmount(mnt, rsutil.daemon_pids(mnt))
    finally:
        if rsutil.is_mounted(mnt):
            rsutil.unmount(mnt, rsutil.daemon_pids(mnt))


@pytest.fixture
def unmounted_store(ragstore_bin, tmp_path, pf):
    """(BACKING, MOUNTPOINT) of a new store with passphrase PASSPHRASE, not
    mounted; unmounted again at the end whatever the test did."""
    b, mnt = tmp_path / "b", tmp_path / "mnt"
    mnt.mkdir()
    run([ragstore_bin, "init", "--passfile", pf, b], check=True)
    yield b, mnt
    if rsutil.is_mounted(mnt):
        rsutil.unmount(mnt, rsutil.daemon_pids(mnt))


def test_mount_typed_passphrase_daemonized(ragstore_bin, unmounted_store):
    """The README's first example: mount (no -f) asks on the terminal, then
    goes to the background."""
    b, mnt = unmounted_store
    rc, shown = rsutil.on_terminal([ragstore_bin, "mount", b, mnt], {"Passphrase: ": PASSPHRASE})
    assert rc == 0, "rc=%d, the terminal showed: %s" % (rc, shown)
    assert "Passphrase: " in shown
    assert PASSPHRASE not in shown, "the passphrase was echoed"
    assert rsutil.is_mounted(mnt)
    pids = rsutil.daemon_pids(mnt)
    assert len(pids) == 1, "daemon not found: %s" % pids
    write_file(mnt / "typed", b"written after a typed passphrase")
    assert not rsutil.unmount(mnt, pids)
    rc, shown = rsutil.on_terminal([ragstore_bin, "mount", b, mnt], {"Passphrase: ": PASSPHRASE})
    assert rc == 0, "remount: rc=%d, the terminal showed: %s" % (rc, shown)
    assert (mnt / "typed").read_bytes() == b"written after a typed passphrase"


def test_mount_typed_wrong_passphrase_exit_3(ragstore_bin, unmounted_store):
    b, mnt = unmounted_store
    rc, shown = rsutil.on_terminal([ragstore_bin, "mount", b, mnt],
                             {"Passphrase: ": "not " + PASSPHRASE})
    assert rc == 3, "rc=%d, the terminal showed: %s" % (rc, shown)
    assert "Passphrase: " in shown
    assert "wrong passphrase" in shown, shown
    assert not rsutil.is_mounted(mnt)
    assert not rsutil.daemon_pids(mnt)


def test_mountpoint_problems_exit_5(store, tmp_path):
    s = store
    s.unmount()
    missing = tmp_path / "nope"
    r = run(s.mount_args()[:-1] + [missing])
    assert r.returncode == 5, "missing mountpoint: rc=%d %s" % (r.returncode, r.stderr)
    assert one_line(r.stderr), r.stderr
    afile = tmp_path / "afile"
    afile.write_text("x")
    r = run(s.mount_args()[:-1] + [afile])
    assert r.returncode == 5, "file as mountpoint: rc=%d %s" % (r.returncode, r.stderr)
    assert one_line(r.stderr), r.stderr
    # busy: something is already mounted there
    s.mount()
    s2 = tmp_path / "other"
    r = run([s.bin, "init", "--passfile", s.passfile, s2], check=True)
    r = run([s.bin, "mount", "--passfile", s.passfile, s2, s.mnt])
    assert r.returncode == 5, "busy mountpoint: rc=%d %s" % (r.returncode, r.stderr)
    assert one_line(r.stderr), r.stderr
    # the existing mount is untouched and still works
    assert len([m for m in rsutil.mounts() if m[1] == str(s.mnt)]) == 1
    write_file(s.path("still"), b"ok")
    assert (s.path("still")).read_bytes() == b"ok"


def test_mount_returns_when_usable(store):
    # the fixture mounted already; immediately usable, daemon detached
    assert rsutil.is_mounted(store.mnt)
    write_file(store.path("now"), b"now")
    assert len(store.pids) == 1, "daemon pid not found: %s" % store.pids
    entry = rsutil.mount_entry(store.mnt)
    assert entry[2].startswith("fuse"), entry


def test_foreground_mount(store):
    s = store
    s.unmount()
    p = subprocess.Popen([str(a) for a in s.mount_args(["-f"])],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 30
        while not rsutil.is_mounted(s.mnt) and time.time() < deadline:
            assert p.poll() is None, "foreground mount exited: %s" % p.stderr.read()
            time.sleep(0.05)
        assert rsutil.is_mounted(s.mnt)
        assert p.poll() is None, "-f did not stay in the foreground"
        write_file(s.path("fg"), b"fg")
        r = run(["fusermount3", "-u", s.mnt])
        assert r.returncode == 0, r.stderr
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            rsutil.run(["fusermount3", "-uz", s.mnt])
            p.kill()
            p.wait()
    s.mount()
    assert s.path("fg").read_bytes() == b"fg"


def test_mount_read_only_option(store):
    write_file(store.path("f"), b"data")
    store.remount(["-o", "ro"])
    assert store.path("f").read_bytes() == b"data"
    with pytest.raises(OSError) as ei:
        write_file(store.path("g"), b"x")
    assert ei.value.errno == 30  # EROFS


def test_init_options(ragstore_bin, tmp_path, pf):
    # block size is honoured: a file of 8 KiB with 4 KiB blocks has a
    # header with that block size and two entries of 4 KiB each, whose
    # records are in the file
    b = tmp_path / "b4k"
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    run([ragstore_bin, "init", "--passfile", pf, "--block-size", "4096", b],
        check=True)
    run([ragstore_bin, "mount", "--passfile", pf, b, mnt], check=True)
    try:
        write_file(mnt / "f", rsutil.pattern_bytes(8192, "b"))
        bp = rsutil.backing_path(b, "f", mnt)
    finally:
        rsutil.unmount(mnt, rsutil.daemon_pids(mnt))
    raw = bp.read_bytes()
    h = rsutil.v2_header(raw)
    assert (h["block_size"], h["size"]) == (4096, 8192), h
    assert [(e["block"], e["plain"]) for e in h["entries"]] == [(0, 4096), (1, 4096)], h
    for e in h["entries"]:
        assert e["off"] + rsutil.V2_NONCE + e["stored"] <= len(raw), h
    for bad in ("1000", "3000", "2097152", "abc"):
        d = tmp_path / ("bad" + bad)
        r = run([ragstore_bin, "init", "--passfile", pf, "--block-size", bad, d])
        assert r.returncode != 0, "block size %s accepted" % bad
        assert not (d / "ragstore.conf").exists()
    d = tmp_path / "badcipher"
    r = run([ragstore_bin, "init", "--passfile", pf, "--cipher", "rot13", d])
    assert r.returncode != 0
    assert not (d / "ragstore.conf").exists()
    d = tmp_path / "xchacha"
    r = run([ragstore_bin, "init", "--passfile", pf, "--cipher",
             "xchacha20-poly1305", "--plaintext-names", d])
    assert r.returncode == 0, r.stderr


def test_no_encryption_init_needs_no_passphrase(ragstore_bin, tmp_path):
    b = tmp_path / "b"
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = _no_tty([ragstore_bin, "init", "--no-encryption", b])
    assert r.returncode == 0, r.stderr
    r = _no_tty([ragstore_bin, "mount", b, mnt])
    try:
        assert r.returncode == 0, r.stderr
        write_file(mnt / "f", b"plain store")
    finally:
        rsutil.unmount(mnt, rsutil.daemon_pids(mnt))


def test_unprivileged_user_mount(ragstore_bin):
    """A non-root user can init and mount (via fusermount3) and unmount."""
    import stat as _stat
    import tempfile
    st = os.stat("/dev/fuse")
    if st.st_mode & 0o006 != 0o006:
        pytest.skip("/dev/fuse is not accessible to other users here (mode %o)"
                    % _stat.S_IMODE(st.st_mode))
    top = tempfile.mkdtemp(prefix="ragstore-user-", dir="/tmp")
    os.chmod(top, 0o755)
    uid = 1234
    for d in ("backing", "mnt"):
        os.mkdir(os.path.join(top, d))
        os.chown(os.path.join(top, d), uid, uid)
    pfile = os.path.join(top, "pass")
    with open(pfile, "w") as f:
        f.write(PASSPHRASE + "\n")
    os.chown(pfile, uid, uid)
    mnt = os.path.join(top, "mnt")
    asuser = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"]
    env = dict(os.environ, HOME=top)
    try:
        r = run(asuser + [ragstore_bin, "init", "--passfile", pfile,
                          os.path.join(top, "backing")], env=env)
        assert r.returncode == 0, r.stderr
        r = run(asuser + [ragstore_bin, "mount", "--passfile", pfile,
                          os.path.join(top, "backing"), mnt], env=env)
        assert r.returncode == 0, "user mount failed: %s" % r.stderr
        assert rsutil.is_mounted(mnt)
        r = run(asuser + ["sh", "-c", "echo user data > %s/f && cat %s/f" % (mnt, mnt)])
        assert r.returncode == 0 and r.stdout == "user data\n", r.stderr
    finally:
        if rsutil.is_mounted(mnt):
            pids = rsutil.daemon_pids(mnt)
            r = run(asuser + ["fusermount3", "-u", mnt])
            problems = rsutil.unmount(mnt, pids)
            assert r.returncode == 0, "user could not unmount: %s" % r.stderr
            assert not problems, problems
    import shutil
    shutil.rmtree(top, ignore_errors=True)


def test_same_store_mounted_twice_refused(store, tmp_path):
    other = tmp_path / "mnt2"
    other.mkdir()
    r = run(store.mount_args()[:-1] + [other])
    try:
        assert r.returncode != 0, "a second daemon was started on the same store"
        assert one_line(r.stderr), r.stderr
        assert not rsutil.is_mounted(other)
    finally:
        if rsutil.is_mounted(other):
            rsutil.unmount(other, rsutil.daemon_pids(other))
    write_file(store.path("f"), b"first mount still fine")
    store.remount()
    assert store.path("f").read_bytes() == b"first mount still fine"
