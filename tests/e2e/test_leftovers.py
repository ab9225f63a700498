# SPDX-License-Identifier: BSD-2-Clause
"""Temporary files of writers killed in the middle of a put (docs/format.md,
"Temporary files"): check reports those that can be no live writer's, prune
removes them, and every other one stays: a live process's, a young one, a
name that is not ours."""
import os
import subprocess
import time

from conftest import base_env, run

DAY = 24 * 3600


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def temporary(path, pid, n, age):
    name = os.path.join(path, f".tmp-{pid}-{n}-leftover")
    with open(name, "wb") as f:
        f.write(b"x" * 1000)
    t = time.time() - age
    os.utime(name, (t, t))
    return name


def test_prune_removes_the_temporaries_of_dead_writers_and_check_reports_them(world, repo):
    data = os.path.join(world, "data")
    os.makedirs(data)
    with open(os.path.join(data, "f"), "wb") as f:
        f.write(os.urandom(100000))
    assert run(["backup", "-r", repo, data]).rc == 0
    packs = next(d for d, _, fs in os.walk(os.path.join(repo, "data")) if fs)
    dead = dead_pid()
    gone = [temporary(packs, dead, 0, 2 * DAY), temporary(repo, dead, 1, DAY + 600)]
    kept = [temporary(os.path.join(repo, "index"), dead, 2, 60),  # young: may be another host's
            temporary(os.path.join(repo, "locks"), os.getpid(), 3, 3 * DAY),  # a live process
            temporary(repo, "x", 4, 3 * DAY)]  # not a name dvalin makes
    nokey = base_env(DVALIN_PASSWORD="")

    r = run(["check", "-r", repo, "--json"])
    assert r.rc == 0 and r.json()["temporaries_left"] == 2 and r.json()["ok"], r
    r = run(["check", "-r", repo])
    assert r.rc == 0 and "2 temporary files left by killed writers (prune removes them)" in r.out, r
    r = run(["prune", "-r", repo, "--dry-run"], env=nokey)
    assert r.rc == 0 and "would remove:  2 temporary files left by killed writers (1.95 KiB)" in r.out, r
    assert all(os.path.exists(f) for f in gone + kept)

    r = run(["prune", "-r", repo, "--json"], env=nokey)
    g = r.json()
    assert r.rc == 0 and g["temporaries_removed"] == 2 and g["bytes_temporaries_removed"] == 2000, r
    assert not any(os.path.exists(f) for f in gone) and all(os.path.exists(f) for f in kept)
    r = run(["check", "-r", repo, "--read-data", "--json"])
    assert r.rc == 0 and r.json()["temporaries_left"] == 0 and r.json()["ok"], r
    r = run(["prune", "-r", repo, "--json"], env=nokey)
    assert r.rc == 0 and r.json()["temporaries_removed"] == 0, r
    assert all(os.path.exists(f) for f in kept)
