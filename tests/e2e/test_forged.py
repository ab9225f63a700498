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
        (["check", "-r", repo], 1),
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
        assert r.rc in (0, 1), (args, r)
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
