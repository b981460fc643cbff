"""Everyday tools on the mount: cp -a, diff, rsync, tar, git, sqlite3."""
import glob
import os
import shutil

import pytest

import rsutil
from rsutil import assert_same_tree, run
from sampletree import make_sample_tree

LIBDIR = "/usr/lib/x86_64-linux-gnu"
# dri has hard-linked drivers; the others are ordinary .so trees.
LIB_CANDIDATES = ["dri", "gconv", "perl-base", "systemd", "lapack", "blas",
                  "security", "perl", "valgrind", "cppcheck"]
LIB_TARGET_MB = 75


def _du_mb(path):
    return rsutil.du_kib(path, apparent=True) / 1024


def pick_lib_dirs():
    chosen, total = [], 0.0
    for d in LIB_CANDIDATES:
        p = os.path.join(LIBDIR, d)
        if not os.path.isdir(p) or os.path.islink(p):
            continue
        mb = _du_mb(p)
        if total + mb > LIB_TARGET_MB + 15:
            continue
        chosen.append(p)
        total += mb
        if total >= LIB_TARGET_MB:
            break
    if total < 30:
        # fall back to top-level shared objects
        chosen += sorted(glob.glob(os.path.join(LIBDIR, "lib*.so*")))[:300]
    return chosen


def pick_doc_dirs(limit_mb=20):
    chosen, total = [], 0.0
    for name in sorted(os.listdir("/usr/share/doc")):
        p = os.path.join("/usr/share/doc", name)
        chosen.append(p)
        if not os.path.islink(p):
            total += _du_mb(p)
        if total >= limit_mb:
            break
    return chosen


def _diff(a, b):
    r = run(["diff", "-r", "--no-dereference", a, b], timeout=300)
    assert r.returncode == 0, "diff -r %s %s:\n%s%s" % (
        a, b, r.stdout[-3000:], r.stderr[-2000:])


@pytest.mark.slow
def test_cp_a_doc_and_libs(store, tmp_path):
    docs = pick_doc_dirs()
    libs = pick_lib_dirs()
    # stage the source in one tree so that diff -r and snapshot compare 1:1
    src = tmp_path / "src"
    (src / "doc").mkdir(parents=True)
    (src / "lib").mkdir()
    run(["cp", "-a"] + docs + [src / "doc"], check=True, timeout=300)
    run(["cp", "-a"] + libs + [src / "lib"], check=True, timeout=300)
    dst = store.path("copy")
    os.mkdir(dst)
    run(["cp", "-a", src / "doc", src / "lib", dst], check=True, timeout=300)
    _diff(src, dst)
    assert_same_tree(src, dst)
    store.remount()
    _diff(src, dst)
    assert_same_tree(src, dst)


@pytest.mark.slow
def test_rsync_in_out_and_noop(store, tmp_path):
    src = make_sample_tree(tmp_path / "src")
    run(["cp", "-a", "/usr/share/doc/git", "/usr/share/doc/rsync", src + "/"],
        check=True)
    dst = store.path("dst")
    out = tmp_path / "out"
    r = run(["rsync", "-aHAX", src + "/", str(dst) + "/"], timeout=300)
    assert r.returncode == 0, "rsync into the mount failed: %s" % r.stderr
    r = run(["rsync", "-aHAX", str(dst) + "/", str(out) + "/"], timeout=300)
    assert r.returncode == 0, "rsync out of the mount failed: %s" % r.stderr
    assert_same_tree(src, dst)
    assert_same_tree(src, out)
    # second runs transfer nothing, in both directions
    r = run(["rsync", "-aHAX", "--itemize-changes", src + "/", str(dst) + "/"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", "second rsync into mount not a no-op:\n" + r.stdout[:3000]
    r = run(["rsync", "-aHAX", "--itemize-changes", str(dst) + "/", str(out) + "/"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", "second rsync out of mount not a no-op:\n" + r.stdout[:3000]
    store.remount()
    assert_same_tree(src, dst)
    r = run(["rsync", "-aHAX", "--itemize-changes", src + "/", str(dst) + "/"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", "rsync after remount not a no-op:\n" + r.stdout[:3000]


def test_rsync_delete_and_sparse_restore(store, tmp_path):
    src = make_sample_tree(tmp_path / "src")
    dst = store.path("dst")
    run(["rsync", "-aHAXS", "--delete", src + "/", str(dst) + "/"], check=True)
    # changes in the source propagate, deletions too
    os.unlink(os.path.join(src, "dir/bin-100"))
    rsutil.write_file(os.path.join(src, "dir/bin-1"), b"changed")
    os.utime(os.path.join(src, "dir"), ns=(10**18, 10**18))
    r = run(["rsync", "-aHAXS", "--delete", "--itemize-changes", src + "/",
             str(dst) + "/"], check=True)
    assert "bin-100" in r.stdout and "bin-1" in r.stdout
    assert_same_tree(src, dst)
    # back out with -S into a fresh place: sparse file stays sparse
    out = tmp_path / "out"
    run(["rsync", "-aHAXS", str(dst) + "/", str(out) + "/"], check=True)
    assert_same_tree(src, out)
    st = os.stat(out / "sparse")
    assert st.st_blocks * 512 < 1024 * 1024


def test_rsync_acls(store, tmp_path):
    """rsync -A: POSIX ACLs set on the source survive a trip through the mount.
    (Needs the filesystem to support system.posix_acl_* xattrs.)"""
    src = tmp_path / "src"
    src.mkdir()
    rsutil.write_file(src / "f", b"acl file")
    (src / "d").mkdir()
    run(["setfacl", "-m", "u:1234:rwx,g:1234:r-x", src / "f"], check=True)
    run(["setfacl", "-d", "-m", "u:1234:rwx", src / "d"], check=True)
    dst = store.path("dst")
    r = run(["rsync", "-aHAX", str(src) + "/", str(dst) + "/"])
    assert r.returncode == 0, "rsync -A into mount failed: %s" % r.stderr
    a = run(["getfacl", "-cp", src / "f"], check=True).stdout
    b = run(["getfacl", "-cp", dst / "f"], check=True).stdout
    assert a == b
    a = run(["getfacl", "-cp", src / "d"], check=True).stdout
    b = run(["getfacl", "-cp", dst / "d"], check=True).stdout
    assert a == b


@pytest.mark.slow
def test_tar_in_and_out(store, tmp_path):
    src = make_sample_tree(tmp_path / "src")
    run(["cp", "-a", "/usr/share/doc/git", src + "/"], check=True)
    tarin = store.path("in.tar")
    xa = ["--xattrs", "--xattrs-include=user.*"]
    run(["tar", "cf", tarin] + xa + ["-C", src, "."], check=True, timeout=300)
    x = store.path("x")
    os.mkdir(x)
    run(["tar", "xpf", tarin] + xa + ["-C", x], check=True, timeout=300)
    assert_same_tree(src, x)
    outtar = tmp_path / "out.tar"
    run(["tar", "cf", outtar] + xa + ["-C", x, "."], check=True, timeout=300)
    out = tmp_path / "out"
    out.mkdir()
    run(["tar", "xpf", outtar] + xa + ["-C", out], check=True, timeout=300)
    assert_same_tree(src, out)
    # the tar listing of the tar inside the mount is intact
    r = run(["tar", "tvf", tarin], check=True)
    assert "./dir/hl-b link to ./dir/hl-a" in r.stdout or \
        "./dir/hl-a link to ./dir/hl-b" in r.stdout
    store.remount()
    assert_same_tree(src, x)
    r = run(["tar", "df", tarin, "-C", x])
    assert r.returncode == 0, "tar --diff after remount: " + r.stdout[-2000:]


@pytest.mark.slow
def test_git(store, tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e")
    repo = store.path("repo")
    os.mkdir(repo)
    # content: a copy of real text plus generated files
    run(["cp", "-a", "/usr/share/doc/git", repo / "doc"], check=True)
    for i in range(100):
        (repo / "src").mkdir(exist_ok=True)
        rsutil.write_file(repo / "src" / ("f%03d.c" % i),
                          rsutil.text_bytes(2000 + 37 * i, i))
    rsutil.write_file(repo / "blob.bin", rsutil.pattern_bytes(300000, "git"))

    def git(*args, check=True):
        return run(["git", "-C", repo] + list(args), env=env, check=check,
                   timeout=300)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "first")
    assert git("status", "--porcelain").stdout == ""
    git("fsck", "--full", "--strict")
    # second commit: modify, delete, rename
    with open(repo / "src" / "f000.c", "ab") as f:
        f.write(b"\nappended line\n")
    os.unlink(repo / "src" / "f001.c")
    git("mv", "src/f002.c", "src/renamed.c")
    git("commit", "-q", "-a", "-m", "second")
    assert git("status", "--porcelain").stdout == ""
    git("gc", "-q")
    git("fsck", "--full", "--strict")
    # local clone hard-links objects
    r = run(["git", "clone", "-q", repo, store.path("clone")], env=env)
    assert r.returncode == 0, r.stderr
    r = run(["git", "-C", store.path("clone"), "fsck", "--full"], env=env)
    assert r.returncode == 0, r.stderr
    store.remount()
    assert git("status", "--porcelain").stdout == ""
    git("fsck", "--full", "--strict")
    assert git("rev-list", "--count", "HEAD").stdout.strip() == "2"
    r = run(["git", "-C", store.path("clone"), "status", "--porcelain"], env=env,
            check=True)
    assert r.stdout == ""


SQL_SETUP = """
PRAGMA journal_mode={mode};
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);
CREATE INDEX tk ON t(k);
"""
SQL_TXN = """
BEGIN;
INSERT INTO t(k, v)
  WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200)
  SELECT hex(randomblob(12)), randomblob(abs(random()) % 900) FROM c;
UPDATE t SET v = randomblob(50) WHERE id % 7 = {n};
DELETE FROM t WHERE id % 97 = {n};
COMMIT;
"""


@pytest.mark.parametrize("mode", ["delete", "wal"])
def test_sqlite(store, mode):
    db = store.path("db.sqlite")
    script = SQL_SETUP.format(mode=mode)
    script += "".join(SQL_TXN.format(n=i % 7) for i in range(25))
    script += "SELECT count(*) FROM t;\n"
    r = run(["sqlite3", db], input=script, stdin=None, check=True, timeout=300)
    count = r.stdout.strip().splitlines()[-1]
    assert int(count) > 4000
    r = run(["sqlite3", db, "PRAGMA integrity_check;"], check=True)
    assert r.stdout.strip() == "ok"
    store.remount()
    r = run(["sqlite3", db, "PRAGMA integrity_check; SELECT count(*) FROM t;"],
            check=True)
    assert r.stdout.split() == ["ok", count]
    # keep working after the remount
    r = run(["sqlite3", db], input=SQL_TXN.format(n=3) +
            "PRAGMA integrity_check;\n", stdin=None, check=True)
    assert r.stdout.strip().splitlines()[-1] == "ok"
