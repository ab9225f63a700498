# SPDX-License-Identifier: BSD-2-Clause
"""init (issue 18): it creates missing parents, refuses a directory that
holds someone else's files, and accepts a fresh file system's lost+found
and the leftovers of an init that was interrupted."""
import os

from conftest import run


def init(path):
    return run(["init", "-r", path, "--kdf-log-n", "10"])


def test_missing_parents_are_created(world):
    repo = os.path.join(world, "a", "b", "c", "repo")
    r = init(repo)
    assert r.rc == 0, r
    assert os.path.exists(os.path.join(repo, "config"))
    assert os.stat(repo).st_mode & 0o777 == 0o700
    assert run(["snapshots", "-r", repo]).rc == 0


def test_a_directory_with_other_files_is_refused_untouched(world):
    d = os.path.join(world, "home")
    os.makedirs(d)
    open(os.path.join(d, "notes.txt"), "w").close()
    r = init(d)
    assert r.rc == 1, r
    assert f"'{d}' is not empty and not a dvalin repository (it holds 'notes.txt')" in r.err
    assert os.listdir(d) == ["notes.txt"]


def test_lost_found_and_an_interrupted_init_are_fine(world):
    disk = os.path.join(world, "disk")
    os.makedirs(os.path.join(disk, "lost+found"))
    assert init(disk).rc == 0
    # an init that stopped before its config: the directories and a key
    half = os.path.join(world, "half")
    for d in ("data", "index", "snapshots", "keys", "locks"):
        os.makedirs(os.path.join(half, d))
    assert init(half).rc == 0
    r = init(half)
    assert r.rc == 1 and "already exists" in r.err
