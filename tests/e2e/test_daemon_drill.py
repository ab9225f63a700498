# SPDX-License-Identifier: BSD-2-Clause
"""[drill NAME] jobs of the daemon: a scheduled drill (on the test clock)
whose history row carries the drill's summary and whose metrics pass
promtool; a drill of a repository with a flipped pack byte that fails,
notifies a loopback webhook once, and notifies its recovery once the byte
is put back; the configuration check of the drill's keys."""
import glob
import json
import os
import time

import services
from conftest import base_env, run
from daemonutil import Daemon
from test_daemon import config
from test_drill import make_files


def backed_up(world, repo):
    src = os.path.join(world, "src")
    make_files(src, n_small=20, n_old=4)
    r = run(["backup", "-r", repo, src, "--json"])
    assert r.rc == 0, r
    return src, r.json()["snapshot_id"]


def flip_largest_pack(repo):
    """Flips one bit in the middle of the largest pack (which holds the old, large files a
    100% sample restores); calling it again puts the bit back."""
    victim = sorted(glob.glob(os.path.join(repo, "data", "*", "*")), key=os.path.getsize)[-1]
    with open(victim, "r+b") as f:
        f.seek(os.path.getsize(victim) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x01]))


def test_scheduled_drill_has_its_summary_in_history_and_metrics(world, repo):
    src, snap = backed_up(world, repo)
    drills = os.path.join(world, "drills")
    os.makedirs(drills)
    # the test clock: a day passes in about 4 real seconds
    env = base_env(DVALIN_TEST_TIME_SCALE="20000")
    d = Daemon(world, config(world, repo, f"""
[drill weekly]
repository = main
schedule = daily
sample = 6
target = {drills}
host = {os.uname().nodename}
path = {src}
max-age = 8d
timeout = 1h
"""), env=env)
    d.start(wait_web=False)
    try:
        [r] = d.wait_runs("weekly", 1, timeout=60)
        assert r["kind"] == "drill" and r["trigger"] == "schedule" and r["status"] == "ok", r
        assert r["exit_code"] == 0 and r["reason"] is None, r
        s = r["summary"]
        assert s["files"] == 6 and s["mismatches"] == 0 and s["snapshot_id"] == snap, s
        assert s["bytes"] > 0 and s["bytes_per_second"] > 0 and s["estimate_seconds"] > 0, s
        doc = d.run_doc(r["id"])
        res = doc["result"]
        assert res["ok"] is True and res["files_sampled"] == 6 and len(res["sampled"]) == 6, res
        assert res["live"]["identical"] == 6, res  # the live files compared, unchanged
        assert abs(s["estimate_seconds"] - res["estimate_seconds"]) < 1e-3, (s, res)
        assert f"drill --host={os.uname().nodename} --path={src} --sample=6 --target={drills}\n" in doc["log"], doc["log"]
        assert os.listdir(drills) == []  # the scratch directory went with the run
        job = d.jobs()["weekly"]
        assert job["kind"] == "drill" and job["repository"] == "main" and job["overdue"] is False, job
        assert job["last_success"] is not None, job
        text = d.api("/metrics").text
        rc, out = services.promtool_check_metrics(text)
        assert rc == 0, out + text
        for want in ('dvalin_job_last_success_timestamp_seconds{job_name="weekly",kind="drill"}',
                     'dvalin_job_last_exit_status{job_name="weekly",kind="drill"} 0',
                     'dvalin_job_overdue{job_name="weekly",kind="drill"} 0',
                     'dvalin_drill_last_files{job_name="weekly",kind="drill"} 6',
                     'dvalin_drill_last_mismatches{job_name="weekly",kind="drill"} 0',
                     'dvalin_drill_last_restore_bytes_per_second{job_name="weekly",kind="drill"}',
                     'dvalin_drill_full_restore_estimate_seconds{job_name="weekly",kind="drill"}'):
            assert want in text, (want, text)
        assert 'dvalin_job_last_added_bytes{job_name="weekly"' not in text, text
        # `dvalin jobs` shows the same run
        r2 = run(["--json", "jobs", "history", "weekly", "--config", d.conf_path])
        assert r2.rc == 0 and r2.json()["runs"][-1]["summary"]["files"] == 6, r2
        r2 = run(["jobs", "--config", d.conf_path])
        assert r2.rc == 0 and "drill" in r2.out and "weekly" in r2.out, r2
    finally:
        assert d.stop() == 0


def test_drill_of_a_damaged_pack_notifies_once_then_its_recovery(world, repo, http_receiver):
    backed_up(world, repo)
    flip_largest_pack(repo)
    drills = os.path.join(world, "drills")
    os.makedirs(drills)
    d = Daemon(world, config(world, repo, f"""
[drill all]
repository = main
schedule = *:*:0/2
sample = 100%
target = {drills}
live = no

[notify webhook]
url = {http_receiver.url}/hook
"""))
    d.start(wait_web=False)
    try:
        runs = d.wait_runs("all", 2, timeout=90)
        for r in runs:
            assert r["status"] == "damage" and r["exit_code"] == 6, r
            assert r["summary"]["mismatches"] > 0 and r["summary"]["files"] == 24, r
            assert "exit status 6" in r["reason"], r
        doc = d.run_doc(runs[0]["id"])
        assert doc["result"]["ok"] is False and doc["result"]["live"]["skipped"], doc["result"]
        assert any(f["fails"] and f["kind"] == "content" for f in doc["result"]["findings"]), doc["result"]
        [req] = http_receiver.wait_for(1, timeout=30)
        msg = req.json()
        assert "drill all FAILED" in msg["title"] and msg["severity"] == "failing", msg
        assert "drill all found damage: exit status 6" in msg["message"], msg
        assert len(http_receiver.requests) == 1, [r.json() for r in http_receiver.requests]  # once
        text = d.api("/metrics").text
        assert 'dvalin_job_last_exit_status{job_name="all",kind="drill"} 6' in text, text
        assert 'dvalin_drill_last_mismatches{job_name="all",kind="drill"} 0' not in text, text
        assert os.listdir(drills) == []
        flip_largest_pack(repo)  # the byte put back: the next drill passes
        d.wait(lambda: d.jobs()["all"]["last_run"]["status"] == "ok", 90, "a passing drill")
        reqs = http_receiver.wait_for(2, timeout=30)
        rec = reqs[1].json()
        assert "recovered" in rec["title"] and rec["severity"] == "ok", rec
        d.wait_runs("all", len(d.runs("all")) + 1, timeout=60)
        assert len(http_receiver.requests) == 2  # nothing more while it keeps passing
    finally:
        assert d.stop() == 0


def test_check_config_takes_the_drill_keys_and_names_bad_ones(world):
    good = os.path.join(world, "good.conf")
    with open(good, "w") as f:
        f.write(f"""[daemon]
state-dir = {world}/state

[repository nas]
location = {world}/repo

[drill weekly]
repository = nas
schedule = Sun *-*-* 04:00
random-delay = 30min
persistent = yes
sample = 2%
snapshot = latest
host = pc
path = /home
tag = daily
live = no
threads = 2
target = /var/tmp
timeout = 6h
max-age = 8d

[drill monthly]
repository = nas
schedule = monthly
full = yes
target = /srv/scratch
snapshot = 0123abcd

[prune nas]
repository = nas
""")
    r = run(["daemon", "--check-config", "--config", good])
    assert r.rc == 0 and "ok, 3 jobs" in r.out, r
    assert "drill" in r.out and "weekly" in r.out and "Sun *-*-* 04:00:00" in r.out, r
    bad = os.path.join(world, "bad.conf")
    with open(bad, "w") as f:
        f.write(f"""[daemon]
state-dir = {world}/state

[drill a]
repository = {world}/repo
sample = lots
snapshot = newest
threads = 0
target = scratch
seed = 7
read-data = yes

[drill b]
full = yes
sample = 0%
live = maybe

[drill c]
repository = {world}/repo
snapshot = abc123
host = pc
""")
    r = run(["daemon", "--check-config", "--config", bad])
    assert r.rc == 1, r
    for w in (f"{bad}:6: sample wants a count of files (200) or a share of the bytes (2%), not 'lots'",
              f"{bad}:7: snapshot wants 'latest' or a snapshot id",
              f"{bad}:8: threads must be 1..64",
              f"{bad}:9: 'target' must be an absolute path",
              f"{bad}:10: unknown key 'seed' in [drill a] (it takes: repository, path, tag, host",
              f"{bad}:11: unexpected key 'read-data' in [drill a]",
              f"{bad}:15: sample wants a count",
              f"{bad}:16: live wants yes or no",
              f"{bad}:13: [drill b] needs 'repository = NAME or PATH'",
              f"{bad}:13: [drill b]: full = yes needs 'target = DIR'",
              f"{bad}:18: [drill c]: snapshot names one snapshot"):
        assert w in r.err, (w, r.err)
