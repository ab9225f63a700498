# SPDX-License-Identifier: BSD-2-Clause
"""backup of very deep trees: no crash, TREE_MAX_DEPTH (1024) levels kept.

The trees are built and removed through directory descriptors: their paths
are far longer than PATH_MAX, and shutil.rmtree would recurse too deep.
"""
import os
import pty
import resource
import subprocess
import tempfile
import threading

import pytest

from conftest import DVALIN, base_env, run

TREE_MAX_DEPTH = 1024


def build_chain(root, levels, files=True):
    """root/d/d/... `levels` directories deep, each holding a file f (when
    files: creating files that deep is slow on some machines, directories
    are not)."""
    os.mkdir(root)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(levels):
            os.mkdir("d", dir_fd=fd)
            if files:
                f = os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
                os.write(f, b"%d\n" % i)
                os.close(f)
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
    finally:
        os.close(fd)


def remove_chain(root):
    """Removes what build_chain made, bottom-up, one descriptor at a time."""
    if not os.path.isdir(root):
        return
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    depth = 0
    while True:
        try:
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except FileNotFoundError:
            break
        os.close(fd)
        fd = nfd
        depth += 1
    for _ in range(depth + 1):
        for name in os.listdir(fd):
            if name != "d":
                os.unlink(name, dir_fd=fd)
        up = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = up
        if _ < depth:
            os.rmdir("d", dir_fd=fd)
    os.close(fd)
    os.rmdir(root)


@pytest.fixture
def chain(world):
    """make(levels, files) builds a chain; the deepest ones go to a tmpfs
    when there is one: removing directories 30,000 levels deep takes
    minutes on ext4 (each rmdir costs time in the depth), milliseconds there."""
    made = []
    scratch = tempfile.mkdtemp(prefix="dvalin-e2e-", dir="/dev/shm") \
        if os.access("/dev/shm", os.W_OK) else None

    def make(levels, files=True):
        base = scratch if scratch and levels > 2000 else world
        root = os.path.join(base, f"deep{len(made)}")
        made.append(root)
        build_chain(root, levels, files)
        return root

    yield make
    for root in made:
        remove_chain(root)
    if scratch:
        os.rmdir(scratch)


def depth(path):
    return len([c for c in path.split("/") if c])


def expected_listing(root, levels):
    """What ls of the snapshot shows below root: every level within the limit."""
    out = []
    d = root
    for _ in range(levels):
        if depth(d) + 1 > TREE_MAX_DEPTH:
            break
        out += [d + "/d", d + "/f"]
        d += "/d"
    return out


def deepest_stored_dir(root):
    return root + "/d" * (TREE_MAX_DEPTH - depth(root))


def check_result(r, root, repo):
    assert r.rc == 3, r
    warnings = [l for l in r.err.splitlines() if "warning" in l]
    assert len(warnings) == 1, r.err[:2000]
    w = warnings[0]
    assert f"'{deepest_stored_dir(root)}'" in w, w[-200:]
    assert "1024 levels" in w, w[-200:]
    assert "snapshot" in r.out and "saved" in r.out, r


def test_1100_levels_keeps_1024_and_warns_once(chain, repo, tmp_path):
    root = chain(1100)
    r = run(["backup", "-r", repo, root])
    check_result(r, root, repo)
    ls = run(["ls", "-r", repo, "latest"])
    assert ls.rc == 0, ls
    lines = ls.out.splitlines()
    assert max(depth(p) for p in lines) == TREE_MAX_DEPTH
    below = [p for p in lines if p.startswith(root + "/")]
    assert sorted(below) == sorted(expected_listing(root, 1100))

    # the stored levels restore (the deepest directory empty)
    target = str(tmp_path / "t")
    rr = run(["restore", "-r", repo, "latest", "--target", target])
    assert rr.rc == 0, rr
    fd = os.open(target + root, os.O_RDONLY | os.O_DIRECTORY)
    n = 0
    try:
        while "d" in os.listdir(fd):
            with open(os.open("f", os.O_RDONLY, dir_fd=fd), "rb") as f:
                assert f.read() == b"%d\n" % n
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
            n += 1
        assert os.listdir(fd) == []
    finally:
        os.close(fd)
    assert depth(root) + n == TREE_MAX_DEPTH
    remove_chain(target + root)

    # unchanged: the second run reuses everything and says the same
    again = run(["backup", "-r", repo, root, "--json"])
    assert again.rc == 3, again
    j = again.json()
    assert j["files_new"] == 0 and j["files_changed"] == 0
    files = [p for p in expected_listing(root, 1100) if p.endswith("/f")]
    assert j["files_unchanged"] == j["total_files"] == len(files)
    assert j["errors"] == 1


def test_depth_needs_no_descriptor_per_level(chain, repo):
    """A descriptor limit far below the depth: the same snapshot."""
    root = chain(1100)

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

    p = subprocess.run([DVALIN, "backup", "-r", repo, root, "--threads", "2"], env=base_env(),
                       capture_output=True, text=True, errors="surrogateescape",
                       preexec_fn=low_limit, timeout=600)
    assert p.returncode == 3, p.stderr[-2000:]
    assert "Sanitizer" not in p.stderr, p.stderr
    assert p.stderr.count("warning") == 1, p.stderr[-2000:]
    ls = run(["ls", "-r", repo, "latest"])
    below = [l for l in ls.out.splitlines() if l.startswith(root + "/")]
    assert sorted(below) == sorted(expected_listing(root, 1100))


def test_30000_levels_no_crash(chain, repo):
    root = chain(30000, files=False)
    r = run(["backup", "-r", repo, root])
    check_result(r, root, repo)
    j = run(["snapshots", "-r", repo, "--json"]).json()
    assert len(j) == 1


def test_30000_levels_with_progress_display(chain, repo):
    """On a terminal the ETA scan walks the tree too; it stops at the limit."""
    root = chain(30000, files=False)
    master, slave = pty.openpty()
    chunks = []

    def drain():
        while True:
            try:
                b = os.read(master, 65536)
            except OSError:
                return
            if not b:
                return
            chunks.append(b)

    t = threading.Thread(target=drain)
    t.start()
    try:
        p = subprocess.run([DVALIN, "backup", "-r", repo, root], env=base_env(),
                           stdout=subprocess.PIPE, stderr=slave, timeout=600)
    finally:
        os.close(slave)
        t.join(timeout=30)
        os.close(master)
    err = b"".join(chunks).decode(errors="replace")
    assert p.returncode == 3, err[-2000:]
    assert "Sanitizer" not in err, err[-2000:]
    assert "1024 levels" in err
