# SPDX-License-Identifier: BSD-2-Clause
"""dvalin daemon: the configuration check, schedules that fire within
seconds (real second-granularity calendars, or the test clock), real
backups, prunes, checks, disk and pool checks as child processes, the
history and its exit codes, the local API and `dvalin jobs`, failure and
recovery notifications to a loopback webhook (once each), the dead man's
switch for a job that never ran, SIGTERM during a backup, SIGHUP reload,
catch-up after downtime, timeouts, conflicting jobs, and metrics checked by
promtool and scraped by a real Prometheus."""
import json
import os
import signal
import time

import pytest

import services
from conftest import PASSWORD, base_env, run, snapshots
from daemonutil import Daemon, hash_password
from test_disks import SMART, fake_smartctl

ZPOOL = os.path.join(os.path.dirname(SMART), "zpool")


def make_source(world, files=3):
    src = os.path.join(world, "src")
    os.makedirs(os.path.join(src, "sub"), exist_ok=True)
    for i in range(files):
        with open(os.path.join(src, "sub" if i % 2 else "", f"f{i}.txt"), "w") as f:
            f.write(f"file {i}\n" * (i + 1))
    return src


def fake_zpool(world, status_file):
    """A zpool that prints a saved `zpool status -P`."""
    bindir = os.path.join(world, "bin")
    os.makedirs(bindir, exist_ok=True)
    script = os.path.join(bindir, "zpool")
    with open(script, "w") as f:
        f.write(f"#!/bin/sh\ncat {status_file!r}\n")
    os.chmod(script, 0o755)


def test_check_config_names_every_error(world):
    path = os.path.join(world, "bad.conf")
    with open(path, "w") as f:
        f.write("""[daemon]
concurrency = 0
state-dir = relative/dir

[backup home]
repository = nas
schedule = *:61
max-age = 26m

[backup home]
repository = /srv/repo
path = /srv

[prune nas]
repository = nowhere
max-unused = lots

[web]
listen = 0.0.0.0:8080
user = admin notahash

[frobnicate]
x = 1

[notify email]
url = smtp://mail.example:587
""")
    r = run(["daemon", "--check-config", "--config", path])
    assert r.rc == 1, r
    want = [
        f"{path}:2: concurrency must be 1..64",
        f"{path}:3: 'state-dir' must be an absolute path",
        f"{path}:7: invalid calendar expression '*:61'",
        f"{path}:8: max-age: duration '26m': write 'min' for minutes",
        f"{path}:10: a job named 'home' is already defined on line 5",
        f"{path}:16: max-unused wants a percentage",
        f"{path}:20: user 'admin': not a password hash crypt(3) knows",
        f"{path}:22: unknown section '[frobnicate]'",
        f"{path}:5: [backup home] needs at least one 'path = /...'",
        f"{path}:6: no [repository nas]",
        f"{path}:15: no [repository nowhere]",
        f"{path}:19: [web] listens on '0.0.0.0:8080', beyond this machine: that needs HTTPS",
        f"{path}:25: [email] needs from and to",
        "error",
    ]
    for w in want:
        assert w in r.err, (w, r.err)
    # a good one says what it will do
    good = os.path.join(world, "good.conf")
    with open(good, "w") as f:
        f.write(f"[daemon]\nstate-dir = {world}/state\n\n[backup home]\nrepository = {world}/repo\n"
                f"path = {world}\nschedule = Mon..Fri *-*-* 02:30\n")
    r = run(["daemon", "--check-config", "--config", good])
    assert r.rc == 0 and "ok, 1 job" in r.out and "Mon..Fri *-*-* 02:30:00" in r.out, r


def config(world, repo, extra=""):
    return f"""[daemon]
state-dir = {world}/state
concurrency = 2

[repository main]
location = {repo}

{extra}
"""


def test_schedules_run_real_jobs_with_history(world, repo):
    src = make_source(world)
    status = os.path.join(ZPOOL, "jc_online_mirrors_sdX_names_spare_avail.txt")
    devs = [{"name": "/dev/sda", "type": "sat"}]
    env = fake_smartctl(world, devs, {"/dev/sda": os.path.join(SMART, "netdata_ata_hdd_wd181kryz_healthy.json")})
    fake_zpool(world, status)
    d = Daemon(world, config(world, repo, f"""
[backup home]
repository = main
path = {src}
exclude = *.skip
tag = daily
schedule = *:*:0/2
keep-last = 2

[prune main]
repository = main
schedule = *:*:1/5
threads = 1

[check verify]
repository = main
schedule = *:*:3/6
read-data-subset = 50%
threads = 2

[disks]
schedule = *:*:0/3

[zpool]
schedule = *:*:0/4
"""), env=env)
    with open(os.path.join(src, "x.skip"), "w") as f:
        f.write("not backed up")
    d.start(wait_web=False)
    try:
        d.wait_runs("home", 3, timeout=60)
        for name in ("main", "verify", "disks", "zpool"):
            d.wait_runs(name, 1, timeout=60)
        listed = d.runs()
        runs = [d.run_doc(r["id"]) for r in listed if r["status"] != "running"]
        # a backup still running here may finish before the daemon stops
        unlisted = sum(1 for r in listed if r["status"] == "running" and r["job"] == "home")
        jobs = d.jobs()
        r = run(["--json", "jobs", "log", str(runs[-1]["id"]), "--config", d.conf_path])
        assert r.rc == 0 and r.json()["id"] == runs[-1]["id"], r
    finally:
        assert d.stop() == 0
    by = {}
    for r in runs:
        by.setdefault(r["job"], []).append(r)
    assert all(r["status"] == "ok" and r["exit_code"] == 0 for r in by["home"]), by["home"]
    b = by["home"][-1]  # the first backup
    assert b["summary"]["files"] == 3 and b["summary"]["bytes_added"] > 0 and b["result"]["snapshot_id"] == \
        b["summary"]["snapshot_id"], b
    assert b["trigger"] == "schedule" and b["duration_seconds"] >= 0 and b["end"] > b["start"]
    # keep-last = 2 ran after each backup: at most 2 snapshots of this job remain
    snaps = snapshots(repo)
    assert 1 <= len(snaps) <= 2 and all(s["tags"] == ["daily"] for s in snaps), snaps
    assert len({s["id"] for s in snaps} - {r["summary"]["snapshot_id"] for r in by["home"]}) <= unlisted, snaps
    prune = [r for r in runs if r["kind"] == "prune"][0]
    assert prune["status"] == "ok" and prune["result"]["dry_run"] is False, prune
    assert "prune --threads=1\n" in prune["log"], prune["log"]
    check = [r for r in runs if r["kind"] == "check"][0]
    assert check["status"] == "ok" and check["result"]["ok"] is True, check
    assert "check --read-data-subset=50% --threads=2\n" in check["log"], check["log"]
    disk = by["disks"][0]
    assert disk["status"] == "ok" and disk["result"]["disks"][0]["device"] == "/dev/sda", disk
    pool = by["zpool"][0]
    # sdX names and a spare: a warning, which is the check's finding, not a failed job
    assert pool["status"] == "warning" and pool["exit_code"] == 4 and pool["result"]["verdict"] == "warning", pool
    # the excluded file is not in the snapshot
    r = run(["ls", "-r", repo, "latest", "--json"])
    assert "x.skip" not in r.out and "f0.txt" in r.out
    assert jobs["home"]["last_run"]["status"] == "ok"
    r = run(["jobs", "--config", d.conf_path])
    assert r.rc == 1 and "cannot reach the daemon" in r.err, r  # stopped


def test_jobs_command_asks_the_daemon(world, repo):
    src = make_source(world)
    d = Daemon(world, config(world, repo, f"""
[backup home]
repository = main
path = {src}
"""))
    d.start(wait_web=False)
    try:
        r = run(["jobs", "--config", d.conf_path])
        assert r.rc == 0 and "home" in r.out and "never ran" in r.out, r
        r = run(["jobs", "run", "home", "--wait", "--config", d.conf_path])
        assert r.rc == 0 and "home" in r.out and " ok " in r.out, r
        r = run(["--json", "jobs", "--config", d.conf_path])
        job = r.json()["jobs"][0]
        assert job["name"] == "home" and job["last_run"]["status"] == "ok" and job["schedule"] is None, job
        run_id = job["last_run"]["id"]
        r = run(["jobs", "log", str(run_id), "--config", d.conf_path])
        assert r.rc == 0 and "$ dvalin --json -r" in r.out and "backup" in r.out and "[backup: exit status 0]" in r.out, r
        r = run(["--json", "jobs", "log", str(run_id), "--config", d.conf_path])
        doc = r.json()
        assert doc["id"] == run_id and doc["result"]["snapshot_id"] == snapshots(repo)[0]["id"] and "log" in doc
        r = run(["jobs", "history", "home", "--config", d.conf_path])
        assert r.rc == 0 and str(run_id) in r.out, r
        r = run(["jobs", "run", "nosuch", "--config", d.conf_path])
        assert r.rc == 1 and "no such job" in r.err, r
        r = run(["jobs", "log", "99999", "--config", d.conf_path])
        assert r.rc == 1 and "no such run" in r.err, r
    finally:
        assert d.stop() == 0


def test_failure_notifies_once_then_recovery(world, http_receiver):
    src = make_source(world)
    repo = os.path.join(world, "repo")  # not created yet: the backup fails
    d = Daemon(world, config(world, repo, f"""
[backup home]
repository = main
path = {src}
schedule = *:*:0/2

[notify webhook]
url = {http_receiver.url}/hook
"""))
    d.start(wait_web=False)
    try:
        d.wait_runs("home", 3, timeout=60)
        runs = d.runs("home")
        assert all(r["status"] == "failed" and r["exit_code"] == 1 for r in runs), runs
        assert "cannot" in runs[0]["reason"] and repo in runs[0]["reason"], runs[0]
        [req] = http_receiver.wait_for(1)
        time.sleep(1)
        assert len(http_receiver.requests) == 1, [r.json() for r in http_receiver.requests]  # once
        doc = req.json()
        assert "backup home FAILED" in doc["title"] and doc["severity"] == "failing", doc
        assert "backup home failed: exit status 1" in doc["message"] and "The end of its log" in doc["message"], doc
        r = run(["init", "-r", repo, "--kdf-log-n", "10"])
        assert r.rc == 0, r
        d.wait(lambda: d.jobs()["home"]["last_run"]["status"] == "ok", 60, "a successful run")
        reqs = http_receiver.wait_for(2)
        rec = reqs[1].json()
        assert "recovered" in rec["title"] and rec["severity"] == "ok" and "recovered:" in rec["message"], rec
        time.sleep(2.5)
        assert len(http_receiver.requests) == 2  # no more while it keeps succeeding
    finally:
        assert d.stop() == 0


def test_dead_mans_switch_fires_for_a_job_that_never_ran(world, repo, http_receiver):
    # the test clock: 2 hours pass per second, so max-age 26h is 13 s away
    env = base_env(DVALIN_TEST_TIME_SCALE="7200")
    d = Daemon(world, config(world, repo, f"""
[backup home]
repository = main
path = {world}
schedule = yearly
max-age = 26h

[notify webhook]
url = {http_receiver.url}/hook
"""), env=env)
    d.start(wait_web=False)
    try:
        assert d.jobs()["home"]["overdue"] is False
        [req] = http_receiver.wait_for(1, timeout=60)
        doc = req.json()
        assert "backup home is overdue" in doc["title"], doc
        assert "backup home has not succeeded since the daemon first saw it 26 h ago; it never ran" in doc["message"], doc
        job = d.jobs()["home"]
        assert job["overdue"] is True and job["last_run"] is None and job["last_success"] is None, job
        m = d.api("/metrics").text
        assert 'dvalin_job_overdue{job_name="home",kind="backup"} 1' in m, m
        time.sleep(1)
        assert len(http_receiver.requests) == 1
    finally:
        assert d.stop() == 0


def test_sigterm_during_backup_leaves_a_repository_that_checks_clean(world, repo):
    big = os.path.join(world, "big")
    os.makedirs(big)
    for i in range(6):
        with open(os.path.join(big, f"r{i}"), "wb") as f:
            f.write(os.urandom(48 << 20))
    d = Daemon(world, config(world, repo, f"""
[backup big]
repository = main
path = {big}
"""))
    d.start(wait_web=False)
    packs = os.path.join(repo, "data")

    def packs_written():
        return sum(len(fs) for _, _, fs in os.walk(packs))
    before = packs_written()
    try:
        d.run_now("big")
        # stop once the backup has written some of its packs, well before its end
        d.wait(lambda: packs_written() > before + 1, 60, "packs being written", interval=0.02)
        t0 = time.time()
    finally:
        rc = d.stop(timeout=60)
    assert rc == 0 and "stopping: 1 job running" in d.log(), d.log()
    assert time.time() - t0 < 30
    r = run(["check", "-r", repo])
    assert r.rc == 0, r
    assert snapshots(repo) == []  # interrupted: no snapshot, and nothing broken
    d2 = Daemon(world, config(world, repo), name="again")
    d2.start(wait_web=False)
    try:
        [r] = d2.runs("big")
        assert r["status"] == "interrupted" and r["reason"].startswith("stopped"), r
    finally:
        assert d2.stop() == 0


def test_sighup_reloads_and_refuses_a_broken_configuration(world, repo):
    src = make_source(world)
    base = config(world, repo, f"""
[backup home]
repository = main
path = {src}
""")
    d = Daemon(world, base)
    d.start(wait_web=False)
    try:
        assert set(d.jobs()) == {"home"}
        d.write_conf(base + f"""
[backup etc]
repository = main
path = {src}/sub
schedule = *:*:0/2
""")
        d.signal(signal.SIGHUP)
        d.wait(lambda: "etc" in d.jobs(), 30, "the new job")
        d.wait_runs("etc", 1, timeout=30)
        assert d.runs("etc")[0]["status"] == "ok"
        d.write_conf(base + "\n[backup broken]\nschedule = *:99\n")
        d.signal(signal.SIGHUP)
        d.wait(lambda: "reload refused" in d.log(), 30, "the refusal")
        assert set(d.jobs()) == {"home", "etc"}  # the running configuration stays
        assert ":99" in d.log() and "daemon.conf:" in d.log()
    finally:
        assert d.stop() == 0


def test_missed_run_is_caught_up_once(world, repo):
    src = make_source(world)
    job = f"""
[backup home]
repository = main
path = {src}
schedule = *-*-* 03:00:00
"""
    # 02:55 on the test clock, a minute per second: 03:00 comes 5 s after the start
    # (room for a slow start-up: a schedule already past when the daemon reads it waits a day)
    day = 1796083200  # 2026-12-01 00:00:00 UTC
    env = base_env(TZ="UTC", DVALIN_TEST_TIME_SCALE="60", DVALIN_TEST_TIME_START=str(day + 3 * 3600 - 300))
    d = Daemon(world, config(world, repo, job), env=env)
    d.start(wait_web=False)
    try:
        [r] = d.wait_runs("home", 1, timeout=30)
        assert r["trigger"] == "schedule" and r["start"].startswith("2026-12-01T03:00"), r
    finally:
        assert d.stop() == 0
    # two days later: two runs were missed; one catches up at the start, no more
    env = base_env(TZ="UTC", DVALIN_TEST_TIME_SCALE="1", DVALIN_TEST_TIME_START=str(day + 2 * 86400 + 10 * 3600))
    d = Daemon(world, config(world, repo, job), env=env, name="later")
    d.start(wait_web=False)
    try:
        d.wait_runs("home", 2, timeout=30)
        time.sleep(2)
        runs = d.runs("home")
        assert [r["trigger"] for r in runs] == ["catch-up", "schedule"], runs
        assert runs[0]["start"].startswith("2026-12-03T10:00"), runs[0]
        assert d.jobs()["home"]["next_run"].startswith("2026-12-04T03:00:00"), d.jobs()["home"]
    finally:
        assert d.stop() == 0


def test_timeout_stops_a_hung_job(world, repo):
    d = Daemon(world, config(world, repo, f"""
[backup slow]
repository = main
path = {world}
before = sleep 60
timeout = 2s
"""))
    d.start(wait_web=False)
    try:
        t0 = time.time()
        d.run_now("slow")
        [r] = d.wait_runs("slow", 1, timeout=30)
        assert r["status"] == "timeout" and r["reason"] == "timed out after 2 s", r
        assert time.time() - t0 < 15
        assert snapshots(repo) == []  # the backup after the hook never ran
    finally:
        assert d.stop() == 0


@pytest.mark.parametrize("reader", ["check main-data]\nread-data = yes",
                                    "drill main-data]\nsample = 100%\nlive = no\ntarget = {world}"])
def test_prune_and_check_of_one_repository_never_overlap(world, repo, reader):
    """A check and a drill read packs a prune may delete: never at the same time."""
    src = make_source(world)
    with open(os.path.join(src, "data"), "wb") as f:
        f.write(os.urandom(24 << 20))
    r = run(["backup", "-r", repo, src])
    assert r.rc == 0, r
    d = Daemon(world, config(world, repo, f"""
[prune main]
repository = main
schedule = *:*:0/2

[{reader.format(world=world)}
repository = main
schedule = *:*:0/2
"""))
    d.start(wait_web=False)
    try:
        d.wait_runs("main", 3, timeout=90)
        d.wait_runs("main-data", 3, timeout=90)
    finally:
        assert d.stop() == 0
    d2 = Daemon(world, config(world, repo), name="read")
    d2.start(wait_web=False)
    try:
        runs = [r for r in d2.runs() if r["status"] != "interrupted"]
    finally:
        d2.stop()
    spans = sorted((r["start"], r["end"], r["kind"]) for r in runs)
    for a, b in zip(spans, spans[1:]):
        assert a[1] <= b[0], f"{a} overlaps {b}"
    assert all(r["status"] == "ok" for r in runs), runs


def test_metrics_pass_promtool_and_prometheus_scrapes_them(world, repo, prometheus):
    src = make_source(world)
    devs = [{"name": "/dev/sda", "type": "sat"}]
    env = fake_smartctl(world, devs, {"/dev/sda": os.path.join(SMART, "scrutiny_ata_hdd_wd4000fyyx_megaraid_passed_realloc387.json")})
    d = Daemon(world, config(world, repo, f"""
[backup home]
repository = main
path = {src}
schedule = *:*:0/3
max-age = 1h

[disks]
schedule = *:*:0/3

[web]
listen = 127.0.0.1:0
user = admin {hash_password("pw")}
"""), env=env)
    d.start()
    try:
        d.wait_runs("home", 1, timeout=60)
        d.wait_runs("disks", 1, timeout=60)
        d.wait(lambda: d.api("/api/repositories").json()["repositories"][0]["latest"], 60, "a size sample")
        r = d.http("GET", "/metrics")  # open, no login
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r
        text = r.text
        rc, out = services.promtool_check_metrics(text)
        assert rc == 0, out + text
        for want in ('dvalin_job_last_success_timestamp_seconds{job_name="home",kind="backup"}',
                     'dvalin_job_last_exit_status{job_name="home",kind="backup"} 0',
                     'dvalin_job_last_duration_seconds{job_name="home",kind="backup"}',
                     'dvalin_job_last_added_bytes{job_name="home",kind="backup"}',
                     'dvalin_repository_size_bytes{repository="main"}',
                     'dvalin_repository_snapshots{repository="main"}',
                     'dvalin_disk_verdict{device="/dev/sda"',
                     'dvalin_disk_temperature_celsius{device="/dev/sda"',
                     'dvalin_disk_reallocated_sectors{device="/dev/sda"',
                     "dvalin_daemon_uptime_seconds ", "dvalin_daemon_jobs_running "):
            assert want in text, (want, text)
        prom = prometheus([f"127.0.0.1:{d.port}"], metrics_path="/metrics")
        res = prom.wait_for_series('dvalin_job_last_success_timestamp_seconds{job_name="home"}', timeout=60)
        assert res and float(res[0]["value"][1]) > 1.7e9, res
        res = prom.wait_for_series('dvalin_disk_reallocated_sectors', timeout=30)
        assert float(res[0]["value"][1]) == 387, res
    finally:
        assert d.stop() == 0


def test_systemd_readiness_watchdog_reload_and_stop(world, repo):
    """The sd_notify protocol as systemd speaks it: a datagram socket in
    $NOTIFY_SOCKET, $WATCHDOG_USEC asking for a ping every half interval."""
    import socket
    path = os.path.join(world, "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(20)
    env = base_env(NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
    d = Daemon(world, config(world, repo), env=env)
    d.start(wait_web=False)
    got = []

    def until(word):
        while True:
            msg = s.recv(4096).decode()
            got.append(msg)
            if word in msg.split("\n"):
                return msg
    try:
        ready = until("READY=1")
        assert "STATUS=0 jobs" in ready, got
        t0 = time.time()
        until("WATCHDOG=1")
        until("WATCHDOG=1")
        assert time.time() - t0 < 3, got  # every half second
        d.signal(signal.SIGHUP)
        until("RELOADING=1")
        until("READY=1")
    finally:
        assert d.stop() == 0
    until("STOPPING=1")
    s.close()
