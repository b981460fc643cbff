"""Shared helpers for the ragstore integration tests.

Everything that depends on the on-disk layout (where a user file's backing
file lives, where headers and block records sit) is in this one module, so
that a layout change touches only this file.  New files are format v2 (the
v2_* helpers); slot_offset() and payload_offset() describe format v1 files
(the golden v1 store, stores made for the v1 code path).
"""
import errno
import hashlib
import mmap
import os
import pty
import select
import signal
import stat
import subprocess
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / "ragstore"
PASSPHRASE = "correct horse battery staple"

DEFAULT_BLOCK = 65536
HEADER_AREA = 4096        # v1: two header slots of 2048 bytes
PREFIX_LEN = 48           # v1: block record prefix
TAG_LEN = 16


# --------------------------------------------------------------------------
# layout

def plaintext_names(backing):
    """True when the store keeps names in clear (ragstore.conf says so)."""
    conf = (Path(backing) / "ragstore.conf").read_text()
    return "plaintext_names = yes" in conf


def backing_path(backing, relpath, mnt=None):
    """Backing file of the user path relpath (relative to the mount root).

    With plaintext names that is the same relative path under root/.  With
    encrypted names the entry is found through the mount: the filesystem
    reports the backing inode number, so the backing entry with the same
    inode is the one (the path must exist on the mounted store)."""
    relpath = str(relpath).lstrip("/")
    if plaintext_names(backing):
        return Path(backing) / "root" / relpath
    assert mnt is not None, "encrypted names: backing_path needs the mount"
    ino = os.lstat(Path(mnt) / relpath).st_ino
    for root, dirs, files in os.walk(Path(backing) / "root"):
        for n in dirs + files:
            p = Path(root) / n
            if os.lstat(p).st_ino == ino:
                return p
    raise AssertionError("no backing entry with inode %d for %s" % (ino, relpath))


def slot_size(block_size=DEFAULT_BLOCK):
    """v1: bytes of one block slot (two slots per block)."""
    n = PREFIX_LEN + block_size + TAG_LEN
    return (n + 4095) // 4096 * 4096


def slot_offset(index, slot=0, block_size=DEFAULT_BLOCK):
    return HEADER_AREA + (2 * index + slot) * slot_size(block_size)


def payload_offset(index, slot=0, block_size=DEFAULT_BLOCK):
    return slot_offset(index, slot, block_size) + PREFIX_LEN


# Format v2 (docs/FORMAT.md), what new files are written in: two 512-byte
# header slots, then records packed from V2_DATA_START.  A file of at most
# V2_INLINE_ENTS blocks has its index in the header slot, in clear (under
# the header's MAC), so tests can find each record without the key.
V2_SLOT = 512
V2_DATA_START = 1024
V2_INLINE_ENTS = 8
V2_ENTS_AT = 128
V2_ENT_LEN = 40
V2_NONCE = 24


def v2_slots(raw):
    """[(slot, generation)] of the slots that look like v2 headers
    (magic and version), newest first; unverified."""
    out = []
    for i in (0, 1):
        s = raw[i * V2_SLOT:(i + 1) * V2_SLOT]
        if len(s) == V2_SLOT and s[:4] == b"RSFH" and \
                int.from_bytes(s[4:8], "little") == 2:
            out.append((i, int.from_bytes(s[8:16], "little")))
    return sorted(out, key=lambda t: -t[1])


def is_v2(raw):
    return bool(v2_slots(raw))


def v2_header(raw, slot=None):
    """Fields of a v2 header slot (the newest when slot is None)."""
    if slot is None:
        slot = v2_slots(raw)[0][0]
    s = raw[slot * V2_SLOT:(slot + 1) * V2_SLOT]
    le = lambda a, b: int.from_bytes(s[a:b], "little")
    h = {"slot": slot, "gen": le(8, 16), "block_size": le(32, 36),
         "algo": s[36], "flags": le(38, 40), "size": le(40, 48),
         "data_end": le(48, 56), "nents": le(56, 60), "ninline": le(60, 64),
         "ix_off": le(64, 72), "ix_len": le(72, 76), "entries": []}
    for i in range(h["ninline"]):
        e = s[V2_ENTS_AT + V2_ENT_LEN * i:V2_ENTS_AT + V2_ENT_LEN * (i + 1)]
        w = int.from_bytes(e[8:16], "little")
        h["entries"].append({
            "block": int.from_bytes(e[0:8], "little"),
            "off": w & ((1 << 48) - 1), "algo": (w >> 48) & 0xff,
            "stored": int.from_bytes(e[16:20], "little"),
            "plain": int.from_bytes(e[20:24], "little")})
    return h


def v2_record(raw, block, slot=None):
    """(offset, length) of block's record in the backing file (nonce and
    ciphertext), from the inline index of the newest header; None for a
    hole.  A file with an index blob (more than V2_INLINE_ENTS blocks) has
    its entries encrypted: no record can be found without the key."""
    h = v2_header(raw, slot)
    assert h["ninline"] == h["nents"], \
        "the index is a sealed blob (%d entries): records cannot be found" % h["nents"]
    for e in h["entries"]:
        if e["block"] == block:
            return e["off"], V2_NONCE + e["stored"]
    return None


def v2_newest_slot(raw):
    """Slot number (0 or 1) of the newest header that looks valid."""
    slots = v2_slots(raw)
    assert slots, "no v2 header slot"
    return slots[0][0]


def v2_slot_bytes(raw, slot):
    """The 512 bytes of header slot 0 or 1."""
    return raw[slot * V2_SLOT:(slot + 1) * V2_SLOT]


def v2_record_of(path, block):
    """v2_record of the backing file at path (it must have a record)."""
    rec = v2_record(read_file(path), block)
    assert rec is not None, "block %d of %s is a hole" % (block, path)
    return rec


def v2_ciphertext_offset(path, block):
    """Offset of the first ciphertext byte of block's record (after the
    nonce) in the backing file at path."""
    return v2_record_of(path, block)[0] + V2_NONCE


def v2_index_blob(raw):
    """(offset, length) of the sealed index blob of the newest header, or
    None when the index is inline."""
    h = v2_header(raw)
    if h["nents"] <= V2_INLINE_ENTS:
        return None
    return h["ix_off"], h["ix_len"]


# Chunked records (include/fh2rec.h, src/format/fh2rec.c): a raw block of
# more than V2_CHUNK bytes is stored as a table of 16-byte tags, one per
# 4 KiB chunk, then each chunk as nonce || ciphertext; its entry's algorithm
# is V2_ALGO_CHUNKED and its stored length v2_chunked_stored(plain).
V2_ALGO_CHUNKED = 0x10
V2_CHUNK = 4096
V2_TAG = TAG_LEN


def v2_nchunks(plain):
    return (plain + V2_CHUNK - 1) // V2_CHUNK


def v2_chunked_stored(plain):
    """The entry's stored length of a chunked record of plain bytes."""
    return plain + v2_nchunks(plain) * (V2_TAG + V2_NONCE) - V2_NONCE


def v2_chunk_at(plain, j):
    """Offset of chunk j (its nonce) inside a chunked record of plain
    bytes; its tag is at j * V2_TAG."""
    return v2_nchunks(plain) * V2_TAG + j * (V2_NONCE + V2_CHUNK)


def v2_entry(raw, block):
    """The inline index entry (v2_header's form) of block, None for a
    hole."""
    h = v2_header(raw)
    assert h["ninline"] == h["nents"], \
        "the index is a sealed blob (%d entries): records cannot be found" % h["nents"]
    for e in h["entries"]:
        if e["block"] == block:
            return e
    return None


def write_at(path, offset, data):
    """Overwrite bytes of a (backing) file in place, durably."""
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def punch_hole(path, offset, length):
    """fallocate(PUNCH_HOLE | KEEP_SIZE): the range reads as zeros and,
    where it covers whole filesystem blocks, takes no space."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long,
                               ctypes.c_long]
    fd = os.open(str(path), os.O_RDWR)
    try:
        # FALLOC_FL_PUNCH_HOLE (2) | FALLOC_FL_KEEP_SIZE (1)
        if libc.fallocate(fd, 3, offset, length) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), str(path))
    finally:
        os.close(fd)


# --------------------------------------------------------------------------
# processes and mounts

def run(args, check=False, timeout=120, **kw):
    """subprocess.run with text capture and a timeout.  args are str()-ed."""
    args = [str(a) for a in args]
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("stdin", subprocess.DEVNULL)
    r = subprocess.run(args, timeout=timeout, text=True, errors="replace", **kw)
    if check and r.returncode != 0:
        raise AssertionError(
            "command failed (rc=%d): %s\nstdout: %s\nstderr: %s"
            % (r.returncode, " ".join(args), r.stdout[-4000:], r.stderr[-4000:]))
    return r


def on_terminal(args, replies, timeout=60):
    """Run args with a new pseudo-terminal as its controlling terminal and
    stdin, stdout and stderr, as a user at a shell would.  replies maps a
    prompt to the line typed when the prompt appears (once echo is off, as
    for a passphrase), in that order.  Returns (exit code, all the terminal showed); ends
    when every holder of the terminal (a daemon too, until it detaches) has
    let it go."""
    args = [str(a) for a in args]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(args[0], args)
        finally:
            os._exit(127)
    shown, pending, seen = b"", list(replies.items()), 0
    deadline = time.time() + timeout
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
            assert ready, "no end after %ds; the terminal showed %r" % (timeout, shown)
            try:
                chunk = os.read(fd, 4096)
            except OSError as e:
                if e.errno != errno.EIO:  # EIO: nobody holds the terminal any more
                    raise
                break
            if not chunk:
                break
            shown += chunk
            at = shown.find(pending[0][0].encode(), seen) if pending else -1
            if at >= 0:
                prompt, line = pending.pop(0)
                seen = at + len(prompt)
                # Typed while echo is still on, the line would be shown
                # (or flushed away by TCSAFLUSH): wait for echo to go off.
                while termios.tcgetattr(fd)[3] & termios.ECHO:
                    assert time.time() < deadline, "echo stayed on after %r" % prompt
                    time.sleep(0.01)
                os.write(fd, (line + "\n").encode())
        _, status = os.waitpid(pid, 0)
        pid = None
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def _unescape_mount(s):
    return (s.replace("\\040", " ").replace("\\011", "\t")
            .replace("\\012", "\n").replace("\\134", "\\"))


def mounts():
    """List of (source, mountpoint, fstype) from /proc/mounts."""
    out = []
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                out.append((_unescape_mount(parts[0]), _unescape_mount(parts[1]),
                            parts[2]))
    return out


def is_mounted(mnt):
    mnt = os.path.realpath(str(mnt))
    return any(m[1] == mnt for m in mounts())


def mount_entry(mnt):
    mnt = os.path.realpath(str(mnt))
    for m in mounts():
        if m[1] == mnt:
            return m
    return None


def daemon_pids(mnt):
    """Pids of ragstore processes whose command line names mountpoint mnt."""
    mnt = os.path.realpath(str(mnt))
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in argv if a]
        if not argv or os.path.basename(argv[0]) != "ragstore":
            continue
        if "mount" not in argv:
            continue
        if any(os.path.realpath(a) == mnt for a in argv[1:] if a.startswith("/")):
            pids.append(int(d))
    return pids


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    # zombie counts as dead
    return st.rsplit(")", 1)[1].split()[0] != "Z"


def wait_pids_exit(pids, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not any(pid_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return not any(pid_alive(p) for p in pids)


def unmount(mnt, pids=(), timeout=30):
    """Unmount mnt (retrying, then lazily) and wait for the daemon pids.

    Returns a list of problems (strings); empty when everything went cleanly.
    Kills (SIGKILL) only the given pids if they do not exit."""
    problems = []
    mnt = str(mnt)
    if is_mounted(mnt):
        last = None
        for _ in range(25):
            r = run(["fusermount3", "-u", mnt], timeout=30)
            if r.returncode == 0 or not is_mounted(mnt):
                break
            last = r.stderr.strip()
            time.sleep(0.2)
        if is_mounted(mnt):
            problems.append("fusermount3 -u failed: %s; used -uz" % last)
            run(["fusermount3", "-uz", mnt], timeout=30)
    if pids and not wait_pids_exit(pids, timeout):
        problems.append("daemon %s did not exit %ds after unmount; killed"
                        % (list(pids), timeout))
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_pids_exit(pids, 10)
    return problems


def drop_caches():
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        pass


# --------------------------------------------------------------------------
# data

def pattern_bytes(n, seed):
    """Deterministic incompressible bytes."""
    out = bytearray()
    ctr = 0
    seed = str(seed).encode()
    while len(out) < n:
        out += hashlib.blake2b(seed + ctr.to_bytes(8, "little"),
                               digest_size=64).digest()
        ctr += 1
    return bytes(out[:n])


def text_bytes(n, seed=0):
    """Deterministic compressible English-like text."""
    import random
    rnd = random.Random(seed)
    words = ("the quick brown fox jumps over lazy dog storage block cipher "
             "compress encrypt file system mount backing directory kernel "
             "page cache inode journal metadata writer reader").split()
    out = []
    size = 0
    while size < n:
        line = " ".join(rnd.choice(words) for _ in range(rnd.randint(5, 14)))
        line = line.capitalize() + ".\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


def write_file(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def error_entries(mnt):
    """The lines of /.ragstore/errors of the mount, split into their five
    fields [time, kind, path, block, cause] (docs/STATS.md)."""
    with open(Path(mnt) / ".ragstore" / "errors", "rb") as f:
        text = f.read().decode()
    return [ln.split("\t") for ln in text.splitlines()]


def pread_fresh(path, length, offset):
    """Open path, pread, close.  Raises OSError as the read does."""
    fd = os.open(str(path), os.O_RDONLY)
    try:
        out = bytearray()
        while len(out) < length:
            chunk = os.pread(fd, length - len(out), offset + len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)
    finally:
        os.close(fd)


def pread_direct(path, offset, length):
    """An O_DIRECT pread of length bytes at offset of path (in a mount):
    the page cache is bypassed, so the daemon is asked for exactly that
    range (no readahead into a neighbouring chunk or block).  Fewer bytes
    at the end of the file; raises OSError as the read does."""
    fd = os.open(str(path), os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, max(4096, (length + 4095) // 4096 * 4096))
    try:
        got = 0
        with memoryview(buf) as whole:
            while got < length:
                with whole[got:length] as rest:
                    n = os.preadv(fd, [rest], offset + got)
                if n == 0:
                    break
                got += n
            return bytes(whole[:got])
    finally:
        os.close(fd)
        buf.close()


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        assert len(b) == 1, "offset %d beyond end of %s" % (offset, path)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x5A]))
        f.flush()
        os.fsync(f.fileno())


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            c = f.read(1 << 20)
            if not c:
                break
            h.update(c)
    return h.hexdigest()


def list_user_xattrs(path):
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EPERM):
            return out
        raise
    for n in names:
        if n.startswith("user."):
            out[n] = os.getxattr(path, n, follow_symlinks=False)
    return out


def snapshot(root, times=True, xattrs=True, owners=True, dir_times=True,
             content=True):
    """Describe a tree: {relpath: dict}, plus hard link groups.

    Hard links are described as groups of relpaths sharing an inode (inode
    numbers themselves differ between trees)."""
    root = str(root)
    entries = {}
    inode_groups = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            e = {"type": stat.S_IFMT(st.st_mode),
                 "mode": stat.S_IMODE(st.st_mode)}
            if owners:
                e["uid"] = st.st_uid
                e["gid"] = st.st_gid
            if stat.S_ISLNK(st.st_mode):
                e["target"] = os.readlink(full)
                if times:
                    e["mtime_ns"] = st.st_mtime_ns
                e.pop("mode")  # symlink modes are meaningless
            elif stat.S_ISREG(st.st_mode):
                e["size"] = st.st_size
                if content:
                    e["sha256"] = file_digest(full)
                if times:
                    e["mtime_ns"] = st.st_mtime_ns
                e["nlink"] = st.st_nlink
                if st.st_nlink > 1:
                    inode_groups.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISDIR(st.st_mode):
                if times and dir_times:
                    e["mtime_ns"] = st.st_mtime_ns
            else:
                if times:
                    e["mtime_ns"] = st.st_mtime_ns
            if xattrs:
                e["xattrs"] = list_user_xattrs(full)
            entries[rel] = e
    groups = sorted(sorted(g) for g in inode_groups.values())
    return entries, groups


def diff_snapshots(a, b, limit=30):
    """Human-readable list of differences between two snapshots."""
    ea, ga = a
    eb, gb = b
    out = []
    for k in sorted(set(ea) | set(eb)):
        if k not in ea:
            out.append("only in second: %s" % k)
        elif k not in eb:
            out.append("only in first: %s" % k)
        elif ea[k] != eb[k]:
            fields = sorted(set(ea[k]) | set(eb[k]))
            d = ["%s: %r != %r" % (f, ea[k].get(f), eb[k].get(f))
                 for f in fields if ea[k].get(f) != eb[k].get(f)]
            out.append("%s: %s" % (k, "; ".join(d)))
        if len(out) >= limit:
            out.append("...")
            return out
    if ga != gb:
        out.append("hard link groups differ: %r vs %r" % (ga[:10], gb[:10]))
    return out


def _only_link_counts(d):
    return all(": nlink: " in x or x.startswith("hard link groups") for x in d)


def assert_same_tree(a_root, b_root, **kw):
    sa = snapshot(a_root, **kw)
    sb = snapshot(b_root, **kw)
    d = diff_snapshots(sa, sb)
    if d and _only_link_counts(d):
        # Attributes are cached for a second and every name of a hard link
        # is its own kernel inode (docs/FORMAT.md, "Attribute caching"):
        # link counts seen through older names catch up within it.
        time.sleep(1.2)
        sb = snapshot(b_root, **kw)
        d = diff_snapshots(sa, sb)
    assert not d, "trees %s and %s differ:\n  %s" % (a_root, b_root, "\n  ".join(d))
    return sa


def du_kib(path, apparent=False):
    args = ["du", "-s", "-k"]
    if apparent:
        args.append("--apparent-size")
    r = run(args + [path], check=True)
    return int(r.stdout.split()[0])
