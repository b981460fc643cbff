"""Storage policies (SPEC section 7): --config, the policy of a path,
compression and block size by policy, rename across policies, the override
attribute, max_file_size (EFBIG) and every class of config mistake."""
import errno
import os

import pytest

import rsutil
from rsutil import run

CONFIG = """\
# user data 7 years, cache 30 days, logs 90 days
[defaults]
compression = zstd:3
retention_days = 2555

[policy cache]
match = **/cache/**, *.tmp
compression = lz4
retention_days = 30
backup = no

[policy logs]
match = logs/**, *.log
compression = zlib:9
max_file_size = 1M
retention_days = 90
block_size = 16K

[policy raw]
match = raw/**
compression = none
"""


def vattr(path, name):
    return os.getxattr(str(path), "user.ragstore." + name).decode()


def write_text(path, n=300000, seed=0):
    rsutil.write_file(path, rsutil.text_bytes(n, seed))


@pytest.fixture
def pstore(policy_store):
    s = policy_store(CONFIG)
    return s


def test_policy_by_path_and_first_match(pstore):
    m = pstore.mnt
    for d in ("logs", "raw", "home/ann/cache", "docs"):
        (m / d).mkdir(parents=True)
    cases = {
        "logs/app.txt": ("logs", "zlib:9", "16384"),
        "docs/x.log": ("logs", "zlib:9", "16384"),
        "home/ann/cache/blob": ("cache", "lz4", "65536"),
        # First match wins: cache is listed before logs.
        "home/ann/cache/old.log": ("cache", "lz4", "65536"),
        "raw/data": ("raw", "none", "65536"),
        "docs/report.txt": ("default", "zstd:3", "65536"),
        "top.tmp": ("cache", "lz4", "65536"),
    }
    for rel in cases:
        write_text(m / rel)
    stored = {}
    for rel, (pol, comp, bs) in cases.items():
        assert vattr(m / rel, "policy") == pol, rel
        assert vattr(m / rel, "compression") == comp, rel
        assert vattr(m / rel, "block_size") == bs, rel
        stored[rel] = int(vattr(m / rel, "stored_size"))
        assert rsutil.read_file(m / rel) == rsutil.text_bytes(300000, 0)
    # What the blocks were stored with, not only the setting.
    assert vattr(m / "raw/data", "algorithms").split()[0] == "none"
    assert vattr(m / "logs/app.txt", "algorithms").split()[0] == "zlib"
    assert vattr(m / "top.tmp", "algorithms").split()[0] == "lz4"
    # The same text stored raw takes far more than compressed.
    assert stored["raw/data"] > 2 * stored["docs/report.txt"]
    assert stored["raw/data"] > 2 * stored["logs/app.txt"]
    # Directories have a policy too.
    assert vattr(m / "logs", "policy") == "default"
    # The policies survive a remount (the file keeps its block size).
    pstore.remount(["--config", str(pstore.cfg)])
    assert vattr(m / "logs/app.txt", "block_size") == "16384"


def test_no_config_is_builtin_default(store):
    rsutil.write_file(store.path("a.log"), b"hello\n")
    assert vattr(store.path("a.log"), "policy") == "default"
    assert vattr(store.path("a.log"), "compression") == "zstd:1"
    cfg = store.path(".ragstore/config").read_text()
    assert "[defaults]" in cfg and "[policy " not in cfg
    assert "built in" in cfg


def test_config_shows_effective_policies(pstore):
    cfg = pstore.path(".ragstore/config").read_text()
    section = cfg[cfg.index("[policies]"):]
    assert "file = %s" % pstore.cfg in section
    logs = section[section.index("[policy logs]"):].split("\n\n")[0]
    keys = [line.split(" = ")[0] for line in logs.splitlines()[1:]]
    assert sorted(keys) == sorted(["match", "compression", "block_size", "max_file_size",
                                   "retention_days", "backup"])
    assert "max_file_size = 1048576" in logs
    assert "backup = yes" in logs  # inherited from [defaults]
    assert "compression = zstd:3" in section[section.index("[defaults]"):]
    assert "passphrase" not in cfg.lower() and "wrapped" not in cfg


def test_rename_into_other_policy(pstore):
    m = pstore.mnt
    (m / "logs").mkdir()
    (m / "raw").mkdir()
    write_text(m / "raw/f", 200000)
    assert vattr(m / "raw/f", "algorithms").split()[0] == "none"
    before = int(vattr(m / "raw/f", "stored_size"))
    os.rename(m / "raw/f", m / "logs/f")
    assert vattr(m / "logs/f", "policy") == "logs"
    # Blocks already stored keep their algorithm ...
    assert vattr(m / "logs/f", "algorithms").split()[0] == "none"
    # ... blocks written from now on follow the new policy.
    with open(m / "logs/f", "r+b") as f:
        f.write(rsutil.text_bytes(200000, 0))
    assert vattr(m / "logs/f", "compression") == "zlib:9"
    algos = vattr(m / "logs/f", "algorithms")
    assert algos.startswith("zlib "), algos
    assert int(vattr(m / "logs/f", "stored_size")) < before / 2


def test_override_by_attribute(pstore):
    m = pstore.mnt
    (m / "raw").mkdir()
    rsutil.write_file(m / "raw/a", b"")
    os.setxattr(m / "raw/a", "user.ragstore.compression", b"zstd:19")
    write_text(m / "raw/a")
    assert vattr(m / "raw/a", "compression") == "zstd:19"
    assert vattr(m / "raw/a", "algorithms").split()[0] == "zstd"
    assert vattr(m / "raw/a", "policy") == "raw"
    # Removing the override falls back to the policy, not the store.
    os.removexattr(m / "raw/a", "user.ragstore.compression")
    assert vattr(m / "raw/a", "compression") == "none"


def test_efbig_on_write_and_truncate(pstore):
    m = pstore.mnt
    (m / "logs").mkdir()
    p = m / "logs/big"
    limit = 1 << 20
    data = rsutil.text_bytes(limit - 10, 3)
    rsutil.write_file(p, data)
    fd = os.open(p, os.O_WRONLY)
    try:
        with pytest.raises(OSError) as e:
            os.ftruncate(fd, limit + 1)
        assert e.value.errno == errno.EFBIG
        # One that crosses the limit: what fits is written (POSIX, as
        # with RLIMIT_FSIZE); the next write fails.
        assert os.pwrite(fd, b"y" * 100, limit - 10) == 10
        with pytest.raises(OSError) as e:
            os.pwrite(fd, b"z", limit)
        assert e.value.errno == errno.EFBIG
    finally:
        os.close(fd)
    with pytest.raises(OSError) as e:
        os.truncate(p, limit + 4096)
    assert e.value.errno == errno.EFBIG
    assert os.stat(p).st_size == limit
    rsutil.drop_caches()
    assert rsutil.read_file(p) == data + b"y" * 10
    # No limit elsewhere.
    rsutil.write_file(m / "free", b"")
    os.truncate(m / "free", 4 * limit)
    assert os.stat(m / "free").st_size == 4 * limit


CONFIG_ERRORS = [
    ("[defaults]\ncompression = zstd:1\nnot an ini line\n", 3, "syntax"),
    ("[defaults]\n[colours]\nred = 1\n", 2, "unknown section"),
    ("[defaults]\ncompression = zstd:1\nspeed = fast\n", 3, "unknown key"),
    ("[policy a]\nmatch = *\ncompression = brotli\n", 3, "bad compression"),
    ("[policy a]\nmatch = *\ncompression = zstd:22\n", 3, "bad compression"),
    ("[defaults]\n\nblock_size = 1000\n", 3, "block_size"),
    ("[defaults]\nmax_file_size = -5\n", 2, "max_file_size"),
    ("[defaults]\nretention_days = forever\n", 2, "retention_days"),
    ("[policy a]\nmatch = x\n\n[policy a]\nmatch = y\n", 4, "twice"),
    ("[policy a]\nmatch = \n", 2, "empty"),
    ("[policy a]\ncompression = lz4\n", 1, "no match"),
    ("[defaults]\nbackup = perhaps\n", 2, "backup"),
]


@pytest.mark.parametrize("text,line,word", CONFIG_ERRORS)
def test_config_errors(store_factory, tmp_path, text, line, word):
    s = store_factory(mount=False)
    cfg = tmp_path / "bad.ini"
    cfg.write_text(text)
    for how in (["--config", str(cfg)], ["-o", "config=%s" % cfg]):
        r = run(s.mount_args(how), timeout=60)
        assert r.returncode == 13, (r.returncode, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith("ragstore: %s:%d: " % (cfg, line)), lines[0]
        assert word in lines[0], lines[0]
        assert not rsutil.is_mounted(s.mnt)


def test_config_missing_file(store_factory, tmp_path):
    s = store_factory(mount=False)
    r = run(s.mount_args(["--config", str(tmp_path / "nope.ini")]), timeout=60)
    assert r.returncode == 13 and "nope.ini" in r.stderr
    assert not rsutil.is_mounted(s.mnt)


def test_help_config(ragstore_bin):
    r = run([ragstore_bin, "help", "config"])
    assert r.returncode == 0
    for word in ("[defaults]", "[policy", "match", "compression", "block_size",
                 "max_file_size", "retention_days", "backup", "**"):
        assert word in r.stdout, word


def test_shipped_example_mounts(store_factory):
    s = store_factory(mount=False)
    s.mount(["--config", str(rsutil.REPO / "docs" / "policies.example.ini")])
    (s.mnt / "logs").mkdir()
    rsutil.write_file(s.mnt / "logs/x", b"log\n")
    assert vattr(s.mnt / "logs/x", "policy") == "logs"
    assert vattr(s.mnt / "logs/x", "block_size") == "262144"
    cfg = s.path(".ragstore/config").read_text()
    assert "retention_days = 2555" in cfg and "[policy cache]" in cfg


def test_backup_leaves_out_backup_no(pstore, tmp_path):
    """ragstore-backup snapshot copies every file except those of policies
    with backup = no (here: cache), also for names with rsync wildcards."""
    m = pstore.mnt
    for d in ("docs", "logs", "home/ann/cache"):
        (m / d).mkdir(parents=True)
    keep = ["docs/a.txt", "logs/app.log", "docs/we*ird[1]?.txt", "top.txt"]
    drop = ["home/ann/cache/blob", "x.tmp", "home/ann/cache/st*r[2].bin"]
    for i, rel in enumerate(keep + drop):
        rsutil.write_file(m / rel, b"file %d\n" % i)
    # A name in a kept policy that, read as an rsync pattern, would match a
    # dropped file must not take it along (and the reverse).
    rsutil.write_file(m / "home/ann/cache/star2.bin", b"cache")
    drop.append("home/ann/cache/star2.bin")
    dest = tmp_path / "dest"
    helper = os.path.join(os.path.dirname(__file__), "..", "..", "mount-helpers",
                          "ragstore-backup")
    r = run([helper, "snapshot", str(m), str(dest)], timeout=120)
    assert r.returncode == 0, r.stderr
    assert "4 file(s) of policies with 'backup = no' left out" in r.stdout, r.stdout
    snap = dest / "latest"
    for rel in keep:
        assert (snap / rel).read_bytes() == (m / rel).read_bytes(), rel
    for rel in drop:
        assert not (snap / rel).exists(), rel
    assert (snap / "home/ann/cache").is_dir()
    r = run([helper, "verify", str(dest), "latest"], timeout=120)
    assert r.returncode == 0, r.stderr
