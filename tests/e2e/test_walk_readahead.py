# SPDX-License-Identifier: BSD-2-Clause
"""The walk's read-ahead (jobs/dirlist.c: directories listed and stat'ed on
a thread of their own) changes no tree: an unchanged tree backed up with it
(--threads 2) has the same tree ids as without it (--threads 1, where the
walk lists every directory itself), and so does a --force backup."""
import os

from conftest import run, snapshots
from test_incremental import subtree_id


def make_tree(src):
    # wide and deep: deeper than the walk keeps descriptors open for (32)
    deep = src
    for i in range(40):
        deep = os.path.join(deep, f"n{i}")
        os.makedirs(deep)
        with open(os.path.join(deep, "f"), "w") as f:
            f.write(f"level {i}\n")
    for d in range(30):
        sub = os.path.join(src, f"d{d:02}", "e")
        os.makedirs(sub)
        for i in range(d):
            with open(os.path.join(src, f"d{d:02}", f"f{i}"), "w") as f:
                f.write("x" * i)
        os.symlink(f"../f{d}", os.path.join(sub, "link"))
    # a tagged directory keeps only its tag; an excluded one is left out
    os.makedirs(os.path.join(src, "cache", "inner"))
    with open(os.path.join(src, "cache", "CACHEDIR.TAG"), "w") as f:
        f.write("Signature: 8a477f597d28d172789f06886806bc55\n")
    open(os.path.join(src, "cache", "junk"), "w").close()
    os.makedirs(os.path.join(src, "skip", "deeper"))
    os.link(os.path.join(src, "d05", "f1"), os.path.join(src, "d07", "hard"))
    os.mkfifo(os.path.join(src, "d03", "e", "fifo"))


def test_read_ahead_keeps_the_trees(world, repo):
    src = os.path.join(world, "src")
    make_tree(src)
    ids = []
    for args in (["--threads", "1"], ["--threads", "2"], ["--threads", "2", "--force"],
                 ["--threads", "1"], ["--threads", "3"]):
        r = run(["backup", "-r", repo, src, "--exclude-caches", "--exclude", src + "/skip",
                 "--json"] + args)
        assert r.rc == 0, r
        s = r.json()
        if len(ids) and "--force" not in args:
            assert s["files_unchanged"] == s["total_files"] and s["files_new"] == 0, s
        ids.append(subtree_id(repo, snapshots(repo)[-1]["id"], src))
    assert len(set(ids)) == 1, ids
    ls = [l for l in run(["ls", "-r", repo, "latest"]).out.splitlines()]
    assert any(l.endswith("/cache/CACHEDIR.TAG") for l in ls)
    assert not any("/cache/junk" in l or "/skip" in l for l in ls)
    assert any(l.endswith("/n39/f") for l in ls)
