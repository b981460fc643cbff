"""The backing filesystem probe (docs/BACKING.md): what `ragstore info` and
/.ragstore/config report, that the probe leaves nothing in BACKING and
clears what a killed one left, and that everyday tools work whatever the
backing filesystem lacks.  Run locally and, by tests/integration/backing.sh,
with BACKING on GlusterFS and on sshfs, where the probe must find exactly
what those filesystems lack."""
import os
import re
import subprocess

import backingfs
import rsutil
from rsutil import run

KEYS = ["tmpfile", "rename_noreplace", "rename_exchange", "user_xattr", "xattr_max",
        "sparse", "punch_hole", "flock", "fcntl_lock", "time_granularity_ns",
        "hardlink", "symlink", "symlink_attrs", "fifo"]


def probe_lines(text):
    """{key: value} of the probe's "key = value" lines in text."""
    got = {}
    for ln in text.splitlines():
        m = re.fullmatch(r"\s*([a-z_]+) = (\S+)", ln)
        if m and m.group(1) in KEYS:
            got[m.group(1)] = m.group(2)
    return got


def expected_missing(got):
    """The features reported missing, in backingfs.MISSING's names."""
    missing = {k for k, v in got.items() if v == "no"}
    if got.get("time_granularity_ns") != "1":
        missing.add("ns_times")
    return missing


def test_info_reports_the_probe(store):
    r = run([store.bin, "info", store.backing], check=True)
    got = probe_lines(r.stdout)
    assert sorted(got) == sorted(KEYS), r.stdout
    for k, v in got.items():
        if v == "no":   # every missing feature names its fallback
            assert re.search(r"  %s = no\n  # fallback: \S" % k, r.stdout), k
    if backingfs.kind():
        assert expected_missing(got) == backingfs.MISSING[backingfs.kind()], r.stdout
    # nothing left behind by the probe of the mount or of info
    assert not [n for n in os.listdir(store.backing) if n.startswith(".ragstore-probe.")]


def test_config_shows_what_the_mount_probed(store):
    text = (store.mnt / ".ragstore" / "config").read_text()
    assert "\n[backing]\n" in text
    section = text.split("\n[backing]\n", 1)[1].split("\n[", 1)[0]
    got = probe_lines(section)
    assert sorted(got) == sorted(KEYS), section
    info = probe_lines(run([store.bin, "info", store.backing], check=True).stdout)
    assert got == info


def test_leftover_probe_directory_is_reported_and_removed(store):
    """A probe killed midway leaves its scratch directory: fsck reports it
    (and leaves it, being read-only), the next mount removes it."""
    store.unmount()
    left = store.backing / ".ragstore-probe.00112233deadbeef"
    left.mkdir()
    (left / "file").write_bytes(b"x")
    r = run([store.bin, "fsck", "--passfile", store.passfile, store.backing])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "leftover scratch directory of an interrupted probe" in r.stdout + r.stderr
    assert left.exists()
    store.mount()
    assert not left.exists()
    assert "ragstore-probe" not in " ".join(os.listdir(store.mnt))


def _tree(root):
    """A tree of what every backing filesystem keeps: nested directories,
    files of several sizes, a symlink, modes."""
    for d in ("a/b/c", "a/d", "e"):
        os.makedirs(root / d)
    for i, rel in enumerate(["f0", "a/f1", "a/b/f2", "a/b/c/f3", "a/d/f4", "e/f5"]):
        (root / rel).write_bytes(rsutil.pattern_bytes(1000 * i * i + 1, "t%d" % i))
    os.chmod(root / "a/f1", 0o600)
    os.chmod(root / "a/d", 0o750)
    os.symlink("f2", root / "a/b/link")


def test_mkdir_cp_a_rsync_through_the_mount(store, tmp_path):
    """The bug of issue 13: on GlusterFS every mkdir failed with EINVAL, so
    cp -a of any tree failed."""
    src = tmp_path / "src"
    src.mkdir()
    _tree(src)
    os.mkdir(store.path("made"))
    os.makedirs(store.path("made/deeper/still"))
    run(["cp", "-a", "%s/." % src, store.path("cp")], check=True)
    run(["rsync", "-a", "%s/" % src, "%s/" % store.path("rs")], check=True)
    for dst in ("cp", "rs"):
        r = subprocess.run(["diff", "-r", "--no-dereference", str(src), str(store.path(dst))],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert r.returncode == 0, r.stdout
    store.remount()
    for dst in ("cp", "rs"):
        r = subprocess.run(["diff", "-r", "--no-dereference", str(src), str(store.path(dst))],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert r.returncode == 0, r.stdout
    assert os.path.isdir(store.path("made/deeper/still"))
    assert oct(os.stat(store.path("cp/a/d")).st_mode & 0o777) == oct(0o750)
