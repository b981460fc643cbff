"""The hidden /.ragstore directory (SPEC section 6): stats, health, metrics,
config, errors and control, through a real mount."""
import errno
import json
import math
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

import rsutil
from rsutil import run

VFILES = ["stats", "health", "metrics", "config", "errors", "control", "cleanup"]


# --------------------------------------------------------------------------
# helpers

def vpath(store, name=""):
    return store.mnt / ".ragstore" / name if name else store.mnt / ".ragstore"


def vread(store, name):
    with open(vpath(store, name), "rb") as f:
        return f.read().decode()


def stats(store):
    return json.loads(vread(store, "stats"))


def health(store):
    return json.loads(vread(store, "health"))


def control(store, command):
    """Write one command to control in one write() call; returns 0 or errno."""
    fd = os.open(vpath(store, "control"), os.O_WRONLY)
    try:
        os.write(fd, command.encode())
        return 0
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)


def wait_for(cond, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s" % what)


def wait_totals_settled(store):
    return wait_for(lambda: (lambda s: s if s["totals"]["state"] != "rebuilding" else None)(
        stats(store)), what="totals rebuild")


def wait_scrub_done(store):
    return wait_for(lambda: (lambda s: s if s["scrub"]["state"] == "done" else None)(
        stats(store)), what="scrub to finish")


def walk_totals(mnt):
    """The store totals as a walk of the mount sees them (docs/STATS.md)."""
    inodes = {}
    dirs = 0
    for root, dnames, fnames in os.walk(mnt):
        for d in dnames:
            if stat.S_ISDIR(os.lstat(os.path.join(root, d)).st_mode):
                dirs += 1
        for n in fnames + dnames:
            st = os.lstat(os.path.join(root, n))
            if stat.S_ISREG(st.st_mode):
                inodes[st.st_ino] = (st.st_size, st.st_blocks * 512)
    return {"files": len(inodes), "directories": dirs,
            "logical_bytes": sum(v[0] for v in inodes.values()),
            "stored_bytes": sum(v[1] for v in inodes.values())}


def assert_totals_exact(store):
    s = stats(store)
    w = walk_totals(store.mnt)
    got = {k: s[k] for k in w}
    assert got == w, "stats totals %r != walk %r" % (got, w)
    # The per-algorithm figures add up to the totals.
    for key, total in (("files", "files"), ("logical_bytes", "logical_bytes"),
                       ("stored_bytes", "stored_bytes")):
        assert sum(a[key] for a in s["algorithms"].values()) == s[total]
    return s


def scripted_mix(mnt, tag=""):
    """Writes, overwrites, truncates, unlinks, renames, hard links, mkdir,
    rmdir, symlinks, sparse files."""
    mnt = Path(mnt)
    d = mnt / ("mix" + tag)
    (d / "sub" / "deep").mkdir(parents=True)
    (d / "gone").mkdir()
    rsutil.write_file(d / "text.txt", rsutil.text_bytes(300_000, 1))
    rsutil.write_file(d / "rand.bin", rsutil.pattern_bytes(200_000, 2))
    rsutil.write_file(d / "sub" / "small", b"hello")
    rsutil.write_file(d / "sub" / "deep" / "empty", b"")
    # overwrite the middle, append
    with open(d / "text.txt", "r+b") as f:
        f.seek(70_000)
        f.write(rsutil.pattern_bytes(10_000, 3))
    with open(d / "rand.bin", "ab") as f:
        f.write(b"x" * 5000)
    # truncates: down, up (sparse), to zero
    os.truncate(d / "rand.bin", 123_457)
    rsutil.write_file(d / "sparse", b"")
    os.truncate(d / "sparse", 3_000_000)
    with open(d / "sparse", "r+b") as f:
        f.seek(1_000_000)
        f.write(b"data in the middle")
    rsutil.write_file(d / "tozero", rsutil.text_bytes(50_000, 4))
    os.truncate(d / "tozero", 0)
    # hard links, then unlink of one name and of a whole file
    os.link(d / "text.txt", d / "sub" / "text-link")
    os.link(d / "rand.bin", d / "rand-link")
    os.unlink(d / "rand.bin")
    rsutil.write_file(d / "victim", rsutil.pattern_bytes(80_000, 5))
    os.unlink(d / "victim")
    # renames: plain, over an existing file, a directory
    rsutil.write_file(d / "a", rsutil.text_bytes(20_000, 6))
    rsutil.write_file(d / "b", rsutil.pattern_bytes(30_000, 7))
    os.rename(d / "a", d / "a2")
    os.rename(d / "a2", d / "b")
    os.rename(d / "sub" / "deep", d / "deep2")
    os.symlink("text.txt", d / "sym")
    os.mkfifo(d / "fifo")
    os.rmdir(d / "gone")
    # a file kept open while its name goes away
    f = open(d / "open-unlinked", "wb")
    f.write(rsutil.pattern_bytes(40_000, 8))
    f.flush()
    os.unlink(d / "open-unlinked")
    f.write(b"more")
    f.close()
    # long names (long-name entries in an encrypted-names store)
    rsutil.write_file(d / ("L" * 200), rsutil.text_bytes(9000, 9))


# --------------------------------------------------------------------------
# visibility and permissions

def test_hidden_but_reachable(store):
    rsutil.write_file(store.path("f"), b"x")
    r = run(["ls", "-a", store.mnt], check=True)
    assert ".ragstore" not in r.stdout.split()
    assert ".ragstore" not in os.listdir(store.mnt)
    r = run(["ls", vpath(store)], check=True)
    assert sorted(r.stdout.split()) == sorted(VFILES)
    assert sorted(os.listdir(vpath(store))) == sorted(VFILES)
    st = os.stat(vpath(store))
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555
    for n in VFILES:
        st = os.stat(vpath(store, n))
        assert stat.S_ISREG(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == (0o200 if n == "control" else 0o444), n
    for n in ("stats", "health", "metrics", "config"):
        r = run(["cat", vpath(store, n)], check=True)
        assert r.stdout.strip(), n
    # tar and du of the mount never see it
    r = run(["tar", "cf", "-", "-C", store.mnt, "."], check=True)
    assert ".ragstore" not in r.stdout
    assert not os.path.exists(store.mnt / ".ragstore" / "nope")


def test_nothing_can_be_changed(store):
    v = vpath(store)
    rsutil.write_file(store.path("f"), b"x")
    bad = (errno.EPERM, errno.EACCES)
    checks = [
        lambda: os.mkdir(v / "d"),
        lambda: open(v / "new", "wb"),
        lambda: os.unlink(v / "stats"),
        lambda: os.rename(v / "stats", v / "s2"),
        lambda: os.rename(store.path("f"), v / "f"),
        lambda: os.rename(v / "stats", store.path("stolen")),
        lambda: os.rmdir(v),
        lambda: os.rename(v, store.path("elsewhere")),
        lambda: os.symlink("x", v / "l"),
        lambda: os.link(store.path("f"), v / "hl"),
        lambda: os.chmod(v / "stats", 0o666),
        lambda: open(v / "stats", "r+b"),
        lambda: open(v / "control", "rb"),
        lambda: os.truncate(v / "stats", 0),
    ]
    for i, c in enumerate(checks):
        with pytest.raises(OSError) as e:
            c()
        assert e.value.errno in bad, (i, e.value)
    for cmd in (["mkdir", v / "d"], ["touch", v / "t"], ["rm", "-f", v / "stats"],
                ["mv", v / "stats", v / "x"]):
        assert run(cmd).returncode != 0, cmd
    assert sorted(os.listdir(v)) == sorted(VFILES)
    # mkdir of the name itself at the root
    with pytest.raises(OSError) as e:
        os.mkdir(v)
    assert e.value.errno in bad + (errno.EEXIST,)


def test_small_reads_return_everything(store):
    rsutil.write_file(store.path("f"), rsutil.text_bytes(100_000))
    for name in ("config", "errors"):
        r7 = run(["dd", "if=%s" % vpath(store, name), "bs=7", "status=none"], check=True)
        rc = run(["cat", vpath(store, name)], check=True)
        assert r7.stdout == rc.stdout, name
    # stats changes between opens; one open in 7-byte pieces is complete
    for name in ("stats", "health", "metrics"):
        r7 = run(["dd", "if=%s" % vpath(store, name), "bs=7", "status=none"], check=True)
        assert len(r7.stdout) > 100
        if name != "metrics":
            json.loads(r7.stdout)
        fd = os.open(vpath(store, name), os.O_RDONLY)
        try:
            parts = []
            while True:
                b = os.read(fd, 7)
                if not b:
                    break
                parts.append(b)
            again = os.pread(fd, 50, 3)
        finally:
            os.close(fd)
        whole = b"".join(parts)
        assert again == whole[3:53]
        if name != "metrics":
            json.loads(whole)
        else:
            parse_prometheus(whole.decode())


# --------------------------------------------------------------------------
# stats and health contents

STATS_KEYS = {"logical_bytes", "stored_bytes", "ratio", "savings_bytes", "files",
              "directories", "algorithms", "ops", "op_errors", "latency", "bytes_read",
              "bytes_written", "integrity_errors", "io_errors", "cache_hits",
              "cache_misses", "uptime_seconds", "scrub", "totals"}


def test_json_valid_with_spec_keys(store):
    s = stats(store)
    assert STATS_KEYS <= set(s)
    assert set(s["algorithms"]) == {"none", "lz4", "zlib", "zstd"}
    for a in s["algorithms"].values():
        assert set(a) == {"files", "logical_bytes", "stored_bytes"}
    for op in ("read", "write", "getattr", "open", "create", "unlink", "rename"):
        assert op in s["ops"] and op in s["op_errors"]
        assert set(s["latency"][op]) == {"count", "p50_us", "p99_us"}
    assert s["ratio"] == 0 and s["files"] == 0 and s["directories"] == 0
    assert set(s["scrub"]) >= {"state", "files_checked", "blocks_bad", "last_started",
                               "last_finished"}
    assert s["scrub"]["state"] == "idle"
    h = health(store)
    assert set(h) >= {"score", "status", "checks", "recommendations"}
    assert 0 <= h["score"] <= 100 and h["status"] == "ok"
    for name in ("disk_space", "disk_inodes", "integrity", "io_errors", "scrub",
                 "compression", "totals"):
        assert h["checks"][name]["status"] in ("ok", "warning", "critical")
        assert h["checks"][name]["detail"]
    assert isinstance(h["recommendations"], list)
    if shutil.which("jq"):
        for n in ("stats", "health"):
            run(["jq", "-e", ".", vpath(store, n)], check=True)
    cfg = vread(store, "config")
    assert re.search(r"^uuid = [0-9a-f-]{36}$", cfg, re.M)
    assert re.search(r"^cipher = \S+", cfg, re.M)
    assert re.search(r"^names = encrypted$", cfg, re.M)
    assert re.search(r"^block_size = 65536$", cfg, re.M)
    assert re.search(r"^compression = \S+", cfg, re.M)
    assert "[mount]" in cfg and "mountpoint = %s" % os.path.realpath(store.mnt) in cfg
    # nothing secret: no key material, salt or wrapped key from the descriptor
    desc = (store.backing / "ragstore.conf").read_text()
    for line in desc.splitlines():
        if "=" in line and line.split("=")[0].strip() in ("salt", "wrapped", "mac"):
            assert line.split("=", 1)[1].strip() not in cfg
    assert vread(store, "errors") == ""


def test_totals_exact_after_mix_and_remount(store_factory):
    s = store_factory("mix")
    scripted_mix(s.mnt)
    st = assert_totals_exact(s)
    assert st["files"] >= 8 and st["directories"] == 3  # mix, sub, deep2
    # By what the blocks are stored with: zstd (the default), or none for
    # the empty, sparse and incompressible files.
    algos = st["algorithms"]
    assert algos["zstd"]["files"] > 0 and algos["none"]["files"] > 0
    assert algos["zstd"]["files"] + algos["none"]["files"] == st["files"]
    assert st["savings_bytes"] == st["logical_bytes"] - st["stored_bytes"]
    assert abs(st["ratio"] - st["stored_bytes"] / st["logical_bytes"]) < 1e-5
    s.remount()
    st = assert_totals_exact(s)
    assert st["totals"]["state"] == "exact"
    assert (s.backing / "ragstore.stats").exists()
    assert "state = in-use" in (s.backing / "ragstore.stats").read_text()
    # more changes after the remount, then the removal of everything
    scripted_mix(s.mnt, "2")
    assert_totals_exact(s)
    shutil.rmtree(s.mnt / "mix")
    assert_totals_exact(s)
    s.remount()
    assert_totals_exact(s)
    shutil.rmtree(s.mnt / "mix2")
    st = assert_totals_exact(s)
    assert st["files"] == 0 and st["logical_bytes"] == 0 and st["directories"] == 0


def test_totals_plaintext_unencrypted(store_factory):
    s = store_factory("plain", encryption=False, plaintext_names=True,
                      init_extra=["--compression", "lz4"])
    scripted_mix(s.mnt)
    st = assert_totals_exact(s)
    algos = st["algorithms"]
    assert algos["lz4"]["files"] > 0
    assert algos["lz4"]["files"] + algos["none"]["files"] == st["files"]
    s.remount()
    assert_totals_exact(s)


def test_counters_move(store):
    before = stats(store)
    data = rsutil.text_bytes(500_000, 11)
    rsutil.write_file(store.path("c"), data)
    assert rsutil.read_file(store.path("c")) == data
    os.mkdir(store.path("d"))
    os.rename(store.path("c"), store.path("d/c"))
    os.mkdir(store.path("full"))
    rsutil.write_file(store.path("full/x"), b"x")
    with pytest.raises(OSError):
        os.unlink(store.path("missing"))
    with pytest.raises(OSError):
        os.rmdir(store.path("full"))
    after = stats(store)
    assert after["bytes_written"] - before["bytes_written"] >= len(data)
    assert after["bytes_read"] - before["bytes_read"] >= len(data)
    for op in ("write", "read", "create", "mkdir", "rename", "getattr"):
        assert after["ops"][op] > before["ops"][op], op
        assert after["latency"][op]["count"] > before["latency"][op]["count"], op
        assert after["latency"][op]["p99_us"] >= after["latency"][op]["p50_us"] > 0, op
    # A real failure counts; a missing name is an answer, not an error.
    assert after["op_errors"]["rmdir"] > before["op_errors"]["rmdir"]
    assert after["op_errors"]["getattr"] == before["op_errors"]["getattr"]
    assert after["cache_hits"] + after["cache_misses"] > \
        before["cache_hits"] + before["cache_misses"]
    assert after["uptime_seconds"] >= before["uptime_seconds"]
    assert after["logical_bytes"] == len(data) + 1


# --------------------------------------------------------------------------
# control and scrub

def test_control_commands(store):
    # Without policies cleanup has nothing to remove (test_cleanup.py).
    assert control(store, "cleanup --dry-run\n") == 0
    assert control(store, "cleanup --now\n") == errno.EINVAL
    assert control(store, "frobnicate\n") == errno.EINVAL
    assert control(store, "") == 0  # nothing written, nothing done
    assert control(store, "scrub\n") == 0
    s = wait_scrub_done(store)
    assert s["scrub"]["blocks_bad"] == 0 and s["scrub"]["last_finished"]
    r = run(["sh", "-c", "echo scrub > '%s'" % vpath(store, "control")])
    assert r.returncode == 0, r.stderr
    wait_scrub_done(store)


def test_scrub_finds_flipped_byte(store):
    B = rsutil.DEFAULT_BLOCK
    os.mkdir(store.path("dir"))
    rsutil.write_file(store.path("dir/bad"), rsutil.pattern_bytes(3 * B, 21))
    rsutil.write_file(store.path("good"), rsutil.pattern_bytes(2 * B, 22))
    os.link(store.path("good"), store.path("good-link"))
    h0 = health(store)
    assert control(store, "scrub") == 0
    s = wait_scrub_done(store)
    assert s["scrub"]["files_checked"] == 2 and s["scrub"]["blocks_bad"] == 0
    assert s["integrity_errors"] == 0

    bp = store.backing_path("dir/bad")
    rsutil.flip_byte(bp, rsutil.v2_ciphertext_offset(bp, 1) + 5)
    assert control(store, "scrub\n") == 0
    s = wait_scrub_done(store)
    assert s["scrub"]["files_checked"] == 2
    assert s["scrub"]["files_bad"] == 1 and s["scrub"]["blocks_bad"] == 1
    assert s["scrub"]["blocks_checked"] == 5
    assert s["integrity_errors"] >= 1
    lines = vread(store, "errors").splitlines()
    assert lines, "errors is empty"
    fields = [ln.split("\t") for ln in lines]
    assert all(len(f) == 5 for f in fields), lines
    assert ["/dir/bad", "1"] in [[f[2], f[3]] for f in fields], lines
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", f[0]) for f in fields)
    assert fields[0][1] == "integrity" and fields[0][4]
    h = health(store)
    assert h["score"] < h0["score"]
    assert h["status"] == "critical"
    assert h["checks"]["integrity"]["status"] == "critical"
    assert h["checks"]["scrub"]["status"] == "critical"
    assert any("errors" in r for r in h["recommendations"])
    m = metrics(store)
    assert m[("ragstore_integrity_errors_total", ())] >= 1
    assert m[("ragstore_scrub_blocks_bad", ())] == 1
    # the good file still reads
    assert rsutil.read_file(store.path("good")) == rsutil.pattern_bytes(2 * B, 22)
    # the result survives a remount (health still knows the last scrub)
    store.remount()
    s = stats(store)
    assert s["scrub"]["state"] == "done" and s["scrub"]["blocks_bad"] == 1
    assert health(store)["checks"]["scrub"]["status"] == "critical"


def test_second_scrub_while_running_is_busy(store):
    big = store.path("big")
    with open(big, "wb") as f:
        for i in range(48):
            f.write(rsutil.pattern_bytes(1 << 20, 100 + i))
    fd = os.open(vpath(store, "control"), os.O_WRONLY)
    try:
        os.write(fd, b"scrub")
        with pytest.raises(OSError) as e:
            os.write(fd, b"scrub")
        assert e.value.errno == errno.EBUSY
    finally:
        os.close(fd)
    assert stats(store)["scrub"]["state"] in ("running", "done")
    # normal I/O goes on during a scrub
    assert control(store, "scrub") in (0, errno.EBUSY)
    rsutil.write_file(store.path("during"), b"y" * 1000)
    assert rsutil.read_file(store.path("during")) == b"y" * 1000
    s = wait_scrub_done(store)
    assert s["scrub"]["blocks_bad"] == 0


# --------------------------------------------------------------------------
# metrics

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"\s*(,|$)')


def parse_prometheus(text):
    """A strict parser of the text exposition format (0.0.4).  Returns
    {(name, ((label, value), ...)): float}; raises AssertionError."""
    assert text.endswith("\n"), "exposition must end with a newline"
    types, helps, samples = {}, {}, {}
    current = None
    done = set()      # families whose block of lines has ended
    sampled = set()   # families with samples seen
    for ln, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d: %r" % (ln, line)
        assert line.strip(), "empty line " + where
        if line.startswith("#"):
            parts = line.split(None, 3)
            assert len(parts) >= 3 and parts[1] in ("HELP", "TYPE"), where
            name = parts[2]
            assert METRIC_NAME.match(name), where
            if parts[1] == "HELP":
                assert name not in helps, "second HELP " + where
                assert len(parts) == 4 and parts[3].strip(), "empty HELP " + where
                helps[name] = parts[3]
            else:
                assert name not in types, "second TYPE " + where
                assert len(parts) == 4 and parts[3] in (
                    "counter", "gauge", "summary", "histogram", "untyped"), where
                assert name not in done and name not in sampled, "TYPE after samples " + where
                types[name] = parts[3]
            if current != name:
                assert name not in done, "family split " + where
                if current:
                    done.add(current)
                current = name
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+-?\d+)?$", line)
        assert m, "bad sample " + where
        name, labels, value = m.group(1), m.group(2), m.group(3)
        fam = name
        for suf in ("_sum", "_count", "_bucket"):
            if name.endswith(suf) and name[:-len(suf)] in types and \
                    types[name[:-len(suf)]] in ("summary", "histogram"):
                fam = name[:-len(suf)]
        assert fam == current, "sample outside its family " + where
        assert fam in types and fam in helps, "no TYPE/HELP before " + where
        sampled.add(fam)
        lab = []
        if labels:
            body = labels[1:-1]
            pos = 0
            while pos < len(body):
                lm = LABEL.match(body, pos)
                assert lm, "bad labels " + where
                lab.append((lm.group(1), lm.group(2)))
                pos = lm.end()
            names = [k for k, _ in lab]
            assert len(names) == len(set(names)), "repeated label " + where
        if value in ("NaN", "+Inf", "-Inf"):
            v = float(value.replace("Inf", "inf"))
        else:
            assert re.match(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", value), where
            v = float(value)
        key = (name, tuple(sorted(lab)))
        assert key not in samples, "duplicate series " + where
        if types[fam] == "counter":
            assert v >= 0 and not math.isnan(v), where
        samples[key] = v
    for name, t in types.items():
        assert name in helps, "TYPE without HELP: " + name
        assert any(k[0] == name or k[0].startswith(name + "_") for k in samples), \
            "family without samples: " + name
    return samples


def store_uuid(store):
    return re.search(r"^uuid = (\S+)$", vread(store, "config"), re.M).group(1)


def strip_store_labels(samples, store):
    """The samples of parse_prometheus without the labels that name the
    store, after checking that every sample carries them: store (the UUID)
    and mountpoint."""
    want = {"store": store_uuid(store), "mountpoint": os.path.realpath(store.mnt)}
    out = {}
    for (name, labels), v in samples.items():
        d = dict(labels)
        assert {k: d.get(k) for k in want} == want, "%s%r lacks the store labels" % (name, labels)
        out[(name, tuple(kv for kv in labels if kv[0] not in want))] = v
    return out


def metrics(store):
    """/.ragstore/metrics of store, parsed strictly, keyed without the store
    labels."""
    return strip_store_labels(parse_prometheus(vread(store, "metrics")), store)


def test_metrics_parse(store):
    rsutil.write_file(store.path("m"), rsutil.text_bytes(100_000))
    rsutil.read_file(store.path("m"))
    text = vread(store, "metrics")
    m = strip_store_labels(parse_prometheus(text), store)
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    for name, t in types.items():
        assert name.startswith("ragstore_"), name
        if t == "counter":
            assert name.endswith("_total"), name
        if "bytes" in name and t == "gauge":
            assert name.endswith("_bytes"), name
    assert m[("ragstore_logical_bytes", ())] == 100_000
    assert m[("ragstore_files", ())] == 1
    assert m[("ragstore_operations_total", (("op", "write"),))] >= 1
    assert m[("ragstore_algorithm_files", (("algorithm", "zstd"),))] == 1
    assert m[("ragstore_written_bytes_total", ())] >= 100_000
    assert ("ragstore_operation_duration_seconds",
            (("op", "read"), ("quantile", "0.99"))) in m
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        assert r.returncode == 0, r.stdout


def test_metrics_name_their_store(store_factory):
    """Two stores on one host export disjoint series: every sample carries
    store="UUID" and mountpoint="MNT" (checked with Debian's
    python3-prometheus-client, as a Prometheus scrape would read it)."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        pytest.fail("python3-prometheus-client is missing (make deps installs it)",
                    pytrace=False)
    a, b = store_factory("a"), store_factory("b")
    series = []
    for s in (a, b):
        rsutil.write_file(s.path("f"), rsutil.text_bytes(10_000))
        fams = list(text_string_to_metric_families(vread(s, "metrics")))
        assert len(fams) > 20
        seen = set()
        for fam in fams:
            for smp in fam.samples:
                assert smp.labels.get("store") == store_uuid(s), smp
                assert smp.labels.get("mountpoint") == os.path.realpath(s.mnt), smp
                seen.add((smp.name, tuple(sorted(smp.labels.items()))))
        series.append(seen)
    assert store_uuid(a) != store_uuid(b)
    assert not series[0] & series[1], "two stores export the same series"


def test_one_flipped_byte_counts_one_error(store):
    """The kernel retries a read that failed (readahead, then the page), but
    one damaged block read once is one integrity error, listed once; the
    same error more than 2 s later counts again (docs/STATS.md)."""
    B = rsutil.DEFAULT_BLOCK
    rsutil.write_file(store.path("f"), rsutil.pattern_bytes(3 * B, 41))
    bp = store.backing_path("f")
    store.unmount()
    rsutil.flip_byte(bp, rsutil.v2_ciphertext_offset(bp, 1) + 5)
    store.mount()
    with pytest.raises(OSError) as ei:
        rsutil.read_file(store.path("f"))
    assert ei.value.errno == errno.EIO
    s = stats(store)
    assert s["integrity_errors"] == 1, s["integrity_errors"]
    lines = vread(store, "errors").splitlines()
    assert len(lines) == 1, lines
    assert lines[0].split("\t")[1:4] == ["integrity", "/f", "1"], lines
    assert metrics(store)[("ragstore_integrity_errors_total", ())] == 1
    time.sleep(2.5)
    with pytest.raises(OSError):
        rsutil.read_file(store.path("f"))
    assert stats(store)["integrity_errors"] == 2
    assert len(vread(store, "errors").splitlines()) == 2


def test_missing_names_are_not_errors(store):
    """stat of a missing name (ENOENT from lookup) and getxattr of an unset
    attribute (ENODATA) are answers: counted in ops, not in op_errors."""
    rsutil.write_file(store.path("f"), b"x")
    before = stats(store)
    for i in range(50):
        assert not os.path.exists(store.path("missing-%d" % i))
        with pytest.raises(OSError) as ei:
            os.getxattr(store.path("f"), "user.unset-%d" % i)
        assert ei.value.errno == errno.ENODATA
    after = stats(store)
    assert after["ops"]["getattr"] >= before["ops"]["getattr"] + 50
    assert after["ops"]["xattr"] >= before["ops"]["xattr"] + 50
    assert after["op_errors"] == before["op_errors"], after["op_errors"]
    m = metrics(store)
    assert m[("ragstore_operation_errors_total", (("op", "getattr"),))] == \
        before["op_errors"]["getattr"]


def test_strict_parser_rejects_bad_input():
    good = "# HELP a_total x\n# TYPE a_total counter\na_total 1\n"
    parse_prometheus(good)
    for bad in ("a_total 1\n",                                    # no TYPE/HELP
                good + "a_total 2\n",                             # duplicate
                good.replace("a_total 1", 'a_total{op="x} 1'),    # bad label
                good.replace(" 1\n", " one\n"),                   # bad value
                good[:-1]):                                        # no newline
        with pytest.raises(AssertionError):
            parse_prometheus(bad)


# --------------------------------------------------------------------------
# backing filesystem nearly full

def test_nearly_full_backing_shows_in_health(store_factory, tmp_path):
    s = store_factory("full", mount=False)
    tdir = s.base / "tmpfs"
    tdir.mkdir()
    r = run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", tdir])
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs: %s" % r.stderr.strip())
    try:
        shutil.copytree(s.backing, tdir / "backing", symlinks=True)
        s.backing = tdir / "backing"
        s.mount()
        rsutil.write_file(s.path("f"), rsutil.text_bytes(200_000))
        h = health(s)
        assert h["checks"]["disk_space"]["status"] == "ok", h
        # fill the tmpfs outside the store until ~97% is used
        sv = os.statvfs(tdir)
        fill = int(sv.f_blocks * sv.f_frsize * 0.97) - \
            (sv.f_blocks - sv.f_bavail) * sv.f_frsize
        run(["dd", "if=/dev/zero", "of=%s" % (tdir / "filler"), "bs=64k",
             "count=%d" % (fill // 65536), "status=none"], check=True)
        h = health(s)
        assert h["status"] in ("warning", "critical"), h
        assert h["checks"]["disk_space"]["status"] in ("warning", "critical")
        assert h["checks"]["disk_space"]["free_percent"] < 5
        assert h["score"] <= 60
        assert any("free" in r and "filesystem" in r for r in h["recommendations"]), h
        m = metrics(s)
        assert m[("ragstore_backing_free_bytes", ())] < 0.05 * m[
            ("ragstore_backing_size_bytes", ())]
        os.unlink(tdir / "filler")
        assert health(s)["checks"]["disk_space"]["status"] == "ok"
    finally:
        if rsutil.is_mounted(s.mnt):
            s.unmount()
        run(["umount", tdir])


# --------------------------------------------------------------------------
# unclean shutdown

def test_unclean_shutdown_rebuilds_totals(store_factory):
    s = store_factory("crash")
    scripted_mix(s.mnt)
    assert_totals_exact(s)
    assert "state = in-use" in (s.backing / "ragstore.stats").read_text()
    pids = rsutil.daemon_pids(s.mnt)
    assert pids
    for p in pids:
        os.kill(p, 9)
    assert rsutil.wait_pids_exit(pids, 20)
    rsutil.unmount(s.mnt)
    s.pids = []
    s.mount()
    st = wait_totals_settled(s)
    assert st["totals"]["state"] == "rebuilt"
    assert st["totals"]["rebuilt_after_unclean_shutdown"] is True
    assert st["totals"]["rebuilt_at"]
    assert_totals_exact(s)
    h = health(s)
    assert h["checks"]["totals"]["rebuilt_after_unclean_shutdown"] is True
    assert "unclean shutdown" in h["checks"]["totals"]["detail"]
    assert any("unmount" in r for r in h["recommendations"])
    # changes after the rebuild are kept up, and a clean remount trusts them
    scripted_mix(s.mnt, "2")
    assert_totals_exact(s)
    s.remount()
    st = assert_totals_exact(s)
    assert st["totals"]["state"] == "exact"
    assert st["totals"]["rebuilt_after_unclean_shutdown"] is False
    assert health(s)["checks"]["totals"]["status"] == "ok"


def test_damaged_stats_file_is_rebuilt(store_factory):
    s = store_factory("damaged")
    scripted_mix(s.mnt)
    s.unmount()
    (s.backing / "ragstore.stats").write_text("version = 1\nstate = clean\nfiles = banana\n")
    s.mount()
    st = wait_totals_settled(s)
    assert st["totals"]["state"] == "rebuilt"
    assert_totals_exact(s)


# --------------------------------------------------------------------------
# scrub progress, stop, and `ragstore scrub MOUNTPOINT`

SCRUB_PROGRESS_KEYS = {"result", "files_total", "bytes_checked", "bytes_total", "progress",
                       "seconds", "rate_bytes_per_second", "eta_seconds"}


def fill_for_scrub(store, files=40, size=200_000):
    for i in range(files):
        rsutil.write_file(store.path("s%03d" % i), rsutil.pattern_bytes(size, 300 + i))
    return files * size


def test_scrub_progress_in_stats_and_metrics(store):
    total = fill_for_scrub(store)
    wait_totals_settled(store)
    # Paced to about 2 MB/s, the 8 MB take some 4 seconds: long enough to
    # watch it run.
    assert control(store, "scrub --limit 2M") == 0
    seen = []
    deadline = time.time() + 60
    while time.time() < deadline:
        sc = stats(store)["scrub"]
        assert SCRUB_PROGRESS_KEYS <= set(sc)
        if sc["state"] != "running":
            break
        seen.append(sc)
        time.sleep(0.3)
    assert len(seen) >= 3, seen
    mid = [sc for sc in seen if 0 < sc["bytes_checked"] < total]
    assert mid, seen
    sc = mid[len(mid) // 2]
    assert sc["bytes_total"] == total and sc["files_total"] == 40
    assert sc["result"] is None
    assert abs(sc["progress"] - sc["bytes_checked"] / total) < 0.01
    assert 0.5e6 < sc["rate_bytes_per_second"] < 4e6, sc
    assert sc["eta_seconds"] is not None and 0 < sc["eta_seconds"] < 30
    assert [s["bytes_checked"] for s in seen] == sorted(s["bytes_checked"] for s in seen)
    done = wait_scrub_done(store)["scrub"]
    assert done["result"] == "clean" and done["progress"] == 1
    assert done["bytes_checked"] == total and done["eta_seconds"] is None
    m = metrics(store)
    assert m[("ragstore_scrub_checked_bytes", ())] == total
    assert m[("ragstore_scrub_total_bytes", ())] == total
    assert m[("ragstore_scrub_progress_ratio", ())] == 1
    assert m[("ragstore_scrub_stopped", ())] == 0
    assert m[("ragstore_scrub_eta_seconds", ())] == -1
    assert control(store, "scrub --limit fast") == errno.EINVAL
    assert control(store, "scrub --limit 0") == errno.EINVAL


def test_scrub_stop(store):
    total = fill_for_scrub(store)
    wait_totals_settled(store)
    assert control(store, "scrub --stop") == 0  # none runs: nothing to do
    assert control(store, "scrub --limit 1M") == 0
    wait_for(lambda: stats(store)["scrub"]["files_checked"] >= 2, what="scrub to begin")
    t = time.time()
    assert control(store, "scrub --stop\n") == 0
    assert time.time() - t < 5  # it stops after the file it is on
    sc = stats(store)["scrub"]
    assert sc["state"] == "idle" and sc["result"] == "stopped" and sc["aborted"]
    assert 0 < sc["bytes_checked"] < total
    time.sleep(0.5)
    assert stats(store)["scrub"]["bytes_checked"] == sc["bytes_checked"]
    assert metrics(store)[("ragstore_scrub_stopped", ())] == 1
    # A new scrub runs to its end.
    assert control(store, "scrub") == 0
    assert wait_scrub_done(store)["scrub"]["result"] == "clean"


def test_scrub_command_exit_codes(store, ragstore_bin, tmp_path):
    fill_for_scrub(store, files=5)
    wait_totals_settled(store)
    r = run([ragstore_bin, "scrub", store.mnt], timeout=120)
    assert r.returncode == 0, r.stderr
    assert "finished clean" in r.stdout
    # Not a terminal: plain lines, no bar drawing.
    assert "\r" not in r.stderr and "\033" not in r.stderr
    bp = store.backing_path("s002")
    rsutil.flip_byte(bp, rsutil.v2_ciphertext_offset(bp, 1) + 5)
    rsutil.drop_caches()
    r = run([ragstore_bin, "scrub", store.mnt], timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "found damage" in r.stdout and "1 bad blocks" in r.stdout
    # Joining a scrub that another started, and seeing it stopped.
    assert control(store, "scrub --limit 200K") == 0
    p = subprocess.Popen([ragstore_bin, "scrub", store.mnt], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert control(store, "scrub --stop") == 0
    out, err = p.communicate(timeout=60)
    assert p.returncode == 10, out + err
    assert "following" in err and "stopped before its end" in out
    # Not a ragstore mount; usage.
    r = run([ragstore_bin, "scrub", tmp_path])
    assert r.returncode == 4 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert run([ragstore_bin, "scrub"]).returncode == 2
    assert run([ragstore_bin, "scrub", "-x", store.mnt]).returncode == 2


def test_scrub_command_progress_bar_on_a_terminal(store, ragstore_bin):
    fill_for_scrub(store, files=20)
    wait_totals_settled(store)
    assert control(store, "scrub --limit 2M") == 0
    rc, shown = rsutil.on_terminal([ragstore_bin, "scrub", store.mnt], {})
    assert rc == 0, shown
    assert re.search(r"\[#*\.*\]\s+\d+%\s+\d+/20 files\s+[\d.]+ MB/s\s+ETA \d+:\d\d", shown), shown
    assert "finished clean" in shown
