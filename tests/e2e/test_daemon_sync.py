# SPDX-License-Identifier: BSD-2-Clause
"""[sync NAME] jobs of the daemon: a scheduled sync (on the test clock) to a
replica made by init --replica-of, whose history row carries sync's summary
and whose replica restores the snapshot exactly; the configuration check of
the sync keys, naming each bad one by file and line."""
import os

import treeutil
from conftest import base_env, run
from daemonutil import Daemon
from test_daemon import config
from test_drill import make_files

KEYLESS = {k: v for k, v in base_env().items() if k != "DVALIN_PASSWORD"}


def test_scheduled_sync_has_its_summary_in_history_and_the_replica_restores(world, repo):
    src = os.path.join(world, "src")
    make_files(src, n_small=20, n_old=4)
    r = run(["backup", "-r", repo, src, "--json"])
    assert r.rc == 0, r
    snap = r.json()["snapshot_id"]
    replica = os.path.join(world, "replica")
    r = run(["init", "--replica-of", repo, replica], env=KEYLESS)
    assert r.rc == 0, r
    # the test clock: a day passes in about 4 real seconds
    env = base_env(DVALIN_TEST_TIME_SCALE="20000")
    d = Daemon(world, config(world, repo, f"""
[repository offsite]
location = {replica}

[sync offsite]
from = main
to = offsite
schedule = daily
verify = yes
limit-rate = 500M
latest = 5
max-age = 2d
timeout = 1h
"""), env=env)
    d.start(wait_web=False)
    try:
        [r] = d.wait_runs("offsite", 1, timeout=60)
        assert r["kind"] == "sync" and r["trigger"] == "schedule" and r["status"] == "ok", r
        assert r["exit_code"] == 0 and r["reason"] is None, r
        s = r["summary"]
        assert s["snapshots_copied"] == 1 and s["snapshots_skipped"] == 0, s
        assert s["bytes_read"] > 0 and s["bytes_written"] > 0 and s["bytes_per_second"] > 0, s
        doc = d.run_doc(r["id"])
        res = doc["result"]
        assert [(x["id"], x["state"]) for x in res["snapshots"]] == [(snap, "copied")], res
        assert res["bytes_written"] == s["bytes_written"] and res["verify"]["ok"] is True, res
        assert f"sync --to={replica} --latest=5 --verify --limit-rate=500M\n" in doc["log"], doc["log"]
        job = d.jobs()["offsite"]
        assert job["kind"] == "sync" and job["overdue"] is False and job["last_success"] is not None, job
        r2 = run(["--json", "jobs", "history", "offsite", "--config", d.conf_path])
        assert r2.rc == 0 and r2.json()["runs"][-1]["summary"]["snapshots_copied"] == 1, r2
    finally:
        assert d.stop() == 0
    # the replica restores the snapshot as the source has it
    target = os.path.join(world, "restored")
    r = run(["restore", "-r", replica, snap, "--target", target])
    assert r.rc == 0, r
    treeutil.compare(src, os.path.join(target, src.lstrip("/")))


def test_check_config_takes_the_sync_keys_and_names_bad_ones(world):
    good = os.path.join(world, "good.conf")
    with open(good, "w") as f:
        f.write(f"""[daemon]
state-dir = {world}/state

[repository nas]
location = {world}/repo

[sync offsite]
from = nas
to = {world}/replica
schedule = *-*-* 03:00
host = pc
path = /home
tag = daily
latest = 10
remove-vanished = yes
verify = yes
limit-rate = 20M
threads = 2
timeout = 6h
max-age = 2d

[prune nas]
repository = nas
""")
    r = run(["daemon", "--check-config", "--config", good])
    assert r.rc == 0 and "ok, 2 jobs" in r.out, r
    assert "sync" in r.out and "offsite" in r.out, r
    bad = os.path.join(world, "bad.conf")
    with open(bad, "w") as f:
        f.write(f"""[daemon]
state-dir = {world}/state

[sync a]
from = {world}/repo
to = {world}/repo
limit-rate = fast
latest = 0
verify = maybe
exclude = *.tmp
repository-typo = x

[sync b]
to = nowhere
""")
    r = run(["daemon", "--check-config", "--config", bad])
    assert r.rc == 1, r
    for w in (f"{bad}:6: [sync a]: from and to are the same repository",
              f"{bad}:7: limit-rate wants bytes per second (20M; K, M, G), not 'fast'",
              f"{bad}:8: latest wants a count of snapshots",
              f"{bad}:9: verify wants yes or no",
              f"{bad}:10: unexpected key 'exclude' in [sync a] (it takes: path, tag, host",
              f"{bad}:11: unknown key 'repository-typo' in [sync a]",
              f"{bad}:13: [sync b] needs 'from = NAME or PATH'"):
        assert w in r.err, (w, r.err)


def test_a_sync_and_a_prune_of_either_end_never_overlap(world, repo):
    """A sync reads the source's packs and counts on the replica's: a prune of
    either waits for it, and it for them (all three are due at the same times)."""
    src = os.path.join(world, "src")
    make_files(src, n_small=20, n_old=4)
    with open(os.path.join(src, "big"), "wb") as f:
        f.write(os.urandom(16 << 20))
    r = run(["backup", "-r", repo, src])
    assert r.rc == 0, r
    replica = os.path.join(world, "replica")
    r = run(["init", "--replica-of", repo, replica], env=KEYLESS)
    assert r.rc == 0, r
    d = Daemon(world, config(world, repo, f"""
[repository offsite]
location = {replica}

[prune main]
repository = main
schedule = *:*:0/2

[prune offsite-prune]
repository = offsite
schedule = *:*:0/2

[sync offsite]
from = main
to = offsite
schedule = *:*:0/2
verify = yes
"""))
    d.start(wait_web=False)
    try:
        d.wait_runs("offsite", 3, timeout=90)
        d.wait_runs("main", 3, timeout=90)
        d.wait_runs("offsite-prune", 3, timeout=90)
        runs = [r for r in d.runs() if r["status"] != "running"]
    finally:
        assert d.stop() == 0
    syncs = [(r["start"], r["end"]) for r in runs if r["kind"] == "sync"]
    prunes = [(r["start"], r["end"], r["job"]) for r in runs if r["kind"] == "prune"]
    assert {p[2] for p in prunes} == {"main", "offsite-prune"}, prunes
    for s in syncs:
        for p in prunes:
            assert s[1] <= p[0] or p[1] <= s[0], f"sync {s} overlaps prune {p}"
    assert all(r["status"] == "ok" for r in runs if r["status"] != "interrupted"), runs
