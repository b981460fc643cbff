"""The habits admins expect of a mount daemon (issue 12, items 3 to 6):
stopping by signal, where messages go, non-empty mountpoints, and a
distinct exit code with one line for each way a command fails."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rsutil
from rsutil import PASSPHRASE, run, write_file

HERE = Path(__file__).resolve().parent
USER = 1234
AS_USER = ["setpriv", "--reuid=%d" % USER, "--regid=%d" % USER, "--clear-groups"]
# Root without the right to override file permissions, so that a file of
# mode 000 is unreadable to it as to anyone.
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
          "--inh-caps=-dac_override,-dac_read_search"]


def lines(text):
    return [ln for ln in text.strip().splitlines() if ln.strip()]


def assert_one_line(r, *words):
    got = lines(r.stderr)
    assert len(got) == 1, "expected one line on stderr, got %r" % got
    for w in words:
        assert w in got[0], "%r not in %r" % (w, got[0])


def vstats(store):
    with open(store.mnt / ".ragstore" / "stats") as f:
        return json.load(f)


def control(store, command):
    fd = os.open(store.mnt / ".ragstore" / "control", os.O_WRONLY)
    try:
        os.write(fd, command.encode())
    except OSError:
        pass
    finally:
        os.close(fd)


def wait_mounted(mnt, proc=None, timeout=30):
    deadline = time.time() + timeout
    while not rsutil.is_mounted(mnt):
        assert proc is None or proc.poll() is None, "the mount command exited"
        assert time.time() < deadline, "%s not mounted after %ds" % (mnt, timeout)
        time.sleep(0.05)


def start_foreground(store, extra=()):
    """ragstore mount -f, its stderr going to a file.  Returns (Popen, path
    of the file) once the mount is usable."""
    errpath = store.base / ("fg-%d.stderr" % time.monotonic_ns())
    with open(errpath, "w") as err:
        p = subprocess.Popen([str(a) for a in store.mount_args(["-f"] + list(extra))],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err)
    try:
        wait_mounted(store.mnt, p)
    except AssertionError:
        p.kill()
        p.wait()
        raise AssertionError("mount -f failed: %s" % errpath.read_text())
    return p, errpath


def stop_foreground(store, p):
    if rsutil.is_mounted(store.mnt):
        run(["fusermount3", "-u", store.mnt], check=True)
    return p.wait(timeout=30)


# --------------------------------------------------------------------------
# item 3: SIGTERM and SIGINT stop the filesystem cleanly

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_foreground_signal_unmounts_and_exits_0(store, sig):
    """systemd stops a Type=simple `ragstore mount -f` with SIGTERM; Ctrl-C
    sends SIGINT.  Both are a requested stop: unmount, save, exit 0."""
    s = store
    s.unmount()
    p, errpath = start_foreground(s)
    try:
        write_file(s.path("f"), b"written before the signal")
        p.send_signal(sig)
        rc = p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert rc == 0, "exit status %d after %s: %s" % (rc, sig.name, errpath.read_text())
    assert not rsutil.is_mounted(s.mnt), "still mounted after %s" % sig.name
    assert "state = clean" in (s.backing / "ragstore.stats").read_text()
    s.mount()
    assert s.path("f").read_bytes() == b"written before the signal"
    assert vstats(s)["totals"]["state"] == "exact"


def _daemon_of(argv):
    """Pid of the one process whose command line is exactly argv."""
    want = [str(a).encode() for a in argv]
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if f.read().split(b"\0")[:-1] == want:
                        found.append(int(d))
            except OSError:
                pass
    assert len(found) == 1, "daemon of %r: %r" % (argv, found)
    return found[0]


def test_daemon_sigterm_unmounts_flushes_and_saves(store):
    """SIGTERM to the daemon of a mount made with relative paths (the daemon
    has left its directory): the mount goes away, a small write still held
    by an open file reaches the store, the totals are saved as clean."""
    s = store
    s.unmount()
    argv = [s.bin, "mount", "--passfile", "passfile", "backing", "mnt"]
    r = run(argv, cwd=s.base)
    assert r.returncode == 0, r.stderr
    wait_mounted(s.mnt)
    pid = _daemon_of(argv)
    s.pids = [pid]
    write_file(s.path("closed"), rsutil.text_bytes(200_000))
    f = open(s.path("open"), "wb")
    f.write(b"a small write, still in the daemon's memory")
    f.flush()
    os.kill(pid, signal.SIGTERM)
    assert rsutil.wait_pids_exit([pid], 30), "the daemon did not exit after SIGTERM"
    try:
        f.close()
    except OSError:
        pass  # the connection is gone; the data was handed over before
    assert not rsutil.is_mounted(s.mnt), "SIGTERM left the mount behind"
    s.pids = []
    assert "state = clean" in (s.backing / "ragstore.stats").read_text()
    s.mount()
    assert s.path("closed").read_bytes() == rsutil.text_bytes(200_000)
    assert s.path("open").read_bytes() == b"a small write, still in the daemon's memory"
    st = vstats(s)
    assert st["totals"]["state"] == "exact"
    assert st["files"] == 2 and st["logical_bytes"] == 200_000 + 43


# --------------------------------------------------------------------------
# item 4: messages

def test_foreground_messages_on_stderr_and_quiet(store):
    """-f: messages on stderr (info, warnings, errors); -q keeps errors only."""
    s = store
    B = rsutil.DEFAULT_BLOCK
    write_file(s.path("bad"), rsutil.pattern_bytes(2 * B, 7))
    bp = s.backing_path("bad")
    s.unmount()
    p, errpath = start_foreground(s)
    control(s, "frobnicate")
    assert stop_foreground(s, p) == 0
    text = errpath.read_text()
    assert "mounted on" in text and 'unknown command "frobnicate"' in text, text
    assert "unmounted" in text, text

    rsutil.flip_byte(bp, rsutil.v2_ciphertext_offset(bp, 1) + 3)
    p, errpath = start_foreground(s, ["-q"])
    control(s, "frobnicate")
    with pytest.raises(OSError):
        rsutil.read_file(s.path("bad"))
    assert stop_foreground(s, p) == 0
    text = errpath.read_text()
    assert "integrity check failed" in text, text
    assert "frobnicate" not in text and "mounted on" not in text, text
    assert all(ln.startswith("ragstore: error: ") for ln in lines(text)), text


def test_nosyslog_keeps_stderr_when_daemonized(store):
    """-o nosyslog: the daemon keeps the stderr it was started with, even a
    pipe, and its messages go there."""
    s = store
    s.unmount()
    p = subprocess.Popen([str(a) for a in s.mount_args(["-o", "nosyslog"])],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        assert p.wait(timeout=60) == 0
        s.pids = rsutil.daemon_pids(s.mnt)
        assert rsutil.is_mounted(s.mnt)
        control(s, "frobnicate")
        s.unmount()
        text = p.stderr.read().decode()  # EOF once the daemon is gone
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert "mounted on" in text and 'unknown command "frobnicate"' in text, text
    assert "unmounted" in text, text


def test_logfile_takes_messages_and_sighup_reopens_it(store):
    """-o logfile=FILE (relative to where mount ran): the daemon's messages
    are appended there with a timestamp, not to the stderr pipe; after
    logrotate's move, SIGHUP makes it open FILE again and the filesystem
    stays mounted; later messages go to the new file only."""
    s = store
    s.unmount()
    argv = [s.bin, "mount", "--passfile", "passfile", "-o", "logfile=daemon.log",
            "backing", "mnt"]
    r = run(argv, cwd=s.base)
    assert r.returncode == 0, r.stderr
    wait_mounted(s.mnt)
    pid = _daemon_of(argv)
    s.pids = [pid]
    assert r.stderr == "", r.stderr
    log = s.base / "daemon.log"
    assert os.stat(log).st_mode & 0o777 == 0o600
    first = log.read_text()
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ragstore\[%d\]: info: .*"
                    r"mounted on " % pid, first), first
    assert "logfile = %s" % log in (s.mnt / ".ragstore" / "config").read_text()
    os.rename(log, s.base / "daemon.log.1")
    os.kill(pid, signal.SIGHUP)
    deadline = time.time() + 30
    while not log.exists():
        assert time.time() < deadline, "SIGHUP did not reopen the log file"
        time.sleep(0.05)
    assert rsutil.is_mounted(s.mnt) and rsutil.pid_alive(pid), "SIGHUP stopped the daemon"
    write_file(s.path("after"), b"still served")
    assert s.path("after").read_bytes() == b"still served"
    control(s, "frobnicate")
    s.unmount()
    new = log.read_text()
    assert 'unknown command "frobnicate"' in new and "unmounted" in new, new
    assert (s.base / "daemon.log.1").read_text() == first


def test_logfile_that_cannot_be_opened_is_one_line(store):
    s = store
    s.unmount()
    r = run(s.mount_args(["-o", "logfile=%s" % (s.base / "no" / "such" / "dir.log")]))
    assert r.returncode == 1, r
    assert_one_line(r, "logfile=", "No such file or directory")
    assert not rsutil.is_mounted(s.mnt)


def _in_syslog_namespace(s, syslog, stderr, extra=()):
    spec = s.base / ("ns-%d.json" % time.monotonic_ns())
    work = s.base / ("ns-%d" % time.monotonic_ns())
    work.mkdir()
    spec.write_text(json.dumps({
        "syslog": syslog, "stderr": stderr, "mnt": str(s.mnt), "workdir": str(work),
        "mount": [str(a) for a in s.mount_args(list(extra))]}))
    r = run(["unshare", "-m", "--propagation", "private", sys.executable,
             HERE / "syslog_ns.py", spec], timeout=180)
    if r.returncode != 0 and "unshare failed" in r.stderr:
        pytest.skip("no mount namespaces here: %s" % r.stderr.strip())
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert not rep["hung"], "the mount command did not return: %r" % rep
    assert rep["mount_rc"] == 0, rep
    assert rep["daemon_exited"], rep
    return rep


def test_daemon_messages_go_to_syslog(store_factory):
    s = store_factory(mount=False)
    rep = _in_syslog_namespace(s, "listen", "pipe")
    logged = "\n".join(rep["syslog"])
    assert "ragstore[" in logged and "mounted on" in logged, rep
    assert 'unknown command "frobnicate"' in logged and "unmounted" in logged, rep
    assert rep["mount_stderr"] == "", rep


def test_nosyslog_with_syslog_present(store_factory):
    s = store_factory(mount=False)
    rep = _in_syslog_namespace(s, "listen", "file", ["-o", "nosyslog"])
    assert 'unknown command "frobnicate"' in rep["mount_stderr"], rep
    assert not any("frobnicate" in m for m in rep["syslog"]), rep


def test_no_syslog_keeps_a_stderr_file(store_factory):
    """No syslog daemon (a container): a stderr that is a file keeps the
    daemon's messages."""
    s = store_factory(mount=False)
    rep = _in_syslog_namespace(s, "none", "file")
    text = rep["mount_stderr"]
    assert "mounted on" in text and 'unknown command "frobnicate"' in text, rep
    assert "unmounted" in text, rep


def test_no_syslog_says_messages_are_lost(store_factory):
    """No syslog daemon and stderr a pipe, which the daemon must not hold
    (its reader would wait for the end): one warning says so, and the mount
    command returns."""
    s = store_factory(mount=False)
    rep = _in_syslog_namespace(s, "none", "pipe")
    got = lines(rep["mount_stderr"])
    assert len(got) == 1 and "warning" in got[0] and "syslog" in got[0], rep
    assert "nosyslog" in got[0], rep
    rep = _in_syslog_namespace(s, "none", "pipe", ["-q"])
    assert rep["mount_stderr"] == "", rep


# --------------------------------------------------------------------------
# item 5: a non-empty mountpoint

def test_nonempty_mountpoint_refused(store):
    s = store
    s.unmount()
    write_file(s.mnt / "precious", b"keep me visible")
    try:
        r = run(s.mount_args())
        assert r.returncode == 6, "rc=%d %s" % (r.returncode, r.stderr)
        assert_one_line(r, "not empty", "-o nonempty")
        assert not rsutil.is_mounted(s.mnt)
        s.mount(["-o", "nonempty,nodev"])
        assert not s.path("precious").exists(), "the mount does not cover the directory"
        write_file(s.path("inside"), b"in the store")
        s.unmount()
        assert (s.mnt / "precious").read_bytes() == b"keep me visible"
        assert not (s.mnt / "inside").exists()
    finally:
        if (s.mnt / "precious").exists() and not rsutil.is_mounted(s.mnt):
            os.unlink(s.mnt / "precious")


# --------------------------------------------------------------------------
# item 6: exit codes and one-line messages

@pytest.mark.parametrize("args,words", [
    ([], ["no command"]),
    (["frobnicate"], ["unknown command 'frobnicate'"]),
    (["--no-such-option"], ["--no-such-option"]),
    (["init"], ["BACKING"]),
    (["init", "--passfile"], ["--passfile", "needs an argument"]),
    (["mount", "/tmp"], ["BACKING and MOUNTPOINT"]),
    (["mount", "--bogus", "a", "b"], ["unknown option --bogus"]),
    (["mount", "-z", "a", "b"], ["unknown option -z"]),
    (["mount", "-o"], ["-o needs an argument"]),
    (["passwd", "--nope", "x"], ["--nope"]),
    (["help", "frob"], ["frob"]),
], ids=["none", "command", "global-option", "init-arg", "init-optarg", "mount-arg",
        "mount-long", "mount-short", "mount-optarg", "passwd-option", "help"])
def test_usage_error_is_one_line(ragstore_bin, args, words):
    r = run([ragstore_bin] + args)
    assert r.returncode == 2, "rc=%d %s" % (r.returncode, r.stderr)
    assert_one_line(r, "see ragstore --help", *words)


def test_bad_fuse_option_is_one_line(store):
    store.unmount()
    r = run(store.mount_args(["-o", "no_such_fuse_option"]))
    assert r.returncode == 2, r.stderr
    assert_one_line(r, "no_such_fuse_option")


@pytest.fixture
def unmounted(store_factory):
    """(Store, MOUNTPOINT) of a store that is not mounted."""
    s = store_factory(mount=False)
    return s, s.mnt


def test_extpass_failure_says_how(unmounted):
    s, mnt = unmounted
    r = run([s.bin, "mount", "--extpass", "exit 1", s.backing, mnt])
    assert r.returncode == 1
    assert_one_line(r, "extpass command exited with 1")
    r = run([s.bin, "mount", "--extpass", "kill -TERM $$", s.backing, mnt])
    assert r.returncode == 1
    assert_one_line(r, "extpass command killed by signal 15")
    assert not rsutil.is_mounted(mnt)


def test_unreadable_descriptor_is_not_a_wrong_passphrase(unmounted):
    s, mnt = unmounted
    conf = s.backing / "ragstore.conf"
    os.chmod(conf, 0)
    try:
        r = run(NO_DAC + s.mount_args())
        assert r.returncode == 7, "rc=%d %s" % (r.returncode, r.stderr)
        assert_one_line(r, "ragstore.conf", "Permission denied")
        assert "passphrase" not in r.stderr
        r = run(NO_DAC + [s.bin, "passwd", "--passfile", s.passfile, "--new-passfile",
                          s.passfile, s.backing])
        assert r.returncode == 7, "passwd: rc=%d %s" % (r.returncode, r.stderr)
        assert_one_line(r, "Permission denied")
    finally:
        os.chmod(conf, 0o600)
    wrong = s.base / "wrong"
    wrong.write_text("not " + PASSPHRASE + "\n")
    r = run([s.bin, "mount", "--passfile", wrong, s.backing, mnt])
    assert r.returncode == 3, r.stderr
    assert_one_line(r, "wrong passphrase")
    assert not rsutil.is_mounted(mnt)


def _user_mountpoint(s):
    """A mountpoint the unprivileged USER owns, and the store readable to
    them, so that only FUSE's rules stand in the way."""
    umnt = s.base / "umnt"
    umnt.mkdir()
    for p in (umnt, s.backing, s.passfile):
        os.chown(p, USER, USER)
    for root, dirs, files in os.walk(s.backing):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), USER, USER)
    return umnt


def test_dev_fuse_permission_denied(unmounted):
    s, _ = unmounted
    if os.stat("/dev/fuse").st_mode & 0o006 == 0o006:
        pytest.skip("/dev/fuse is open to every user here")
    umnt = _user_mountpoint(s)
    r = run(AS_USER + [s.bin, "mount", "--passfile", s.passfile, s.backing, umnt])
    if rsutil.is_mounted(umnt):
        rsutil.unmount(umnt, rsutil.daemon_pids(umnt))
    assert r.returncode == 8, "rc=%d %s" % (r.returncode, r.stderr)
    assert_one_line(r, "/dev/fuse", "permission denied")


def _fuse_conf_allows_other():
    try:
        with open("/etc/fuse.conf") as f:
            return any(ln.split("#")[0].strip() == "user_allow_other" for ln in f)
    except OSError:
        return False


def test_allow_other_needs_user_allow_other(unmounted):
    s, _ = unmounted
    if _fuse_conf_allows_other():
        pytest.skip("/etc/fuse.conf has user_allow_other here")
    umnt = _user_mountpoint(s)
    r = run(AS_USER + [s.bin, "mount", "-o", "allow_other", "--passfile", s.passfile,
                       s.backing, umnt])
    if rsutil.is_mounted(umnt):
        rsutil.unmount(umnt, rsutil.daemon_pids(umnt))
    assert r.returncode == 9, "rc=%d %s" % (r.returncode, r.stderr)
    assert_one_line(r, "allow_other", "user_allow_other", "/etc/fuse.conf")


def test_exit_codes_documented():
    """Every exit code src/cli/cli.h defines is in the man page and the README."""
    src = (rsutil.REPO / "src" / "cli" / "cli.h").read_text()
    body = src[src.index("enum exit_code {"):]
    body = body[:body.index("};")]
    found = [int(v) for v in re.findall(r"= (\d+),", body)]
    codes = sorted(set(found))
    # Unique, from 0; 10 and 11 are left to fsck's own codes (cmd_fsck.h).
    assert len(codes) == len(found) and codes[0] == 0, found
    assert not {10, 11} & set(codes), codes
    man = (rsutil.REPO / "docs" / "ragstore.1").read_text()
    section = man[man.index(".SH EXIT STATUS"):]
    section = section[:section.index("\n.SH ", 1)]
    readme = (rsutil.REPO / "README.md").read_text()
    for c in codes:
        assert "\n.B %d\n" % c in section, "exit status %d missing in ragstore(1)" % c
        assert "\n| %d |" % c in readme, "exit status %d missing in README.md" % c
