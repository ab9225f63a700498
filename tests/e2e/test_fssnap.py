# SPDX-License-Identifier: BSD-2-Clause
"""backup --snapshot btrfs|zfs|lvm (as root, on loop devices the tests
make): while a writer keeps changing files, the restored tree is one
point in time (a checksum file the writer replaces atomically matches the
data files it names); the snapshot is recorded under the live path, so
the next backup's change detection works; no snapshot is left behind,
also after kill -9 of the backup (its guard removes it) and after kill -9
of the backup and its guard (the next backup removes it); a path on
another file system is refused before anything is made.

Here device-mapper is missing (no /dev/mapper/control), so the LVM test
can only check the refusal; the full LVM test runs where device-mapper
and lvm2 exist.  ZFS is not in Debian main: its test runs where `zfs`
and the kernel module exist and is skipped otherwise."""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import DVALIN, base_env, run, snapshots
from loopdev import loops, sh  # noqa: F401  (the fixture)

MiB = 1 << 20

# Writes generations of data files and, after each, a checksum file by
# rename (atomic), then removes the previous generation: at every instant
# SUMS names files that exist with exactly those contents.  Like any
# program that must survive a crash it makes the data durable (fsync)
# before the rename that publishes it: a snapshot is crash-consistent, it
# holds what a power cut at that instant would have left.
WRITER = r'''
import hashlib, os, sys, time
d, stop = sys.argv[1], sys.argv[2]
gen = 0
old = []
while not os.path.exists(stop):
    gen += 1
    names = []
    for i in range(6):
        n = f"g{gen:05d}-{i}"
        with open(os.path.join(d, n), "wb") as f:
            f.write(os.urandom(256 * 1024 * (1 + i % 3)))
            f.flush()
            os.fsync(f.fileno())
        names.append(n)
    lines = []
    for n in names:
        lines.append(n + " " + hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest())
    with open(os.path.join(d, "SUMS.tmp"), "w") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(os.path.join(d, "SUMS.tmp"), os.path.join(d, "SUMS"))
    for n in old:
        os.unlink(os.path.join(d, n))
    old = names
    with open(os.path.join(d, "..", "generations"), "w") as f:
        f.write(str(gen))
'''


def start_writer(world, d):
    stop = os.path.join(world, "stop-writer")
    p = subprocess.Popen([sys.executable, "-c", WRITER, d, stop])
    gens = os.path.join(d, "..", "generations")
    for _ in range(200):
        if os.path.exists(gens) and int(open(gens).read() or 0) >= 2:
            break
        time.sleep(0.05)
    return p, stop, gens


def stop_writer(p, stop, gens):
    open(stop, "w").close()
    p.wait(timeout=60)
    os.unlink(stop)
    return int(open(gens).read())


def check_consistent(tree):
    """SUMS names files that exist with exactly those contents."""
    lines = open(os.path.join(tree, "SUMS")).read().split()
    pairs = dict(zip(lines[::2], lines[1::2]))
    assert len(pairs) == 6
    for n, h in pairs.items():
        assert hashlib.sha256(open(os.path.join(tree, n), "rb").read()).hexdigest() == h, n
    return pairs


@pytest.fixture
def btrfs(world, loops):
    if not shutil.which("mkfs.btrfs"):
        pytest.skip("btrfs-progs is not installed (make test installs it)")
    dev = loops.new(512 * MiB)
    sh("mkfs.btrfs", "-q", dev)
    mnt = loops.mount(dev, os.path.join(world, "btrfs"))
    sh("btrfs", "subvolume", "create", os.path.join(mnt, "vol"))
    return mnt


def leftovers(root):
    return [n for n in os.listdir(root) if n.startswith(".dvalin-snap-")]


def test_btrfs_snapshot_is_one_point_in_time(world, repo, btrfs):
    vol = os.path.join(btrfs, "vol")
    data = os.path.join(vol, "data")
    os.mkdir(data)
    with open(os.path.join(vol, "big"), "wb") as f:  # so that the walk takes a while
        f.write(os.urandom(48 * MiB))
    writer = start_writer(world, data)
    try:
        for _ in range(3):
            r = run(["backup", "-r", repo, "--json", "--snapshot", "btrfs", vol])
            assert r.rc == 0, r
            assert leftovers(vol) == []
    finally:
        gens = stop_writer(*writer)
    assert gens >= 3
    sums = set()
    for s in snapshots(repo):
        assert s["paths"] == [vol]  # recorded under the live path
        t = os.path.join(world, "t-" + s["id"][:8])
        assert run(["restore", "-r", repo, s["id"], "--target", t]).rc == 0
        sums.add(tuple(sorted(check_consistent(os.path.join(t, data.lstrip("/"))))))
        assert not os.path.exists(os.path.join(t, vol.lstrip("/"), ".dvalin-snap"))
    out = sh("btrfs", "subvolume", "list", btrfs).stdout
    assert "dvalin-snap" not in out, out


def test_btrfs_snapshot_backups_share_change_detection(world, repo, btrfs):
    vol = os.path.join(btrfs, "vol")
    os.makedirs(os.path.join(vol, "a/b"))
    for i in range(20):
        with open(os.path.join(vol, "a/b", f"f{i}"), "wb") as f:
            f.write(os.urandom(10000 + i))
    r1 = run(["backup", "-r", repo, "--json", "--snapshot", "btrfs", vol]).json()
    r2 = run(["backup", "-r", repo, "--json", "--snapshot", "btrfs", vol]).json()
    assert r1["files_new"] == 20 and r2["files_unchanged"] == 20 and r2["files_new"] == 0, r2
    assert r2["bytes_read"] == 0  # nothing re-read through the snapshot
    # a live backup of the same path takes the snapshot backup as its parent
    r3 = run(["backup", "-r", repo, "--json", vol]).json()
    assert r3["files_unchanged"] == 20 and r3["bytes_read"] == 0, r3
    # a path below the subvolume's root: the snapshot is of the subvolume
    r = run(["backup", "-r", repo, "--json", "--snapshot", "btrfs", os.path.join(vol, "a")])
    assert r.rc == 0 and r.json()["total_files"] == 20, r
    # a nested subvolume is not in its parent's snapshot: said, and stored empty
    sh("btrfs", "subvolume", "create", os.path.join(vol, "nested"))
    open(os.path.join(vol, "nested", "x"), "w").write("x")
    r = run(["backup", "-r", repo, "--snapshot", "btrfs", vol])
    assert r.rc == 3 and f"'{vol}/nested' is a nested btrfs subvolume" in r.err, r
    assert leftovers(vol) == []


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return []


def wait_for(cond, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.serial
def test_btrfs_snapshot_removed_after_kill_9(world, repo, btrfs):
    vol = os.path.join(btrfs, "vol")
    with open(os.path.join(vol, "f"), "wb") as f:
        f.write(os.urandom(MiB))
    marker = f"dvalin-kill-test-{os.getpid()}-{time.monotonic_ns()}"
    # the after hook runs once the snapshot exists: it holds the backup there
    hold = f"/usr/bin/python3 -c 'import time; time.sleep(120)' {marker}"

    def start():
        p = subprocess.Popen([DVALIN, "backup", "-r", repo, "--snapshot", "btrfs", vol, "--after", hold],
                             env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert wait_for(lambda: leftovers(vol) and any(marker.encode() in b"".join(cmdline(c))
                                                       for k in children(p.pid) for c in [k] + children(k)))
        def guards():
            return [c for c in children(p.pid) if cmdline(c)[:1] == [DVALIN.encode()]]
        # a child forked for a hook is dvalin too until it execs: wait for the guard alone
        assert wait_for(lambda: len(guards()) == 1), [cmdline(c) for c in children(p.pid)]
        guard = guards()
        return p, guard[0]

    def kill_hook():
        for pid in os.listdir("/proc"):
            if pid.isdigit() and marker.encode() in b"".join(cmdline(pid)):
                os.kill(int(pid), signal.SIGKILL)

    # kill -9 of the backup: its guard removes the snapshot at once
    p, guard = start()
    os.kill(p.pid, signal.SIGKILL)
    p.communicate()
    assert wait_for(lambda: not leftovers(vol)), leftovers(vol)
    kill_hook()
    # kill -9 of the backup and its guard: the snapshot stays ...
    p, guard = start()
    left = leftovers(vol)
    os.kill(guard, signal.SIGKILL)
    os.kill(p.pid, signal.SIGKILL)
    p.communicate()
    kill_hook()
    time.sleep(0.5)
    assert leftovers(vol) == left and len(left) == 1
    # ... until the next snapshot backup of that file system finds it
    r = run(["backup", "-r", repo, "--snapshot", "btrfs", vol])
    assert r.rc == 0, r
    assert f"removing snapshot '{vol}/{left[0]}', left by a dvalin that ended without cleaning up" in r.err
    assert leftovers(vol) == []
    # one of a live process is left alone: this test's own pid and start time
    with open(f"/proc/{os.getpid()}/stat") as f:
        ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    btime = [int(l.split()[1]) for l in open("/proc/stat") if l.startswith("btime")][0]
    mine = f".dvalin-snap-{os.getpid()}-{btime + ticks // os.sysconf('SC_CLK_TCK')}"
    sh("btrfs", "subvolume", "snapshot", "-r", vol, os.path.join(vol, mine))
    try:
        r = run(["backup", "-r", repo, "--snapshot", "btrfs", vol])
        assert r.rc == 0 and "removing snapshot" not in r.err, r
        assert leftovers(vol) == [mine]
    finally:
        sh("btrfs", "subvolume", "delete", os.path.join(vol, mine))


def test_snapshot_refused_where_the_file_system_does_not_match(world, repo, btrfs):
    plain = os.path.join(world, "plain")
    os.mkdir(plain)
    vol = os.path.join(btrfs, "vol")
    r = run(["backup", "-r", repo, "--snapshot", "btrfs", vol, plain])
    assert r.rc == 1 and f"dvalin: cannot snapshot '{plain}': not on a btrfs file system\n" in r.err, r
    assert leftovers(vol) == [] and snapshots(repo) == []  # nothing was made
    r = run(["backup", "-r", repo, "--snapshot", "zfs", plain])
    assert r.rc == 1 and f"cannot snapshot '{plain}': not on a ZFS file system" in r.err, r
    r = run(["backup", "-r", repo, "--snapshot", "lvm", plain])
    assert r.rc == 1, r
    if not os.path.exists("/dev/mapper/control"):
        assert ("cannot use --snapshot lvm: device-mapper is not available here "
                "(no /dev/mapper/control)") in r.err, r
    else:
        assert f"cannot snapshot '{plain}': not on an LVM logical volume" in r.err, r
    r = run(["backup", "-r", repo, "--snapshot", "ext4", plain])
    assert r.rc == 2 and "invalid --snapshot 'ext4' (btrfs, zfs or lvm)" in r.err, r


@pytest.mark.skipif(not os.path.exists("/dev/mapper/control") or not shutil.which("lvcreate"),
                    reason="device-mapper is not available here (no /dev/mapper/control), or lvm2 "
                           "is not installed: LVM snapshots cannot be made")
def test_lvm_snapshot_is_one_point_in_time(world, repo, loops):
    pv = loops.new(512 * MiB)
    vg = f"dvtest{os.getpid()}"
    sh("pvcreate", "-q", "-y", pv)
    sh("vgcreate", "-q", vg, pv)
    try:
        sh("lvcreate", "-q", "-y", "-L", "256M", "-n", "data", vg)
        lv = f"/dev/{vg}/data"
        sh("mkfs.ext4", "-q", "-F", lv)
        mnt = loops.mount(lv, os.path.join(world, "lvm"))
        data = os.path.join(mnt, "data")
        os.mkdir(data)
        writer = start_writer(world, data)
        try:
            r = run(["backup", "-r", repo, "--snapshot", "lvm", mnt])
            assert r.rc == 0, r
        finally:
            stop_writer(*writer)
        lvs = sh("lvs", "--noheadings", "-o", "lv_name", vg).stdout
        assert "dvalin-snap" not in lvs, lvs
        t = os.path.join(world, "t")
        assert run(["restore", "-r", repo, "latest", "--target", t]).rc == 0
        check_consistent(os.path.join(t, data.lstrip("/")))
        # with --read-devices, the volume itself from its snapshot
        loops.umount(mnt)
        r = run(["backup", "-r", repo, "--json", "--snapshot", "lvm", "--read-devices", lv])
        assert r.rc == 0 and r.json()["total_bytes"] == 256 * MiB, r
        assert "dvalin-snap" not in sh("lvs", "--noheadings", "-o", "lv_name", vg).stdout
    finally:
        sh("vgremove", "-q", "-f", vg, check=False)
        sh("pvremove", "-q", "-f", pv, check=False)


def zfs_usable():
    if not shutil.which("zfs") or not shutil.which("zpool"):
        return False
    return subprocess.run(["zpool", "list"], capture_output=True).returncode == 0


@pytest.mark.skipif(not zfs_usable(), reason="ZFS is not installed here (not in Debian main: "
                                             "zfsutils-linux is in contrib) or its module is not loaded")
def test_zfs_snapshot_is_one_point_in_time(world, repo):
    if os.geteuid() != 0:
        pytest.skip("needs root: a ZFS pool")
    img = os.path.join(world, "pool.img")
    with open(img, "wb") as f:
        f.truncate(512 * MiB)
    pool = f"dvtest{os.getpid()}"
    mnt = os.path.join(world, "zfs")
    sh("zpool", "create", "-m", mnt, pool, img)
    try:
        sh("zfs", "create", f"{pool}/data")
        data = os.path.join(mnt, "data", "d")
        os.mkdir(data)
        writer = start_writer(world, data)
        try:
            r = run(["backup", "-r", repo, "--snapshot", "zfs", os.path.join(mnt, "data")])
            assert r.rc == 0, r
        finally:
            stop_writer(*writer)
        snaps = sh("zfs", "list", "-H", "-t", "snapshot", "-o", "name").stdout
        assert "dvalin-snap" not in snaps, snaps
        t = os.path.join(world, "t")
        assert run(["restore", "-r", repo, "latest", "--target", t]).rc == 0
        check_consistent(os.path.join(t, data.lstrip("/")))
    finally:
        sh("zpool", "destroy", "-f", pool, check=False)
