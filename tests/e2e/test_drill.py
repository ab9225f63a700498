# SPDX-License-Identifier: BSD-2-Clause
"""Restore drills: a sampled restore proven right three ways, or failing by name."""
import glob
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import is_root, run
from treeutil import make_awkward_tree

YEAR = 365 * 86400


def make_files(root, n_small=60, n_old=10):
    """Small recent files and older, larger ones (mtime years back)."""
    os.makedirs(os.path.join(root, "new"))
    os.makedirs(os.path.join(root, "old"))
    for i in range(n_small):
        with open(os.path.join(root, "new", f"s{i:03}"), "wb") as f:
            f.write(os.urandom(1000 + i))
    past = time.time() - 3 * YEAR
    for i in range(n_old):
        p = os.path.join(root, "old", f"o{i:02}")
        with open(p, "wb") as f:
            f.write(os.urandom(70000 + i))
        os.utime(p, (past, past))


@pytest.fixture
def backed(world, repo):
    src = os.path.join(world, "src")
    make_files(src)
    r = run(["backup", "-r", repo, src])
    assert r.rc == 0, r
    return repo, src


def drill(repo, world, *args):
    target = os.path.join(world, "drills")
    r = run(["drill", "-r", repo, "--target", target, "--json", *args])
    assert r.rc in (0, 6), r
    res = r.json()
    # the scratch directory is gone, whatever the outcome (unless kept)
    if "--keep" not in args:
        assert not os.path.exists(res["scratch"]), res["scratch"]
        assert os.listdir(target) == []
    return r, res


def test_drill_of_an_untouched_tree_passes(backed, world):
    repo, src = backed
    r, res = drill(repo, world, "--sample", "12", "--seed", "7")
    assert r.rc == 0 and res["ok"], res
    assert res["mode"] == "sample" and res["seed"] == 7
    assert res["files_total"] == 70 and res["files_sampled"] == 12 == len(res["sampled"])
    assert res["entries_verified"] == 12 and res["entries_failed"] == 0
    # every sampled file is unchanged on this machine: compared byte for byte
    assert res["live"] == {"compared": 12, "identical": 12, "changed": 0, "gone": 0, "failed": 0,
                           "skipped": None}
    assert res["findings"] == []
    assert res["bytes_per_second"] > 0
    assert res["estimate_seconds"] >= res["estimate_seconds_min"] > 0
    # and in text
    t = run(["drill", "-r", repo, "--target", os.path.join(world, "drills"), "--sample", "5"])
    assert t.rc == 0 and "drill passed" in t.out and "a full restore would take" in t.out, t


def test_sample_is_repeatable_and_favours_old_large_files(backed, world):
    repo, src = backed
    _, a = drill(repo, world, "--sample", "10", "--seed", "1")
    _, b = drill(repo, world, "--sample", "10", "--seed", "1")
    assert a["sampled"] == b["sampled"]
    old = 0
    seen = set()
    for seed in range(2, 8):
        _, c = drill(repo, world, "--sample", "10", "--seed", str(seed))
        seen.add(tuple(c["sampled"]))
        old += sum("/old/" in p for p in c["sampled"])
        # the oldest and the largest file are always drawn
        assert any(p.endswith("/old/o09") for p in c["sampled"]), c["sampled"]
    assert len(seen) > 1
    # a uniform draw would hold about 10 * 10/70 = 1.4 old files per sample
    assert old / 6 >= 5, old


def test_sample_by_share_of_bytes(backed, world):
    repo, _ = backed
    _, res = drill(repo, world, "--sample", "50%", "--seed", "3")
    assert res["ok"]
    assert res["bytes_sampled"] >= res["bytes_total"] // 2
    # the fewest files that reach the share, from the top of the draw (plus the extremes)
    assert res["files_sampled"] < res["files_total"]
    _, res = drill(repo, world, "--sample", "100%")
    assert res["files_sampled"] == res["files_total"] and res["ok"]


def test_flipped_byte_fails_and_names_the_files(backed, world):
    repo, src = backed
    packs = sorted(glob.glob(os.path.join(repo, "data", "*", "*")), key=os.path.getsize)
    victim = packs[-1]
    with open(victim, "r+b") as f:
        f.seek(os.path.getsize(victim) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x01]))
    r, res = drill(repo, world, "--sample", "100%", "--seed", "1")
    assert r.rc == 6 and not res["ok"]
    failed = {f["path"] for f in res["findings"] if f["fails"]}
    assert failed and all(f["kind"] == "content" for f in res["findings"] if f["fails"])
    # exactly the files check finds damaged
    chk = run(["check", "-r", repo, "--read-data", "--json"])
    assert chk.rc == 6, chk
    affected = {a["path"] for a in chk.json()["affected"]}
    assert failed == affected, (failed, affected)
    t = run(["drill", "-r", repo, "--target", os.path.join(world, "drills"), "--sample", "100%"])
    assert t.rc == 6 and "drill FAILED" in t.out
    for p in failed:
        assert f"FAILED   {p}:" in t.out, t.out


def test_edited_live_file_is_changed_not_failed(backed, world):
    repo, src = backed
    edited = os.path.join(src, "new", "s005")
    with open(edited, "ab") as f:
        f.write(b"edited after the backup")
    os.unlink(os.path.join(src, "new", "s006"))
    r, res = drill(repo, world, "--sample", "100%")
    assert r.rc == 0 and res["ok"], res
    kinds = {f["path"]: f["kind"] for f in res["findings"]}
    assert kinds == {edited: "changed", os.path.join(src, "new", "s006"): "gone"}, kinds
    assert not any(f["fails"] for f in res["findings"])
    assert res["live"]["changed"] == 1 and res["live"]["gone"] == 1
    assert res["live"]["identical"] == 68
    changed = [f for f in res["findings"] if f["kind"] == "changed"][0]
    assert "size" in changed["reason"] and "changed since the snapshot" in changed["reason"]
    r, res = drill(repo, world, "--sample", "100%", "--no-live")
    assert res["live"]["skipped"] and res["live"]["compared"] == 0 and res["ok"]


@pytest.mark.skipif(not is_root(), reason="the fidelity tree needs root (devices, owners)")
def test_full_drill_of_the_fidelity_tree(world, repo):
    src = os.path.join(world, "fid")
    make_awkward_tree(src, as_root=True)
    assert run(["backup", "-r", repo, src]).rc == 0
    r = run(["drill", "-r", repo, "--full"])
    assert r.rc == 2 and "--target" in r.err
    r, res = drill(repo, world, "--full")
    assert r.rc == 0 and res["ok"], res["findings"]
    assert res["mode"] == "full" and res["sampled"] is None
    assert res["entries_verified"] == res["entries_total"] > 30
    assert res["bytes_per_second"] > 0
    assert res["estimate_seconds"] == res["restore_seconds"] > 0
    t = run(["drill", "-r", repo, "--full", "--target", os.path.join(world, "drills")])
    assert t.rc == 0 and "a full restore takes" in t.out and "drill passed" in t.out


@pytest.mark.skipif(not is_root(), reason="mounting a small tmpfs needs root")
def test_full_drill_checks_free_space_first(world, repo):
    src = os.path.join(world, "big")
    os.makedirs(src)
    with open(os.path.join(src, "f"), "wb") as f:
        f.write(os.urandom(8 << 20))
    assert run(["backup", "-r", repo, src]).rc == 0
    small = os.path.join(world, "small")
    os.makedirs(small)
    assert subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small]).returncode == 0
    try:
        r = run(["drill", "-r", repo, "--full", "--target", small])
        assert r.rc == 1 and "not enough space" in r.err, r
        assert os.listdir(small) == []
    finally:
        subprocess.run(["umount", small])


def test_drill_usage_errors(repo):
    for args in (["--sample", "0"], ["--sample", "x"], ["--sample", "150%"], ["--seed", "-1"],
                 ["extra"]):
        r = run(["drill", "-r", repo, *args])
        assert r.rc == 2, (args, r)
