# SPDX-License-Identifier: BSD-2-Clause
"""Parent-snapshot change detection: unchanged files are never re-read."""
import os
import subprocess
import threading
import time

import pytest

from conftest import give_to_nobody, run, skip_ssh_as_nobody, snapshots

REMOTE_REPOS = True  # each test also on https:// and ssh:// (conftest.py)


def subtree_id(repo, snap, path):
    """The tree id of directory path inside a snapshot (the root tree also
    holds the metadata of /tmp, which changes whenever anything does)."""
    t = run(["cat", "-r", repo, "tree", snap]).json()
    tid = t["id"]
    for comp in path.strip("/").split("/"):
        node = [n for n in t["nodes"] if n["name"] == comp][0]
        tid = node["subtree"]
        t = run(["cat", "-r", repo, "tree", tid]).json()
    return tid


def make(src, n=50):
    os.makedirs(os.path.join(src, "sub"))
    for i in range(n):
        with open(os.path.join(src, "sub" if i % 2 else "", f"f{i}"), "w") as f:
            f.write(f"file {i}\n" * (i + 1))


def test_trees_do_not_depend_on_the_thread_count(world, repo):
    src = os.path.join(world, "src")
    make(src, 300)
    for i in range(5):
        os.makedirs(os.path.join(src, f"d{i}", "e"))
        with open(os.path.join(src, f"d{i}", "e", "big"), "wb") as f:
            f.write(bytes([i]) * (3 << 20) + os.urandom(1 << 20))
    trees = set()
    for threads in (1, 2, 3, 8):
        r = run(["backup", "-r", repo, src, "--force", "--threads", threads, "--json"])
        assert r.rc == 0, r
        trees.add(subtree_id(repo, snapshots(repo)[-1]["id"], src))
    assert len(trees) == 1


def test_unchanged_rebackup_reads_nothing_and_reuses_trees(world, repo):
    src = os.path.join(world, "src")
    make(src)
    first = run(["backup", "-r", repo, src, "--json"])
    assert first.rc == 0, first
    assert first.json()["files_new"] == 50
    again = run(["backup", "-r", repo, src, "--json"])
    assert again.rc == 0, again
    s = again.json()
    assert s["files_unchanged"] == 50 and s["files_new"] == 0 and s["files_changed"] == 0
    # nothing read; only the trees above src may change (they hold /tmp's mtime)
    assert s["bytes_read"] == 0 and s["bytes_added"] < 1000
    snaps = snapshots(repo)
    assert snaps[1]["parent"] == snaps[0]["id"]
    # identical tree blobs for the unchanged directory
    assert subtree_id(repo, snaps[0]["id"], src) == subtree_id(repo, snaps[1]["id"], src)


def test_edits_are_seen(world, repo):
    src = os.path.join(world, "src")
    make(src)
    assert run(["backup", "-r", repo, src]).rc == 0
    with open(os.path.join(src, "f0"), "a") as f:
        f.write("appended\n")
    os.utime(os.path.join(src, "sub", "f1"))          # touched, same content
    os.chmod(os.path.join(src, "f2"), 0o600)         # mode only: ctime changes
    os.remove(os.path.join(src, "sub", "f3"))
    with open(os.path.join(src, "brand_new"), "w") as f:
        f.write("new")
    r = run(["backup", "-r", repo, src, "--json"])
    assert r.rc == 0, r
    s = r.json()
    assert s["files_new"] == 1
    assert s["files_changed"] == 3
    assert s["files_unchanged"] == 46
    t = os.path.join(world, "t")
    assert run(["restore", "-r", repo, "latest", "--target", t]).rc == 0
    assert open(t + src + "/f0").read().endswith("appended\n")
    assert not os.path.exists(t + src + "/sub/f3")
    assert os.stat(t + src + "/f2").st_mode & 0o777 == 0o600
    # the first snapshot still restores the old state
    first = snapshots(repo)[0]["id"][:10]
    t2 = os.path.join(world, "t2")
    assert run(["restore", "-r", repo, first, "--target", t2]).rc == 0
    assert os.path.exists(t2 + src + "/sub/f3")


def test_parent_is_per_host_and_paths(world, repo):
    src = os.path.join(world, "src")
    make(src, 4)
    assert run(["backup", "-r", repo, src, "--host", "a"]).rc == 0
    r = run(["backup", "-r", repo, src, "--host", "b", "--json"])
    assert r.json()["files_new"] == 4  # another host: no parent
    r = run(["backup", "-r", repo, src, "--host", "a", "--json"])
    assert r.json()["files_unchanged"] == 4
    r = run(["backup", "-r", repo, src, "--host", "a", "--force", "--json"])
    assert r.json()["bytes_read"] > 0


@pytest.mark.serial
def test_file_changing_while_read_is_reported(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    path = os.path.join(src, "growing")
    with open(path, "wb") as f:
        f.write(os.urandom(64 << 20))
    stop = threading.Event()

    def writer():
        with open(path, "r+b") as f:
            while not stop.is_set():
                f.seek(0)
                f.write(os.urandom(4096))
                f.flush()
                time.sleep(0.001)

    t = threading.Thread(target=writer)
    t.start()
    try:
        r = run(["backup", "-r", repo, src, "--json"])
    finally:
        stop.set()
        t.join()
    assert r.rc == 0, r
    assert "changed while being read" in r.err and "growing" in r.err
    assert r.json()["files_changed_while_read"] == 1


def test_unreadable_and_vanishing_files_give_exit_3(world, repo):
    src = os.path.join(world, "src")
    make(src, 6)
    os.chmod(os.path.join(src, "f0"), 0)
    os.chmod(os.path.join(src, "sub"), 0o311)  # not listable
    skip_ssh_as_nobody(repo)
    give_to_nobody(repo)
    r = run(["backup", "-r", repo, src], user="nobody" if os.geteuid() == 0 else None)
    assert r.rc == 3, r
    assert "f0" in r.err and "sub" in r.err
    snap = snapshots(repo)[-1]
    assert snap["summary"]["errors"] == 2


def test_excludes_and_one_file_system(world, repo):
    src = os.path.join(world, "src")
    make(src, 6)
    os.makedirs(os.path.join(src, "cache", "x"))
    open(os.path.join(src, "cache", "x", "big"), "w").close()
    open(os.path.join(src, "keep.o"), "w").close()
    r = run(["backup", "-r", repo, src, "--exclude", "*.o", "--exclude", src + "/cache", "--json"])
    assert r.rc == 0, r
    names = run(["ls", "-r", repo, "latest", "--json"]).out.splitlines()
    paths = [__import__("json").loads(l)["path"] for l in names]
    assert not any(p.endswith(".o") or "/cache" in p for p in paths)
    assert src + "/f0" in paths


def test_xattr_and_mode_only_changes_are_backed_up(world, repo):
    src = os.path.join(world, "src")
    make(src, 4)
    f = os.path.join(src, "f0")
    os.setxattr(f, "user.v", b"1")
    assert run(["backup", "-r", repo, src]).rc == 0
    os.setxattr(f, "user.v", b"2")          # only ctime moves
    os.setxattr(os.path.join(src, "sub"), "user.d", b"dir")
    r = run(["backup", "-r", repo, src, "--json"])
    assert r.rc == 0, r
    t = os.path.join(world, "t")
    assert run(["restore", "-r", repo, "latest", "--target", t]).rc == 0
    assert os.getxattr(t + f, "user.v") == b"2"
    assert os.getxattr(t + src + "/sub", "user.d") == b"dir"


def test_one_file_system_stops_at_mount_points(world, repo):
    src = os.path.join(world, "src")
    make(src, 4)
    mnt = os.path.join(src, "mnt")
    os.makedirs(mnt)
    p = __import__("subprocess").run(["mount", "-t", "tmpfs", "-o", "size=1m", "none", mnt],
                                      capture_output=True)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        open(os.path.join(mnt, "elsewhere"), "w").close()
        assert run(["backup", "-r", repo, src, "-x"]).rc == 0
        paths = run(["ls", "-r", repo, "latest"]).out.splitlines()
        assert mnt in paths                              # the mount point itself
        assert mnt + "/elsewhere" not in paths           # not what is mounted there
        assert run(["backup", "-r", repo, src]).rc == 0
        assert mnt + "/elsewhere" in run(["ls", "-r", repo, "latest"]).out.splitlines()
    finally:
        __import__("subprocess").run(["umount", mnt])


def test_hard_link_whose_first_name_is_unreadable(world, repo):
    """The first name of an inode fails to read.  Its directory (a/) is
    assembled, and its job freed, before the directory of a later name (b/):
    the later name must not use the freed job, and must be read itself."""
    src = os.path.join(world, "src")
    os.makedirs(os.path.join(src, "a"))
    os.makedirs(os.path.join(src, "b", "c"))
    first = os.path.join(src, "a", "first")
    with open(first, "w") as f:
        f.write("linked")
    os.link(first, os.path.join(src, "b", "second"))
    os.link(first, os.path.join(src, "b", "c", "third"))
    skip_ssh_as_nobody(repo)
    give_to_nobody(repo, src)
    user = "nobody" if os.geteuid() == 0 else None
    os.chmod(first, 0o200)  # unreadable for its owner when not root
    for threads in (1, 2, 4):
        r = run(["backup", "-r", repo, src, "--threads", threads, "--force"], user=user)
        assert r.rc == 3 and "first" in r.err, r
