# SPDX-License-Identifier: BSD-2-Clause
"""dvalin tag: --add/--remove/--set rewrite the snapshots they change (new
ids, the old removed once the new is stored), keep protection, data and
tree, and select like every other command."""
import os

from conftest import run, snapshots


def backup(repo, src, *args):
    r = run(["backup", "-r", repo, src, "-q", *args])
    assert r.rc == 0, r


def test_add_remove_set_rewrite_and_keep_everything_else(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    open(os.path.join(src, "f"), "w").write("data\n")
    backup(repo, src, "--tag", "daily")
    backup(repo, src, "--tag", "daily,keep", "--host", "other")
    before = snapshots(repo)
    assert run(["protect", "-r", repo, before[1]["id"][:8]]).rc == 0
    r = run(["tag", "-r", repo, "--add", "new", "--remove", "daily"])
    assert r.rc == 0, r
    assert "2 snapshots changed, 0 already so" in r.out
    after = snapshots(repo)
    assert {s["id"] for s in after}.isdisjoint({s["id"] for s in before})
    assert [s["tags"] for s in after] == [["new"], ["keep", "new"]]
    for old, new in zip(before, after):
        for key in ("time", "host", "paths", "tree", "summary", "parent"):
            assert old[key] == new[key], key
        assert f"{old['id'][:8]} -> {new['id'][:8]}" in r.out
    assert [s["protected"] for s in after] == [False, True]
    assert os.listdir(os.path.join(repo, "protected")) == [after[1]["id"]]
    # filters and names select, --set replaces, an unchanged snapshot is left alone
    r = run(["tag", "-r", repo, "--host", "other", "--set", "a,b"])
    assert r.rc == 0 and "1 snapshot changed" in r.out, r
    assert [s["tags"] for s in snapshots(repo)] == [["new"], ["a", "b"]]
    r = run(["tag", "-r", repo, "latest", "--add", "a"])
    assert r.rc == 0 and "0 snapshots changed, 1 already so" in r.out, r
    r = run(["tag", "-r", repo, "--tag", "new", "--set", ""])
    assert r.rc == 0 and [s["tags"] for s in snapshots(repo)] == [[], ["a", "b"]]
    # the data is the same data: check, and a prune that finds nothing to free
    assert run(["check", "-r", repo, "--read-data"]).rc == 0
    assert run(["prune", "-r", repo, "--json"]).json()["packs_condemned"] == 0
    r = run(["restore", "-r", repo, "latest", "-t", os.path.join(world, "t")])
    assert r.rc == 0 and open(os.path.join(world, "t") + src + "/f").read() == "data\n"


def test_bad_usage(world, repo):
    assert run(["tag", "-r", repo, "latest"]).rc == 2
    r = run(["tag", "-r", repo, "--set", "a", "--remove", "b"])
    assert r.rc == 2 and "without --remove" in r.err
    r = run(["tag", "-r", repo, "ffff", "--add", "x"])
    assert r.rc == 1 and "no snapshot matches 'ffff'" in r.err, r
