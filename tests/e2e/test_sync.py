# SPDX-License-Identifier: BSD-2-Clause
"""sync: replicas made by init --replica-of, filled and kept up to date
without the key; every snapshot restores from the copy exactly as from the
source; only what is missing crosses over; damage in the source is never
copied; filters, dry runs, --remove-vanished, protection, keyless retention
on the replica; and the errors a user meets (another repository, a full or
read-only destination) as one clear line."""
import json
import os
import random
import shutil
import subprocess
import tempfile

import pytest

from conftest import DVALIN, base_env, is_root, run, small_tmpfs, snapshots
import treeutil

KEYLESS = {k: v for k, v in base_env().items() if k != "DVALIN_PASSWORD"}


def sync(src, dst, *extra, env=KEYLESS, rc=0):
    r = run(["sync", "--from", src, "--to", dst, "--json", *extra], env=env)
    assert r.rc == rc, r
    return r.json() if r.out.strip() else None


def packs(repo):
    out = {}
    for d, _, files in os.walk(os.path.join(repo, "data")):
        for f in files:
            out[f] = os.path.getsize(os.path.join(d, f))
    return out


def du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def write_files(root, rng, n, size):
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        with open(os.path.join(root, f"f{i}"), "wb") as f:
            f.write(rng.randbytes(size))


def backup(repo, path, *extra):
    r = run(["backup", "-r", repo, "--json", *extra, path])
    assert r.rc == 0, r
    return r.json()["snapshot_id"]


def restore(repo, sid, target, env=None):
    r = run(["restore", "-r", repo, sid, "--target", target], env=env)
    assert r.rc == 0, r


@pytest.fixture
def pair(world, repo):
    dst = os.path.join(world, "replica")
    r = run(["init", "--replica-of", repo, dst], env=KEYLESS)
    assert r.rc == 0 and "created replica" in r.out, r
    return repo, dst


def test_replica_has_the_same_id_keys_and_chunker(pair):
    src, dst = pair
    assert open(os.path.join(src, "config"), "rb").read() == open(os.path.join(dst, "config"), "rb").read()
    assert sorted(os.listdir(os.path.join(src, "keys"))) == sorted(os.listdir(os.path.join(dst, "keys")))
    # the source's password opens it, and it is empty
    assert snapshots(dst) == []
    r = run(["init", "--replica-of", src, dst], env=KEYLESS)
    assert r.rc == 1 and "already exists" in r.err and len(r.err.splitlines()) == 1, r


def test_every_snapshot_restores_from_the_replica_exactly(pair, world):
    src, dst = pair
    data = os.path.join(world, "data")
    treeutil.make_awkward_tree(data, is_root())
    ids = [backup(src, data)]
    with open(os.path.join(data, "plain.txt"), "a") as f:
        f.write("changed\n")
    os.utime(os.path.join(data, "plain.txt"), ns=(1600000000000000000, 1600000000000000000))
    ids.append(backup(src, data, "--tag", "second"))
    doc = sync(src, dst)
    assert doc["snapshots_copied"] == 2 and doc["snapshots_skipped"] == 0, doc
    assert doc["packs_reused"] >= 1 and doc["error"] is None
    assert {s["id"] for s in snapshots(dst)} == set(ids)
    # the copies are the same files, byte for byte
    for sid in ids:
        assert open(os.path.join(src, "snapshots", sid), "rb").read() == \
            open(os.path.join(dst, "snapshots", sid), "rb").read()
    assert run(["check", "-r", dst, "--read-data"]).rc == 0
    for sid in ids:
        a, b = os.path.join(world, "ra"), os.path.join(world, "rb")
        restore(src, sid, a)
        restore(dst, sid, b)
        top = data.lstrip("/").split("/")[0]  # the target itself is not restored
        treeutil.compare(os.path.join(a, top), os.path.join(b, top))
        shutil.rmtree(a)
        shutil.rmtree(b)
    # the latest also equals the live tree
    t = os.path.join(world, "t")
    restore(dst, ids[-1], t)
    treeutil.compare(data, os.path.join(t, data.lstrip("/")))


def test_incremental_sync_sends_only_what_is_new(pair, world):
    src, dst = pair
    rng = random.Random(5)
    data = os.path.join(world, "data")
    write_files(data, rng, 100, 200_000)
    backup(src, data)
    sync(src, dst)
    again = sync(src, dst)
    assert again["snapshots_copied"] == 0 and again["bytes_read"] == 0 and again["bytes_written"] == 0
    before = du(os.path.join(src, "data"))
    for i in rng.sample(range(100), 2):
        with open(os.path.join(data, f"f{i}"), "wb") as f:
            f.write(rng.randbytes(200_000))
    backup(src, data)
    new_stored = du(os.path.join(src, "data")) - before
    doc = sync(src, dst)
    assert doc["snapshots_copied"] == 1 and doc["trees_copied"] >= 1
    # what crossed over is the new data, nothing more (tables of its packs)
    assert doc["bytes_read"] <= 1.1 * new_stored, (doc["bytes_read"], new_stored)
    assert doc["bytes_written"] <= 1.1 * new_stored, (doc["bytes_written"], new_stored)
    assert run(["check", "-r", dst, "--read-data"]).rc == 0


def test_from_and_to_take_repository_urls(world, repo):
    """--from, --to and --replica-of are opened through the backend
    registry: file: URLs work as paths do, and a scheme this dvalin has
    no backend for is one line that creates nothing."""
    data = os.path.join(world, "u")
    write_files(data, random.Random(12), 3, 200_000)
    sid = backup(repo, data)
    dst = os.path.join(world, "by-url")
    r = run(["init", "--replica-of", "file://" + repo, "file:" + dst], env=KEYLESS)
    assert r.rc == 0, r
    doc = sync("file://" + repo, "file://" + dst)
    assert doc["snapshots_copied"] == 1 and doc["destination"] == "file://" + dst
    assert [s["id"] for s in snapshots(dst)] == [sid]
    assert sync(repo, "file:" + dst)["snapshots_present"] == 1
    for args in (["sync", "--from", repo, "--to", "nosuch://host/x"],
                 ["sync", "--from", "nosuch://host/x", "--to", dst],
                 ["init", "--replica-of", "nosuch://host/x", os.path.join(world, "never")]):
        r = run(args, env=KEYLESS)
        assert r.rc != 0 and len(r.err.splitlines()) == 1, (args, r)
        assert "no backend for 'nosuch:'" in r.err, (args, r)
    assert not os.path.exists(os.path.join(world, "never"))
    assert not os.path.exists("nosuch:")


def test_repositories_with_other_ids_are_refused(world, repo):
    other = os.path.join(world, "other")
    assert run(["init", "-r", other, "--kdf-log-n", "10"]).rc == 0
    data = os.path.join(world, "d")
    write_files(data, random.Random(1), 2, 1000)
    backup(repo, data)
    r = run(["sync", "--from", repo, "--to", other], env=KEYLESS)
    assert r.rc == 1 and len(r.err.splitlines()) == 1, r
    assert "is not a replica of" in r.err and "init --replica-of" in r.err, r
    assert snapshots(other) == []
    r = run(["sync", "--from", repo, "--to", os.path.join(world, "nothing")], env=KEYLESS)
    assert r.rc == 1 and len(r.err.splitlines()) == 1 and "init --replica-of" in r.err, r


def test_a_damaged_source_blob_is_never_copied(pair, world):
    src, dst = pair
    rng = random.Random(9)
    data = os.path.join(world, "data")
    write_files(os.path.join(data, "a"), rng, 3, 100_000)
    good = backup(src, data)
    old = set(packs(src))
    write_files(os.path.join(data, "b"), rng, 1, 3 << 20)
    bad = backup(src, data)
    new = {p: s for p, s in packs(src).items() if p not in old}
    victim = max(new, key=new.get)  # the data pack of the new 3 MiB file
    path = os.path.join(src, "data", victim[:2], victim)
    with open(path, "r+b") as f:
        f.seek(1 << 20)
        b = f.read(1)
        f.seek(1 << 20)
        f.write(bytes([b[0] ^ 0x40]))
    write_files(os.path.join(data, "c"), rng, 1, 50_000)
    later = backup(src, data)  # reuses the damaged blob? no: new data, old blobs by id
    r = run(["sync", "--from", src, "--to", dst, "--json"], env=KEYLESS)
    assert r.rc == 1, r
    doc = r.json()
    states = {s["id"]: s for s in doc["snapshots"]}
    assert states[good]["state"] == "copied"
    assert states[bad]["state"] == "skipped" and "damaged" in states[bad]["reason"], states[bad]
    # the later snapshot holds the same damaged file (unchanged): skipped too
    assert states[later]["state"] == "skipped"
    assert doc["blobs_damaged"] >= 1 and doc["snapshots_skipped"] == 2
    assert bad[:8] in doc["error"]
    text = run(["sync", "--from", src, "--to", dst], env=KEYLESS)
    assert text.rc == 1 and f"snapshot '{bad[:8]}' not copied" in text.err, text
    # nothing damaged reached the destination, and what arrived is sound
    assert {s["id"] for s in snapshots(dst)} == {good}
    assert victim not in packs(dst)
    r = run(["check", "-r", dst, "--read-data", "--json"])
    assert r.rc == 0 and r.json()["blobs_damaged"] == 0, r


def test_filters_choose_what_goes(pair, world):
    src, dst = pair
    rng = random.Random(2)
    a, b = os.path.join(world, "a"), os.path.join(world, "b")
    write_files(a, rng, 2, 1000)
    write_files(b, rng, 2, 1000)
    ids = {
        "a1": backup(src, a, "--tag", "important"),
        "b1": backup(src, b, "--host", "laptop"),
        "a2": backup(src, a, "--tag", "important,daily"),
        "b2": backup(src, b, "--host", "laptop", "--tag", "daily"),
        "a3": backup(src, a),
    }
    # names need the key
    r = run(["sync", "--from", src, "--to", dst, "--host", "laptop"], env=KEYLESS)
    assert r.rc == 1 and "need the password" in r.err, r
    # a dry run decides and writes nothing
    doc = sync(src, dst, "--dry-run", "--latest", "1")
    assert doc["dry_run"] and doc["snapshots_copied"] == 2 and doc["bytes_needed"] > 0, doc
    assert snapshots(dst) == [] and packs(dst) == {}
    chosen = {s["id"] for s in doc["snapshots"]}
    assert chosen == {ids["a3"], ids["b2"]}
    doc = sync(src, dst, "--host", "laptop", env=base_env())
    assert {s["id"] for s in doc["snapshots"]} == {ids["b1"], ids["b2"]}
    doc = sync(src, dst, "--tag", "important", "--path", a, env=base_env())
    assert {s["id"] for s in doc["snapshots"]} == {ids["a1"], ids["a2"]}
    doc = sync(src, dst, "--tag", "daily,important", env=base_env())
    assert {s["id"] for s in doc["snapshots"]} == {ids["a2"]} and doc["snapshots_present"] == 1
    doc = sync(src, dst, "--snapshot", ids["a3"][:10])
    assert doc["snapshots_copied"] == 1
    assert {s["id"] for s in snapshots(dst)} == set(ids.values())
    r = run(["sync", "--from", src, "--to", dst, "--snapshot", "ffff0000"], env=KEYLESS)
    assert r.rc == 1 and "no snapshot of the source matches 'ffff0000'" in r.err, r


def test_remove_vanished_and_protection(pair, world):
    src, dst = pair
    rng = random.Random(4)
    data = os.path.join(world, "d")
    ids = []
    for i in range(4):
        write_files(data, rng, 1, 1000 + i)
        ids.append(backup(src, data))
    assert run(["protect", "-r", src, ids[0]]).rc == 0
    sync(src, dst)
    assert os.path.exists(os.path.join(dst, "protected", ids[0])), "protection is copied"
    assert run(["protect", "-r", dst, ids[1]]).rc == 0
    assert run(["forget", "-r", src, ids[1], ids[2]]).rc == 0
    # not by default
    sync(src, dst)
    assert len(snapshots(dst)) == 4
    doc = sync(src, dst, "--remove-vanished", "--dry-run")
    assert doc["snapshots_removed"] == 1 and len(snapshots(dst)) == 4
    doc = sync(src, dst, "--remove-vanished")
    states = {s["id"]: s["state"] for s in doc["snapshots"]}
    assert states[ids[2]] == "removed" and states[ids[1]] == "kept_protected", states
    assert {s["id"] for s in snapshots(dst)} == {ids[0], ids[1], ids[3]}
    assert doc["snapshots_at_destination"] == 3
    r = run(["sync", "--from", src, "--to", dst, "--remove-vanished", "--latest", "1"], env=KEYLESS)
    assert r.rc == 2, r


# The worked example of dvalin(1) (test_forget.py), on a replica.
from test_forget import EXAMPLE, POLICY  # noqa: E402


def test_keyless_forget_on_a_replica_keeps_what_forget_with_the_key_keeps(pair, world):
    src, dst = pair
    env = base_env(TZ="UTC")
    data = os.path.join(world, "data")
    os.mkdir(data)
    for i, (when, _, _) in enumerate(reversed(EXAMPLE)):
        with open(os.path.join(data, "f"), "w") as f:
            f.write(f"version {i}\n")
        assert run(["backup", "-r", src, "--time", when, data], env=env).rc == 0
    sync(src, dst)
    keyless = dict(KEYLESS, TZ="UTC")
    plan = run(["forget", "-r", dst, "--no-key", "--dry-run", "--json", *POLICY], env=keyless)
    keyed = run(["forget", "-r", src, "--dry-run", "--json", *POLICY], env=env)
    assert plan.rc == 0 and keyed.rc == 0, (plan, keyed)
    fate = lambda doc: [(d["snapshot"]["id"], d["action"], d["rule"], d["rank"])
                        for g in doc["groups"] for d in g["snapshots"]]
    assert fate(plan.json()) == fate(keyed.json())
    got = [(d["snapshot"]["time"][:19].replace("T", " "), d["rule"], d["rank"] or 0)
           for d in plan.json()["groups"][0]["snapshots"]]
    assert got == EXAMPLE
    assert run(["forget", "-r", dst, "--no-key", "--prune", *POLICY], env=keyless).rc == 0
    assert run(["forget", "-r", src, *POLICY], env=env).rc == 0
    assert {s["id"] for s in snapshots(dst)} == {s["id"] for s in snapshots(src)}
    assert run(["check", "-r", dst, "--read-data"]).rc == 0


def test_verify_reads_back_the_new_packs(pair, world):
    src, dst = pair
    data = os.path.join(world, "d")
    write_files(data, random.Random(6), 3, 300_000)
    backup(src, data)
    doc = sync(src, dst, "--verify")
    v = doc["verify"]
    assert v["ok"] and "storage" in v["levels"] and v["packs_read"] == doc["packs_written"] > 0, doc
    r = run(["sync", "--from", src, "--to", dst, "--verify"], env=KEYLESS)
    assert r.rc == 0 and "verified 0 new packs" in r.out, r


def test_limit_rate_paces_the_reads(pair, world):
    src, dst = pair
    data = os.path.join(world, "d")
    write_files(data, random.Random(8), 1, 3 << 20)
    backup(src, data)
    doc = sync(src, dst, "--limit-rate", "1M")
    # 3 MiB at 1 MiB/s, less a quarter second of credit
    assert doc["duration_seconds"] >= 2.5, doc
    assert run(["check", "-r", dst, "--read-data"]).rc == 0


@pytest.fixture
def tmpfs(world):
    with small_tmpfs(os.path.join(world, "small"), "6m") as mnt:
        yield mnt


def test_a_full_destination_fails_in_one_line_and_resumes(world, repo, tmpfs):
    data = os.path.join(world, "d")
    write_files(data, random.Random(10), 4, 3 << 20)
    sid = backup(repo, data)
    dst = os.path.join(tmpfs, "replica")
    assert run(["init", "--replica-of", repo, dst], env=KEYLESS).rc == 0
    r = run(["sync", "--from", repo, "--to", dst], env=KEYLESS)
    assert r.rc == 1 and len(r.err.splitlines()) == 1, r
    assert "is full" in r.err and "No space left on device" in r.err, r
    assert snapshots(dst) == []
    assert subprocess.run(["mount", "-o", "remount,size=64m", tmpfs]).returncode == 0
    doc = sync(repo, dst)
    assert doc["snapshots_copied"] == 1
    assert run(["check", "-r", dst, "--read-data"]).rc == 0
    assert [s["id"] for s in snapshots(dst)] == [sid]


def test_a_read_only_destination_fails_in_one_line(world, repo, tmpfs):
    data = os.path.join(world, "d")
    write_files(data, random.Random(11), 1, 1000)
    backup(repo, data)
    dst = os.path.join(tmpfs, "replica")
    assert run(["init", "--replica-of", repo, dst], env=KEYLESS).rc == 0
    assert subprocess.run(["mount", "-o", "remount,ro", tmpfs]).returncode == 0
    r = run(["sync", "--from", repo, "--to", dst], env=KEYLESS)
    assert r.rc == 1 and len(r.err.splitlines()) == 1 and "is read-only" in r.err, r
    # a read-only replica can still be read (a cold drive mounted ro)
    r = run(["snapshots", "-r", dst])
    assert r.rc == 0, r


# ---------- the cold drive ----------

COLD_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "contrib", "cold", "dvalin-cold-sync")


@pytest.fixture
def loop_drive(world):
    """An ext4 file system on a loop device, as a plugged-in drive: (device, mount point)."""
    if not is_root():
        pytest.skip("loop devices need root")
    img = os.path.join(world, "drive.img")
    with open(img, "wb") as f:
        f.truncate(256 << 20)
    p = subprocess.run(["losetup", "-f", "--show", img], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"no loop device: {p.stderr.strip()}")
    dev = p.stdout.strip()
    mnt = os.path.join(world, "cold")
    os.mkdir(mnt)
    try:
        assert subprocess.run(["mkfs.ext4", "-q", "-L", "DVALIN-COLD", dev]).returncode == 0
        yield dev, mnt
    finally:
        subprocess.run(["umount", mnt], capture_output=True)
        subprocess.run(["losetup", "-d", dev], capture_output=True)


def cold_conf(world, src, mnt, http, **extra):
    alerts = os.path.join(world, "alerts.conf")
    with open(alerts, "w") as f:
        f.write(f"[webhook]\nurl = {http.url}/cold\n")
    conf = os.path.join(world, "cold.conf")
    settings = dict(SOURCE=src, MOUNT=mnt, REPLICA="nas", UNMOUNT="yes", INIT="yes",
                    ALERTS=alerts, DVALIN=DVALIN)
    settings.update(extra)
    with open(conf, "w") as f:
        for k, v in settings.items():
            f.write(f"{k}='{v}'\n")
    return conf


def run_cold(conf):
    env = dict(KEYLESS, DVALIN_COLD_CONF=conf)
    return subprocess.run(["sh", COLD_SCRIPT], env=env, capture_output=True, text=True, timeout=600)


def messages(http):
    return [json.loads(r.body)["message"] for r in http.requests if r.path == "/cold"]


def test_cold_drive_chain_restores_every_snapshot_exactly(world, repo, loop_drive, http_receiver):
    """client -> backup box (a replica, pulled) -> cold drive (a loop
    device): the unit's script syncs, verifies the new packs from the
    drive, unmounts and notifies; every snapshot restored from the cold
    copy equals the client's, attribute by attribute."""
    dev, mnt = loop_drive
    data = os.path.join(world, "data")
    treeutil.make_awkward_tree(data, is_root())
    ids = [backup(repo, data)]
    with open(os.path.join(data, "big.bin"), "r+b") as f:
        f.seek(1 << 20)
        f.write(os.urandom(4096))
    ids.append(backup(repo, data, "--tag", "two"))
    box = os.path.join(world, "backupbox")
    assert run(["init", "--replica-of", repo, box], env=KEYLESS).rc == 0
    sync(repo, box)
    assert subprocess.run(["mount", dev, mnt]).returncode == 0
    conf = cold_conf(world, box, mnt, http_receiver)
    p = run_cold(conf)
    assert p.returncode == 0, p.stderr
    assert messages(http_receiver) == ["cold copy complete, 2 snapshots (2 new), safe to unplug"]
    assert not os.path.ismount(mnt), "unmounted: safe to unplug"
    # a third snapshot; the drive comes back; only it goes over
    os.unlink(os.path.join(data, "plain.txt"))
    ids.append(backup(repo, data))
    sync(repo, box)
    assert subprocess.run(["mount", dev, mnt]).returncode == 0
    p = run_cold(conf)
    assert p.returncode == 0, p.stderr
    assert messages(http_receiver)[-1] == "cold copy complete, 3 snapshots (1 new), safe to unplug"
    # read back from the drive, mounted read-only as one found in a drawer
    assert subprocess.run(["mount", "-o", "ro", dev, mnt]).returncode == 0
    cold = os.path.join(mnt, "nas")
    r = run(["check", "-r", cold, "--read-data"])
    assert r.rc == 0, r
    assert {s["id"] for s in snapshots(cold)} == set(ids)
    top = data.lstrip("/").split("/")[0]
    for sid in ids:
        a, b = os.path.join(world, "ra"), os.path.join(world, "rb")
        restore(repo, sid, a)
        restore(cold, sid, b)
        treeutil.compare(os.path.join(a, top), os.path.join(b, top))
        shutil.rmtree(a)
        shutil.rmtree(b)
    t = os.path.join(world, "t")
    restore(cold, ids[-1], t)
    treeutil.compare(data, os.path.join(t, data.lstrip("/")))


def test_cold_drive_failure_is_notified_and_the_drive_stays_mounted(world, repo, loop_drive,
                                                                    http_receiver):
    dev, mnt = loop_drive
    assert subprocess.run(["mount", dev, mnt]).returncode == 0
    conf = cold_conf(world, repo, mnt, http_receiver, INIT="no")
    p = run_cold(conf)
    assert p.returncode == 1
    msg = messages(http_receiver)
    assert len(msg) == 1 and "no dvalin replica at" in msg[0] and "stays mounted" in msg[0], msg
    assert os.path.ismount(mnt)
    # a replica of another repository is refused the same way
    other = os.path.join(world, "other")
    assert run(["init", "-r", other, "--kdf-log-n", "10"]).rc == 0
    assert run(["init", "--replica-of", other, os.path.join(mnt, "nas")], env=KEYLESS).rc == 0
    p = run_cold(conf)
    assert p.returncode == 1 and "is not a replica of" in messages(http_receiver)[-1], p.stderr
    assert os.path.ismount(mnt)


# ---------- crashes and concurrency ----------

@pytest.fixture
def fast():
    base = "/dev/shm" if shutil.disk_usage("/dev/shm").free > (2 << 30) else "/tmp"
    d = tempfile.mkdtemp(prefix="dvalin-sync-", dir=base)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def mutate(data, rng, n):
    for _ in range(n):
        sub = os.path.join(data, f"d{rng.randrange(6)}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{rng.randrange(30)}"), "wb") as f:
            f.write(rng.randbytes(rng.choice([200, 20_000, 400_000, 3 << 20])))


@pytest.mark.serial
def test_kill_9_at_random_points_of_a_sync(fast):
    """A sync killed anywhere leaves a destination that checks clean; the
    next one completes, adopting the packs the killed one stored."""
    import time
    from conftest import tree_digest
    rng = random.Random(int(os.environ.get("DVALIN_CRASH_SEED", "11")))
    src, dst, data = (os.path.join(fast, n) for n in ("src", "dst", "data"))
    assert run(["init", "-r", src, "--kdf-log-n", "10"]).rc == 0
    known = {}
    mutate(data, rng, 50)
    known[backup(src, data)] = tree_digest(data)
    assert run(["init", "--replica-of", src, dst], env=KEYLESS).rc == 0
    rounds = int(os.environ.get("DVALIN_CRASH_ROUNDS", "24"))
    kills = adopted = started = checks = 0
    probe = os.path.join(fast, "probe")
    for i in range(3 * rounds):
        if i >= rounds and kills >= rounds:
            break
        if i % 2 == 0:  # new data now and then, so that there is always something to copy
            mutate(data, rng, 8)
            known[backup(src, data)] = tree_digest(data)
        # how long this sync takes, on a copy of the destination, so that the kill lands inside
        shutil.copytree(dst, probe, symlinks=True)
        t = time.monotonic()
        sync(src, probe)
        took = time.monotonic() - t
        shutil.rmtree(probe)
        started += 1
        p = subprocess.Popen([DVALIN, "sync", "--from", src, "--to", dst, "--json"], env=KEYLESS,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0, took))
        p.kill()
        out, err = p.communicate()
        assert "Sanitizer" not in err, err
        if p.returncode == -9:
            kills += 1
        else:
            assert p.returncode == 0, err
            adopted += json.loads(out)["packs_adopted"]
        r = run(["check", "-r", dst])
        assert r.rc == 0, (i, r)
        checks += 1
        if i % 6 == 5:  # now and then a resumed sync runs to its end
            adopted += sync(src, dst)["packs_adopted"]
    print(f"sync kills: {kills} of {started} syncs started (the rest ended first), "
          f"{checks} checks of the destination, packs adopted by the next sync: {adopted}")
    assert kills >= rounds, kills
    doc = sync(src, dst)
    assert doc["snapshots_skipped"] == 0
    assert {s["id"] for s in snapshots(dst)} == set(known)
    r = run(["check", "-r", dst, "--read-data"])
    assert r.rc == 0, r
    again = sync(src, dst)
    assert again["bytes_written"] == 0 and again["snapshots_copied"] == 0
    for sid, want in known.items():
        target = os.path.join(fast, "t")
        restore(dst, sid, target)
        assert tree_digest(os.path.join(target, data.lstrip("/"))) == want, sid
        shutil.rmtree(target)


STRACE_CALLS = "fdatasync,fsync,rename,renameat,renameat2,sync_file_range"


def traced_sync(src, dst, log, *inject):
    """A sync under strace (every thread, paths of descriptors shown), with
    the given --inject options; returns (returncode, stderr)."""
    argv = ["strace", "-f", "-qq", "-y", "-o", log, "-e", f"trace={STRACE_CALLS}", *inject,
            DVALIN, "sync", "--from", src, "--to", dst, "--json"]
    # LeakSanitizer cannot run under ptrace: the untraced syncs below look for leaks
    env = dict(KEYLESS, ASAN_OPTIONS=":".join(filter(None, [KEYLESS.get("ASAN_OPTIONS"),
                                                             "detect_leaks=0"])))
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stderr


def trace_lines(log):
    """(pid, call, text) of each finished call in an strace -f log, in order.
    A call another thread's call interrupted is split over an unfinished and
    a resumed line: its text is both halves (the first holds the descriptor)."""
    import re
    out, pending = [], {}
    for line in open(log):
        m = re.match(r"(\d+) +(\w+)\((.*)", line)
        if m and "<unfinished" in line:
            pending[int(m.group(1))] = m.group(3).split("<unfinished")[0]
        elif m:
            out.append((int(m.group(1)), m.group(2), m.group(3)))
        m = re.match(r"(\d+) +<\.\.\. (\w+) resumed>(.*)", line)
        if m:
            pid = int(m.group(1))
            out.append((pid, m.group(2), pending.pop(pid, "") + m.group(3)))
    return out


@pytest.mark.skipif(shutil.which("strace") is None and not os.environ.get("E2E_REQUIRE_SERVICES"),
                    reason="needs strace")
def test_a_sync_killed_in_its_batch_flush_or_before_its_index_resumes(world):
    """Packs are flushed as a batch: every pack's data durable (one
    fdatasync pass, after write-back of all was started), then the renames,
    then their directories, then the index file.  A kill in the flush pass
    leaves only temporaries (named so that a cleanup of dead processes'
    temporaries finds them); a kill at the index's rename leaves named
    packs no index names.  Either way the destination checks clean and
    the next sync completes, adopting the packs instead of copying them."""
    import re
    src, data = os.path.join(world, "src"), os.path.join(world, "data")
    assert run(["init", "-r", src, "--kdf-log-n", "10"]).rc == 0
    write_files(data, random.Random(12), 3, 10 << 20)  # two data packs, one tree pack
    sid = backup(src, data)

    def replica(name):
        d = os.path.join(world, name)
        assert run(["init", "--replica-of", src, d], env=KEYLESS).rc == 0
        return d

    # the order, from a whole run's trace
    probe, log = replica("probe"), os.path.join(world, "probe.trace")
    rc, err = traced_sync(src, probe, log)
    assert rc == 0, err
    calls = trace_lines(log)
    main = calls[0][0]

    def fd_path(text):  # the path strace -y shows for a call's first descriptor
        m = re.match(r"\d+<([^>]*)>", text)
        return m.group(1) if m else ""

    def renamed_to(text):  # a rename's new name, relative to the probe
        m = re.match(r'\d+<[^>]*>, "[^"]*", \d+<([^>]*)>, "([^"]*)"\) = 0', text)
        return os.path.relpath(os.path.join(m.group(1), m.group(2)), probe) if m else ""

    renames = [(i, c) for i, c in enumerate(calls) if c[1].startswith("rename")]
    named = [(i, renamed_to(c[2])) for i, c in renames]
    pack_renames = [(i, n) for i, n in named if re.fullmatch(r"data/[0-9a-f]{2}/[0-9a-f]{64}", n)]
    index_at = next(i for i, n in named if re.fullmatch(r"index/[0-9a-f]{64}", n))
    npacks = len(packs(probe))
    assert npacks == 3 and len(pack_renames) == npacks, named
    assert all(i < index_at for i, _ in pack_renames), "a pack was named after the index"
    flushes = [i for i, c in enumerate(calls) if c[1] == "fdatasync" and "/data/" in fd_path(c[2])]
    assert len(flushes) == npacks, calls
    assert max(flushes) < min(i for i, _ in pack_renames), "renamed before the batch was durable"
    # a fresh replica has no data/XX directories: made, and flushed into data/, before the renames
    assert any(calls[k][1] == "fsync" and fd_path(calls[k][2]) == os.path.join(probe, "data")
               for k in range(max(flushes) + 1, min(i for i, _ in pack_renames))), calls
    started = [c for c in calls if c[1] == "sync_file_range" and "/data/" in fd_path(c[2])]
    assert len(started) == npacks, calls
    for i, name in pack_renames:  # each pack's directory flushed after its rename, before the index
        d = os.path.join(probe, os.path.dirname(name))
        assert any(calls[k][1] == "fsync" and fd_path(calls[k][2]) == d
                   for k in range(i + 1, index_at)), (d, calls)
    assert calls[index_at][0] == main  # the last batch is committed by the main thread
    nth_rename = sum(1 for i, c in renames if c[0] == main and i <= index_at)

    for point, inject in (("flush", "fdatasync:signal=KILL:when=1"),
                          ("index", f"rename,renameat,renameat2:signal=KILL:when={nth_rename}")):
        dst = replica("dst-" + point)
        rc, err = traced_sync(src, dst, os.devnull, "-e", f"inject={inject}")
        assert rc == -9 or "killed by SIGKILL" in err or rc == 137, (point, rc, err)
        assert snapshots(dst) == []
        left = [f for _, _, fs in os.walk(os.path.join(dst, "data")) for f in fs]
        temps = [f for f in left if f.startswith(".tmp-")]
        named_packs = [f for f in left if not f.startswith(".")]
        if point == "flush":  # only temporaries, of the dead process, as fsio_tmp_open names them
            assert named_packs == [] and len(temps) == npacks, left
            assert all(re.fullmatch(r"\.tmp-[1-9]\d*-\d+-[0-9a-f]{64}", f) for f in temps), temps
        else:  # every pack durable under its name, no index naming them
            assert temps == [] and len(named_packs) == npacks, left
            assert os.listdir(os.path.join(dst, "index")) == [] or all(
                f.startswith(".") for f in os.listdir(os.path.join(dst, "index")))
        r = run(["check", "-r", dst])
        assert r.rc == 0, (point, r)
        doc = sync(src, dst)
        assert doc["snapshots_copied"] == 1 and doc["snapshots_skipped"] == 0, doc
        if point == "index":
            assert doc["packs_adopted"] == npacks and doc["packs_reused"] == 0, doc
        r = run(["check", "-r", dst, "--read-data"])
        assert r.rc == 0, (point, r)
        assert [s["id"] for s in snapshots(dst)] == [sid]


@pytest.mark.serial
def test_syncs_with_prunes_running_on_both_sides(fast):
    """Backups, forgets and prunes on the source, keyless forgets and
    prunes on the replica, and syncs between them, all at once for a
    while: afterwards both check clean with every byte read, and every
    snapshot on the replica restores exactly what was backed up."""
    import threading
    import time
    from conftest import tree_digest
    seconds = float(os.environ.get("DVALIN_STRESS_SECONDS", "20"))
    src, dst = os.path.join(fast, "src"), os.path.join(fast, "dst")
    assert run(["init", "-r", src, "--kdf-log-n", "10"]).rc == 0
    assert run(["init", "--replica-of", src, dst], env=KEYLESS).rc == 0
    known, lock, errors = {}, threading.Lock(), []
    counts = {"backup": 0, "src prune": 0, "dst prune": 0, "sync": 0, "sync copied": 0}
    stop = time.monotonic() + seconds

    def loop(name, fn):
        try:
            while time.monotonic() < stop and not errors:
                fn()
                with lock:
                    counts[name] += 1
        except AssertionError as e:
            errors.append(f"{name}: {e}")

    def backups():
        rng = random.Random(1)
        data = os.path.join(fast, "data")
        versions = [rng.randbytes(300_000) for _ in range(4)]
        os.makedirs(data, exist_ok=True)
        while time.monotonic() < stop and not errors:
            for k in range(3):  # files cycle through a few contents: dedup against condemned data
                with open(os.path.join(data, f"f{k}"), "wb") as f:
                    f.write(rng.choice(versions))
            r = run(["backup", "-r", src, "--json", data])
            assert r.rc == 0, r
            with lock:
                known[r.json()["snapshot_id"]] = tree_digest(data)
                counts["backup"] += 1

    def src_prune():
        r = run(["forget", "-r", src, "--keep-last", "3", "--prune", "--max-unused", "0%"])
        assert r.rc == 0, r

    def dst_prune():
        r = run(["forget", "-r", dst, "--no-key", "--keep-last", "4", "--allow-empty", "--prune",
                 "--max-unused", "0%"], env=KEYLESS)
        assert r.rc == 0 or "no snapshot ids" in r.err, r

    def syncs():
        r = run(["sync", "--from", src, "--to", dst, "--json"], env=KEYLESS)
        # a snapshot forgotten at the source while it was being copied is skipped, not an error
        doc = r.json()
        assert r.rc == 0 or all("forgotten at the source" in s["reason"]
                                for s in doc["snapshots"] if s["state"] == "skipped"), r
        with lock:
            counts["sync copied"] += doc["snapshots_copied"]

    threads = [threading.Thread(target=backups)]
    threads += [threading.Thread(target=loop, args=a) for a in
                (("src prune", src_prune), ("dst prune", dst_prune), ("sync", syncs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    print("concurrent sync and prune:", counts)
    assert counts["sync copied"] > 0 and counts["src prune"] > 0 and counts["dst prune"] > 0, counts
    sync(src, dst)
    for repo in (src, dst):
        r = run(["check", "-r", repo, "--read-data"])
        assert r.rc == 0, (repo, r)
    left = [s["id"] for s in snapshots(dst)]
    assert left
    for sid in left:
        target = os.path.join(fast, "t")
        restore(dst, sid, target)
        assert tree_digest(os.path.join(target, fast.lstrip("/"), "data")) == known[sid], sid
        shutil.rmtree(target)


def test_copy_is_sync_under_restic_s_name(pair, world):
    src, dst = pair
    data = os.path.join(world, "copydata")
    write_files(data, random.Random(5), 4, 5000)
    sid = backup(src, data)
    out = run(["copy", "--from", src, "--to", dst, "--json"], env=KEYLESS)
    assert out.rc == 0, out
    assert [(x["id"], x["state"]) for x in out.json()["snapshots"]] == [(sid, "copied")], out
    t = os.path.join(world, "copied")
    restore(dst, sid, t)
    treeutil.compare(data, os.path.join(t, data.lstrip("/")))
