# SPDX-License-Identifier: BSD-2-Clause
"""check at its three levels, the damage report, repair index and repair
snapshots, and stats."""
import glob
import os
import subprocess

import pytest

from conftest import base_env, flip_byte, run, snapshots



def nokey():
    """The environment without the password (with the remote repository's token)."""
    return {k: v for k, v in base_env().items() if k != "DVALIN_PASSWORD"}


@pytest.fixture
def filled(world, repo):
    """Two snapshots of 'victim' (large, alone in its pack); the second
    also holds files stored elsewhere."""
    data = os.path.join(world, "data")
    os.makedirs(os.path.join(data, "sub"))
    with open(os.path.join(data, "victim"), "wb") as f:
        f.write(os.urandom(3 << 20))
    ids = [run(["backup", "-r", repo, "--json", data]).json()["snapshot_id"]]
    with open(os.path.join(data, "sub", "keep.txt"), "w") as f:
        f.write("precious and small\n" * 100)
    with open(os.path.join(data, "other"), "wb") as f:
        f.write(os.urandom(100_000))
    ids.append(run(["backup", "-r", repo, "--json", data]).json()["snapshot_id"])
    return repo, data, ids


def pack_of(repo, min_size):
    """A data pack at least min_size bytes large (holds the victim), in
    the repository's directory (the server's for a remote one)."""
    packs = [p for p in glob.glob(os.path.join(repo.dir, "data", "*", "*"))
             if os.path.getsize(p) >= min_size]
    assert len(packs) == 1, packs
    return packs[0]


@pytest.mark.remote_repos("https")
def test_clean_repository_passes_every_level(filled):
    repo, _, _ = filled
    r = run(["check", "-r", repo])
    assert r.rc == 0 and "structure:" in r.out and "storage:   not checked" in r.out, r
    r = run(["check", "-r", repo, "--read-data", "--json"])
    doc = r.json()
    assert r.rc == 0 and doc["ok"] and doc["levels"] == ["structure", "storage", "content"]
    assert doc["packs_read"] == doc["packs"] and doc["blobs_read"] >= doc["blobs_referenced"]
    r = run(["check", "-r", repo, "--read-data", "--no-key", "--json"], env=nokey())
    assert r.rc == 0 and r.json()["levels"] == ["structure", "storage"], r


def test_subsets_cover_everything(filled):
    repo, _, _ = filled
    total = run(["check", "-r", repo, "--json"]).json()["packs"]
    read = 0
    for part in (1, 2, 3):
        r = run(["check", "-r", repo, "--read-data-subset", f"{part}/3", "--json"])
        assert r.rc == 0, r
        read += r.json()["packs_read"]
    assert read == total
    r = run(["check", "-r", repo, "--read-data-subset", "50%"])
    assert r.rc == 0 and "% subset of the day" in r.out
    for bad in ("0/3", "4/3", "x", "0%", "150%"):
        r = run(["check", "-r", repo, "--read-data-subset", bad])
        assert r.rc == 2 and "invalid --read-data-subset" in r.err, (bad, r)


@pytest.mark.remote_repos
def test_bit_rot_found_by_read_data_with_and_without_key(filled):
    repo, _, ids = filled
    flip_byte(pack_of(repo, 1 << 20), 1000)
    assert run(["check", "-r", repo]).rc == 0, "structure alone cannot see it"
    r = run(["check", "-r", repo, "--read-data"])
    assert r.rc == 6 and "stored bytes do not match their checksum" in r.err, r
    # the report names snapshots and files, not only the pack
    assert r.out.count("/victim: file contents lost") == 2, r.out
    assert "2 snapshots and 2 files or directories affected" in r.out
    r = run(["check", "-r", repo, "--read-data", "--no-key"], env=nokey())
    assert r.rc == 6 and "stored bytes do not match" in r.err, r


@pytest.mark.remote_repos
def test_missing_pack_then_repair_restores_everything_else(filled, world):
    repo, data, ids = filled
    os.unlink(pack_of(repo, 1 << 20))
    r = run(["check", "-r", repo, "--json"])
    doc = r.json()
    assert r.rc == 6 and doc["packs_missing"] == 1 and not doc["ok"], r
    assert {(a["path"].endswith("/victim"), a["damage"]) for a in doc["affected"]} == \
        {(True, "file contents lost")}
    assert {a["snapshot_id"] for a in doc["affected"]} == set(ids)
    r = run(["repair", "-r", repo, "index"], env=nokey())
    assert r.rc == 0, r
    r = run(["check", "-r", repo])
    assert r.rc == 6 and "is not in the index" in r.err, r
    r = run(["repair", "-r", repo, "snapshots"])
    assert r.rc == 0 and "/victim: lost contents replaced by zeros" in r.out, r
    assert "2 rewritten" in r.out
    r = run(["check", "-r", repo, "--read-data"])
    assert r.rc == 0, r
    snaps = snapshots(repo)
    assert len(snaps) == 2 and all("repaired" in s["tags"] for s in snaps)
    assert all(s["damaged_paths"] == [os.path.join(data, "victim")] for s in snaps), snaps
    target = os.path.join(world, "t")
    assert run(["restore", "-r", repo, "latest", "--target", target]).rc == 0
    got = os.path.join(target, data.lstrip("/"))
    assert open(os.path.join(got, "sub", "keep.txt")).read() == "precious and small\n" * 100
    assert open(os.path.join(got, "other"), "rb").read() == open(os.path.join(data, "other"), "rb").read()
    victim = open(os.path.join(got, "victim"), "rb").read()
    assert len(victim) == 3 << 20 and victim.count(0) == len(victim)


def test_repair_snapshots_forget_damaged(filled):
    repo, _, _ = filled
    os.unlink(pack_of(repo, 1 << 20))
    assert run(["repair", "-r", repo, "index"]).rc == 0
    r = run(["repair", "-r", repo, "snapshots", "--forget-damaged", "--json"])
    assert r.rc == 0 and r.json()["forgotten"] == 2, r
    assert snapshots(repo) == []
    assert run(["check", "-r", repo]).rc == 0


def test_repair_index_read_data_drops_rotten_blobs(filled):
    repo, _, _ = filled
    flip_byte(pack_of(repo, 1 << 20), 1000)
    r = run(["repair", "-r", repo, "index", "--read-data", "--json"], env=nokey())
    assert r.rc == 0 and r.json()["blobs_damaged"] == 1, r
    assert run(["repair", "-r", repo, "snapshots"]).rc == 0
    # the rotten blob is still in its pack, unindexed: check ignores it and
    # a prune rewrites the pack without it
    assert run(["check", "-r", repo, "--read-data"]).rc == 0
    g = run(["prune", "-r", repo, "--json"]).json()
    assert g["packs_repacked"] + g["packs_condemned"] >= 1, g
    assert run(["check", "-r", repo, "--read-data"]).rc == 0


@pytest.mark.remote_repos("https")
def test_damaged_index_file_is_reported_and_rebuilt(filled):
    repo, _, _ = filled
    idx = sorted(glob.glob(os.path.join(repo.dir, "index", "*")))[0]
    os.chmod(idx, 0o644)
    with open(idx, "r+b") as f:
        f.truncate(100)
    r = run(["check", "-r", repo])
    assert r.rc == 6 and "is damaged; run 'dvalin repair index'" in r.err, r
    assert run(["repair", "-r", repo, "index"]).rc == 0
    assert run(["check", "-r", repo, "--read-data"]).rc == 0


@pytest.mark.parametrize("args,msg", [
    ([], "expected 'index' or 'snapshots'"),
    (["widgets"], "unknown repair target 'widgets'"),
    (["index", "--forget-damaged"], "--forget-damaged does not apply to 'repair index'"),
    (["snapshots", "--read-data"], "--read-data does not apply to 'repair snapshots'"),
])
def test_bad_repair_input(repo, args, msg):
    r = run(["repair", "-r", repo, *args])
    assert r.rc == 2 and msg in r.err, r


def test_stats(filled):
    repo, data, _ = filled
    doc = run(["stats", "-r", repo, "--json"]).json()
    assert doc["snapshots"] == 2
    assert doc["logical_bytes"] >= 2 * (3 << 20)
    assert doc["dedup_ratio"] > 1.9, doc  # two snapshots of almost the same data
    assert doc["unique_stored_bytes"] <= doc["pack_bytes"]
    assert doc["packs"] >= 2 and doc["unused_stored_bytes"] == 0
    r = run(["stats", "-r", repo])
    assert r.rc == 0 and "dedup:" in r.out and "compression:" in r.out


def test_repair_index_that_rebuilds_the_same_file_keeps_it(filled):
    """Found by the kill -9 test: when the rebuilt index is byte for byte the
    one already there, it has the same name; deleting 'the old files' then
    deleted the new one."""
    repo, _, _ = filled
    for _ in range(3):
        assert run(["repair", "-r", repo, "index"]).rc == 0
        assert len(os.listdir(os.path.join(repo.dir, "index"))) == 1
        assert run(["check", "-r", repo]).rc == 0
    for _ in range(2):
        assert run(["prune", "-r", repo]).rc == 0
        assert run(["check", "-r", repo]).rc == 0
