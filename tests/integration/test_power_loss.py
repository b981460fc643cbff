"""A power loss between a commit and the next sync point (docs/FORMAT.md,
"Writing: rules R1-R3"): no fdatasync comes between a file's new records
and the header that names them, so the disk can keep the newer header and
lose one of its records.  Both header slots then authenticate; the file
must open as the older (durable) header describes, with no EIO, and fsck
must say so and agree.  Records that did reach the disk let the newer
header win.

The state is made by the daemon itself: a file with durable content is
rewritten through one descriptor and closed while another keeps it open
(a commit, not a sync point), then the daemon is killed; the "lost" record
is then zeroed in the backing file, as a power loss leaves it."""
import os
import signal

import rsutil

B = rsutil.DEFAULT_BLOCK
OLD = rsutil.pattern_bytes(3 * B, 1)
NEW1 = rsutil.pattern_bytes(B, 2)


def fsck(s, *args):
    return rsutil.run([s.bin, "fsck", "--passfile", s.passfile] + list(args) + [s.backing],
                      timeout=300)


def crash_between_commit_and_sync(s, old=OLD):
    """f: old (3 blocks), fsynced; then block 1 rewritten (NEW1) and
    committed without a sync point; then SIGKILL.  Returns f's backing
    path."""
    f = s.path("f")
    with open(f, "wb") as out:
        out.write(old)
        out.flush()
        os.fsync(out.fileno())
    p = s.backing_path("f")
    keep = os.open(f, os.O_RDONLY)
    try:
        w = os.open(f, os.O_RDWR)
        os.pwrite(w, NEW1, B)
        os.close(w)               # flush: a commit; `keep` stays open
        slots = rsutil.v2_slots(rsutil.read_file(p))
        assert len(slots) == 2, "the commit left %r" % slots
        pids = rsutil.daemon_pids(s.mnt)
        assert len(pids) == 1
        os.kill(pids[0], signal.SIGKILL)
        assert rsutil.wait_pids_exit(pids, 10)
    finally:
        try:
            os.close(keep)
        except OSError:
            pass              # the daemon is gone
    rsutil.run(["fusermount3", "-uz", s.mnt])
    assert not rsutil.is_mounted(s.mnt)
    s.pids = []
    return p


def test_lost_record_opens_the_durable_version(store):
    s = store
    p = crash_between_commit_and_sync(s)
    raw = rsutil.read_file(p)
    new_slot, old_slot = [i for i, _ in rsutil.v2_slots(raw)]
    off, length = rsutil.v2_record(raw, 1, new_slot)
    assert rsutil.v2_record(raw, 1, old_slot)[0] != off   # R2: elsewhere
    rsutil.write_at(p, off, bytes(length))                # never reached the disk

    r = fsck(s)
    assert r.returncode == 1, r.stdout + r.stderr
    about = [l for l in r.stdout.splitlines() if l.startswith("/f: ")]
    assert len(about) == 1, r.stdout
    assert "newest header (slot %d" % new_slot in about[0] and \
        "never reached the disk" in about[0] and "[--repair fixes this]" in about[0], about

    s.mount()
    assert rsutil.read_file(s.path("f")) == OLD
    assert rsutil.error_entries(s.mnt) == []
    s.unmount()
    # The last close was a sync point: the newer header is gone for good.
    assert len(rsutil.v2_slots(rsutil.read_file(p))) == 1
    r = fsck(s)
    # (The totals may still be rebuilding after the crash: not about f.)
    assert not [l for l in r.stdout.splitlines() if l.startswith("/f: ")], r.stdout


def test_lost_record_repaired_by_fsck(store):
    s = store
    p = crash_between_commit_and_sync(s)
    raw = rsutil.read_file(p)
    new_slot = rsutil.v2_slots(raw)[0][0]
    off, length = rsutil.v2_record(raw, 1, new_slot)
    rsutil.write_at(p, off, bytes(length))
    r = fsck(s, "--repair")
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(l.startswith("/f: ") and "[repaired]" in l for l in r.stdout.splitlines()), \
        r.stdout
    assert rsutil.v2_slot_bytes(rsutil.read_file(p), new_slot) == bytes(rsutil.V2_SLOT)
    s.mount()
    assert rsutil.read_file(s.path("f")) == OLD


def test_records_on_disk_let_the_newer_header_win(store):
    s = store
    crash_between_commit_and_sync(s)
    s.mount()
    assert rsutil.read_file(s.path("f")) == OLD[:B] + NEW1 + OLD[2 * B:]
    assert rsutil.error_entries(s.mnt) == []


def test_lost_index_blob_opens_the_durable_version(store):
    """A file of more than 8 blocks: its newer header names a new sealed
    index blob, which the power loss took."""
    s = store
    old = rsutil.pattern_bytes(10 * B, 3)
    p = crash_between_commit_and_sync(s, old)
    off, length = rsutil.v2_index_blob(rsutil.read_file(p))
    rsutil.write_at(p, off, bytes(length))
    r = fsck(s)
    assert r.returncode == 1 and "was written just before a crash" in r.stdout, r.stdout
    s.mount()
    assert rsutil.read_file(s.path("f")) == old
    assert rsutil.error_entries(s.mnt) == []
