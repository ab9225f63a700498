# SPDX-License-Identifier: BSD-2-Clause
"""dvalin unlock: stale leases go by prune's own rule, live ones stay, and
--remove-all removes them too, which makes a running backup fail at its
commit check instead of trusting data a prune may delete."""
import os
import socket
import subprocess
import time

from conftest import base_env, run, snapshots
from test_gc_safety import FrozenBackup, write


def lease(repo, name, pid, start, refresh=None, host=None, kind="backup", mtime=None):
    path = os.path.join(repo, "locks", name)
    with open(path, "w") as f:
        f.write(f"dvalin-lease 1\nkind {kind}\nhost {host or socket.gethostname()}\n"
                f"pid {pid}\nstart {start}\nrefresh {refresh or start}\n")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_stale_leases_go_live_ones_stay(world, repo):
    now = time.time_ns()
    gone = lease(repo, "00000000000000a1", dead_pid(), now)
    old = now - 10 * 3600 * 10**9
    expired = lease(repo, "00000000000000a2", 1, old, host="elsewhere", mtime=old / 1e9)
    live = lease(repo, "00000000000000a3", os.getpid(), now, kind="prune")
    other = lease(repo, "00000000000000a4", 1, now, host="elsewhere")
    r = run(["unlock", "-r", repo], env=base_env(DVALIN_PASSWORD=""))  # no password needed
    assert r.rc == 0, r
    assert not os.path.exists(gone) and not os.path.exists(expired)
    assert os.path.exists(live) and os.path.exists(other)
    assert "removed locks/00000000000000a1 (backup, host " in r.out and "its process is gone" in r.out
    assert "nothing refreshed it for the lease expiry" in r.out
    assert f"kept locks/00000000000000a3 (prune, host {socket.gethostname()}, pid {os.getpid()}" in r.out
    assert r.out.splitlines()[-1] == "2 stale leases removed, 2 live kept, 0 live removed"
    r = run(["unlock", "-r", repo, "--remove-all"], env=base_env(DVALIN_PASSWORD=""))
    assert r.rc == 0 and os.listdir(os.path.join(repo, "locks")) == [], r
    assert "removed 2 leases of processes that may still be running" in r.err


def test_remove_all_makes_a_running_backup_fail_its_commit_check(world, repo):
    data = os.path.join(world, "data")
    write(os.path.join(data, "big"), os.urandom(48 << 20))
    b = FrozenBackup(repo, data)  # stopped while reading, its lease taken
    try:
        r = run(["unlock", "-r", repo], env=base_env(DVALIN_PASSWORD=""))
        assert r.rc == 0 and os.path.exists(b.lease), r  # a stopped process is not a gone one
        assert "its process may be running" in r.out
        r = run(["unlock", "-r", repo, "--remove-all"], env=base_env(DVALIN_PASSWORD=""))
        assert r.rc == 0 and not os.path.exists(b.lease), r
        rc, out, err = b.finish()
    finally:
        if b.p.poll() is None:
            b.p.kill()
            b.p.wait()
    assert rc == 1 and "was removed: another process took this one for dead" in err, err
    assert snapshots(repo) == []
