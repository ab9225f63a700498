# SPDX-License-Identifier: BSD-2-Clause
"""Backups restore exactly: every attribute of an awkward tree survives,
in a local repository and in one on a server (https and ssh)."""
import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import give_to_nobody, is_root, run, skip_ssh_as_nobody, snapshots
from treeutil import compare, make_awkward_tree


REMOTE_REPOS = True


@pytest.mark.skipif(not is_root(), reason="needs root for devices, owners, trusted.*")
@pytest.mark.parametrize("threads", [1, 2, 5])
def test_awkward_tree_restores_identical_as_root(world, repo, threads):
    src = os.path.join(world, "src")
    make_awkward_tree(src, as_root=True)
    r = run(["backup", "-r", repo, src, "--threads", threads])
    assert r.rc == 0, r
    target = os.path.join(world, "target")
    r = run(["restore", "-r", repo, "latest", "--target", target, "--threads", threads])
    assert r.rc == 0, r
    n = compare(src, target + src)
    assert n > 30


def test_awkward_tree_restores_as_unprivileged_user(world, repo):
    """A non-root user backs up and restores its own tree exactly."""
    src = os.path.join(world, "usersrc")
    make_awkward_tree(src, as_root=False)
    os.chmod(os.path.join(src, "none"), 0o400)  # the user must be able to read it
    user = None
    if is_root():
        skip_ssh_as_nobody(repo)
        give_to_nobody(src, repo)
        user = "nobody"
    r = run(["backup", "-r", repo, src], user=user)
    assert r.rc == 0, r
    target = os.path.join(world, "usertarget")
    r = run(["restore", "-r", repo, "latest", "--target", target], user=user)
    assert r.rc == 0, r
    compare(src, target + src)


@pytest.mark.skipif(not is_root(), reason="needs root to create foreign-owned files")
def test_unprivileged_restore_of_root_backup_says_what_it_could_not(world, repo):
    src = os.path.join(world, "src")
    make_awkward_tree(src, as_root=True)
    skip_ssh_as_nobody(repo)
    assert run(["backup", "-r", repo, src]).rc == 0
    give_to_nobody(repo)
    target = os.path.join(world, "t")
    r = run(["restore", "-r", repo, "latest", "--target", target], user="nobody")
    assert r.rc == 0, r
    # each kind of thing it could not restore is said once, with its count
    warnings = [l for l in r.err.splitlines() if "not running as root" in l]
    assert len(warnings) == 1, r.err
    assert re.search(r"not restored: the owner of \d+ entries, 2 device nodes", warnings[0]), r.err
    # contents and modes still arrive
    with open(target + src + "/owned") as f:
        assert f.read() == "owned by someone else"
    assert not os.path.exists(target + src + "/chardev")


def test_sub_path_and_include(world, repo):
    src = os.path.join(world, "data")
    os.makedirs(os.path.join(src, "a", "x"))
    os.makedirs(os.path.join(src, "b"))
    for p in ("a/x/1.txt", "a/2.log", "b/3.txt"):
        with open(os.path.join(src, p), "w") as f:
            f.write(p)
    assert run(["backup", "-r", repo, src]).rc == 0
    t = os.path.join(world, "t1")
    r = run(["restore", "-r", repo, "latest", "--target", t, "--include", "*.txt"])
    assert r.rc == 0, r
    got = sorted(os.path.relpath(os.path.join(d, f), t + src)
                 for d, _, fs in os.walk(t + src) for f in fs)
    assert got == ["a/x/1.txt", "b/3.txt"]
    t = os.path.join(world, "t2")
    r = run(["restore", "-r", repo, "latest", "--target", t, "--include", src + "/a"])
    assert r.rc == 0, r
    assert os.path.exists(t + src + "/a/2.log") and not os.path.exists(t + src + "/b")


def test_absolute_paths_and_multiple_sources(world, repo):
    a = os.path.join(world, "one")
    b = os.path.join(world, "two", "nested")
    os.makedirs(a)
    os.makedirs(b)
    open(os.path.join(a, "f"), "w").close()
    open(os.path.join(b, "g"), "w").close()
    # relative paths are stored absolute; a nested duplicate is folded in
    r = run(["backup", "-r", repo, "one", os.path.join(world, "two"), b], cwd=world)
    assert r.rc == 0, r
    snap = snapshots(repo)[-1]
    assert snap["paths"] == [a, os.path.join(world, "two")]
    t = os.path.join(world, "t")
    assert run(["restore", "-r", repo, "latest", "--target", t]).rc == 0
    assert os.path.exists(t + a + "/f") and os.path.exists(t + b + "/g")


def test_single_file_and_symlink_as_backup_roots(world, repo):
    f = os.path.join(world, "file.txt")
    with open(f, "w") as fh:
        fh.write("x")
    link = os.path.join(world, "link")
    os.symlink("file.txt", link)
    assert run(["backup", "-r", repo, f, link]).rc == 0
    t = os.path.join(world, "t")
    assert run(["restore", "-r", repo, "latest", "--target", t]).rc == 0
    assert open(t + f).read() == "x"
    assert os.readlink(t + link) == "file.txt"


def test_restore_over_existing_files_replaces_them(world, repo):
    src = os.path.join(world, "s")
    os.makedirs(src)
    with open(os.path.join(src, "f"), "w") as fh:
        fh.write("new")
    assert run(["backup", "-r", repo, src]).rc == 0
    t = os.path.join(world, "t")
    os.makedirs(t + src)
    with open(t + src + "/f", "w") as fh:
        fh.write("old content that is longer")
    assert run(["restore", "-r", repo, "latest", "--target", t]).rc == 0
    assert open(t + src + "/f").read() == "new"


def test_large_file_dedups_against_a_copy(world, repo):
    src = os.path.join(world, "s")
    os.makedirs(src)
    data = os.urandom(9 << 20)
    with open(os.path.join(src, "a"), "wb") as f:
        f.write(data)
    with open(os.path.join(src, "b"), "wb") as f:
        f.write(data)
    r = run(["backup", "-r", repo, src, "--json"])
    assert r.rc == 0, r
    s = r.json()
    assert s["bytes_read"] == 18 << 20
    assert s["bytes_added"] < (9 << 20) + (1 << 20)
    t = os.path.join(world, "t")
    assert run(["restore", "-r", repo, "latest", "--target", t, "--verify"]).rc == 0
    assert open(t + src + "/b", "rb").read() == data
