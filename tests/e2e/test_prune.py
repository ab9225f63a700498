# SPDX-License-Identifier: BSD-2-Clause
"""prune: space is freed, nothing in use is lost, and a prune never takes
anything from a backup running at the same time (docs/concurrency.md)."""
import os
import random
import socket
import subprocess
import threading
import time

import pytest

from conftest import base_env, run, snapshots, tree_digest


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def repo_bytes(repo):
    total = 0
    for d, _, files in os.walk(os.path.join(repo.dir, "data")):
        total += sum(os.path.getsize(os.path.join(d, f)) for f in files)
    return total


def prune(repo, *args, env=None):
    r = run(["prune", "-r", repo, "--json", *args], env=env)
    assert r.rc == 0, r
    return r.json()


def check_ok(repo, *args):
    r = run(["check", "-r", repo, "--read-data", *args])
    assert r.rc == 0, r
    return r


def restore_matches(repo, world, snap_id, want, sub):
    target = os.path.join(world, "restore-" + snap_id[:8])
    r = run(["restore", "-r", repo, snap_id, "--target", target])
    assert r.rc == 0, r
    got = tree_digest(os.path.join(target, sub.lstrip("/")))
    assert got == want, snap_id
    subprocess.run(["rm", "-rf", target])


@pytest.mark.remote_repos("https")  # the server's rules; ssh carries the same requests
def test_prune_frees_unused_data_and_keeps_the_rest(world, repo):
    data = os.path.join(world, "data")
    rng = random.Random(1)
    kept = {}
    for i in range(4):
        write(os.path.join(data, "big"), rng.randbytes(3 << 20))
        write(os.path.join(data, "small", f"s{i}"), b"small %d\n" % i)
        r = run(["backup", "-r", repo, "--json", data])
        kept[r.json()["snapshot_id"]] = tree_digest(data)
    before = repo_bytes(repo)
    ids = [s["id"] for s in snapshots(repo)]
    assert run(["forget", "-r", repo, ids[0], ids[1]]).rc == 0
    # no password needed: prune reads only the plaintext structure
    g = prune(repo, env={k: v for k, v in base_env().items() if k != "DVALIN_PASSWORD"})
    assert g["packs_deleted"] + g["packs_repacked"] > 0, g
    assert g["records_waiting"] == 0, "nothing else runs: deleted at once"
    after = repo_bytes(repo)
    assert after < before - (5 << 20), (before, after)
    check_ok(repo)
    for sid in ids[2:]:
        restore_matches(repo, world, sid, kept[sid], data)
    # a second prune finds nothing to do
    g = prune(repo)
    assert g["packs_condemned"] == 0 and g["packs_repacked"] == 0 and g["packs_deleted"] == 0


def test_dry_run_changes_nothing(world, repo):
    data = os.path.join(world, "data")
    write(os.path.join(data, "a"), os.urandom(1 << 20))
    run(["backup", "-r", repo, data])
    write(os.path.join(data, "a"), os.urandom(1 << 20))
    run(["backup", "-r", repo, data])
    assert run(["forget", "-r", repo, "--keep-last", "1"]).rc == 0
    listing = sorted(os.listdir(os.path.join(repo.dir, "index")))
    size = repo_bytes(repo)
    g = prune(repo, "--dry-run")
    assert g["dry_run"] and g["packs_condemned"] >= 1
    assert sorted(os.listdir(os.path.join(repo.dir, "index"))) == listing
    assert repo_bytes(repo) == size and os.listdir(os.path.join(repo.dir, "gc")) == []


def fake_lease(repo, start_ns, kind="backup", pid=None):
    """A live lease as a backup that read the index at start_ns writes it."""
    name = os.path.join(repo.dir, "locks", "00" + os.urandom(7).hex())
    with open(name, "w") as f:
        f.write(f"dvalin-lease 1\nkind {kind}\nhost {socket.gethostname()}\n"
                f"pid {pid or os.getpid()}\nstart {start_ns}\nrefresh {time.time_ns()}\n")
    return name


@pytest.mark.remote_repos("https")
def test_condemned_packs_wait_for_older_leases_and_come_back_when_used(world, repo):
    """The race a prune must survive, replayed step by step: a backup that read
    the index before the prune deduplicates against data the prune condemns,
    and commits a snapshot using it."""
    data = os.path.join(world, "data")
    write(os.path.join(data, "precious"), os.urandom(2 << 20))
    first = run(["backup", "-r", repo, "--json", data]).json()["snapshot_id"]
    want = tree_digest(data)
    snap_file = os.path.join(repo.dir, "snapshots", first)
    saved = open(snap_file, "rb").read()
    lease = fake_lease(repo, time.time_ns())  # "the backup" starts, reads the index
    assert run(["forget", "-r", repo, first]).rc == 0
    env = base_env(DVALIN_CLOCK_SKEW="0")
    g = prune(repo, env=env)
    assert g["packs_condemned"] >= 1 and g["packs_deleted"] == 0, g
    assert g["records_waiting"] == 1, g
    assert os.listdir(os.path.join(repo.dir, "gc"))
    # "the backup" commits a snapshot that uses the condemned blobs
    with open(snap_file, "wb") as f:
        f.write(saved)
    r = check_ok(repo)
    assert "condemned packs wait" in r.out
    restore_matches(repo, world, first, want, data)
    g = prune(repo, env=env)  # still waiting: the lease is live
    assert g["packs_deleted"] == 0 and g["records_waiting"] == 1, g
    os.unlink(lease)  # "the backup" ends
    g = prune(repo, env=env)
    assert g["packs_returned"] >= 1 and g["packs_deleted"] == 0, g
    assert os.listdir(os.path.join(repo.dir, "gc")) == []
    check_ok(repo)
    restore_matches(repo, world, first, want, data)


def test_stale_lease_of_a_dead_process_does_not_block(world, repo):
    data = os.path.join(world, "data")
    write(os.path.join(data, "f"), os.urandom(1 << 20))
    sid = run(["backup", "-r", repo, "--json", data]).json()["snapshot_id"]
    p = subprocess.Popen(["true"])
    p.wait()
    fake_lease(repo, time.time_ns(), kind="prune", pid=p.pid)  # a prune killed -9
    assert run(["forget", "-r", repo, sid]).rc == 0
    g = prune(repo)
    assert g["stale_leases_removed"] == 1 and g["packs_deleted"] >= 1, g
    assert os.listdir(os.path.join(repo.dir, "locks")) == []


def test_second_prune_is_refused_while_one_runs(world, repo):
    fake_lease(repo, time.time_ns() - 10**9, kind="prune")  # a live prune (this process)
    r = run(["prune", "-r", repo])
    assert r.rc == 1 and "is in use by a prune on host" in r.err and r.err.count("\n") == 1, r
    # backups are never blocked
    data = os.path.join(world, "d")
    write(os.path.join(data, "f"), b"x")
    assert run(["backup", "-r", repo, data]).rc == 0


def backup_loop(repo, world, name, stop, results, errors, env):
    """Back up a directory whose files cycle through a few contents, so that
    backups keep deduplicating against data earlier prunes condemned."""
    rng = random.Random(name)
    variants = [random.Random(f"{name}-{v}").randbytes(300_000) for v in range(5)]
    data = os.path.join(world, name)
    while not stop.is_set():
        for i in range(4):
            write(os.path.join(data, f"f{i}"), variants[rng.randrange(5)])
        write(os.path.join(data, "counter"), os.urandom(64))
        want = tree_digest(data)
        r = run(["backup", "-r", repo, "--json", data], env=env)
        if r.rc != 0:
            errors.append(r)
            return
        results[r.json()["snapshot_id"]] = (data, want)


def stress(repo, world, seconds, env, gc_files):
    """Two backup loops and a forget+prune loop on repo for seconds; then
    check --read-data passes and every snapshot left restores exactly.
    gc_files() lists the condemnation records left at the end.  Returns
    (prunes, backups, summed prune counters)."""
    stop = threading.Event()
    results, errors, totals = {}, [], {}
    loops = [threading.Thread(target=backup_loop, args=(repo, world, n, stop, results, errors, env))
             for n in ("alpha", "beta")]
    for t in loops:
        t.start()
    deadline = time.time() + seconds
    prunes = 0
    try:
        while time.time() < deadline and not errors:
            r = run(["forget", "-r", repo, "--keep-last", "2", "-q"], env=env)
            assert r.rc == 0, r
            r = run(["prune", "-r", repo, "--json", "--max-unused", "20%"], env=env)
            assert r.rc == 0, r
            for k, v in r.json().items():
                if isinstance(v, int) and not isinstance(v, bool):
                    totals[k] = totals.get(k, 0) + v
            prunes += 1
    finally:
        stop.set()
        for t in loops:
            t.join()
    assert not errors, errors
    print("prunes", prunes, "backups", len(results), totals)
    assert prunes >= 3 and len(results) >= 6
    assert totals["packs_condemned"] > 0 and totals["packs_deleted"] > 0, totals
    r = run(["check", "-r", repo, "--read-data"], env=env)
    assert r.rc == 0, r
    r = run(["snapshots", "-r", repo, "--json"], env=env)
    assert r.rc == 0, r
    left = r.json()
    assert len(left) >= 2
    for s in left:
        data, want = results[s["id"]]
        target = os.path.join(world, "restore-" + s["id"][:8])
        r = run(["restore", "-r", repo, s["id"], "--target", target], env=env)
        assert r.rc == 0, r
        assert tree_digest(os.path.join(target, data.lstrip("/"))) == want, s["id"]
        subprocess.run(["rm", "-rf", target])
    # once everything has stopped, one more prune leaves nothing waiting
    r = run(["prune", "-r", repo, "--json"], env=env)
    assert r.rc == 0, r
    assert r.json()["records_waiting"] == 0 and gc_files() == [], r
    r = run(["check", "-r", repo, "--read-data"], env=env)
    assert r.rc == 0, r
    return prunes, len(results), totals


@pytest.mark.remote_repos("https")
@pytest.mark.serial
def test_backups_and_prunes_run_concurrently(world, repo):
    """The stress test of docs/concurrency.md: two backup loops and a
    forget+prune loop share the repository for a while; afterwards every
    snapshot is complete and restores exactly."""
    stress(repo, world, float(os.environ.get("DVALIN_STRESS_SECONDS", "20")),
           base_env(DVALIN_CLOCK_SKEW="0"), lambda: os.listdir(os.path.join(repo.dir, "gc")))
