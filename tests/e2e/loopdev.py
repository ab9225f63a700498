# SPDX-License-Identifier: BSD-2-Clause
"""Loop devices for the tests that need block devices (as root): each is
made on a sparse backing file in the test's scratch directory and
detached, unmounted first, by its own name when the test ends."""
import os
import subprocess

import pytest


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{args}: {r.stdout}{r.stderr}")
    return r


class Loops:
    def __init__(self, world):
        self.world = world
        self.devs = []
        self.mounts = []

    def new(self, size, name=None):
        """A loop device over a new sparse file of size bytes."""
        backing = os.path.join(self.world, name or f"loop{len(self.devs)}.img")
        with open(backing, "wb") as f:
            f.truncate(size)
        dev = sh("losetup", "--find", "--show", backing).stdout.strip()
        self.devs.append(dev)
        return dev

    def mount(self, dev, where, *opts):
        os.makedirs(where, exist_ok=True)
        sh("mount", *opts, dev, where)
        self.mounts.append(where)
        return where

    def umount(self, where):
        sh("umount", where)
        self.mounts.remove(where)

    def close(self):
        for m in reversed(self.mounts):
            sh("umount", "-l", m, check=False)
        for d in self.devs:
            sh("losetup", "-d", d, check=False)


@pytest.fixture
def loops(world):
    if os.geteuid() != 0:
        pytest.skip("needs root: loop devices")
    if not os.path.exists("/dev/loop-control"):
        pytest.skip("no loop devices here (/dev/loop-control is missing)")
    lp = Loops(world)
    yield lp
    lp.close()
