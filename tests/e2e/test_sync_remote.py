# SPDX-License-Identifier: BSD-2-Clause
"""sync against a real dvalin server (docs/sync.md, "Sync and a server"):
push from a local repository to the server over https with an append
token and over ssh with an append-only key, pull from the server with a
read token, server to server; what each right allows (an append token
pushes but --remove-vanished is refused before anything changes; a read
token cannot push); a token revoked or expired in the middle of a sync;
every snapshot restored from the replica exactly; and the issue's chain,
client -> server over https -> backup box over ssh -> cold drive."""
import json
import os
import random
import shutil
import subprocess
import time

import pytest

from conftest import DVALIN, PASSWORD, base_env, run
import treeutil
from test_sync import loop_drive  # noqa: F401  (a fixture)

NO_PASSWORD = {k: v for k, v in base_env().items() if k != "DVALIN_PASSWORD"}


def env_for(server, world, token):
    """A client without the password that reaches server with token."""
    e = dict(NO_PASSWORD, XDG_CACHE_HOME=os.path.join(world, "cache"), DVALIN_RETRY_SECONDS="5")
    e["DVALIN_FINGERPRINT"] = server.fingerprint
    if token:
        e["DVALIN_TOKEN"] = token
    return e


def snapshots(repo, env):
    r = run(["snapshots", "-r", repo, "--json"], env=dict(env, DVALIN_PASSWORD=PASSWORD))
    assert r.rc == 0, r
    return r.json()


def errors(r):
    """The error lines, without the warnings `serve --stdio` at the other
    end of an ssh connection writes to its stderr (which ssh forwards)."""
    return [x for x in r.err.splitlines() if x.strip() and "warning:" not in x]


def sync(src, dst, env, *extra, rc=0):
    r = run(["sync", "--from", src, "--to", dst, "--json", *extra], env=env)
    assert r.rc == rc, r
    return r.json()


def write_files(root, rng, n, size):
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        with open(os.path.join(root, f"f{i}"), "wb") as f:
            f.write(rng.randbytes(size))


def backup(repo, data):
    r = run(["backup", "-r", repo, "--json", data])
    assert r.rc == 0, r
    return r.json()["snapshot_id"]


def local_source(world, rounds=2, n=6, size=150_000, seed=3):
    """A local repository with `rounds` snapshots of a changing tree:
    (its path, the tree, the snapshot ids)."""
    src = os.path.join(world, "src")
    assert run(["init", "-r", src, "--kdf-log-n", "10"]).rc == 0
    data = os.path.join(world, "data")
    rng = random.Random(seed)
    ids = []
    for k in range(rounds):
        write_files(os.path.join(data, f"r{k}"), rng, n, size)
        ids.append(backup(src, data))
    return src, data, ids


def new_server_repo(server, name, admin_env, source=None):
    """An empty repository on the server; with source, a replica of it
    made through the admin token."""
    server.add_repo(name)
    if source:
        r = run(["init", "--replica-of", source, server.url(name)], env=admin_env)
        assert r.rc == 0 and "created replica" in r.out, r
    return server.url(name)


def replica_on_server(s, world, prefix):
    """A local source of two snapshots and an empty replica of it on the
    server s: (src, data, ids, the repository's name, URL, the admin's
    environment, an append token's environment)."""
    src, data, ids = local_source(world)
    name, url, admin = server_replica(s, world, prefix, src)
    append = env_for(s, world, s.add_token(f"{name}-append", "append", repo=name))
    return src, data, ids, name, url, admin, append


def server_replica(s, world, prefix, src):
    """An empty replica of src on the server s: (its name, URL, the admin's environment)."""
    name = f"{prefix}{os.getpid()}-{time.monotonic_ns()}"
    admin = env_for(s, world, s.admin_token)
    return name, new_server_repo(s, name, admin, source=src), admin


def data_files(d):
    return sorted(f for dp, _, fs in os.walk(os.path.join(d, "data")) for f in fs
                  if not f.startswith("."))


def restores_exactly(world, ids, a, a_env, b, b_env, data):
    """Every snapshot of the tree data restored from b (with the password)
    is the one restored from a, attribute by attribute."""
    for sid in ids:
        ta, tb = os.path.join(world, "ta"), os.path.join(world, "tb")
        for repo, env, t in ((a, a_env, ta), (b, b_env, tb)):
            r = run(["restore", "-r", repo, sid, "--target", t],
                    env=dict(env, DVALIN_PASSWORD=PASSWORD))
            assert r.rc == 0, (repo, sid, r)
        inner = data.lstrip("/")  # the target itself is not restored
        treeutil.compare(os.path.join(ta, inner), os.path.join(tb, inner))
        shutil.rmtree(ta)
        shutil.rmtree(tb)


def test_push_over_https_with_an_append_token_then_pull_with_a_read_token(dvalin_server, world):
    s = dvalin_server
    src, data, ids, name, url, admin, append = replica_on_server(s, world, "push")
    read = env_for(s, world, s.add_token(f"{name}-read", "read", repo=name))

    # a read token cannot push: one line naming the right, nothing written
    r = run(["sync", "--from", src, "--to", url], env=read)
    assert r.rc == 1 and len(r.err.splitlines()) == 1, r
    assert "may not be written" in r.err and "'read'" in r.err and "'append'" in r.err, r
    assert data_files(s.repo_dir(name)) == [] and snapshots(url, admin) == []

    doc = sync(src, url, append)
    assert doc["snapshots_copied"] == 2 and doc["packs_reused"] >= 1 and doc["error"] is None, doc
    # the server holds the source's files byte for byte
    for sid in ids:
        with open(os.path.join(src, "snapshots", sid), "rb") as a, \
                open(os.path.join(s.repo_dir(name), "snapshots", sid), "rb") as b:
            assert a.read() == b.read()
    # data packs are copied whole (trees are repacked by the walk)
    assert doc["packs_reused"] >= 2 and doc["packs_repacked"] == 0, doc
    c = s.cli("check", name, "--read-data", check=False)
    assert c.returncode == 0, c.stdout + c.stderr
    # incremental: only the new snapshot's data crosses
    write_files(os.path.join(data, "more"), random.Random(9), 2, 100_000)
    ids.append(backup(src, data))
    doc = sync(src, url, append)
    assert doc["snapshots_copied"] == 1 and doc["snapshots_present"] == 2, doc
    assert doc["bytes_read"] < 400_000, doc
    assert sync(src, url, append)["bytes_written"] == 0

    # pull: the backup box takes the server's copy with a read token
    box = os.path.join(world, "box")
    r = run(["init", "--replica-of", url, box], env=read)
    assert r.rc == 0, r
    doc = sync(url, box, read)
    assert doc["snapshots_copied"] == 3 and doc["error"] is None, doc
    assert run(["check", "-r", box, "--read-data"]).rc == 0
    restores_exactly(world, ids, src, NO_PASSWORD, box, NO_PASSWORD, data)
    # the latest also equals the live tree
    t = os.path.join(world, "live")
    assert run(["restore", "-r", box, ids[-1], "--target", t]).rc == 0
    treeutil.compare(data, os.path.join(t, data.lstrip("/")))


def test_an_append_token_cannot_remove_vanished_snapshots(dvalin_server, world):
    s = dvalin_server
    src, data, ids, name, url, admin, append = replica_on_server(s, world, "rv")
    assert sync(src, url, append)["snapshots_copied"] == 2
    assert run(["forget", "-r", src, ids[0]]).rc == 0
    write_files(os.path.join(data, "new"), random.Random(4), 2, 50_000)
    assert run(["backup", "-r", src, data]).rc == 0
    before = sorted(os.listdir(os.path.join(s.repo_dir(name), "snapshots")))
    # refused before anything is copied or removed, in one line naming the right
    r = run(["sync", "--from", src, "--to", url, "--remove-vanished"], env=append)
    assert r.rc == 1 and len(r.err.splitlines()) == 1, r
    assert "--remove-vanished" in r.err and "'prune'" in r.err, r
    assert sorted(os.listdir(os.path.join(s.repo_dir(name), "snapshots"))) == before
    # a dry run only reads: it says what would go
    doc = sync(src, url, append, "--remove-vanished", "--dry-run")
    assert doc["snapshots_removed"] == 1 and doc["snapshots_copied"] == 1, doc
    # without it the append token copies the new snapshot and removes nothing
    doc = sync(src, url, append)
    assert doc["snapshots_copied"] == 1 and doc["snapshots_removed"] == 0, doc
    assert ids[0] in {x["id"] for x in snapshots(url, admin)}
    # a prune token may
    prune = env_for(s, world, s.add_token(f"{name}-prune", "prune", repo=name))
    doc = sync(src, url, prune, "--remove-vanished")
    assert doc["snapshots_removed"] == 1, doc
    assert ids[0] not in {x["id"] for x in snapshots(url, admin)}


def test_push_over_ssh_with_an_append_only_key(sshd, world):
    src, data, ids = local_source(world)
    d = os.path.join(world, "remote")
    env = sshd.client_env(dict(NO_PASSWORD, XDG_CACHE_HOME=os.path.join(world, "cache")))
    r = run(["init", "--replica-of", src, sshd.url(d)], env=env)
    assert r.rc == 0, r
    sshd.authorize(sshd.key_line(options=f'command="dvalin serve --stdio --append-only {d}",restrict'))
    doc = sync(src, sshd.url(d), env)
    assert doc["snapshots_copied"] == 2 and doc["error"] is None, doc
    assert sorted(os.listdir(os.path.join(d, "snapshots"))) == sorted(ids)
    assert run(["check", "-r", d, "--read-data"]).rc == 0
    restores_exactly(world, ids, src, NO_PASSWORD, sshd.url(d), env, data)
    # the key may append, not remove
    assert run(["forget", "-r", src, ids[0]]).rc == 0
    r = run(["sync", "--from", src, "--to", sshd.url(d), "--remove-vanished"], env=env)
    assert r.rc == 1 and len(errors(r)) == 1 and "--remove-vanished" in r.err, r
    assert "'prune'" in r.err, r
    assert sorted(os.listdir(os.path.join(d, "snapshots"))) == sorted(ids)
    # pull back over ssh with a read-only key
    sshd.authorize(sshd.key_line(options=f'command="dvalin serve --stdio --rights read {d}",restrict'))
    box = os.path.join(world, "box")
    assert run(["init", "--replica-of", sshd.url(d), box], env=env).rc == 0
    doc = sync(sshd.url(d), box, env)
    assert doc["snapshots_copied"] == 2, doc
    r = run(["sync", "--from", box, "--to", sshd.url(d)], env=env)
    assert r.rc == 1 and len(errors(r)) == 1 and "may not be written" in r.err, r


def test_server_to_server(dvalin_server, world):
    """A replica on one server filled from a repository on another, each
    reached with its own token and certificate (DVALIN_FROM_TOKEN,
    DVALIN_FROM_FINGERPRINT name the source's)."""
    import services
    a = dvalin_server
    src, data, ids = local_source(world)
    name, a_url, a_admin = server_replica(a, world, "s2s", src)
    assert sync(src, a_url, a_admin)["snapshots_copied"] == 2
    a_read = a.add_token(f"{name}-read", "read", repo=name)
    b = services.DvalinServer(DVALIN).start()
    try:
        b_admin_tok = b.add_token("admin", "admin")
        b_admin = env_for(b, world, b_admin_tok)
        b.add_repo(name)
        b_append = b.add_token("append", "append", repo=name)
        # the replica on b is made from a: each side's own credentials
        both = env_for(b, world, b_admin_tok)
        both.update(DVALIN_FROM_TOKEN=a_read, DVALIN_FROM_FINGERPRINT=a.fingerprint)
        r = run(["init", "--replica-of", a_url, b.url(name)], env=both)
        assert r.rc == 0, r
        both["DVALIN_TOKEN"] = b_append
        doc = sync(a_url, b.url(name), both)
        assert doc["snapshots_copied"] == 2 and doc["packs_reused"] >= 1, doc
        assert data_files(b.repo_dir(name)) == data_files(a.repo_dir(name))
        c = b.cli("check", name, "--read-data", check=False)
        assert c.returncode == 0, c.stdout + c.stderr
        restores_exactly(world, ids, src, NO_PASSWORD, b.url(name), b_admin, data)
        # with only the destination's credentials the source is not reached
        only_b = env_for(b, world, b_append)
        r = run(["sync", "--from", a_url, "--to", b.url(name)], env=only_b)
        assert r.rc == 1 and len(r.err.splitlines()) == 1 and a_url in r.err, r
    finally:
        b.stop()


def wait_for(what, cond, p, timeout=300):
    deadline = time.monotonic() + timeout
    while not cond():
        assert p.poll() is None, f"the sync ended before {what}: make it slower"
        assert time.monotonic() < deadline, f"no {what} in {timeout} s"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_a_token_revoked_or_expired_mid_sync_fails_in_one_line_and_a_new_one_resumes(
        dvalin_server, world, how):
    """The source's packs cross one at a time at a capped rate, so the
    token goes while the sync is under way (revoked: once a first pack is
    on the server; expired: it lives a few seconds, and a sync that starts
    after it expired fails the same way); the sync stops with one line
    naming the token's state, the server keeps what arrived, and a sync
    with a new token completes without copying it again."""
    s = dvalin_server
    src = os.path.join(world, "src")
    assert run(["init", "-r", src, "--kdf-log-n", "10"]).rc == 0
    data = os.path.join(world, "data")
    rng = random.Random(21)
    ids = []
    for k in range(6):  # one pack per backup
        write_files(os.path.join(data, f"r{k}"), rng, 2, 300_000)
        ids.append(backup(src, data))
    name, url, admin = server_replica(s, world, "tok", src)
    tok = s.add_token(f"{name}-a", "append", repo=name, expires="3s" if how == "expired" else None)
    p = subprocess.Popen([DVALIN, "sync", "--from", src, "--to", url, "--limit-rate", "300K",
                          "--threads", "1"], env=env_for(s, world, tok),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if how == "revoked":
            wait_for("a first pack on the server", lambda: data_files(s.repo_dir(name)), p)
            s.cli("token", "revoke", f"{name}-a")
        out, err = p.communicate(timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert "Sanitizer" not in err, err
    assert p.returncode == 1, (out, err)
    # (a warning may say the lease the sync held could not be removed either)
    lines = [x for x in err.splitlines() if x.strip() and "warning:" not in x]
    assert len(lines) == 1 and how in lines[0] and "127.0.0.1" in lines[0], err
    arrived = data_files(s.repo_dir(name))
    assert len(arrived) < 6, "the whole sync ran before the token went"
    c = s.cli("check", name, check=False)
    assert c.returncode == 0, c.stdout + c.stderr
    fresh = env_for(s, world, s.add_token(f"{name}-b", "append", repo=name))
    doc = sync(src, url, fresh)
    assert doc["snapshots_copied"] + doc["snapshots_present"] == 6 and doc["error"] is None, doc
    # what had arrived is not sent again: whole packs on the server stay as they were
    assert doc["packs_reused"] + doc["packs_repacked"] <= 6 - len([x for x in arrived if len(x) == 64]), doc
    c = s.cli("check", name, "--read-data", check=False)
    assert c.returncode == 0, c.stdout + c.stderr
    assert {x["id"] for x in snapshots(url, admin)} == set(ids)
    restores_exactly(world, ids[-1:], src, NO_PASSWORD, url, admin, data)


def test_chain_client_server_backup_box_over_ssh_cold_drive(dvalin_server, sshd, world,
                                                           loop_drive, http_receiver):
    """The issue's chain: a client pushes to the server over https with an
    append token; the backup box pulls the server's repository over ssh
    with a read-only key; the cold drive (a loop device, the unit's
    script) takes the backup box's replica.  Every snapshot restored from
    the cold copy equals the client's, attribute by attribute."""
    from test_sync import cold_conf, messages, run_cold
    from conftest import is_root
    s = dvalin_server
    dev, mnt = loop_drive
    src = os.path.join(world, "client")
    assert run(["init", "-r", src, "--kdf-log-n", "10"]).rc == 0
    data = os.path.join(world, "data")
    treeutil.make_awkward_tree(data, is_root())
    ids = []
    for k in range(2):
        if k:
            with open(os.path.join(data, "big.bin"), "r+b") as f:
                f.seek(1 << 20)
                f.write(os.urandom(4096))
        ids.append(backup(src, data))
    name, url, admin = server_replica(s, world, "chain", src)
    push = env_for(s, world, s.add_token(f"{name}-append", "append", repo=name))
    assert sync(src, url, push)["snapshots_copied"] == 2
    # the backup box reaches the server's repository directory over ssh, read-only
    on_server = s.repo_dir(name)
    sshd.authorize(sshd.key_line(options=f'command="dvalin serve --stdio --rights read {on_server}",restrict'))
    ssh_env = sshd.client_env(dict(NO_PASSWORD, XDG_CACHE_HOME=os.path.join(world, "cache")))
    box = os.path.join(world, "backupbox")
    assert run(["init", "--replica-of", sshd.url(on_server), box], env=ssh_env).rc == 0
    assert sync(sshd.url(on_server), box, ssh_env)["snapshots_copied"] == 2
    assert subprocess.run(["mount", dev, mnt]).returncode == 0
    p = run_cold(cold_conf(world, box, mnt, http_receiver))
    assert p.returncode == 0, p.stderr
    assert messages(http_receiver) == ["cold copy complete, 2 snapshots (2 new), safe to unplug"]
    assert subprocess.run(["mount", "-o", "ro", dev, mnt]).returncode == 0
    cold = os.path.join(mnt, "nas")
    assert run(["check", "-r", cold, "--read-data"]).rc == 0
    restores_exactly(world, ids, src, NO_PASSWORD, cold, NO_PASSWORD, data)
    t = os.path.join(world, "live")
    assert run(["restore", "-r", cold, ids[-1], "--target", t]).rc == 0
    treeutil.compare(data, os.path.join(t, data.lstrip("/")))


def read_leases(repo_dir):
    d = os.path.join(repo_dir, "locks")
    out = []
    for f in os.listdir(d) if os.path.isdir(d) else []:
        if not f.startswith("."):
            with open(os.path.join(d, f)) as h:
                if "\nkind read\n" in h.read():
                    out.append(f)
    return out


def test_a_pull_with_a_read_token_holds_a_read_lease_that_keeps_a_server_prune_from_deleting(
        dvalin_server, world):
    """Issue #11: a pull holds a read lease on the source.  The pull is
    frozen (SIGSTOP) once its lease is on the server; a snapshot is
    forgotten there and the server prunes: its packs are condemned, not
    deleted, while the lease lives (before read leases, they were deleted
    at once); the pull then copies the other snapshot, and once it has
    dropped its lease the next prune deletes them."""
    s = dvalin_server
    src, data, ids = local_source(world)
    name, url, admin = server_replica(s, world, "lease", src)
    assert sync(src, url, env_for(s, world, s.add_token(f"{name}-a", "append", repo=name)))["error"] is None
    read = env_for(s, world, s.add_token(f"{name}-r", "read", repo=name))
    box = os.path.join(world, "box")
    assert run(["init", "--replica-of", url, box], env=read).rc == 0
    before = data_files(s.repo_dir(name))
    # at a capped rate, so that the lease is seen while the pull runs
    p = subprocess.Popen([DVALIN, "sync", "--from", url, "--to", box, "--json", "--limit-rate", "300K",
                          "--threads", "1"], env=read,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for("a read lease on the server", lambda: read_leases(s.repo_dir(name)), p)
        p.send_signal(19)  # SIGSTOP
        f = run(["forget", "-r", url, ids[-1]], env=dict(admin, DVALIN_PASSWORD=PASSWORD))
        assert f.rc == 0, f
        pr = s.cli("prune", name, check=False)
        assert pr.returncode == 0, pr.stdout + pr.stderr
        assert data_files(s.repo_dir(name)) == before, "the prune deleted packs under the pull's lease"
        p.send_signal(18)  # SIGCONT
        out, err = p.communicate(timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert "Sanitizer" not in err and "no read lease" not in err, err
    # the forgotten snapshot is not copied, and named as such (docs/sync.md); the other is
    doc = json.loads(out)
    assert p.returncode == 1 and doc["snapshots_copied"] == 1, (out, err)
    assert "1 snapshot(s) not copied" in doc["error"] and "forgotten at the source" in doc["error"], doc
    assert read_leases(s.repo_dir(name)) == []
    assert run(["check", "-r", box, "--read-data"]).rc == 0
    pr = s.cli("prune", name, check=False)
    assert pr.returncode == 0, pr.stdout + pr.stderr
    assert len(data_files(s.repo_dir(name))) < len(before), "the forgotten snapshot's packs stayed"
