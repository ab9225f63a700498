# SPDX-License-Identifier: BSD-2-Clause
"""The golden repository (format version 1) must stay readable forever.

tests/golden/repo was written by dvalin 0.1.0; ls.jsonl is its listing and
sha256sums the contents of its files.  A format change that breaks this
test needs a reader for version 1, not a new golden file.
"""
import hashlib
import json
import os
import re
import shutil

from conftest import ROOT, base_env, run

GOLDEN = os.path.join(ROOT, "tests", "golden")
ENV = base_env(DVALIN_PASSWORD="golden")


def test_golden_repository_lists_identically(world):
    repo = os.path.join(world, "golden")
    shutil.copytree(os.path.join(GOLDEN, "repo"), repo)
    r = run(["ls", "-r", repo, "latest", "--json"], env=ENV)
    assert r.rc == 0, r
    want = open(os.path.join(GOLDEN, "ls.jsonl")).read()
    assert [json.loads(l) for l in r.out.splitlines()] == [json.loads(l) for l in want.splitlines()]
    snaps = run(["snapshots", "-r", repo, "--json"], env=ENV).json()
    assert len(snaps) == 1 and snaps[0]["host"] == "golden" and snaps[0]["tags"] == ["v1"]
    assert snaps[0]["time"].startswith("2026-11-23T08:00:00")


def test_golden_repository_restores_identically(world):
    repo = os.path.join(world, "golden")
    shutil.copytree(os.path.join(GOLDEN, "repo"), repo)
    t = os.path.join(world, "t")
    r = run(["restore", "-r", repo, "latest", "--target", t, "--verify"], env=ENV)
    assert r.rc == 0, r
    base = t + "/tmp/gsrc"
    for line in open(os.path.join(GOLDEN, "sha256sums")):
        digest, name = line.rstrip("\n").split("  ", 1)
        if digest.startswith("\\"):  # sha256sum escaped the name
            digest = digest[1:]
            name = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), name)
        assert hashlib.sha256(open(os.path.join(base, name), "rb").read()).hexdigest() == digest
    g = base + "/golden"
    assert os.readlink(g + "/link") == "a.txt"
    assert os.stat(g + "/a.txt").st_ino == os.stat(g + "/hard").st_ino
    assert os.stat(g + "/a.txt").st_mtime_ns == -14182940 * 10**9
    assert os.getxattr(g + "/a.txt", "user.golden") == b"yes"
    assert os.stat(g + "/sub/zeds").st_mode & 0o7777 == 0o4755
    assert os.stat(g + "/sparse").st_blocks * 512 < 1 << 20
    assert os.path.isdir(g + "/sub/empty")
