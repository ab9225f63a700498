# SPDX-License-Identifier: BSD-2-Clause
"""The change journal (docs/journal.md): a backup that walks only what the
recorder named gives the same tree as a full walk of the same state, after
random edits of every kind; any gap makes it walk everything, saying so."""
import json
import os
import random
import select
import signal
import subprocess
import time

import pytest

from conftest import DVALIN, base_env, run, small_tmpfs, snapshots


def subtree_id(repo, snap, path):
    """The tree id of directory path in a snapshot (the root tree holds the
    metadata of /tmp, which changes whenever anything in it does)."""
    t = run(["cat", "-r", repo, "tree", snap]).json()
    tid = t["id"]
    for comp in path.strip("/").split("/"):
        tid = [n for n in t["nodes"] if n["name"] == comp][0]["subtree"]
        t = run(["cat", "-r", repo, "tree", tid]).json()
    return tid


class Recorder:
    def __init__(self, journal, path):
        self.p = subprocess.Popen([DVALIN, "journal", journal, path], env=base_env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        line = ""
        while not line and time.monotonic() < deadline and self.p.poll() is None:
            r, _, _ = select.select([self.p.stdout], [], [], 1)
            if r:
                line = self.p.stdout.readline()
        assert line.strip() == "recording", (line, self.p.stderr.read() if self.p.poll() is not None else "")

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(timeout=60)
        err = self.p.stderr.read()
        assert self.p.returncode == 0, err
        assert "Sanitizer" not in err, err


def files_of(root):
    out = []
    for d, _, fs in os.walk(root):
        out += [os.path.join(d, f) for f in fs]
    return sorted(out)


def dirs_of(root):
    return sorted(d for d, _, _ in os.walk(root))


def populate(root, rng):
    for i in range(12):
        d = os.path.join(root, *[f"d{rng.randrange(4)}" for _ in range(rng.randrange(1, 4))])
        os.makedirs(d, exist_ok=True)
        for j in range(rng.randrange(1, 6)):
            with open(os.path.join(d, f"f{i}-{j}"), "wb") as f:
                f.write(rng.randbytes(rng.randrange(0, 3000)))


def edit(root, rng, links=False):
    """Random edits of every kind the journal must see."""
    for _ in range(12):
        fs, ds = files_of(root), dirs_of(root)
        k = rng.randrange(11 if links else 9)
        f = rng.choice(fs) if fs else None
        d = rng.choice(ds)
        if k == 0 and f:  # same size, mtime put back: only ctime tells
            st = os.stat(f)
            with open(f, "r+b") as h:
                h.write(rng.randbytes(min(st.st_size, 16)))
            os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
        elif k == 1 and f:
            with open(f, "ab") as h:
                h.write(b"more")
        elif k == 2 and f:  # a file to another directory
            os.rename(f, os.path.join(d, f"m{rng.randrange(10**6)}"))
        elif k == 3 and f:
            os.chmod(f, rng.choice([0o600, 0o644, 0o755]))
        elif k == 4 and f:
            os.chown(f, rng.choice([0, 1, 2]), rng.choice([0, 1, 2]))
        elif k == 5 and f:
            os.setxattr(f, "user.j", rng.randbytes(8))
        elif k == 6 and f:
            try:
                os.removexattr(f, "user.j")
            except OSError:
                os.unlink(f)
        elif k == 7:  # a new deep directory
            deep = os.path.join(d, *[f"n{rng.randrange(100)}" for _ in range(4)])
            os.makedirs(deep, exist_ok=True)
            with open(os.path.join(deep, "x"), "wb") as h:
                h.write(rng.randbytes(100))
        elif k == 8 and d != root:  # a directory elsewhere, or gone
            if rng.random() < 0.5:
                target = os.path.join(root, f"r{rng.randrange(10**6)}")
                if not target.startswith(d + "/"):
                    os.rename(d, target)
            else:
                subprocess.run(["rm", "-rf", d], check=True)
        elif k == 9 and f:
            os.link(f, os.path.join(d, f"l{rng.randrange(10**6)}"))
        elif k == 10:
            linked = [x for x in fs if os.stat(x).st_nlink > 1]
            if linked:
                os.unlink(rng.choice(linked))


def backup(repo, data, journal=None):
    args = ["backup", "-r", repo, data] + (["--journal", journal] if journal else [])
    r = run(args)
    assert r.rc == 0, r
    return r


def latest(repo):
    s = run(["snapshots", "-r", repo, "--json"]).json()[-1]
    return s["id"], s["summary"]


def same_as_full_walk(repo, data, journal):
    """A journal backup, then a full walk of the same state: equal trees."""
    rj = backup(repo, data, journal)
    jid, jsum = latest(repo)
    backup(repo, data)
    fid, fsum = latest(repo)
    assert subtree_id(repo, jid, data) == subtree_id(repo, fid, data)
    for k in ("total_files", "total_bytes", "dirs"):
        assert jsum[k] == fsum[k], (k, jsum, fsum)
    return rj


@pytest.fixture
def setup(world, repo):
    data = os.path.join(world, "data")
    with small_tmpfs(data, "64m"):
        yield repo, data, os.path.join(world, "journal")


def test_journal_backup_equals_full_walk(setup):
    repo, data, journal = setup
    rng = random.Random(17)
    populate(data, rng)
    rec = Recorder(journal, data)
    try:
        r = backup(repo, data, journal)
        assert "journal not used: no parent snapshot" in r.err, r
        for _ in range(4):
            edit(data, rng)
            r = same_as_full_walk(repo, data, journal)
            assert "journal:" in r.out and "journal not used" not in r.err, r
        # nothing changed: only the way down is walked
        r = same_as_full_walk(repo, data, journal)
        assert "journal:" in r.out, r
        assert "0 new, 0 changed" in r.out, r
        # hard links: the recorder cannot find an inode's other names, a gap
        for _ in range(3):
            edit(data, rng, links=True)
            same_as_full_walk(repo, data, journal)
        f = files_of(data)[0]
        os.link(f, f + ".hl")
        r = same_as_full_walk(repo, data, journal)
        assert "journal not used: a gap in the journal since the parent snapshot" in r.err, r
    finally:
        rec.stop()


def test_journal_gaps_walk_everything(setup):
    repo, data, journal = setup
    rng = random.Random(5)
    populate(data, rng)
    rec = Recorder(journal, data)
    backup(repo, data, journal)
    rec.stop()
    # the recorder is not running: changes made now are seen by no one
    edit(data, rng)
    r = same_as_full_walk(repo, data, journal)
    assert "journal not used: no recorder is running" in r.err, r
    rec = Recorder(journal, data)
    try:
        edit(data, rng)
        # a new recorder starts a new epoch, after the parent's walk
        r = same_as_full_walk(repo, data, journal)
        assert "journal not used: the journal started after the parent snapshot's walk" in r.err, r
        # from then on it covers the parent
        edit(data, rng)
        r = same_as_full_walk(repo, data, journal)
        assert "journal:" in r.out, r
        # other excludes than the parent's: its trees would be wrong
        r = run(["backup", "-r", repo, data, "--journal", journal, "--exclude", "*.none"])
        assert r.rc == 0 and "journal not used: the parent snapshot was taken with other excludes" in r.err, r
    finally:
        rec.stop()
    assert len(snapshots(repo)) >= 7


def test_journal_queue_overflow_walks_everything(setup):
    """More events than the kernel queues while the recorder does not read
    (stopped by SIGSTOP): FAN_Q_OVERFLOW, a gap, a full walk."""
    repo, data, journal = setup
    with open("/proc/sys/fs/fanotify/max_queued_events") as f:
        limit = int(f.read())
    if limit > 100000:
        pytest.skip(f"the kernel queues {limit} fanotify events: too many to overflow cheaply")
    rng = random.Random(9)
    populate(data, rng)
    rec = Recorder(journal, data)
    try:
        backup(repo, data, journal)
        os.kill(rec.p.pid, signal.SIGSTOP)
        try:
            many = os.path.join(data, "many")
            os.mkdir(many)
            for i in range(limit + 1000):  # distinct names: the kernel merges none of them
                os.close(os.open(os.path.join(many, f"{i}"), os.O_CREAT | os.O_WRONLY, 0o644))
        finally:
            os.kill(rec.p.pid, signal.SIGCONT)
        r = same_as_full_walk(repo, data, journal)
        assert "journal not used: a gap in the journal since the parent snapshot: " \
               "the kernel's event queue overflowed" in r.err, r
        # a parent whose walk starts more than the journal's one second of
        # slack after the gap (docs/journal.md) makes the journal serve again
        with open(journal) as f:
            stamp = max(float(l.split()[1]) for l in f if l.startswith("gap "))
        deadline = time.monotonic() + 30
        while time.time() <= stamp + 1.1 and time.monotonic() < deadline:
            time.sleep(0.1)
        backup(repo, data)
        edit(data, rng)
        r = same_as_full_walk(repo, data, journal)
        assert "journal:" in r.out and "journal not used" not in r.err, r
    finally:
        rec.stop()


def journal_size(repo, snap, journal):
    ls = run(["ls", "-r", repo, snap, os.path.dirname(journal), "--json"])
    assert ls.rc == 0, ls
    nodes = [json.loads(l) for l in ls.out.splitlines() if l.strip()]
    sizes = [n["size"] for n in nodes if n.get("path") == journal]
    assert sizes, nodes
    return sizes[0]


def test_journal_inside_the_backed_up_tree_is_walked_each_time(setup):
    """The journal in a backed-up directory (the daemon's state directory
    below a path): the recorder does not record its own writes (each would
    be a change to write, a line a second for ever), so the backup walks the
    journal's directory every time instead, and its copy is current."""
    repo, data, _ = setup
    rng = random.Random(23)
    populate(data, rng)
    state = os.path.join(data, "state")
    os.mkdir(state)
    journal = os.path.join(state, "j")
    rec = Recorder(journal, data)
    try:
        backup(repo, data, journal)
        edit(data, rng)
        r = backup(repo, data, journal)
        assert "journal:" in r.out, r
        second, _ = latest(repo)
        r = backup(repo, data, journal)
        assert "journal:" in r.out and "journal not used" not in r.err, r
        # the journal's directory was walked: each backup's copy holds its own sync line
        assert journal_size(repo, second, journal) < journal_size(repo, latest(repo)[0], journal)
    finally:
        rec.stop()
