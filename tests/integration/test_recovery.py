"""Key recovery (docs/RECOVERY.md): the master key shown once at init or
written with --masterkey-file, mount and passwd with it alone, and the
recovery of a deleted or damaged ragstore.conf."""
import os
import re
import stat

import pytest

import rsutil
from rsutil import PASSPHRASE, run

NEW_PASSPHRASE = "a completely different passphrase"
EXIT_WRONG = 3      # wrong passphrase or master key
EXIT_NOSTORE = 4
EXIT_KEYFILE = 12   # key file missing, unreadable, malformed or mistyped


def stderr_lines(r):
    return [l for l in r.stderr.splitlines() if l.strip()]


def assert_one_line(r, *words):
    got = stderr_lines(r)
    assert len(got) == 1, "expected one line on stderr, got %r" % got
    for w in words:
        assert w in got[0], "%r not in %r" % (w, got[0])


def key_hex(text):
    """The 64 hex digits of the key in a key file's text."""
    out = ""
    for n in range(1, 5):
        m = re.search(r"^key%d ((?:[0-9a-f]{4} ?){5})\s*$" % n, text, re.M)
        assert m, "no key%d line in %r" % (n, text)
        out += m.group(1).replace(" ", "")[:16]
    return out


@pytest.fixture
def env(ragstore_bin, tmp_path):
    """A store made with --masterkey-file, unmounted; mounts made by the
    test are undone at the end."""
    class Env:
        pass
    e = Env()
    e.bin, e.tmp = ragstore_bin, tmp_path
    e.b, e.mnt, e.key = tmp_path / "b", tmp_path / "mnt", tmp_path / "master.key"
    e.pf, e.newpf = tmp_path / "pass", tmp_path / "newpass"
    e.pf.write_text(PASSPHRASE + "\n")
    e.newpf.write_text(NEW_PASSPHRASE + "\n")
    e.mnt.mkdir()
    e.mounted = []

    def init(backing, keyfile, *extra):
        return run([e.bin, "init", "--passfile", e.pf, "--masterkey-file", keyfile]
                   + list(extra) + [backing])

    def mount(*args, backing=None):
        r = run([e.bin, "mount"] + list(args) + [backing or e.b, e.mnt])
        if r.returncode == 0:
            e.mounted.append(e.mnt)
        return r

    def unmount():
        rsutil.unmount(e.mnt, rsutil.daemon_pids(e.mnt))

    e.init, e.mount, e.unmount = init, mount, unmount
    r = init(e.b, e.key)
    assert r.returncode == 0, r.stderr
    yield e
    if rsutil.is_mounted(e.mnt):
        unmount()


def fill(mnt):
    """A small tree with what recovery must bring back; returns its digest
    snapshot."""
    os.makedirs(mnt / "dir" / "sub")
    rsutil.write_file(mnt / "dir" / "text", rsutil.text_bytes(300_000, 5))
    rsutil.write_file(mnt / "dir" / "sub" / "rand", rsutil.pattern_bytes(200_000, 6))
    rsutil.write_file(mnt / "small", b"hello\n")
    os.symlink("dir/text", mnt / "link")
    os.setxattr(mnt / "small", "user.note", b"kept")
    return tree(mnt)


def tree(mnt):
    out = {}
    for root, dirs, files in os.walk(mnt):
        for n in sorted(dirs + files):
            p = os.path.join(root, n)
            rel = os.path.relpath(p, mnt)
            if os.path.islink(p):
                out[rel] = "-> " + os.readlink(p)
            elif os.path.isfile(p):
                out[rel] = rsutil.file_digest(p)
                if n == "small":
                    out[rel + "@user.note"] = os.getxattr(p, "user.note")
            else:
                out[rel] = "dir"
    return out


def test_init_shows_key_once_on_a_terminal(ragstore_bin, tmp_path):
    b, mnt, typed = tmp_path / "b", tmp_path / "mnt", tmp_path / "typed.key"
    mnt.mkdir()
    rc, shown = rsutil.on_terminal([ragstore_bin, "init", b],
                                   {"New passphrase: ": PASSPHRASE,
                                    "Repeat passphrase: ": PASSPHRASE})
    assert rc == 0, shown
    shown = shown.replace("\r\n", "\n")
    assert "ONCE" in shown and "WARNING" in shown
    assert shown.count("ragstore-masterkey 1") == 1
    hexkey = key_hex(shown)
    # What the terminal showed, typed back into a file, is a key file.
    text = shown[shown.index("ragstore-masterkey 1"):]
    text = text[:text.index("\ncheck ")] + "\n" + \
        re.search(r"^check .*$", text, re.M).group(0) + "\n"
    typed.write_text(text)
    os.chmod(typed, 0o600)
    r = run([ragstore_bin, "mount", "--masterkey-file", typed, b, mnt])
    assert r.returncode == 0, r.stderr
    try:
        rsutil.write_file(mnt / "f", b"data")
        # No command shows it again: not info, config, mount or passwd.
        outs = [r.stdout + r.stderr, (mnt / ".ragstore" / "config").read_text()]
    finally:
        rsutil.unmount(mnt, rsutil.daemon_pids(mnt))
    pf = tmp_path / "pf"
    pf.write_text(PASSPHRASE + "\n")
    for args in (["info", b], ["passwd", "--passfile", pf, "--new-passfile", pf, b],
                 ["passwd", "--masterkey-file", typed, "--new-passfile", pf, b]):
        r = run([ragstore_bin] + args)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout + r.stderr)
    for o in outs:
        assert hexkey[:16] not in o.replace(" ", ""), o
        assert "key1 " not in o
    # Nor is it anywhere in BACKING in clear.
    for root, _, files in os.walk(b):
        for n in files:
            data = open(os.path.join(root, n), "rb").read()
            assert bytes.fromhex(hexkey) not in data and hexkey.encode() not in data


def test_init_without_a_terminal_shows_no_key(ragstore_bin, tmp_path):
    pf = tmp_path / "pf"
    pf.write_text(PASSPHRASE + "\n")
    r = run([ragstore_bin, "init", "--passfile", pf, tmp_path / "b"])
    assert r.returncode == 0, r.stderr
    assert "key1" not in r.stdout + r.stderr
    assert "--masterkey-file" in r.stderr


def test_masterkey_file_written_0600_and_never_replaced(env):
    st = os.stat(env.key)
    assert stat.S_IMODE(st.st_mode) == 0o600
    text = env.key.read_text()
    hexkey = key_hex(text)
    # init said where the key is, and did not show it.
    r = env.init(env.tmp / "other", env.key)
    assert r.returncode == EXIT_KEYFILE
    assert_one_line(r, "exists")
    assert env.key.read_text() == text
    assert not (env.tmp / "other" / "ragstore.conf").exists()
    # A symlink planted at the name is not followed.
    os.symlink(env.tmp / "target", env.tmp / "planted")
    r = env.init(env.tmp / "third", env.tmp / "planted")
    assert r.returncode == EXIT_KEYFILE
    assert not (env.tmp / "target").exists()
    r = env.init(env.tmp / "fourth", env.tmp / "k4")
    assert r.returncode == 0
    assert key_hex((env.tmp / "k4").read_text()) != hexkey
    assert "key1" not in r.stdout + r.stderr and hexkey[:8] not in r.stdout + r.stderr


def test_mount_with_the_key_file_alone(env):
    r = env.mount("--masterkey-file", env.key)
    assert r.returncode == 0, r.stderr
    want = fill(env.mnt)
    env.unmount()
    r = env.mount("--passfile", env.pf)
    assert r.returncode == 0, r.stderr
    assert tree(env.mnt) == want
    env.unmount()
    # The same as a mount option (what mount.fuse.ragstore and fstab pass).
    r = env.mount("-o", "masterkey_file=%s" % env.key)
    assert r.returncode == 0, r.stderr
    assert tree(env.mnt) == want


def test_passwd_with_the_key_file_sets_a_new_passphrase(env):
    conf = (env.b / "ragstore.conf").read_text()
    r = run([env.bin, "passwd", "--masterkey-file", env.key, "--new-passfile", env.newpf,
             env.b])
    assert r.returncode == 0, r.stderr
    assert "written anew" not in r.stdout  # the descriptor was intact
    new = (env.b / "ragstore.conf").read_text()
    assert new != conf
    # Only the key material changed.
    keep = lambda t: [l for l in t.splitlines() if not l.startswith(("salt", "wrapped", "mac"))]
    assert keep(new) == keep(conf)
    r = env.mount("--passfile", env.pf)
    assert r.returncode == EXIT_WRONG
    r = env.mount("--passfile", env.newpf)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("damage", ["deleted", "garbage", "altered", "emptied"])
@pytest.mark.parametrize("names", ["encrypted", "plaintext"])
def test_lost_descriptor_recovered(env, damage, names):
    if names == "plaintext":
        env.b, env.key = env.tmp / "pb", env.tmp / "pb.key"
        assert env.init(env.b, env.key, "--plaintext-names",
                        "--block-size", "16384", "--compression", "lz4").returncode == 0
    assert env.mount("--passfile", env.pf).returncode == 0
    want = fill(env.mnt)
    env.unmount()
    conf = env.b / "ragstore.conf"
    info = run([env.bin, "info", env.b]).stdout
    if damage == "deleted":
        conf.unlink()
    elif damage == "garbage":
        conf.write_bytes(os.urandom(300))
    elif damage == "emptied":
        conf.write_bytes(b"")
    else:  # a setting changed: the MAC no longer verifies
        conf.write_text(re.sub(r"block_size = \d+", "block_size = 4096", conf.read_text()))
    r = env.mount("--passfile", env.pf)
    assert r.returncode == EXIT_NOSTORE, r.stderr
    # The key file alone mounts it, with the settings it holds.
    r = env.mount("--masterkey-file", env.key)
    assert r.returncode == 0, r.stderr
    assert "missing or damaged" in r.stderr
    assert tree(env.mnt) == want
    env.unmount()
    r = run([env.bin, "passwd", "--masterkey-file", env.key, "--new-passfile", env.newpf,
             env.b])
    assert r.returncode == 0, r.stderr
    assert "written anew" in r.stdout
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600
    # The settings came back, at the current format version.
    assert run([env.bin, "info", env.b]).stdout == info
    r = env.mount("--passfile", env.newpf)
    assert r.returncode == 0, r.stderr
    assert tree(env.mnt) == want
    rsutil.write_file(env.mnt / "after", b"new file after recovery")
    env.unmount()
    r = run([env.bin, "fsck", "--passfile", env.newpf, env.b])
    assert r.returncode == 0, r.stdout + r.stderr


def test_wrong_or_mangled_key_file_changes_nothing(env):
    assert env.mount("--passfile", env.pf).returncode == 0
    rsutil.write_file(env.mnt / "f", b"content")
    env.unmount()
    conf = env.b / "ragstore.conf"
    text = env.key.read_text()
    typo = env.tmp / "typo.key"
    line = re.search(r"^key3 .*$", text, re.M).group(0)
    digit = line[5]
    typo.write_text(text.replace(line, line[:5] + ("1" if digit == "0" else "0") + line[6:]))
    os.chmod(typo, 0o600)
    notkey = env.tmp / "notkey"
    notkey.write_text("[ragstore]\nversion = 2\n")
    other = env.tmp / "other.key"
    assert env.init(env.tmp / "ob", other).returncode == 0

    def attempts():
        yield ["mount", "--masterkey-file", typo], EXIT_KEYFILE, "key3"
        yield ["passwd", "--masterkey-file", typo, "--new-passfile", env.newpf], \
            EXIT_KEYFILE, "checksum"
        yield ["mount", "--masterkey-file", notkey], EXIT_KEYFILE, "master key file"
        yield ["mount", "--masterkey-file", env.tmp / "missing"], EXIT_KEYFILE, "missing"
        yield ["mount", "--masterkey-file", other], EXIT_WRONG, "is for store"
        yield ["passwd", "--masterkey-file", other, "--new-passfile", env.newpf], \
            EXIT_WRONG, "is for store"

    before = conf.read_bytes()
    for args, code, word in attempts():
        tail = [env.b] + ([env.mnt] if args[0] == "mount" else [])
        r = run([env.bin] + args + tail)
        assert r.returncode == code, (args, r.stderr)
        assert_one_line(r, word)
        assert conf.read_bytes() == before
        assert not rsutil.is_mounted(env.mnt)
    # With the descriptor gone, another store's key is refused too, and
    # none is written.
    conf.unlink()
    for args in (["mount", "--masterkey-file", other, env.b, env.mnt],
                 ["passwd", "--masterkey-file", other, "--new-passfile", env.newpf, env.b]):
        r = run([env.bin] + args)
        assert r.returncode == EXIT_WRONG, r.stderr
        assert_one_line(r, "not the key of the store")
        assert not conf.exists()
        assert not rsutil.is_mounted(env.mnt)
    # The right key still brings everything back.
    r = run([env.bin, "passwd", "--masterkey-file", env.key, "--new-passfile", env.pf, env.b])
    assert r.returncode == 0, r.stderr
    assert env.mount("--passfile", env.pf).returncode == 0
    assert (env.mnt / "f").read_bytes() == b"content"


def test_no_master_key_without_encryption(env):
    r = run([env.bin, "init", "--no-encryption", "--masterkey-file", env.tmp / "k",
             env.tmp / "nb"])
    assert r.returncode == 2
    assert not (env.tmp / "k").exists() and not (env.tmp / "nb").exists()
    r = run([env.bin, "init", "--no-encryption", env.tmp / "nb"])
    assert r.returncode == 0 and "key1" not in r.stdout + r.stderr
    r = env.mount("--masterkey-file", env.key, backing=env.tmp / "nb")
    assert r.returncode == 1
    assert_one_line(r, "not encrypted")
    r = env.mount("--masterkey-file", env.key, "--passfile", env.pf)
    assert r.returncode == 2
