# SPDX-License-Identifier: BSD-2-Clause
"""A prune cannot be fooled into deleting what a running backup uses, and a
backup whose packs went away under it does not report success
(docs/concurrency.md, "Damaged leases and records" and "The commit check").

A real backup is frozen with SIGSTOP after it has read the index and
started reading its files, the repository is changed under it, and then it
is let go."""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import DVALIN, base_env, run, snapshots, tree_digest


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def pack_files(repo):
    out = set()
    for d, _, files in os.walk(os.path.join(repo, "data")):
        out.update(os.path.join(d, f) for f in files)
    return out


def lease_files(repo):
    return set(os.listdir(os.path.join(repo, "locks")))


def prune(repo, env=None):
    r = run(["prune", "-r", repo, "--json"], env=env)
    assert r.rc == 0, r
    return r.json(), r.err


class FrozenBackup:
    """`dvalin backup` stopped while it reads its files: it has taken its
    lease and read the index, and has not committed a snapshot yet."""

    def __init__(self, repo, data, env=None):
        self.repo = repo
        before = lease_files(repo)
        self.nsnaps = len(os.listdir(os.path.join(repo, "snapshots")))
        self.p = subprocess.Popen([DVALIN, "backup", "-r", repo, "--json", "--threads", "1", data],
                                  env=env or base_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        fd_dir = f"/proc/{self.p.pid}/fd"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                opened = any(os.readlink(os.path.join(fd_dir, f)).startswith(data + "/")
                             for f in os.listdir(fd_dir))
            except OSError:
                opened = False
            if opened:
                break
            assert self.p.poll() is None, self.p.communicate()
        os.kill(self.p.pid, signal.SIGSTOP)
        assert self.p.poll() is None, "the backup ended before it could be stopped"
        assert len(os.listdir(os.path.join(repo, "snapshots"))) == self.nsnaps
        mine = lease_files(repo) - before
        assert len(mine) == 1, mine
        self.lease = os.path.join(repo, "locks", mine.pop())

    def finish(self):
        os.kill(self.p.pid, signal.SIGCONT)
        out, err = self.p.communicate(timeout=600)
        assert "Sanitizer" not in err, err
        return self.p.returncode, out, err


@pytest.fixture
def scene(world, repo):
    """A snapshot S0 of `old`, a backup B of `new` (which holds a copy of
    S0's data, so B deduplicates against S0's packs, plus enough new data to
    be caught while reading), frozen; then S0 is forgotten."""
    old = os.path.join(world, "old")
    shared = os.urandom(3 << 20)
    write(os.path.join(old, "shared"), shared)
    s0 = run(["backup", "-r", repo, "--json", old]).json()["snapshot_id"]
    old_packs = pack_files(repo)
    new = os.path.join(world, "new")
    write(os.path.join(new, "shared"), shared)
    write(os.path.join(new, "zfresh"), os.urandom(48 << 20))
    want = tree_digest(new)
    b = FrozenBackup(repo, new)
    assert run(["forget", "-r", repo, s0]).rc == 0
    yield {"repo": repo, "b": b, "old_packs": old_packs, "want": want, "new": new, "world": world}
    if b.p.poll() is None:
        os.kill(b.p.pid, signal.SIGKILL)
        b.p.wait()


def backup_ok_and_intact(sc, rc, out, err):
    assert rc == 0, err
    sid = __import__("json").loads(out)["snapshot_id"]
    r = run(["check", "-r", sc["repo"], "--read-data"])
    assert r.rc == 0, r
    target = os.path.join(sc["world"], "restored")
    r = run(["restore", "-r", sc["repo"], sid, "--target", target])
    assert r.rc == 0, r
    assert tree_digest(os.path.join(target, sc["new"].lstrip("/"))) == sc["want"]


def lease_text(start, refresh, pid=None, host=None, kind="backup"):
    return (f"dvalin-lease 1\nkind {kind}\nhost {host or socket.gethostname()}\n"
            f"pid {pid or os.getpid()}\nstart {start}\nrefresh {refresh}\n").encode()


NOW = time.time_ns()
DAMAGED = {
    "garbage": os.urandom(200),
    "empty": b"",
    "truncated": lease_text(NOW, NOW)[:40],
    "start_min": lease_text(-2**63, NOW),
    "start_max": lease_text(2**63 - 1, 2**63 - 1),
    "start_negative": lease_text(-10**18, NOW),
    "refresh_min": lease_text(NOW, -2**63),
    "future": lease_text(NOW + 86400 * 10**9, NOW + 86400 * 10**9),
    "start_after_refresh": lease_text(NOW + 10**9, NOW),
    "pid_huge": lease_text(NOW, NOW, pid=2**40 + 1),
    "host_control_chars": lease_text(NOW, NOW, host="a\x1b[2Jb"),
    "overflowing_number": lease_text(NOW, NOW).replace(b"start ", b"start 99999999999999999999"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_a_damaged_lease_makes_prune_more_careful_never_less(scene, kind):
    repo = scene["repo"]
    write(os.path.join(repo, "locks", "dd" + os.urandom(7).hex()), DAMAGED[kind])
    g, err = prune(repo)  # default clock skew: the allowance is added to the times
    assert g["packs_deleted"] == 0, g
    assert scene["old_packs"] <= pack_files(repo), "packs of the running backup were deleted"
    backup_ok_and_intact(scene, *scene["b"].finish())


def test_damaged_lease_is_reported_and_expires_by_its_file_time(world, repo):
    data = os.path.join(world, "d")
    write(os.path.join(data, "f"), os.urandom(1 << 20))
    sid = run(["backup", "-r", repo, "--json", data]).json()["snapshot_id"]
    bad = os.path.join(repo, "locks", "dd" + os.urandom(7).hex())
    write(bad, b"\x00garbage")
    assert run(["forget", "-r", repo, sid]).rc == 0
    env = base_env(DVALIN_LEASE_EXPIRY="60", DVALIN_CLOCK_SKEW="0")
    g, err = prune(repo, env=env)
    assert g["packs_deleted"] == 0 and g["packs_condemned"] == 0, g
    assert os.path.basename(bad) in err and "damaged" in err, err
    # not refreshed for longer than the expiry (by the storage's clock): gone
    old = time.time() - 120
    os.utime(bad, (old, old))
    g, err = prune(repo, env=env)
    assert g["stale_leases_removed"] == 1 and g["packs_deleted"] >= 1, g
    assert not os.path.exists(bad)


def test_backup_whose_packs_were_deleted_under_it_fails(scene):
    """Packs removed behind dvalin's back (an old prune, a hand, a broken
    server): the backup must not say "snapshot saved"."""
    for p in scene["old_packs"]:
        os.unlink(p)
    rc, out, err = scene["b"].finish()
    assert rc == 1, (rc, out, err)
    assert "was deleted while this backup ran" in err, err
    assert err.count("\n") == 1, err
    assert len(os.listdir(os.path.join(scene["repo"], "snapshots"))) == 0


def test_backup_whose_packs_a_prune_condemned_and_deleted_fails(scene):
    """A lease that claims a later start than the truth (a clock that
    jumped): real prunes condemn and then delete what the backup uses."""
    repo, b = scene["repo"], scene["b"]
    env = base_env(DVALIN_CLOCK_SKEW="0")
    g, _ = prune(repo, env=env)
    assert g["packs_condemned"] >= 1 and g["packs_deleted"] == 0 and g["records_waiting"] == 1, g
    text = open(b.lease, "rb").read().decode()
    later = time.time_ns()
    fields = dict(line.split(" ", 1) for line in text.splitlines()[1:])
    write(b.lease, lease_text(later, later, pid=fields["pid"], host=fields["host"]))
    g, _ = prune(repo, env=env)
    assert g["packs_deleted"] >= 1, g
    rc, out, err = b.finish()
    assert rc == 1, (rc, out, err)
    assert "was deleted while this backup ran" in err, err
    assert len(os.listdir(os.path.join(repo, "snapshots"))) == 0


def test_backup_using_condemned_packs_still_commits(scene):
    """The normal race of docs/concurrency.md: condemned while the backup
    runs, protected by its lease, returned by the next prune."""
    repo = scene["repo"]
    env = base_env(DVALIN_CLOCK_SKEW="0")
    g, _ = prune(repo, env=env)
    assert g["packs_condemned"] >= 1 and g["records_waiting"] == 1, g
    backup_ok_and_intact(scene, *scene["b"].finish())
    g, _ = prune(repo, env=env)
    assert g["packs_returned"] >= 1, g  # S0's own trees may go
    assert run(["check", "-r", repo, "--read-data"]).rc == 0
    assert snapshots(repo)


@pytest.mark.parametrize("value", ["nan", "-nan", "inf", "-300", "1e400", "0x", ""])
def test_unusable_allowances_fall_back_to_the_defaults(scene, value):
    """DVALIN_CLOCK_SKEW / DVALIN_LEASE_EXPIRY that are not a number of
    seconds from 0 to 10^7 mean the default; NaN used to be cast to an
    integer (undefined; INT64_MIN on x86)."""
    env = base_env(DVALIN_CLOCK_SKEW=value, DVALIN_LEASE_EXPIRY=value)
    g, _ = prune(scene["repo"], env=env)
    assert g["packs_deleted"] == 0, g
    backup_ok_and_intact(scene, *scene["b"].finish())
