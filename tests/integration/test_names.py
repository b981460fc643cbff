"""Encrypted file names and symlink targets (the default for encrypted
stores), the long-name scheme, per-directory values, and --plaintext-names."""
import ctypes
import errno
import os
import subprocess

import pytest

import backingfs
import rsutil
from rsutil import read_file, write_file

SECRET_NAMES = ["taxes-2026.pdf", "Zeugnis Müller.docx", "quarterly-report",
                "a" * 40, "holiday photos"]


def _backing_names_and_bytes(store):
    names, data = [], b""
    for root, dirs, files in os.walk(store.backing / "root"):
        names += dirs + files
        for n in files + dirs:
            p = os.path.join(root, n)
            if os.path.islink(p):
                names.append(os.readlink(p))
            elif os.path.isfile(p):
                data += open(p, "rb").read()
    return names, data


@backingfs.skip_unless("fifo", "its tree has a FIFO")
def test_no_plaintext_name_or_target_in_backing(store):
    d = store.path("private")
    os.mkdir(d)
    for n in SECRET_NAMES:
        write_file(d / n, b"x")
    os.mkdir(d / "tax-folder")
    os.symlink("../private/taxes-2026.pdf/secret-target", d / "pointer")
    os.mkfifo(d / "fifo-name")
    names, data = _backing_names_and_bytes(store)
    joined = "\n".join(names)
    for secret in SECRET_NAMES + ["private", "tax-folder", "pointer", "fifo-name",
                                  "secret-target"]:
        assert secret not in joined, secret
        assert secret.encode() not in data, secret
    assert sorted(os.listdir(d)) == sorted(SECRET_NAMES + ["tax-folder", "pointer",
                                                           "fifo-name"])
    assert os.readlink(d / "pointer") == "../private/taxes-2026.pdf/secret-target"
    assert os.lstat(d / "pointer").st_size == len("../private/taxes-2026.pdf/secret-target")


def test_same_name_differs_per_directory(store):
    for sub in ("one", "two"):
        os.mkdir(store.path(sub))
        write_file(store.path(sub) / "same.txt", sub.encode())
    a = store.backing_path("one/same.txt").name
    b = store.backing_path("two/same.txt").name
    assert a != b
    assert "same" not in a and "same" not in b


def _names_of_every_length():
    # Any byte but '/' and NUL, including high bytes and a leading dot.
    out = []
    for n in range(1, 256):
        raw = bytes(((i * 7 + n) % 253) + 2 for i in range(n)).replace(b"/", b"_")
        if n % 3 == 0:
            raw = b"." + raw[1:]
        if raw in (b".", b".."):
            raw = b"x" * n
        out.append(os.fsdecode(raw))
    return out


@backingfs.skip_unless("hardlink", "it links across the short/long name boundary")
def test_names_of_every_length_round_trip(store):
    d = store.path("lengths")
    os.mkdir(d)
    names = _names_of_every_length()
    for n in names:
        write_file(d / n, os.fsencode(n)[:8])
    assert sorted(os.listdir(d)) == sorted(names)
    store.remount()
    assert sorted(os.listdir(d)) == sorted(names)
    for n in names[::7]:
        assert read_file(d / n) == os.fsencode(n)[:8]
    # rename, link and unlink across the short/long boundary (160 bytes)
    for n in names[150:175] + names[-3:]:
        os.rename(d / n, d / (n[:-1] + "R"))
        os.link(d / (n[:-1] + "R"), d / ("L" + n[1:]))
        assert read_file(d / ("L" + n[1:])) == os.fsencode(n)[:8]
        os.unlink(d / (n[:-1] + "R"))
        assert not os.path.exists(d / (n[:-1] + "R"))
        assert os.path.exists(d / ("L" + n[1:]))
    os.mkdir(d / ("D" * 255))
    write_file(d / ("D" * 255) / ("f" * 255), b"deep")
    os.rename(d / ("D" * 255), d / ("E" * 200))
    assert read_file(d / ("E" * 200) / ("f" * 255)) == b"deep"
    store.remount()
    assert read_file(d / ("E" * 200) / ("f" * 255)) == b"deep"
    # no long-name side file is left behind for names that are gone
    listed = set(os.listdir(d))
    side = [n for n in os.listdir(store.backing_path("lengths")) if n.startswith(".N")]
    longs = [n for n in listed if len(os.fsencode(n)) > 160]
    assert len(side) == len(longs)
    with pytest.raises(OSError) as ei:
        write_file(d / ("x" * 256), b"")
    assert ei.value.errno == errno.ENAMETOOLONG


def test_rename_flags_with_long_names(store):
    libc = ctypes.CDLL(None, use_errno=True)
    a, b = "a" * 250, "b" * 10
    write_file(store.path(a), b"A")
    write_file(store.path(b), b"B")
    r = libc.renameat2(-100, os.fsencode(str(store.path(a))), -100,
                       os.fsencode(str(store.path(b))), 2)  # RENAME_EXCHANGE
    if backingfs.lacks("rename_exchange"):   # refused, nothing changed
        assert r != 0 and ctypes.get_errno() == errno.EINVAL
        a, b = b, a
    else:
        assert r == 0, os.strerror(ctypes.get_errno())
    assert read_file(store.path(a)) == b"B" and read_file(store.path(b)) == b"A"
    r = libc.renameat2(-100, os.fsencode(str(store.path(a))), -100,
                       os.fsencode(str(store.path(b))), 1)  # RENAME_NOREPLACE
    assert r != 0 and ctypes.get_errno() == errno.EEXIST
    store.remount()
    assert sorted(os.listdir(store.mnt)) == sorted([a, b])


def test_directory_rename_keeps_children(store):
    os.makedirs(store.path("top/mid/leaf"))
    write_file(store.path("top/mid/leaf/f"), b"child")
    before = store.backing_path("top/mid/leaf/f").name
    os.rename(store.path("top"), store.path("renamed-top"))
    assert read_file(store.path("renamed-top/mid/leaf/f")) == b"child"
    # children were not rewritten: the same backing name
    assert store.backing_path("renamed-top/mid/leaf/f").name == before
    # replacing an empty directory
    os.mkdir(store.path("empty"))
    os.rename(store.path("renamed-top"), store.path("empty"))
    assert read_file(store.path("empty/mid/leaf/f")) == b"child"
    os.mkdir(store.path("full"))
    write_file(store.path("full/x"), b"")
    with pytest.raises(OSError) as ei:
        os.rename(store.path("empty"), store.path("full"))
    assert ei.value.errno in (errno.ENOTEMPTY, errno.EEXIST)
    assert read_file(store.path("full/x")) == b""
    os.unlink(store.path("full/x"))
    os.rmdir(store.path("full"))
    assert not os.path.exists(store.path("full"))


def test_tampered_name_is_skipped_not_garbage(store):
    d = store.path("dir")
    os.mkdir(d)
    for n in ("keep1", "keep2", "victim"):
        write_file(d / n, n.encode())
    bp = store.backing_path("dir/victim")
    name = bp.name
    flipped = ("B" if name[5] == "A" else "A").join([name[:5], name[6:]])
    store.unmount()
    os.rename(bp, bp.with_name(flipped))
    store.mount()
    assert sorted(os.listdir(d)) == ["keep1", "keep2"]
    assert not os.path.exists(d / "victim")
    assert read_file(d / "keep1") == b"keep1"
    # reported, not silently hidden
    import json
    stats = json.loads((store.mnt / ".ragstore" / "stats").read_text())
    assert stats["integrity_errors"] >= 1
    assert "name does not authenticate" in (store.mnt / ".ragstore" / "errors").read_text()


def test_damaged_directory_value_gives_eio(store):
    os.makedirs(store.path("box/inner"))
    write_file(store.path("box/inner/f"), b"data")
    diriv = store.backing_path("box") / ".diriv"
    store.unmount()
    os.chmod(diriv, 0o600)
    rsutil.flip_byte(diriv, 3)
    store.mount()
    for op in (lambda: os.listdir(store.path("box")),
               lambda: os.stat(store.path("box/inner")),
               lambda: read_file(store.path("box/inner/f"))):
        with pytest.raises(OSError) as ei:
            op()
        assert ei.value.errno == errno.EIO
    store.unmount()
    os.unlink(diriv)
    store.mount()
    with pytest.raises(OSError) as ei:
        os.listdir(store.path("box"))
    assert ei.value.errno == errno.EIO
    # the rest of the store is unaffected
    assert "box" in os.listdir(store.mnt)


def test_plaintext_names_option(store_factory):
    s = store_factory("plain", plaintext_names=True)
    os.mkdir(s.path("visible-dir"))
    write_file(s.path("visible-dir/visible-name.txt"), b"content")
    os.symlink("visible-target", s.path("visible-link"))
    assert (s.backing / "root" / "visible-dir" / "visible-name.txt").is_file()
    assert os.readlink(s.backing / "root" / "visible-link") == "visible-target"
    assert "plaintext_names = yes" in (s.backing / "ragstore.conf").read_text()


def test_git_and_tar_with_encrypted_names(store, tmp_path):
    src = tmp_path / "src"
    os.makedirs(src / "pkg" / "sub")
    for i in range(30):
        write_file(src / "pkg" / ("module_%d.py" % i), b"x = %d\n" % i)
    write_file(src / "pkg" / "sub" / ("long" * 50), b"long name\n")
    subprocess.run(["tar", "cf", str(tmp_path / "t.tar"), "-C", str(src), "."], check=True)
    subprocess.run(["tar", "xf", str(tmp_path / "t.tar"), "-C", str(store.mnt)], check=True)
    r = subprocess.run(["diff", "-r", str(src), str(store.mnt)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    g = ["git", "-C", str(store.mnt), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(g + ["init", "-q"], check=True)
    subprocess.run(g + ["add", "-A"], check=True)
    subprocess.run(g + ["commit", "-qm", "x"], check=True)
    out = subprocess.run(g + ["status", "--porcelain"], capture_output=True, text=True,
                         check=True).stdout
    assert out == ""
