# SPDX-License-Identifier: BSD-2-Clause
"""forget: retention policies (the worked example of dvalin(1)), tags,
--keep-within, protection, explicit ids, and bad input."""
import os

import pytest

from conftest import base_env, run, snapshots

# The worked example in docs/dvalin.1, newest first: (time, expected fate).
EXAMPLE = [
    ("2026-11-23 10:00:00", "last", 1),
    ("2026-11-23 08:00:00", "last", 2),
    ("2026-11-22 20:00:00", "daily", 1),
    ("2026-11-21 12:00:00", "daily", 2),
    ("2026-11-16 09:00:00", None, 0),  # ISO week 47 is covered by 11-22 and 11-21
    ("2026-11-15 09:00:00", "weekly", 1),
    ("2026-11-08 09:00:00", "weekly", 2),
    ("2026-10-31 09:00:00", "monthly", 1),
    ("2026-10-15 09:00:00", None, 0),  # an older one of a month already kept
    ("2026-09-30 09:00:00", "monthly", 2),
    ("2025-12-31 09:00:00", "yearly", 1),
]
POLICY = ["--keep-last", "2", "--keep-daily", "2", "--keep-weekly", "2",
          "--keep-monthly", "2", "--keep-yearly", "2"]
ENV = base_env(TZ="UTC")


def backup_at(repo, path, when, *extra):
    r = run(["backup", "-r", repo, "--time", when, "--json", *extra, path], env=ENV)
    assert r.rc == 0, r
    return r.json()["snapshot_id"]


@pytest.fixture
def example(world, repo):
    data = os.path.join(world, "data")
    os.mkdir(data)
    ids = {}
    for i, (when, _, _) in enumerate(reversed(EXAMPLE)):
        with open(os.path.join(data, "f"), "w") as f:
            f.write(f"version {i}\n")
        ids[when] = backup_at(repo, data, when)
    return repo, data, ids


def test_worked_example_dry_run_names_the_rule(example):
    repo, _, ids = example
    r = run(["forget", "-r", repo, "--dry-run", "--json", *POLICY], env=ENV)
    assert r.rc == 0, r
    doc = r.json()
    assert doc["dry_run"] is True and len(doc["groups"]) == 1
    got = [(s["time"][:19].replace("T", " "), s["rule"], s.get("rank", 0))
           for s in doc["groups"][0]["snapshots"]]
    assert got == EXAMPLE
    assert len(snapshots(repo)) == len(EXAMPLE), "a dry run removes nothing"
    text = run(["forget", "-r", repo, "--dry-run", *POLICY], env=ENV)
    assert "keep    " in text.out and "daily #2" in text.out and "remove  " in text.out
    assert "2 snapshots would be removed" in text.out


def test_worked_example_removes_exactly_the_others(example):
    repo, _, ids = example
    r = run(["forget", "-r", repo, *POLICY], env=ENV)
    assert r.rc == 0, r
    left = {s["id"] for s in snapshots(repo)}
    want = {ids[w] for w, rule, _ in EXAMPLE if rule}
    assert left == want


def test_protected_snapshot_is_never_forgotten(example):
    repo, _, ids = example
    victim = ids["2026-10-15 09:00:00"]
    assert run(["protect", "-r", repo, victim[:8]]).rc == 0
    assert [s["protected"] for s in snapshots(repo) if s["id"] == victim] == [True]
    assert "(protected)" in run(["snapshots", "-r", repo]).out
    r = run(["forget", "-r", repo, "--keep-last", "1", "--json"], env=ENV)
    assert r.rc == 0, r
    fates = {s["id"]: s["rule"] for s in r.json()["groups"][0]["snapshots"]}
    assert fates[victim] == "protected"
    assert {s["id"] for s in snapshots(repo)} == {victim, ids["2026-11-23 10:00:00"]}
    r = run(["forget", "-r", repo, victim[:10]])
    assert r.rc == 1 and "is protected" in r.err, r
    assert run(["unprotect", "-r", repo, victim[:8]]).rc == 0
    assert run(["forget", "-r", repo, victim[:10]]).rc == 0
    assert victim not in {s["id"] for s in snapshots(repo)}


def test_keep_tag_and_within_and_groups(world, repo):
    a, b = os.path.join(world, "a"), os.path.join(world, "b")
    for d in (a, b):
        os.mkdir(d)
        open(os.path.join(d, "x"), "w").write(d)
    old_tagged = backup_at(repo, a, "2020-01-01 00:00:00", "--tag", "keepme")
    old = backup_at(repo, a, "2020-01-02 00:00:00")
    recent = run(["backup", "-r", repo, "--json", a]).json()["snapshot_id"]
    other = backup_at(repo, b, "2020-01-01 00:00:00")
    r = run(["forget", "-r", repo, "--keep-within", "2d", "--keep-tag", "keepme", "--json"], env=ENV)
    assert r.rc == 0, r
    groups = r.json()["groups"]
    assert len(groups) == 2, "default grouping is host and paths"
    fates = {s["id"]: s["rule"] for g in groups for s in g["snapshots"]}
    assert fates == {old_tagged: "tag", old: None, recent: "within", other: None}
    left = {s["id"] for s in snapshots(repo)}
    assert left == {old_tagged, recent}
    # one group for everything: --group-by ''
    r = run(["forget", "-r", repo, "--group-by", "", "--keep-last", "1", "--dry-run", "--json"])
    assert len(r.json()["groups"]) == 1


@pytest.mark.parametrize("args,msg", [
    ([], "refusing to remove every snapshot"),
    (["--keep-daily", "x"], "invalid count 'x'"),
    (["--keep-within", "3q"], "invalid duration '3q'"),
    (["--group-by", "color"], "invalid --group-by 'color'"),
    (["--keep-last", "1", "abcd"], "not both"),
])
def test_bad_forget_input(repo, args, msg):
    r = run(["forget", "-r", repo, *args])
    assert r.rc == 2 and msg in r.err and r.err.count("\n") == 1, r


def test_forget_unknown_id_fails_and_removes_nothing(world, repo):
    d = os.path.join(world, "d")
    os.mkdir(d)
    backup_at(repo, d, "2021-01-01 00:00:00")
    r = run(["forget", "-r", repo, "ffffffff"])
    assert r.rc == 1 and "no snapshot matches 'ffffffff'" in r.err
    assert len(snapshots(repo)) == 1
