"""What the Python scripts that make golden stores share (make_v2_chunked.py,
make_v2_broken.py, make_v2_chunked_broken.py, make_v3.py, make_v3_broken.py):
making a fresh store in a
temporary directory, mounting and unmounting it, keeping it as
OUTDIR/store.tar beside one more file (a manifest or an expect list), and
writing files through the mount (rsutil.write_at patches a backing file).
The layout of the files they read is in v2layout.py.  Kept in tests/golden/,
beside the scripts, so that they still describe how the committed stores
were made."""
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
import rsutil  # noqa: E402  (mounts, processes, backing paths)
from v2layout import CHUNK  # noqa: E402  (dd's block size for aligned patches)

RS = os.environ.get("RAGSTORE_BIN", str(HERE.parent.parent / "ragstore"))
PASS = HERE / "passphrase"


def sh(*args):
    return rsutil.run(args, check=True)


def make_store(script, out, other, build):
    """Make a golden store into the NEW directory out: OUTDIR/store.tar and
    OUTDIR/<other>.  Exits (naming script) if out already holds either:
    a golden store is never regenerated.

    A fresh store (tests/golden/passphrase, the defaults) is made in a
    temporary directory; build(tmp, store, mnt, mount, unmount) fills it
    (mount() and unmount() mount it on mnt; tmp is for other files) and
    returns the text of <other>.  mount("-o", "nopack") passes mount
    options.  The store is then kept as a tar with the
    backing files' user xattrs (git would drop them), and the temporary
    directory removed unless the store is still mounted there."""
    out = Path(out)
    if (out / "store.tar").exists() or (out / other).exists():
        sys.exit("%s: %s already holds a golden store; never regenerate one" % (script, out))
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    store, mnt = tmp / "store", tmp / "mnt"
    mnt.mkdir()
    pids = []

    def mount(*opts):
        sh(RS, "mount", *opts, "--passfile", PASS, store, mnt)
        pids[:] = rsutil.daemon_pids(mnt)

    def unmount():
        problems = rsutil.unmount(mnt, pids)
        assert not problems, problems

    try:
        sh(RS, "init", "--passfile", PASS, store)
        text = build(tmp, store, mnt, mount, unmount)
        sh("tar", "--format=posix", "--xattrs", "--xattrs-include=user.*", "--sort=name",
           "--numeric-owner", "--owner=0", "--group=0", "-C", tmp, "-cf",
           out / "store.tar", "store")
        (out / other).write_text(text)
        print("made %s (%d KiB) and %s" % (out / "store.tar",
                                          (out / "store.tar").stat().st_size // 1024,
                                          out / other))
    finally:
        rsutil.unmount(mnt, pids)
        if not rsutil.is_mounted(mnt):
            shutil.rmtree(tmp)


def manifest_text(mnt):
    """The manifest of tests/golden/README.md with every kind of line: d, f
    and l, h for the names of a hard-linked file after the first, and the
    user xattrs (c for user.ragstore.compression, x for the others)."""
    lines, groups, paths = [], {}, []
    for root, dirs, names in os.walk(mnt):
        for n in dirs + names:
            paths.append("./" + os.path.relpath(os.path.join(root, n), mnt))
    for p in sorted(paths):
        full = os.path.join(mnt, p)
        st = os.lstat(full)
        if os.path.islink(full):
            lines.append("l %s %s" % (p, os.readlink(full)))
            continue
        if os.path.isdir(full):
            lines.append("d %s" % p)
        else:
            lines.append("f %s %d %s" % (p, st.st_size, rsutil.file_digest(full)))
            if st.st_nlink > 1:
                groups.setdefault(st.st_ino, []).append(p)
        for name in sorted(os.listxattr(full, follow_symlinks=False)):
            if not name.startswith("user."):
                continue
            v = os.getxattr(full, name, follow_symlinks=False)
            if name == "user.ragstore.compression":
                lines.append("c %s %s" % (p, v.decode()))
            else:
                lines.append("x %s %s %s" % (p, name, v.hex()))
    for g in sorted(groups.values()):
        lines += ["h %s %s" % (p, g[0]) for p in g[1:]]
    return "\n".join(lines) + "\n"


def expect_text(head, cases):
    """An expect file (tests/golden/README.md): head, then for each case
    (path -> (what was done, [lines])), the control files first, a comment
    line saying what was done and its lines."""
    order = sorted(cases, key=lambda k: (not k.startswith("control"), k))
    return head + "".join("# %s\n%s\n" % (cases[k][0], "\n".join(cases[k][1]))
                          for k in order)


def write_files(store, mnt, files):
    """Write files (path in the mount -> content) through the mount; the
    backing file of each (path in the mount -> backing path)."""
    for rel, data in files.items():
        rsutil.write_file(mnt / rel, data)
    return {rel: rsutil.backing_path(store, rel, mnt) for rel in files}


def read_backing(back):
    """The bytes of each backing file of back (path in the mount -> backing
    path), by the same keys."""
    return {rel: rsutil.read_file(p) for rel, p in back.items()}


def dd_patch(tmp, path, offset, data):
    """Write data at offset of path in the mount with dd (4 KiB blocks when
    aligned, bytes otherwise), as a user would patch a file in place; the
    data goes through tmp/patch."""
    src = tmp / "patch"
    src.write_bytes(data)
    if offset % CHUNK == 0 and len(data) % CHUNK == 0:
        sh("dd", "if=%s" % src, "of=%s" % path, "bs=%d" % CHUNK, "seek=%d" % (offset // CHUNK),
           "count=%d" % (len(data) // CHUNK), "conv=notrunc", "status=none")
    else:
        sh("dd", "if=%s" % src, "of=%s" % path, "bs=1", "seek=%d" % offset,
           "count=%d" % len(data), "conv=notrunc", "status=none")
