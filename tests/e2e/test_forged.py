# SPDX-License-Identifier: BSD-2-Clause
"""Forged snapshots (written with the key by tests/tools/forge): bodies that
break the field rules, trees nested deeper than TREE_MAX_DEPTH or in a
cycle, and trees that share subtrees to describe far more files than they
hold.  Every command must report and skip what it cannot read, never crash,
never run away."""
import os
import subprocess

import pytest

from conftest import TOOLS, base_env, run

TREE_MAX_DEPTH = 1024  # src/archive/tree.h


def forge(repo, *args):
    p = subprocess.run([os.path.join(TOOLS, "forge"), repo] + [str(a) for a in args],
                       env=base_env(), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(tag, value):
    return varint(tag) + varint(len(value)) + value


def time_field(sec=1700000000, ns=0, tz=0):
    zz = lambda v: (v << 1) ^ (v >> 63)  # zig-zag
    return field(1, varint(zz(sec)) + varint(ns) + varint(zz(tz)))


GOOD = time_field() + field(2, b"host") + field(3, b"user") + field(4, b"/src")

# Bodies that must be refused as damaged (each names what it breaks).
BAD_BODIES = {
    "host repeated, second invalid": GOOD + field(2, b"a\0b"),
    "user repeated, second invalid": GOOD + field(3, b"a\0b"),
    "host repeated": GOOD + field(2, b"other"),
    "user repeated": GOOD + field(3, b"other"),
    "time repeated": GOOD + time_field(1),
    "time repeated, second invalid": GOOD + time_field(ns=10**9),
    "parent repeated": GOOD + field(6, b"p" * 32) + field(6, b"q" * 32),
    "parent of wrong length": GOOD + field(6, b"p" * 31),
    "stats repeated": GOOD + field(7, varint(1)) + field(7, varint(2)),
    "path with NUL": GOOD + field(4, b"/a\0b"),
    "tag with NUL": GOOD + field(5, b"t\0"),
    "damaged path with NUL": GOOD + field(8, b"/x\0"),
    "no host": time_field() + field(3, b"user"),
    "field cut short": GOOD + varint(2) + varint(9) + b"abc",
    "empty": b"",
}


@pytest.fixture
def repo_with_backup(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    with open(os.path.join(src, "f"), "w") as f:
        f.write("hello\n")
    r = run(["backup", "-r", repo, src])
    assert r.rc == 0, r
    return repo, src


def keyed_commands(world, repo):
    """Every command that reads snapshot bodies, with the exit status
    expected when one snapshot file is damaged and the rest are fine."""
    t = os.path.join(world, "t")
    return [
        (["snapshots", "-r", repo], None),
        (["ls", "-r", repo, "latest"], 0),
        (["restore", "-r", repo, "latest", "--target", t], 0),
        (["check", "-r", repo], 6),  # EXIT_DAMAGE
        (["stats", "-r", repo], None),
        (["cat", "-r", repo, "snapshot", "latest"], 0),
        (["forget", "-r", repo, "--keep-last", "5", "--dry-run"], None),
        (["prune", "-r", repo, "--dry-run"], None),
    ]


@pytest.mark.parametrize("what", sorted(BAD_BODIES))
def test_undecodable_body_is_damaged_and_skipped(world, repo_with_backup, what):
    repo, src = repo_with_backup
    bad = forge(repo, "rawsnap", BAD_BODIES[what].hex())
    for args, want in keyed_commands(world, repo):
        r = run(args, timeout=120)
        if want is not None:
            assert r.rc == want, (args, r)
        assert r.rc in (0, 1, 6), (args, r)
    r = run(["snapshots", "-r", repo, "--json"])
    assert bad not in r.out, r
    assert "damaged" in run(["check", "-r", repo]).out + run(["check", "-r", repo]).err
    with open(os.path.join(world, "t", src.lstrip("/"), "f")) as f:
        assert f.read() == "hello\n"
    # repair names it and, with --forget-damaged, removes it (and only it)
    r = run(["repair", "-r", repo, "snapshots"])
    assert r.rc == 0 and os.path.exists(os.path.join(repo, "snapshots", bad)), r
    r = run(["repair", "-r", repo, "snapshots", "--forget-damaged"])
    assert r.rc == 0, r
    assert not os.path.exists(os.path.join(repo, "snapshots", bad))
    assert len(os.listdir(os.path.join(repo, "snapshots"))) == 1
    assert run(["check", "-r", repo]).rc == 0


def test_well_formed_forged_body_reads(world, repo_with_backup):
    """The encoder used by the tests above writes what dvalin reads: a
    refusal above is the rule at work, not a broken forgery."""
    repo, _ = repo_with_backup
    snap = forge(repo, "rawsnap", (GOOD + field(5, b"tag") + field(99, b"later")).hex())
    r = run(["snapshots", "-r", repo, "--json"])
    assert r.rc == 0 and snap in r.out, r
    assert any(s["id"] == snap and s["tags"] == ["tag"] for s in r.json())


# ---------- depth: TREE_MAX_DEPTH is read by every command, deeper refused ----------

SMALL_STACK = 256 << 10  # the walks are iterative: depth must not need main's 8 MiB


def run_small_stack(args, timeout=300):
    import resource
    from conftest import DVALIN, Result

    def limit():
        resource.setrlimit(resource.RLIMIT_STACK, (SMALL_STACK, SMALL_STACK))
    p = subprocess.run([DVALIN] + [str(a) for a in args], env=base_env(), capture_output=True,
                       text=True, errors="surrogateescape", preexec_fn=limit, timeout=timeout)
    r = Result(p)
    assert "Sanitizer" not in r.err, r.err
    assert r.rc >= 0, f"dvalin died from signal {-r.rc}: {r!r}"
    return r


def deepest(root):
    """(depth, contents of the deepest file) under root, through directory
    descriptors (paths this deep exceed PATH_MAX) and without recursion."""
    best, stack = (0, None), [(os.open(root, os.O_RDONLY | os.O_DIRECTORY), 0)]
    while stack:
        fd, depth = stack.pop()
        for e in os.scandir(fd):
            if e.is_dir(follow_symlinks=False):
                stack.append((os.open(e.name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), depth + 1))
            elif depth + 1 > best[0]:
                f = os.open(e.name, os.O_RDONLY, dir_fd=fd)
                best = (depth + 1, os.read(f, 100))
                os.close(f)
        os.close(fd)
    return best


@pytest.fixture
def world(world):
    """Trees this deep are beyond shutil.rmtree's recursion: rm -rf them."""
    yield world
    subprocess.run(["rm", "-rf", world])


def remove_data_packs(repo):
    """Loses every data blob (tree packs stay), so check's keyed walk runs."""
    for d, _, files in os.walk(os.path.join(repo, "data")):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                fh.seek(-40 - 65, 2)
                kind = fh.read(1)
            if kind == b"\x01":  # the last table entry's type: a data pack
                os.unlink(p)


def test_depth_limit_is_read_by_every_command(world, repo):
    snap = forge(repo, "deep", TREE_MAX_DEPTH)[:12]
    r = run_small_stack(["ls", "-r", repo, snap])
    lines = r.out.splitlines()
    assert r.rc == 0 and len(lines) == TREE_MAX_DEPTH, r
    assert lines[-1] == "/d" * (TREE_MAX_DEPTH - 1) + "/f"
    t = os.path.join(world, "t")
    r = run_small_stack(["restore", "-r", repo, snap, "--target", t])
    assert r.rc == 0, r
    assert deepest(t) == (TREE_MAX_DEPTH, b"deep\n")
    r = run_small_stack(["restore", "-r", repo, snap, "--target", os.path.join(world, "u"),
                         "--include", "nomatch"])
    # an --include that matches nothing is an error (issue 18), found at any depth
    assert r.rc == 1 and "--include 'nomatch' matches nothing" in r.err, r
    assert not os.listdir(os.path.join(world, "u"))
    for args in (["check"], ["check", "--read-data"], ["repair", "snapshots"], ["stats"]):
        r = run_small_stack(args[:1] + ["-r", repo] + args[1:])
        assert r.rc == 0, (args, r)
    # with the file's data lost, check's keyed walk and repair go all the way down
    remove_data_packs(repo)
    r = run_small_stack(["check", "-r", repo])
    assert r.rc == 6 and "/d" * (TREE_MAX_DEPTH - 1) + "/f: file contents lost" in r.out, r
    assert run_small_stack(["repair", "-r", repo, "index"]).rc == 0
    r = run_small_stack(["repair", "-r", repo, "snapshots"])
    assert r.rc == 0 and "replaced by zeros" in r.out, r
    assert run_small_stack(["check", "-r", repo]).rc == 0
    v = os.path.join(world, "v")
    assert run_small_stack(["restore", "-r", repo, "latest", "--target", v]).rc == 0
    assert deepest(v) == (TREE_MAX_DEPTH, b"\0" * 5)


@pytest.mark.parametrize("how", ["deep 1025", "deep 100000", "cycle"])
def test_deeper_is_refused_with_the_path_named(world, repo, how):
    snap = forge(repo, *how.split())[:12]
    msg = "nests deeper than %d levels" % TREE_MAX_DEPTH
    r = run_small_stack(["ls", "-r", repo, snap])
    assert r.rc == 1 and msg in r.err and ("/d/d/d" in r.err or "/loop/loop" in r.err), r
    assert len(r.out.splitlines()) == TREE_MAX_DEPTH  # everything up to the limit is listed
    t = os.path.join(world, "t")
    r = run_small_stack(["restore", "-r", repo, snap, "--target", t])
    assert r.rc == 1 and msg in r.err, r
    assert deepest(t)[0] <= TREE_MAX_DEPTH
    r = run_small_stack(["restore", "-r", repo, snap, "--target", os.path.join(world, "u"),
                         "--include", "nomatch"])
    assert r.rc == 1 and msg in r.err, r
    assert run_small_stack(["check", "-r", repo]).rc == 0  # nothing lost: no keyed walk
    r = run_small_stack(["repair", "-r", repo, "snapshots"])
    assert r.rc == 0 and msg in r.err and "left as it is" in r.err, r
    remove_data_packs(repo)
    if how != "cycle":  # the cycle holds no data
        r = run_small_stack(["check", "-r", repo])
        assert r.rc == 6 and msg in r.out + r.err, r
    r = run_small_stack(["repair", "-r", repo, "snapshots", "--forget-damaged"])
    assert r.rc == 0, r
    assert run(["snapshots", "-r", repo, "--json"]).json() == []


# ---------- expansion: trees that share subtrees ----------

def count_files(root):
    return sum(len(fs) for _, _, fs in os.walk(root))


def test_expansion_that_fits_is_restored_exactly(world, repo):
    snap = forge(repo, "expand", 10, 3000)[:12]  # 2^10 files of 3000 bytes from 11 trees
    t = os.path.join(world, "t")
    r = run(["restore", "-r", repo, snap, "--target", t, "--json"])
    assert r.rc == 0 and r.json()["files"] == 1024 and r.json()["bytes"] == 1024 * 3000, r
    assert count_files(t) == 1024
    with open(os.path.join(t, *"abbabaabab", "f"), "rb") as f:
        assert f.read() == b"x" * 3000


def test_expansion_beyond_the_entry_limit_is_refused_at_once(world, repo):
    snap = forge(repo, "expand", 40)[:12]  # 41 trees, 2^40 files
    t = os.path.join(world, "t")
    r = run(["restore", "-r", repo, snap, "--target", t], timeout=60)
    assert r.rc == 1 and "expands to 3298534883326 entries (1099511627776 files" in r.err, r
    assert "from 41 distinct directories" in r.err and "--max-entries" in r.err, r
    assert os.listdir(t) == []
    r = run(["restore", "-r", repo, snap, "--target", t, "--max-entries", "0"], timeout=60)
    assert r.rc == 1 and "not enough space" in r.err and t in r.err, r
    assert os.listdir(t) == []


def test_expansion_beyond_free_space_is_refused_before_writing(world, repo, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mnt = str(tmp_path / "small")
    os.mkdir(mnt)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "none", mnt], capture_output=True)
    assert p.returncode == 0, p.stderr  # root can always mount a tmpfs
    try:
        big = forge(repo, "expand", 6, 1 << 20)[:12]  # 64 MiB from 7 trees: too big
        r = run(["restore", "-r", repo, big, "--target", mnt + "/t"])
        assert r.rc == 1 and "not enough space in" in r.err and "MiB are free" in r.err, r
        assert count_files(mnt) == 0  # refused before the first byte
        # --include selects what fits: checked as the walk selects it
        r = run(["restore", "-r", repo, big, "--target", mnt + "/u", "--include", "/a/a/a/a"])
        assert r.rc == 0 and count_files(mnt + "/u") == 4, r
        r = run(["restore", "-r", repo, big, "--target", mnt + "/v", "--include", "/b*"])
        assert r.rc == 1 and "not enough space" in r.err and "restore '/b'" in r.err, r
        small = forge(repo, "expand", 3, 1 << 20)[:12]  # 8 MiB: fits
        r = run(["restore", "-r", repo, small, "--target", mnt + "/w"])
        assert r.rc == 0 and count_files(mnt + "/w") == 8, r
    finally:
        subprocess.run(["umount", "-l", mnt])


def test_include_walk_is_bounded(world, repo):
    snap = forge(repo, "expand", 40)[:12]
    t = os.path.join(world, "t")
    # a name pattern must look everywhere: the entry limit bounds the walk
    r = run(["restore", "-r", repo, snap, "--target", t, "--include", "nomatch",
             "--max-entries", "20000"], timeout=120)
    assert r.rc == 1 and "examined 20001 entries" in r.err, r
    # a path pattern is followed along its literal part only
    sub = "/" + "/".join("ab" * 14)  # 28 levels down: 2^12 files below
    r = run(["restore", "-r", repo, snap, "--target", t, "--include", sub, "--json"], timeout=120)
    assert r.rc == 0 and r.json()["files"] == 4096, r


def test_ls_of_an_expansion_is_interruptible_in_bounded_memory(world, repo):
    import signal
    import time
    from conftest import DVALIN
    snap = forge(repo, "expand", 40)[:12]
    # ASan keeps freed memory in quarantine (256 MiB): measure without it
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = base_env(ASAN_OPTIONS=(asan + ":" if asan else "") + "quarantine_size_mb=1")
    p = subprocess.Popen([DVALIN, "ls", "-r", repo, snap], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)

    def rss():
        with open("/proc/%d/status" % p.pid) as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    for _ in range(20000):
        p.stdout.readline()
    before = rss()
    for _ in range(300000):
        p.stdout.readline()
    grown = rss() - before
    p.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    p.stdout.read()  # drain what was buffered
    err = p.stderr.read().decode()
    # it cleans up, then dies of the signal (so a calling script stops too)
    assert p.wait(timeout=30) == -signal.SIGINT, err
    assert time.monotonic() - t0 < 20
    assert "interrupted" in err and "Sanitizer" not in err, err
    assert grown < 8 << 10, "ls grew by %d KiB while listing" % grown  # KiB
    assert not os.listdir(os.path.join(repo, "locks")), "the lease is released"
