# SPDX-License-Identifier: BSD-2-Clause
"""check --read-data and prune's repack on a thread pool: the report, the
exit code and the repacked repository do not depend on --threads
(base/ordq hands results back in submission order)."""
import glob
import os
import random
import shutil

import pytest

from conftest import flip_byte, run, tree_digest


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def packs(repo_dir):
    return sorted(glob.glob(os.path.join(repo_dir, "data", "*", "*")))


def pack_names(repo_dir):
    return [os.path.relpath(p, repo_dir) for p in packs(repo_dir)]


def prune_on_two_and_one(world, repo):
    """Prunes repo on 2 threads and a copy of it on 1: both succeed with
    the same summary.  Gives the summary and the copy's directory."""
    copy = os.path.join(world, "copy")
    shutil.copytree(repo.dir, copy, symlinks=True)
    g2 = run(["prune", "-r", repo, "--threads", "2", "--json"])
    assert g2.rc == 0, g2
    g1 = run(["prune", "-r", copy, "--threads", "1", "--json"])
    assert g1.rc == 0 and g1.json() == g2.json(), (g1, g2)
    return g2.json(), copy


def restores_exactly(world, repo, snap, data, want):
    target = os.path.join(world, "restore")
    r = run(["restore", "-r", repo, snap, "--target", target])
    assert r.rc == 0, r
    assert tree_digest(os.path.join(target, data.lstrip("/"))) == want


def several_packs(world, repo):
    """Four snapshots, each with a pack of two files; a fifth that keeps
    one file of each, so that forgetting the four leaves every pack half
    used (repacked)."""
    data = os.path.join(world, "data")
    rng = random.Random(7)
    first = []
    for i in range(4):
        write(os.path.join(data, f"keep{i}"), rng.randbytes(300_000))
        write(os.path.join(data, f"drop{i}"), rng.randbytes(300_000))
        first.append(run(["backup", "-r", repo, "--json", data]).json()["snapshot_id"])
    for i in range(4):
        os.unlink(os.path.join(data, f"drop{i}"))
    last = run(["backup", "-r", repo, "--json", data]).json()["snapshot_id"]
    return data, first, last


def test_check_read_data_same_report_on_any_thread_count(world, repo):
    several_packs(world, repo)
    big = [p for p in packs(repo.dir) if os.path.getsize(p) > 400_000]
    assert len(big) >= 4, packs(repo.dir)
    flip_byte(big[len(big) // 2], 1000)
    got = []
    for t in ("1", "2"):
        r = run(["check", "-r", repo, "--read-data", "--threads", t])
        got.append((r.rc, r.out, r.err))
    assert got[0][0] != 0 and "damaged" in got[0][1], got[0]
    assert got[0] == got[1], got
    j = [run(["check", "-r", repo, "--read-data", "--threads", t, "--json"]).json() for t in ("1", "2")]
    assert j[0] == j[1] and j[0]["blobs_damaged"] >= 1, j


def test_repack_on_two_threads_restores_and_matches_one_thread(world, repo):
    data, first, last = several_packs(world, repo)
    want = tree_digest(data)
    assert run(["forget", "-r", repo, *first]).rc == 0
    g, copy = prune_on_two_and_one(world, repo)
    assert g["packs_repacked"] >= 4, g
    r = run(["check", "-r", repo, "--read-data", "--threads", "2"])
    assert r.rc == 0, r
    restores_exactly(world, repo, last, data, want)
    # the same blobs in the same order: the same new packs
    assert pack_names(repo.dir) == pack_names(copy)


def listing(repo_dir, sub):
    root = os.path.join(repo_dir, sub)
    return {os.path.relpath(os.path.join(d, f), root): os.path.getsize(os.path.join(d, f))
            for d, _, fs in os.walk(root) for f in fs}


@pytest.mark.parametrize("threads", ["1", "2"])
def test_repack_stops_on_a_damaged_blob_and_deletes_nothing(world, repo, threads):
    """A worker that finds a damaged blob to copy fails the prune before
    the index changes or anything is deleted, on any thread count; the
    other workers' packs are handed back and freed (ASan build)."""
    data, first, last = several_packs(world, repo)
    want = tree_digest(data)
    assert run(["forget", "-r", repo, *first]).rc == 0
    big = [p for p in packs(repo.dir) if os.path.getsize(p) > 400_000]
    assert len(big) >= 4, packs(repo.dir)
    # both blobs of one pack (about 300 kB each): the one kept is damaged
    victim = big[len(big) // 2]
    for off in (1000, 350_000):
        flip_byte(victim, off)
    before_data, before_index = listing(repo.dir, "data"), listing(repo.dir, "index")
    r = run(["prune", "-r", repo, "--threads", threads])
    assert r.rc != 0, r
    assert "is damaged; prune stops before copying it" in r.err, r
    assert os.path.relpath(victim, os.path.join(repo.dir, "data")).split("/")[-1] in r.err, r
    after = listing(repo.dir, "data")
    # nothing deleted (a new pack already stored is an unindexed orphan at worst)
    assert all(after.get(k) == v for k, v in before_data.items()), (before_data, after)
    assert listing(repo.dir, "index") == before_index
    assert listing(repo.dir, "gc") == {}  # no record: nothing condemned
    # the bytes mended, the same prune succeeds and loses nothing
    for off in (1000, 350_000):
        flip_byte(victim, off)
    g = run(["prune", "-r", repo, "--threads", threads, "--json"])
    assert g.rc == 0, g
    assert g.json()["packs_repacked"] >= 4, g.json()
    restores_exactly(world, repo, last, data, want)
    assert run(["check", "-r", repo, "--read-data", "--threads", threads]).rc == 0


def test_repack_filling_several_new_packs_is_the_same_on_one_and_two_threads(world, repo):
    """36 MB to keep from six half-used packs: new 16 MiB packs fill and
    are stored by workers while reading goes on, their buffers reused for
    the next ones; the result is the same as on one thread and restores."""
    data = os.path.join(world, "data")
    rng = random.Random(11)
    first = []
    for i in range(6):
        write(os.path.join(data, f"keep{i}"), rng.randbytes(6 << 20))
        write(os.path.join(data, f"drop{i}"), rng.randbytes(6 << 20))
        first.append(run(["backup", "-r", repo, "--json", data]).json()["snapshot_id"])
        os.unlink(os.path.join(data, f"drop{i}"))
    last = run(["backup", "-r", repo, "--json", data]).json()["snapshot_id"]
    want = tree_digest(data)
    assert run(["forget", "-r", repo, *first]).rc == 0
    g, copy = prune_on_two_and_one(world, repo)
    assert g["bytes_copied"] > 34 << 20, g  # three new data packs at least
    assert pack_names(repo.dir) == pack_names(copy)
    assert run(["check", "-r", repo, "--read-data", "--threads", "2"]).rc == 0
    restores_exactly(world, repo, last, data, want)
