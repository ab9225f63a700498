# SPDX-License-Identifier: BSD-2-Clause
"""Crash safety: kill -9 at random points of backup, forget, prune and
repair leaves a repository that checks clean and restores every earlier
snapshot; a killed backup's packs are reused; a full disk fails cleanly."""
import json
import os
import random
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import DVALIN, base_env, run, small_tmpfs, snapshots, tree_digest as digest


@pytest.fixture
def fast():
    """Scratch space in memory when there is room (the disk is slow)."""
    base = "/dev/shm" if shutil.disk_usage("/dev/shm").free > (2 << 30) else "/tmp"
    d = tempfile.mkdtemp(prefix="dvalin-crash-", dir=base)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def mutate(data, rng, n):
    for i in range(n):
        sub = os.path.join(data, f"d{rng.randrange(8)}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{rng.randrange(40)}"), "wb") as f:
            f.write(rng.randbytes(rng.choice([100, 5000, 300_000, 3 << 20])))


def timed(args):
    t = time.monotonic()
    r = run(args)
    assert r.rc == 0, r
    return r, time.monotonic() - t


@pytest.fixture
def crash_repo(fast, repo_kind, request):
    """A repository in fast (local), or on the worker's server (https):
    a client killed there leaves its requests cut and its lease behind."""
    import conftest
    r, env = conftest.repo_location(repo_kind, os.path.join(fast, "repo"), request)
    conftest._repo_env.clear()
    conftest._repo_env.update(env)
    yield r
    conftest._repo_env.clear()


@pytest.mark.serial
@pytest.mark.parametrize("repo_kind", ["local", "https"], indirect=True)
def test_kill_9_at_random_points(fast, crash_repo):
    rng = random.Random(int(os.environ.get("DVALIN_CRASH_SEED", "7")))
    repo, data = crash_repo, os.path.join(fast, "data")
    assert run(["init", "-r", repo, "--kdf-log-n", "10"]).rc == 0
    mutate(data, rng, 60)
    known = {}
    r, t_backup = timed(["backup", "-r", repo, "--json", data])
    known[r.json()["snapshot_id"]] = digest(data)
    ops = {
        "backup": (["backup", "-r", repo, "--json", data], t_backup),
        "forget": (["forget", "-r", repo, "--keep-last", "3"], 0.05),
        "prune": (["prune", "-r", repo, "--max-unused", "0%"], None),
        "repair": (["repair", "-r", repo, "index"], None),
    }
    kills = {k: 0 for k in ops}
    # over the network each round costs more: fewer of them
    rounds = int(os.environ.get("DVALIN_CRASH_ROUNDS", "24" if repo.kind == "local" else "12"))
    # A kill that lands after the process ended is not a kill: keep going
    # (up to three times the rounds) until at least half of them were.
    for i in range(3 * rounds):
        if i >= rounds and sum(kills.values()) >= rounds // 2:
            break
        op = list(ops)[i % 4] if i < 8 else rng.choice(list(ops))
        args, dur = ops[op]
        if dur is None and repo.kind != "local":  # measured by doing it once
            _, dur = timed(args)
            ops[op] = (args, dur)
        if dur is None:  # measure once on a copy, so the kill lands inside
            copy = os.path.join(fast, "measure")
            shutil.copytree(repo, copy)
            _, dur = timed([a if a != repo else copy for a in args])
            shutil.rmtree(copy)
            ops[op] = (args, dur)
        if op == "backup":
            mutate(data, rng, 6)
            want = digest(data)
        p = subprocess.Popen([DVALIN] + args, env=base_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0, dur * 1.1))
        p.kill()
        out, err = p.communicate()
        assert "Sanitizer" not in err, err
        if p.returncode == -9:
            kills[op] += 1
        else:
            assert p.returncode == 0, (op, err)
            if op == "backup":
                known[json.loads(out)["snapshot_id"]] = want
        r = run(["check", "-r", repo])
        assert r.rc == 0, (op, i, r)
    print("kills", kills)
    assert sum(kills.values()) >= rounds // 2, kills
    r = run(["check", "-r", repo, "--read-data"])
    assert r.rc == 0, r
    left = {s["id"] for s in snapshots(repo)}
    assert left, "forget --keep-last 3 always keeps some"
    for sid in left & set(known):
        target = os.path.join(fast, "t")
        assert run(["restore", "-r", repo, sid, "--target", target]).rc == 0
        assert digest(os.path.join(target, data.lstrip("/"))) == known[sid], sid
        shutil.rmtree(target)
    # after all that, a prune cleans up after the killed ones and check agrees
    assert run(["prune", "-r", repo]).rc == 0
    r = run(["check", "-r", repo, "--read-data", "--json"])
    assert r.rc == 0 and r.json()["packs_unindexed"] == 0, r
    if repo.kind != "local":  # the server dropped the killed clients' uploads
        left = [f for _, _, fs in os.walk(repo.dir) for f in fs if f.startswith(".tmp-")]
        assert left == [], left


def test_killed_backup_leaves_packs_the_next_one_reuses(fast):
    repo, data = os.path.join(fast, "repo"), os.path.join(fast, "data")
    assert run(["init", "-r", repo, "--kdf-log-n", "10"]).rc == 0
    os.makedirs(data)
    rng = random.Random(3)
    for i in range(10):
        with open(os.path.join(data, f"big{i}"), "wb") as f:
            f.write(rng.randbytes(30 << 20))
    index = os.path.join(repo, "index")
    p = subprocess.Popen([DVALIN, "backup", "-r", repo, "--threads", "1", data], env=base_env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def committed():  # a temporary name ('.tmp-...') is not yet an index file
        return [n for n in os.listdir(index) if not n.startswith(".")]
    deadline = time.monotonic() + 120
    while not committed() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    p.kill()
    p.wait()
    if p.returncode == 0:
        pytest.skip("the backup finished before it could be killed")
    assert snapshots(repo) == []
    assert committed(), "a backup writes an index file as it goes"
    r = run(["backup", "-r", repo, "--json", data])
    assert r.rc == 0, r
    doc = r.json()
    assert doc["bytes_added"] < doc["total_bytes"] - (100 << 20), doc
    assert run(["check", "-r", repo, "--read-data"]).rc == 0


@pytest.fixture
def small_fs(fast):
    with small_tmpfs(os.path.join(fast, "small"), "24m") as mnt:
        yield mnt


@pytest.mark.serial
def test_disk_full_fails_cleanly_and_loses_nothing(fast, small_fs):
    repo, data = os.path.join(small_fs, "repo"), os.path.join(fast, "data")
    assert run(["init", "-r", repo, "--kdf-log-n", "10"]).rc == 0
    os.makedirs(data)
    with open(os.path.join(data, "small"), "wb") as f:
        f.write(os.urandom(4 << 20))
    first = run(["backup", "-r", repo, "--json", data])
    assert first.rc == 0, first
    want = digest(data)
    with open(os.path.join(data, "huge"), "wb") as f:
        f.write(os.urandom(40 << 20))
    r = run(["backup", "-r", repo, data])
    assert r.rc == 1 and "No space left on device" in r.err, r
    assert r.err.strip().count("\n") == 0 and repo in r.err, r
    assert len(snapshots(repo)) == 1
    assert run(["check", "-r", repo, "--read-data"]).rc == 0
    # the snapshot from before the disk filled restores exactly
    target = os.path.join(fast, "t")
    assert run(["restore", "-r", repo, first.json()["snapshot_id"], "--target", target]).rc == 0
    assert digest(os.path.join(target, data.lstrip("/"))) == want
    shutil.rmtree(target)
    # prune on a full disk: fails as clearly, or succeeds; never corrupts
    filler = os.path.join(small_fs, "filler")
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
    # forget only deletes: it works on a full disk
    assert run(["forget", "-r", repo, first.json()["snapshot_id"]]).rc == 0
    r = run(["prune", "-r", repo])
    assert r.rc in (0, 1), r
    if r.rc == 1:
        assert "No space left on device" in r.err and r.err.count("\n") == 1, r
    os.unlink(filler)
    assert run(["check", "-r", repo, "--read-data"]).rc == 0
    assert run(["prune", "-r", repo]).rc == 0
    assert run(["check", "-r", repo, "--read-data"]).rc == 0
