# SPDX-License-Identifier: BSD-2-Clause
"""Naming snapshots (jobs/snapsel.c): latest narrowed by --host, --path and
--tag, SNAPSHOT:PATH, ambiguous prefixes listing their candidates, and the
same rules in every command that takes a snapshot."""
import collections
import json
import os

import pytest

from conftest import run, snapshots


@pytest.fixture
def hosts(world, repo):
    """Snapshots of two hosts and two path sets, tagged, in a known order."""
    a = os.path.join(world, "a")
    b = os.path.join(world, "b")
    for d in (a, b):
        os.makedirs(os.path.join(d, "sub"))
        open(os.path.join(d, "sub", "f"), "w").write(d + "\n")
    plan = [("h1", [a], "x,y", "2026-01-01 10:00:00"),
            ("h2", [a], "x", "2026-01-02 10:00:00"),
            ("h1", [b], "y", "2026-01-03 10:00:00"),
            ("h1", [a, b], "", "2026-01-04 10:00:00"),
            ("h2", [b], "z", "2026-01-05 10:00:00")]
    for host, paths, tags, when in plan:
        args = ["backup", "-r", repo, *paths, "--host", host, "--time", when]
        if tags:
            args += ["--tag", tags]
        assert run(args).rc == 0
    ids = [s["id"] for s in snapshots(repo)]
    return repo, a, b, ids


def ls_ids(repo, *args):
    r = run(["snapshots", "-r", repo, "--json", *args])
    assert r.rc == 0, r
    return [s["id"] for s in r.json()]


def latest(repo, *args):
    """The id 'latest' names with these filter options (forget --dry-run prints it)."""
    r = run(["forget", "-r", repo, "latest", "--dry-run", "--json", *args])
    assert r.rc == 0, r
    return r.json()["groups"][0]["snapshots"][0]["snapshot"]["id"]


def test_filters_select_like_restic(hosts):
    repo, a, b, ids = hosts
    assert ls_ids(repo, "--host", "h1") == [ids[0], ids[2], ids[3]]
    assert ls_ids(repo, "--host", "h1", "--host", "h2") == ids
    assert ls_ids(repo, "--path", a) == [ids[0], ids[1], ids[3]]
    # every --path must be among the snapshot's paths
    assert ls_ids(repo, "--path", a, "--path", b) == [ids[3]]
    # a trailing slash and a relative path name the same path
    assert ls_ids(repo, "--path", a + "/") == ls_ids(repo, "--path", a)
    rel = run(["snapshots", "-r", repo, "--json", "--path", "a"], cwd=os.path.dirname(a))
    assert [s["id"] for s in rel.json()] == [ids[0], ids[1], ids[3]]
    # --tag x,y: both; repeated: either list
    assert ls_ids(repo, "--tag", "x,y") == [ids[0]]
    assert ls_ids(repo, "--tag", "x") == [ids[0], ids[1]]
    assert ls_ids(repo, "--tag", "y", "--tag", "z") == [ids[0], ids[2], ids[4]]
    assert ls_ids(repo, "--host", "h1", "--tag", "y") == [ids[0], ids[2]]


def test_latest_is_narrowed_by_the_filter(hosts):
    repo, a, b, ids = hosts
    assert latest(repo) == ids[4]
    assert latest(repo, "--host", "h1") == ids[3]
    assert latest(repo, "--host", "h1", "--path", b, "--tag", "y") == ids[2]
    assert latest(repo, "--tag", "x") == ids[1]
    r = run(["ls", "-r", repo, "latest", "--host", "h1", "--path", a, "--json"])
    assert r.rc == 0
    # h1's newest snapshot with path a is ids[3] (paths a and b)
    paths = {json.loads(l)["path"] for l in r.out.splitlines()}
    assert a + "/sub/f" in paths and b + "/sub/f" in paths
    r = run(["ls", "-r", repo, "latest", "--host", "h2", "--tag", "x"])
    assert r.rc == 0 and b not in r.out and a + "/sub/f" in r.out
    r = run(["ls", "-r", repo, "latest", "--host", "nobody"])
    assert r.rc == 1 and "no snapshot matches --host nobody" in r.err, r


def test_snapshot_colon_path(hosts):
    repo, a, b, ids = hosts
    r = run(["ls", "-r", repo, f"latest:{b}/sub"])
    assert r.rc == 0 and r.out.splitlines() == [b + "/sub", b + "/sub/f"], r
    # relative inside the snapshot means from its root; an id prefix works the same
    r2 = run(["ls", "-r", repo, f"{ids[4][:8]}:{b.lstrip('/')}/sub"])
    assert r2.out == r.out
    r = run(["ls", "-r", repo, f"latest:{b}/sub", b])
    assert r.rc == 2 and "not both" in r.err
    r = run(["ls", "-r", repo, "latest:/no/such/dir"])
    assert r.rc == 1 and "not in the snapshot" in r.err
    # where a command takes a snapshot only, a path is refused by name
    r = run(["protect", "-r", repo, f"latest:{b}"])
    assert r.rc == 2 and "takes a snapshot, not a path" in r.err, r


def test_ambiguous_prefix_lists_candidates(world, repo):
    src = os.path.join(world, "s")
    os.makedirs(src)
    for i in range(40):
        assert run(["backup", "-r", repo, src, "--time", f"2026-02-01 10:00:{i:02d}",
                    "-q"]).rc == 0
    ids = [s["id"] for s in snapshots(repo)]
    first = collections.Counter(i[0] for i in ids).most_common(1)[0]
    assert first[1] > 1  # 40 ids over 16 digits: one digit repeats
    for cmd in (["ls"], ["cat", "snapshot"], ["restore", "-t", os.path.join(world, "t")],
                ["forget"], ["protect"]):
        r = run([*cmd, "-r", repo, first[0]])
        assert r.rc == 1 and f"snapshot id prefix '{first[0]}' is ambiguous" in r.err, (cmd, r)
        assert f"{first[1]} snapshots match" in r.err
        shown = [i[:8] for i in ids if i[0] == first[0]][:5]
        assert all(s in r.err for s in shown), r
        assert len(r.err.splitlines()) == 1


def test_forget_latest_and_filtered_ids(hosts):
    repo, a, b, ids = hosts
    r = run(["forget", "-r", repo, "latest", "--host", "h1", "--dry-run"])
    assert r.rc == 0 and ids[3][:8] in r.out and "named on the command line" in r.out, r
    r = run(["forget", "-r", repo, "latest"])
    assert r.rc == 0 and f"removed {ids[4][:8]}" in r.out, r
    assert [s["id"] for s in snapshots(repo)] == ids[:4]
    # an id the filter rejects is named with the filter
    r = run(["forget", "-r", repo, ids[1][:10], "--host", "h1"])
    assert r.rc == 1 and f"snapshot '{ids[1][:10]}' does not match --host h1" in r.err, r
    # forget --tag narrows a policy
    r = run(["forget", "-r", repo, "--keep-last", "1", "--tag", "y", "--group-by", "",
             "--dry-run", "--json"])
    decided = [d["snapshot"]["id"] for g in r.json()["groups"] for d in g["snapshots"]]
    assert sorted(decided) == sorted([ids[0], ids[2]])


def test_forget_exact_path_is_the_set_of_paths_path_is_membership(hosts):
    """--path P: the snapshot's paths include P (restic); --exact-path P...:
    its set of paths is exactly these (what the daemon's backup jobs forget by)."""
    repo, a, b, ids = hosts

    def decided(*args):
        r = run(["forget", "-r", repo, "--keep-last", "1", "--group-by", "", "--dry-run",
                 "--json", *args])
        assert r.rc == 0, r
        return sorted(d["snapshot"]["id"] for g in r.json()["groups"] for d in g["snapshots"])
    assert decided("--path", a) == sorted([ids[0], ids[1], ids[3]])
    assert decided("--exact-path", a) == sorted([ids[0], ids[1]])
    # a set: order, repetition and a trailing '/' do not matter; made absolute
    assert decided("--exact-path", b, "--exact-path", a + "/", "--exact-path", a) == [ids[3]]
    rel = run(["forget", "-r", repo, "--keep-last", "1", "--exact-path", "b", "--dry-run",
               "--json"], cwd=os.path.dirname(b))
    assert sorted(d["snapshot"]["id"] for g in rel.json()["groups"] for d in g["snapshots"]) \
        == sorted([ids[2], ids[4]])
    assert decided("--exact-path", a, "--host", "h2") == [ids[1]]
    # with ids it is refused: it narrows a policy
    r = run(["forget", "-r", repo, ids[0][:8], "--exact-path", a])
    assert r.rc == 2 and "--exact-path" in r.err, r

def test_the_reading_commands_select_the_same_way(hosts, world):
    """dump, diff, find and drill name snapshots through the same module."""
    repo, a, b, ids = hosts
    f = f"{a}/sub/f"
    fb = f"{b}/sub/f"
    # dump: SNAPSHOT PATH or SNAPSHOT:PATH; latest (h2's, of b) narrowed by the filter
    r = run(["dump", "-r", repo, f"latest:{fb}"])
    assert r.rc == 0 and r.out == b + "\n", r
    assert run(["dump", "-r", repo, "latest", fb]).out == r.out
    r = run(["dump", "-r", repo, "latest", "--host", "h1"])
    assert r.rc == 2 and "no path given" in r.err, r
    r = run(["dump", "-r", repo, f"latest:{f}"])
    assert r.rc == 1 and "not in the snapshot" in r.err, r
    r = run(["dump", "-r", repo, f"latest:{f}", "--host", "h1"])  # ids[3]: a and b
    assert r.rc == 0 and r.out == a + "\n", r
    r = run(["dump", "-r", repo, f"latest:{f}", "--host", "h2", "--path", a])  # ids[1]
    assert r.rc == 0 and r.out == a + "\n", r
    r = run(["dump", "-r", repo, f"latest:{f}", f])
    assert r.rc == 2 and "not both" in r.err
    r = run(["dump", "-r", repo, "latest", f, "--tag", "nope"])
    assert r.rc == 1 and "no snapshot matches --tag nope" in r.err, r
    # diff: ID:PATH on each side compares two directories (restic's diff ID:DIR ID:DIR)
    r = run(["diff", "-r", repo, f"{ids[0][:8]}:{a}/sub", f"{ids[2][:8]}:{b}/sub"])
    assert r.rc == 0 and r.out.splitlines()[0] == f"M  {a}/sub/f", r  # named as in A
    r = run(["diff", "-r", repo, f"{ids[0][:8]}:{a}", ids[3][:8]])  # B alone: its root
    assert r.rc == 0 and any(l.startswith("+  ") and b in l for l in r.out.splitlines()), r
    r = run(["diff", "-r", repo, f"{ids[0][:8]}:{a}", ids[3][:8], a])
    assert r.rc == 2 and "not both" in r.err
    # find --snapshot: id prefixes, checked
    r = run(["find", "-r", repo, "f", "--snapshot", "zz"])
    assert r.rc == 2 and "invalid --snapshot 'zz'" in r.err, r
    r = run(["find", "-r", repo, "--json", "f", "--snapshot", ids[1][:8], "--snapshot", ids[4][:8]])
    assert r.rc == 0 and {json.loads(l)["snapshot_id"] for l in r.out.splitlines()} == {ids[1], ids[4]}
    # drill: --snapshot names the one to drill, the filter narrows latest
    r = run(["drill", "-r", repo, "--json", "--host", "h1", "--tag", "y", "--target", world])
    assert r.rc == 0 and r.json()["snapshot_id"] == ids[2], r
    r = run(["drill", "-r", repo, "--json", "--snapshot", f"latest", "--path", a, "--path", b,
             "--target", world])
    assert r.rc == 0 and r.json()["snapshot_id"] == ids[3], r
    r = run(["drill", "-r", repo, "--snapshot", f"latest:{a}", "--target", world])
    assert r.rc == 2 and "takes a snapshot, not a path" in r.err, r
