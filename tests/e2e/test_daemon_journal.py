# SPDX-License-Identifier: BSD-2-Clause
"""The daemon's change-journal recorders (docs/daemon.md, "Change journal"):
a backup job with journal = yes gets a recorder when the daemon starts and
--journal on its backups; after the first (full) backup and some edits the
next one walks only what the journal named and gives the tree a full walk
gives; a killed recorder is restarted and the backup after it walks
everything, saying why; a reload that drops the journal stops the recorder;
a recorder that cannot start (no CAP_SYS_ADMIN) is a full walk with the
reason in the run and the log once; a stopped daemon leaves no recorder."""
import os
import random
import re
import signal

import pytest

import services
from conftest import run, small_tmpfs
from daemonutil import Daemon
from test_daemon import config
from test_journal import edit, populate, subtree_id


def conf(world, repo, data, journal="yes"):
    return config(world, repo, f"""
[backup home]
repository = main
path = {data}
journal = {journal}
""")


def alive(pid):
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def recorder(d, state="recording", other_than=None):
    """Waits until the job's recorder is in state (and, with other_than, is a new process)."""
    def ok():
        j = d.jobs()["home"]["journal"]
        return j if j and j["recorder"] == state and j["pid"] != other_than else None
    return d.wait(ok, 60, f"the recorder {state}")


def backup_now(d, n):
    """Asks for the job's n-th run and returns its document."""
    d.run_now("home")
    runs = d.wait_runs("home", n)
    doc = d.run_doc(runs[0]["id"])
    assert doc["status"] == "ok", doc
    return doc


def metric(d, name):
    m = re.search(rf'^{name}{{job_name="home",kind="backup"}} (\S+)$', d.api("/metrics").text, re.M)
    return m and m.group(1)


@pytest.fixture
def data(world):
    with small_tmpfs(os.path.join(world, "data"), "64m") as p:
        yield p


def test_daemon_keeps_a_recorder_and_its_backups_use_the_journal(world, repo, data):
    rng = random.Random(71)
    populate(data, rng)
    d = Daemon(world, conf(world, repo, data))
    d.start(wait_web=False)
    pid = None
    try:
        j = recorder(d)
        pid = j["pid"]
        assert alive(pid) and j["file"] == os.path.join(world, "state", "journal", "home.journal"), j
        first = backup_now(d, 1)
        assert first["summary"]["journal"] == {"used": False, "directories": 0, "reason": "no parent snapshot"}
        assert metric(d, "dvalin_job_journal_used") == "0"
        edit(data, rng)
        second = backup_now(d, 2)
        js = second["summary"]["journal"]
        assert js["used"] is True and js["directories"] > 0 and js["reason"] is None, second
        assert "--journal=" in second["log"], second["log"]
        assert metric(d, "dvalin_job_journal_used") == "1"
        assert metric(d, "dvalin_job_journal_recorder_up") == "1"
        if os.path.exists("/usr/bin/promtool"):
            text = d.api("/metrics").text
            rc, out = services.promtool_check_metrics(text)
            assert rc == 0, out + text
        # the same state walked fully: the same tree
        r = run(["backup", "-r", repo, data])
        assert r.rc == 0, r
        full = run(["snapshots", "-r", repo, "--json"]).json()[-1]["id"]
        assert subtree_id(repo, second["summary"]["snapshot_id"], data) == subtree_id(repo, full, data)

        # a killed recorder: restarted, and the backup after it walks everything, saying why
        os.kill(pid, signal.SIGKILL)
        j = recorder(d, other_than=pid)
        assert j["restarts"] == 1 and "killed by signal 9" in j["reason"], j
        assert not alive(pid)
        pid = j["pid"]
        assert metric(d, "dvalin_job_journal_recorder_restarts_total") == "1"
        edit(data, rng)
        third = backup_now(d, 3)
        js = third["summary"]["journal"]
        assert js["used"] is False and "the journal started after the parent snapshot's walk" in js["reason"], js
        assert js["reason"].startswith("the daemon restarted its recorder since the last backup (the recorder "
                                       "ended (killed by signal 9)"), js
        assert metric(d, "dvalin_job_journal_used") == "0"
        edit(data, rng)
        fourth = backup_now(d, 4)
        assert fourth["summary"]["journal"]["used"] is True, fourth
        assert "the recorder ended (killed by signal 9)" in d.log(), d.log()
        r = run(["jobs", "history", "home", "--config", d.conf_path])
        assert r.rc == 0 and r.out.count("journal used") == 2 and r.out.count("journal not used") == 2, r
    finally:
        assert d.stop() == 0
    # the daemon's stop stopped its recorder, which ended cleanly
    assert pid and not alive(pid)
    assert "asked to stop, ended" not in d.log(), d.log()


def test_reload_stops_and_starts_recorders(world, repo, data):
    os.makedirs(os.path.join(data, "a"))
    os.makedirs(os.path.join(data, "b"))
    d = Daemon(world, conf(world, repo, os.path.join(data, "a")))
    d.start(wait_web=False)
    try:
        first = recorder(d)["pid"]
        # other paths: a new recorder for them
        d.write_conf(conf(world, repo, os.path.join(data, "b")))
        d.signal(signal.SIGHUP)
        second = recorder(d, other_than=first)["pid"]
        d.wait(lambda: not alive(first), 60, "the first recorder gone")
        assert "stopping its recorder (its paths changed)" in d.log()
        # journal = no: none
        d.write_conf(conf(world, repo, os.path.join(data, "b"), journal="no"))
        d.signal(signal.SIGHUP)
        d.wait(lambda: d.jobs()["home"]["journal"] is None and not alive(second), 60, "no recorder")
        assert metric(d, "dvalin_job_journal_recorder_up") is None
        r = backup_now(d, 1)
        assert r["summary"]["journal"] is None and "--journal" not in r["log"], r
    finally:
        assert d.stop() == 0
    assert "asked to stop, ended" not in d.log(), d.log()


def test_a_recorder_that_cannot_start_is_a_full_walk_with_its_reason(world, repo, data):
    populate(data, random.Random(3))
    # root without CAP_SYS_ADMIN: fanotify_init fails
    d = Daemon(world, conf(world, repo, data),
               prefix=["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--"])
    d.start(wait_web=False)
    try:
        j = d.wait(lambda: (lambda x: x if x["restarts"] >= 2 else None)(d.jobs()["home"]["journal"]),
                   60, "two failed starts")
        assert j["recorder"] in ("down", "starting") and "could not start" in j["reason"], j
        assert "fanotify" in j["reason"] and "not permitted" in j["reason"], j
        assert metric(d, "dvalin_job_journal_recorder_up") == "0"
        r = backup_now(d, 1)
        js = r["summary"]["journal"]
        assert js["used"] is False and "the daemon's recorder is" in js["reason"], js
        assert "fanotify" in js["reason"] and "not permitted" in js["reason"], js
        r = run(["jobs", "--config", d.conf_path])
        assert r.rc == 0 and "home: change-journal recorder " in r.out and "not permitted" in r.out, r
        # logged once, however often it is tried
        assert d.log().count("change journal: the recorder could not start") == 1, d.log()
    finally:
        assert d.stop() == 0
