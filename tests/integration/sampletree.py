"""Build a small but rich source tree: dirs, files of block-boundary sizes,
hard links, symlinks (incl. dangling), a FIFO, modes, owners, nanosecond
mtimes, user xattrs and a sparse file."""
import os

import rsutil

B = rsutil.DEFAULT_BLOCK


def make_sample_tree(root, xattrs=True, fifo=True, sparse=True):
    root = str(root)
    os.makedirs(root, exist_ok=True)
    j = lambda *p: os.path.join(root, *p)  # noqa: E731
    os.makedirs(j("dir/sub/deeper"))
    os.makedirs(j("empty-dir"))
    os.makedirs(j("text"))
    sizes = [0, 1, 100, 4095, 4096, 4097, B - 1, B, B + 1, 3 * B + 17, 1000000]
    for i, n in enumerate(sizes):
        rsutil.write_file(j("dir", "bin-%d" % n), rsutil.pattern_bytes(n, i))
    for i in range(30):
        rsutil.write_file(j("text", "t%02d.txt" % i),
                          rsutil.text_bytes(1000 + i * 3000, i))
    rsutil.write_file(j("dir/sub/deeper/leaf"), b"leaf\n")
    rsutil.write_file(j("name with spaces & 'quotes'"), b"odd name\n")
    rsutil.write_file(j("dir/\u00e9t\u00e9-unicode.txt"), "\u00e9t\u00e9\n".encode())
    # hard links
    rsutil.write_file(j("dir/hl-a"), rsutil.pattern_bytes(2 * B + 5, "hl"))
    os.link(j("dir/hl-a"), j("dir/hl-b"))
    os.link(j("dir/hl-a"), j("dir/sub/hl-c"))
    # symlinks
    os.symlink("bin-1", j("dir/sym-rel"))
    os.symlink("/etc/hostname", j("dir/sym-abs"))
    os.symlink("does/not/exist", j("dir/sym-dangling"))
    os.symlink("../dir", j("text/sym-dir"))
    if fifo:
        os.mkfifo(j("dir/fifo"))
    if sparse:
        with open(j("sparse"), "wb") as f:
            f.write(b"start")
            f.seek(20 * 1024 * 1024)
            f.write(b"end")
    # modes and owners
    os.chmod(j("dir/bin-1"), 0o600)
    os.chmod(j("dir/bin-100"), 0o755)
    os.chmod(j("dir/sub"), 0o750)
    os.chmod(j("dir/bin-4095"), 0o4755)
    os.chown(j("dir/bin-4096"), 1234, 1234)
    os.chown(j("dir/sub/deeper"), 4321, 1234)
    os.chown(j("dir/sym-rel"), 555, 666, follow_symlinks=False)
    if xattrs:
        os.setxattr(j("dir/bin-0"), "user.mime_type", b"application/x-empty")
        os.setxattr(j("dir/bin-1000000"), "user.bin", bytes(range(256)) * 4)
        os.setxattr(j("dir/sub"), "user.dirattr", b"on a directory")
    # nanosecond mtimes everywhere (deepest first so dir times stick)
    t = 1_500_000_000_123_456_789
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            p = os.path.join(dirpath, name)
            t += 1_000_000_007
            os.utime(p, ns=(t, t), follow_symlinks=False)
    os.utime(root, ns=(t + 5, t + 5))
    return root
