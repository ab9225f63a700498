# SPDX-License-Identifier: BSD-2-Clause
"""Block devices (as root, on loop devices the tests make): --read-devices
backs a device up by content at its full size with zero blocks as holes
(the repository holds the data, not the device's size), restore
--to-device writes it back to a second device byte for byte, or into a
sparse image; a device that is too small, mounted, has a mounted
partition or is held open exclusively is refused before anything is
written.  The issue asks for an LVM volume: device-mapper is missing in
this kernel (no /dev/mapper/control), so loop devices stand in for it;
LVM volumes are read the same way (they are block devices)."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import run, snapshots
from loopdev import loops, sh  # noqa: F401  (the fixture)

MiB = 1 << 20


def repo_bytes(repo):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(repo) for f in fs)


def make_fs(loops, dev, world):
    """ext4 with 24 MiB of random data, text and a sparse file on dev."""
    sh("mkfs.ext4", "-q", "-F", dev)
    m = loops.mount(dev, os.path.join(world, "m1"))
    with open(os.path.join(m, "random"), "wb") as f:
        f.write(os.urandom(24 * MiB))
    with open(os.path.join(m, "numbers"), "w") as f:
        f.write("\n".join(str(i) for i in range(300000)))
    os.makedirs(os.path.join(m, "etc/app"))
    with open(os.path.join(m, "etc/app/config"), "w") as f:
        f.write("key = value\n")
    loops.umount(m)


def same_prefix(a, b, n):
    """The first n bytes of the files a and b are equal."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while n:
            k = min(n, 4 * MiB)
            if fa.read(k) != fb.read(k):
                return False
            n -= k
    return True


def device_node(repo, path):
    """The tree node of path in the latest snapshot, with its content segments."""
    tree = run(["cat", "-r", repo, "tree", "latest"]).json()
    parts = path.strip("/").split("/")
    for i, name in enumerate(parts):
        n = [x for x in tree["nodes"] if x["name"] == name][0]
        if i == len(parts) - 1:
            return n
        tree = run(["cat", "-r", repo, "tree", n["subtree"]]).json()


def test_device_to_second_device_and_sparse_image(world, repo, loops):
    size = 256 * MiB
    src = loops.new(size)
    make_fs(loops, src, world)
    r = run(["backup", "-r", repo, "--json", "--read-devices", src])
    assert r.rc == 0, r
    j = r.json()
    assert j["total_bytes"] == size and j["total_files"] == 1
    # zero regions are holes: the repository holds the data, not 256 MiB
    assert repo_bytes(repo) < 48 * MiB, repo_bytes(repo)
    n = device_node(repo, src)
    assert n["type"] == "file" and n["device_contents"] is True and n["size"] == size
    assert n["rdev"] == os.stat(src).st_rdev
    holes = sum(s["length"] for s in n["content"] if s["blob"] is None)
    assert holes > 180 * MiB, holes
    assert all(s["length"] % (64 << 10) == 0 for s in n["content"] if s["blob"] is None)

    # an unchanged device is read again but adds (nearly) nothing
    r = run(["backup", "-r", repo, "--json", "--read-devices", src])
    assert r.rc == 0 and r.json()["bytes_added"] < MiB and r.json()["bytes_read"] == size, r

    # a larger device full of old bytes: holes are zeroed, the rest kept
    dst = loops.new(size + 32 * MiB)
    with open(dst, "wb") as f:
        for _ in range((size + 32 * MiB) // MiB):
            f.write(b"\xa5" * MiB)
    r = run(["restore", "-r", repo, "latest", "--to-device", dst, "--json"])
    assert r.rc == 0, r
    assert "its last 33554432 bytes are left as they were" in r.err
    j = r.json()
    assert j["device"] is True and j["size"] == size and j["zeroed"] == holes
    assert same_prefix(src, dst, size)
    with open(dst, "rb") as f:
        f.seek(size)
        assert f.read(MiB) == b"\xa5" * MiB
    # the file system on it is the one backed up
    m = loops.mount(dst, os.path.join(world, "m2"), "-o", "ro")
    assert open(os.path.join(m, "etc/app/config")).read() == "key = value\n"
    loops.umount(m)

    # into a sparse image file: holes stay holes
    img = os.path.join(world, "disk.img")
    r = run(["restore", "-r", repo, "latest", "--to-device", img])
    assert r.rc == 0, r
    st = os.stat(img)
    assert st.st_size == size and st.st_blocks * 512 < 64 * MiB, st
    assert same_prefix(src, img, size)
    # and a regular restore writes the same image under the target
    t = os.path.join(world, "t")
    assert run(["restore", "-r", repo, "latest", "--target", t]).rc == 0
    out = os.path.join(t, src.lstrip("/"))
    assert os.path.isfile(out) and same_prefix(src, out, size)
    assert os.stat(out).st_blocks * 512 < 64 * MiB


def test_refuses_small_mounted_and_busy_devices(world, repo, loops):
    src = loops.new(64 * MiB)
    with open(src, "wb") as f:
        f.write(os.urandom(MiB))
    assert run(["backup", "-r", repo, "--read-devices", src]).rc == 0
    small = loops.new(32 * MiB)
    r = run(["restore", "-r", repo, "latest", "--to-device", small])
    assert r.rc == 1 and f"refusing to write to '{small}': it holds 33554432 bytes, the file needs 67108864" in r.err, r
    dst = loops.new(64 * MiB)
    sh("mkfs.ext4", "-q", "-F", dst)
    m = loops.mount(dst, os.path.join(world, "m"))
    r = run(["restore", "-r", repo, "latest", "--to-device", dst])
    assert r.rc == 1 and f"refusing to write to '{dst}': it is mounted at '{m}'" in r.err, r
    loops.umount(m)
    before = open(dst, "rb").read(4 * MiB)
    # held open exclusively by another program
    fd = os.open(dst, os.O_RDONLY | os.O_EXCL)
    try:
        r = run(["restore", "-r", repo, "latest", "--to-device", dst])
        assert r.rc == 1 and "it is in use" in r.err, r
    finally:
        os.close(fd)
    assert open(dst, "rb").read(4 * MiB) == before  # nothing was written
    # a disk with a mounted partition (partx adds it: no kernel table parser needed)
    if shutil.which("sfdisk"):
        img = os.path.join(world, "parted.img")
        with open(img, "wb") as f:
            f.truncate(96 * MiB)
        subprocess.run(["sfdisk", "-q", img], input="start=2048, type=83\n", text=True, check=True,
                       capture_output=True)
        disk = sh("losetup", "--find", "--show", img).stdout.strip()
        loops.devs.append(disk)
        sh("partx", "-a", disk)
        part = disk + "p1"
        for _ in range(50):  # devtmpfs makes the node shortly
            if os.path.exists(part):
                break
            time.sleep(0.1)
        sh("mkfs.ext4", "-q", "-F", part)
        mp = loops.mount(part, os.path.join(world, "mp"))
        r = run(["restore", "-r", repo, "latest", "--to-device", disk])
        assert r.rc == 1 and f"a partition of it is mounted at '{mp}'" in r.err, r
        loops.umount(mp)
        sh("partx", "-d", disk)
    # usage: one file, named when the snapshot has several paths
    other = os.path.join(world, "f")
    open(other, "w").write("x")
    assert run(["backup", "-r", repo, "--read-devices", src, other]).rc == 0
    r = run(["restore", "-r", repo, "latest", "--to-device", dst])
    assert r.rc == 2 and "has 2 paths" in r.err, r
    r = run(["restore", "-r", repo, "latest", "--to-device", dst, "--include", "/dev"])
    assert r.rc == 1 and "is not a file" in r.err, r
    r = run(["restore", "-r", repo, "latest", "--to-device", dst, "--include", "/nope"])
    assert r.rc == 1 and "no file '/nope' in the snapshot" in r.err, r
    r = run(["restore", "-r", repo, "latest", "--to-device", dst, "--target", world])
    assert r.rc == 2, r
    r = run(["restore", "-r", repo, "latest", "--to-device", dst, "--include", src])
    assert r.rc == 0, r


def test_read_devices_follows_a_link_given_as_path(world, repo, loops):
    dev = loops.new(8 * MiB)
    with open(dev, "r+b") as f:
        f.seek(3 * MiB)
        f.write(b"hello device" * 1000)
    link = os.path.join(world, "vm-101-disk-0")
    os.symlink(dev, link)
    # without --read-devices: the link and the device node are what they are
    r = run(["backup", "-r", repo, link, dev])
    assert r.rc == 0, r
    assert device_node(repo, link)["type"] == "symlink"
    assert device_node(repo, dev)["type"] == "blockdev"
    r = run(["backup", "-r", repo, "--read-devices", link])
    assert r.rc == 0, r
    n = device_node(repo, link)
    assert n["type"] == "file" and n["device_contents"] and n["size"] == 8 * MiB
    img = os.path.join(world, "out.img")
    assert run(["restore", "-r", repo, "latest", "--to-device", img]).rc == 0
    assert same_prefix(dev, img, 8 * MiB)
    assert len(snapshots(repo)) == 2
