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
    decisions = doc["groups"][0]["snapshots"]
    got = [(d["snapshot"]["time"][:19].replace("T", " "), d["rule"], d["rank"] or 0) for d in decisions]
    assert got == EXAMPLE
    assert len(snapshots(repo)) == len(EXAMPLE), "a dry run removes nothing"
    # every removal says why
    why = {d["snapshot"]["time"][:10]: d for d in decisions if d["action"] == "remove"}
    assert why["2026-11-16"]["reason"] == "not kept by any rule"
    assert why["2026-11-16"]["superseded_by"] is None
    keeper = ids["2026-10-31 09:00:00"]
    assert why["2026-10-15"]["reason"] == f"monthly period 2026-10 already kept by monthly #1 ({keeper[:8]})"
    assert why["2026-10-15"]["superseded_by"] == {"rule": "monthly", "period": "2026-10", "snapshot_id": keeper}
    assert all(d["reason"] == f'{d["rule"]} #{d["rank"]}' for d in decisions if d["action"] == "keep")
    text = run(["forget", "-r", repo, "--dry-run", *POLICY], env=ENV)
    assert "keep    " in text.out and "daily #2" in text.out and "remove  " in text.out
    lines = [l for l in text.out.splitlines() if l.startswith("  remove")]
    assert len(lines) == 2 and lines[0].endswith("not kept by any rule"), lines
    assert lines[1].endswith(f"monthly period 2026-10 already kept by monthly #1 ({keeper[:8]})"), lines
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
    assert "1 protected (*)" in run(["snapshots", "-r", repo]).out
    r = run(["forget", "-r", repo, "--keep-last", "1", "--json"], env=ENV)
    assert r.rc == 0, r
    fates = {d["snapshot"]["id"]: d["rule"] for d in r.json()["groups"][0]["snapshots"]}
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
    # group b loses its only snapshot: refused, then allowed explicitly
    r = run(["forget", "-r", repo, "--keep-within", "2d", "--keep-tag", "keepme"], env=ENV)
    assert r.rc == 1 and "would remove all 1 snapshot of the group" in r.err and b in r.err, r
    assert "--allow-empty" in r.err and len(snapshots(repo)) == 4
    r = run(["forget", "-r", repo, "--keep-within", "2d", "--keep-tag", "keepme", "--json",
             "--allow-empty"], env=ENV)
    assert r.rc == 0, r
    groups = r.json()["groups"]
    assert len(groups) == 2, "default grouping is host and paths"
    fates = {d["snapshot"]["id"]: d["rule"] for g in groups for d in g["snapshots"]}
    assert fates == {old_tagged: "tag", old: None, recent: "within", other: None}
    left = {s["id"] for s in snapshots(repo)}
    assert left == {old_tagged, recent}
    # one group for everything: --group-by ''
    r = run(["forget", "-r", repo, "--group-by", "", "--keep-last", "1", "--dry-run", "--json"])
    assert len(r.json()["groups"]) == 1


@pytest.mark.parametrize("args,msg", [
    ([], "refusing to remove every snapshot"),
    (["--keep-last", "0"], "a count of 0 is no rule"),
    (["--keep-daily", "0", "--keep-within", "0d"], "refusing to remove every snapshot"),
    (["abcd", "--allow-empty"], "go with a policy, not with ids"),
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


# ---------- easy mistakes that used to lose data (issue 16, item 7) ----------

@pytest.fixture
def three(world, repo):
    d = os.path.join(world, "d")
    os.mkdir(d)
    ids = [backup_at(repo, d, f"2026-0{m}-01 12:00:00", "--tag", "weekly") for m in (1, 2, 3)]
    return repo, d, ids


def test_keep_last_0_is_no_rule_not_remove_everything(three):
    repo, _, ids = three
    r = run(["forget", "-r", repo, "--keep-last", "0"], env=ENV)
    assert r.rc == 2 and len(snapshots(repo)) == 3, r
    # beside another rule, 0 just adds nothing
    r = run(["forget", "-r", repo, "--keep-last", "0", "--keep-monthly", "2", "--json"], env=ENV)
    assert r.rc == 0, r
    rules = [d["rule"] for d in r.json()["groups"][0]["snapshots"]]
    assert rules == ["monthly", "monthly", None]
    assert {s["id"] for s in snapshots(repo)} == set(ids[1:])


def test_misspelt_keep_tag_is_an_error_naming_it(three):
    repo, _, _ = three
    for extra in ([], ["--dry-run"], ["--allow-empty"]):
        r = run(["forget", "-r", repo, "--keep-tag", "wekly", *extra], env=ENV)
        assert r.rc == 1 and "no snapshot has the tag 'wekly' to keep (tags in use: 'weekly')" in r.err, r
        assert r.err.count("\n") == 1 and r.out == "", r
    assert len(snapshots(repo)) == 3
    # one good tag and one bad: still an error, nothing removed
    r = run(["forget", "-r", repo, "--keep-tag", "weekly", "--keep-tag", "montly"], env=ENV)
    assert r.rc == 1 and "'montly'" in r.err and len(snapshots(repo)) == 3


def test_a_policy_that_empties_a_group_is_refused(three):
    repo, d, ids = three
    r = run(["forget", "-r", repo, "--keep-within", "1d"], env=ENV)
    assert r.rc == 1 and len(snapshots(repo)) == 3, r
    assert f"the policy would remove all 3 snapshots of the group host" in r.err and d in r.err
    assert "nothing was removed (--allow-empty allows it)" in r.err
    # a dry run shows the plan, and the refusal
    r = run(["forget", "-r", repo, "--keep-within", "1d", "--dry-run"], env=ENV)
    assert r.rc == 1 and r.out.count("remove  ") == 3 and "not kept by any rule" in r.out, r
    r = run(["forget", "-r", repo, "--keep-within", "1d", "--dry-run", "--json"], env=ENV)
    assert r.rc == 1 and r.json()["to_remove"] == 3 and r.json()["removed"] == 0, r
    assert len(snapshots(repo)) == 3
    r = run(["forget", "-r", repo, "--keep-within", "1d", "--allow-empty", "--json"], env=ENV)
    assert r.rc == 0 and r.json()["removed"] == 3 and snapshots(repo) == [], r


def test_forget_by_id_json_and_dry_run(three):
    repo, _, ids = three
    r = run(["forget", "-r", repo, ids[0][:8], ids[1][:9], "--dry-run", "--json"], env=ENV)
    assert r.rc == 0, r
    doc = r.json()
    assert doc["to_remove"] == 2 and doc["removed"] == 0 and doc["groups"][0]["host"] is None
    assert [d["snapshot"]["id"] for d in doc["groups"][0]["snapshots"]] == ids[:2]
    assert {d["reason"] for d in doc["groups"][0]["snapshots"]} == {"named on the command line"}
    assert len(snapshots(repo)) == 3
    r = run(["forget", "-r", repo, ids[0][:8]], env=ENV)
    assert r.rc == 0 and f"removed {ids[0][:8]}" in r.out and "1 snapshot removed" in r.out, r


KEYLESS = {k: v for k, v in ENV.items() if k != "DVALIN_PASSWORD"}


def test_keyless_worked_example_keeps_what_forget_with_the_key_keeps(example):
    repo, _, ids = example
    r = run(["forget", "-r", repo, "--no-key", "--dry-run", "--json", *POLICY], env=KEYLESS)
    assert r.rc == 0, r
    doc = r.json()
    assert doc["keyless"] is True and doc["kept_without_plaintext_time"] == 0
    got = [(d["snapshot"]["time"][:19].replace("T", " "), d["rule"], d["rank"] or 0)
           for d in doc["groups"][0]["snapshots"]]
    assert got == EXAMPLE
    assert doc["groups"][0]["host"].startswith("#") and len(doc["groups"][0]["host"]) == 65
    r = run(["forget", "-r", repo, "--no-key", *POLICY], env=KEYLESS)
    assert r.rc == 0, r
    assert {s["id"] for s in snapshots(repo)} == {ids[w] for w, rule, _ in EXAMPLE if rule}


def test_keyless_forget_refuses_what_needs_names(repo, world):
    for opt in (["--host", "h"], ["--keep-tag", "t"], ["--path", "/p"], ["--tag", "t"],
                ["--exact-path", "/p"]):
        r = run(["forget", "-r", repo, "--no-key", "--keep-last", "1", *opt], env=KEYLESS)
        assert r.rc == 2 and "needs the key" in r.err and len(r.err.splitlines()) == 1, r


def test_keyless_forget_never_removes_version_1_snapshots(world):
    import shutil
    from test_golden import GOLDEN
    repo = os.path.join(world, "golden")
    shutil.copytree(os.path.join(GOLDEN, "repo"), repo)
    r = run(["forget", "-r", repo, "--no-key", "--keep-last", "1", "--allow-empty", "--json"], env=KEYLESS)
    assert r.rc == 0, r
    assert r.json()["kept_without_plaintext_time"] == 1 and r.json()["removed"] == 0
    assert "before snapshots carried their time and group in plaintext" in r.err
    assert len(os.listdir(os.path.join(repo, "snapshots"))) == 1
