# SPDX-License-Identifier: BSD-2-Clause
"""Property test of the retention rules: random snapshot histories (times
spread over minutes to years, in many time zones, some at the same instant,
protected ones, tags, several hosts and path sets) and random policies are
decided by `forget --dry-run --json` and by a slow, plain model of the rules
as dvalin(1) states them; the two must agree on every snapshot.

The model below is written from the man page, not from jobs/forget.c:

  Snapshots are grouped by the fields of --group-by (paths and tags as
  sets).  Within a group, newest first (the same instant: by id),
  protected snapshots, snapshots with a --keep-tag tag and snapshots
  younger than --keep-within are kept first.  Then the rules run from the
  finest to the coarsest: last, hourly, daily, weekly (ISO 8601 weeks),
  monthly, yearly.  A rule keeps the newest snapshot of each of its N most
  recent periods, but a period that already holds a kept snapshot does
  not count, and the older snapshots of a period the rule kept are
  removed (coarser rules do not consider them).  Periods are taken in the
  time zone the snapshot was made in.  A count of 0 is no rule.  A
  --keep-tag no snapshot carries is an error; a policy that removes every
  snapshot of a group is refused without --allow-empty.

Seed: DVALIN_PROPERTY_SEED (default fixed); histories: DVALIN_PROPERTY_CASES.
"""
import datetime
import os
import random
import subprocess
import time

from conftest import PASSWORD, TOOLS, base_env, run

SEED = int(os.environ.get("DVALIN_PROPERTY_SEED", "20261130"))
CASES = int(os.environ.get("DVALIN_PROPERTY_CASES", "40"))
POLICIES = 5
RULES = ["last", "hourly", "daily", "weekly", "monthly", "yearly"]
# whole minutes, half and quarter hours, the extremes, and one that RFC 3339
# cannot write (the JSON time is then in UTC; the rules still use it)
OFFSETS = [0, 0, 3600, 7200, -18000, -25200, 19800, 20700, -12600, 50400, -43200, 3601]
TAGS = ["daily", "weekly", "keep", "db"]
PATHSETS = [["/srv"], ["/home"], ["/srv", "/home"], ["/home", "/srv"]]


# ---------- the model ----------

def local(s):
    return datetime.datetime.fromtimestamp(s["sec"], datetime.timezone(datetime.timedelta(seconds=s["off"])))


def period(rule, s, index):
    if rule == "last":
        return ("own", index)
    d = local(s)
    return {"hourly": (d.year, d.month, d.day, d.hour), "daily": (d.year, d.month, d.day),
            "weekly": tuple(d.isocalendar())[:2], "monthly": (d.year, d.month),
            "yearly": (d.year,)}[rule]


def group_key(s, group_by):
    return (s["host"] if "host" in group_by else None,
            frozenset(s["paths"]) if "paths" in group_by else None,
            frozenset(s["tags"]) if "tags" in group_by else None)


def model(snaps, policy, now):
    """{id: (action, rule, rank, superseded (rule, keeper id) or None)}, refused groups, bad tags."""
    chosen = [s for s in snaps if policy["host"] is None or s["host"] == policy["host"]]
    bad_tags = [t for t in policy["keep_tags"] if not any(t in s["tags"] for s in chosen)]
    groups = {}
    for s in chosen:
        groups.setdefault(group_key(s, policy["group_by"]), []).append(s)
    fates, empty = {}, 0
    for members in groups.values():
        members.sort(key=lambda s: (-s["sec"], -s["nsec"], s["id"]))
        fate = [None] * len(members)
        for i, s in enumerate(members):
            if s["protected"]:
                fate[i] = ("keep", "protected", None, None)
            elif set(s["tags"]) & set(policy["keep_tags"]):
                fate[i] = ("keep", "tag", None, None)
            elif policy["within"] > 0 and now - s["sec"] <= policy["within"]:
                fate[i] = ("keep", "within", None, None)
        for rule in RULES:
            n = policy["keep"].get(rule, 0)
            if n <= 0:
                continue
            covered = {period(rule, s, i) for i, s in enumerate(members) if fate[i] and fate[i][0] == "keep"}
            kept = {}
            for i, s in enumerate(members):
                if fate[i] is not None:
                    continue
                p = period(rule, s, i)
                if p in covered:
                    continue
                if p in kept:
                    fate[i] = ("remove", None, None, (rule, members[kept[p]]["id"]))
                elif len(kept) < n:
                    kept[p] = i
                    fate[i] = ("keep", rule, len(kept), None)
        for i, s in enumerate(members):
            fates[s["id"]] = fate[i] or ("remove", None, None, None)
        empty += all(fates[s["id"]][0] == "remove" for s in members)
    return fates, empty, bad_tags


# ---------- random inputs ----------

def history(rng):
    base = rng.randrange(1420070400, 1735689600)  # 2015 .. 2025
    out, t = [], base
    for _ in range(rng.randrange(1, 26)):
        step = rng.choice([0, 60, 1800, 3600, 5 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400, 200 * 86400])
        t -= rng.randrange(0, step + 1)
        out.append({"sec": t, "nsec": rng.choice([0, rng.randrange(10**9)]), "off": rng.choice(OFFSETS),
                    "protected": rng.random() < 0.1, "host": rng.choice(["a", "a", "b"]),
                    "tags": rng.sample(TAGS, rng.randrange(0, 3)),
                    "paths": rng.choice(PATHSETS)})
    return out


def policy_for(rng, snaps, now):
    keep = {r: rng.choice([0, 1, 1, 2, 3, 5]) for r in rng.sample(RULES, rng.randrange(0, 4))}
    used = sorted({t for s in snaps for t in s["tags"]})
    keep_tags = rng.sample(used, min(len(used), rng.choice([0, 0, 1])))
    if rng.random() < 0.05:
        keep_tags.append("no-such-tag")
    within = 0
    if rng.random() < 0.3:
        # a duration whose boundary is far (2 minutes) from every snapshot, so
        # that the second the binary calls "now" cannot change the outcome
        for _ in range(20):
            w = rng.randrange(1, 4000) * rng.choice([3600, 86400])
            if all(abs(s["sec"] - (now - w)) > 120 for s in snaps):
                within = w
                break
    if not any(keep.values()) and not within and not keep_tags:
        keep["last"] = rng.randrange(1, 4)
    return {"keep": keep, "within": within, "keep_tags": keep_tags,
            "group_by": rng.choice(["host,paths", "host,paths", "", "host", "paths,tags", "host,paths,tags"]),
            "host": rng.choice([None, None, None, "a"]), "allow_empty": rng.random() < 0.5}


def args_of(p):
    a = []
    for rule, n in p["keep"].items():
        a += [f"--keep-{rule}", str(n)]
    if p["within"]:
        a += ["--keep-within", f'{p["within"] // 3600}h']
    for t in p["keep_tags"]:
        a += ["--keep-tag", t]
    a += ["--group-by", p["group_by"]]
    if p["host"]:
        a += ["--host", p["host"]]
    if p["allow_empty"]:
        a += ["--allow-empty"]
    return a


def write(world, case, snaps):
    repo = os.path.join(world, f"r{case}")
    assert run(["init", "-r", repo, "--kdf-log-n", "10"]).rc == 0
    lines = "".join(f'{s["sec"]}\t{s["nsec"]}\t{s["off"]}\t{int(s["protected"])}\t{s["host"]}\t'
                    f'{",".join(s["tags"])}\t{",".join(s["paths"])}\n' for s in snaps)
    p = subprocess.run([os.path.join(TOOLS, "snapgen"), repo], input=lines, capture_output=True,
                       text=True, env=dict(base_env(), DVALIN_PASSWORD=PASSWORD), timeout=120)
    assert p.returncode == 0, p.stderr
    for s, sid in zip(snaps, p.stdout.split()):
        s["id"] = sid
    return repo


# ---------- the property ----------

def check_one(repo, snaps, pol, dry, where):
    now = int(time.time())
    want, empty, bad_tags = model(snaps, pol, now)
    r = run(["forget", "-r", repo, "--json", *(["--dry-run"] if dry else []), *args_of(pol)])
    if bad_tags:
        assert r.rc == 1 and f"no snapshot" in r.err and f"'{bad_tags[0]}'" in r.err, (where, r)
        return None
    refused = empty and not pol["allow_empty"]
    if refused:
        assert r.rc == 1 and "the policy would remove" in r.err, (where, r)
        if not dry:
            return None
    else:
        assert r.rc == 0, (where, r)
    got = {}
    for g in r.json()["groups"]:
        order = [d["snapshot"]["id"] for d in g["snapshots"]]
        mine = sorted(order, key=lambda i: (-by_id[i]["sec"], -by_id[i]["nsec"], i))
        assert order == mine, (where, "not newest first", order)
        for d in g["snapshots"]:
            sup = d["superseded_by"]
            got[d["snapshot"]["id"]] = (d["action"], d["rule"], d["rank"] if d["rule"] not in
                                        ("protected", "tag", "within") else None,
                                        (sup["rule"], sup["snapshot_id"]) if sup else None)
    if got != want:
        diff = {i: (want.get(i), got.get(i)) for i in set(want) | set(got) if want.get(i) != got.get(i)}
        raise AssertionError(f"{where}: model and dvalin disagree on {len(diff)} snapshot(s): {diff}\n"
                             f"policy {pol}\nhistory {snaps}")
    return want


by_id = {}


def test_retention_rules_match_the_model(world):
    rng = random.Random(SEED)
    checked = removals = 0
    for case in range(CASES):
        snaps = history(rng)
        repo = write(world, case, snaps)
        by_id.clear()
        by_id.update({s["id"]: s for s in snaps})
        now = int(time.time())
        for k in range(POLICIES):
            pol = policy_for(rng, snaps, now)
            where = f"seed {SEED}, history {case}, policy {k} (DVALIN_PROPERTY_SEED={SEED})"
            want = check_one(repo, snaps, pol, True, where)
            checked += 1
            if want:
                removals += sum(v[0] == "remove" for v in want.values())
        # now for real, once per history: what is left is what the model keeps
        pol = policy_for(rng, snaps, now)
        pol["allow_empty"] = True
        want = check_one(repo, snaps, pol, False, f"seed {SEED}, history {case}, real run")
        if want is not None:
            left = {s["id"] for s in run(["snapshots", "-r", repo, "--json"]).json()}
            kept = {s["id"] for s in snaps if s["id"] not in want or want[s["id"]][0] == "keep"}
            assert left == kept, (case, left ^ kept)
    print(f"retention property: seed {SEED}, {CASES} histories, {checked} policies, {removals} removals")
    assert checked == CASES * POLICIES and removals > 0


def decisions(r):
    out = {}
    for g in r.json()["groups"]:
        for d in g["snapshots"]:
            sup = d["superseded_by"]
            out[d["snapshot"]["id"]] = (d["action"], d["rule"], d["rank"],
                                        (sup["rule"], sup["snapshot_id"]) if sup else None)
    return out


def test_keyless_retention_decides_as_with_the_key(world):
    """forget --no-key reads only the plaintext time and keyed group ids of
    each snapshot header; for every random history and policy (without
    --host and --keep-tag, which need names) it must decide exactly as
    forget with the key, group by group and snapshot by snapshot."""
    rng = random.Random(SEED + 1)
    keyless_env = {k: v for k, v in base_env().items() if k != "DVALIN_PASSWORD"}
    compared = removals = 0
    for case in range(max(1, CASES // 2)):
        snaps = history(rng)
        repo = write(world, case, snaps)
        now = int(time.time())
        for k in range(POLICIES):
            pol = policy_for(rng, snaps, now)
            pol["keep_tags"], pol["host"] = [], None
            if not any(pol["keep"].values()) and not pol["within"]:
                pol["keep"]["last"] = 1
            where = f"seed {SEED + 1}, history {case}, policy {k}"
            keyed = run(["forget", "-r", repo, "--json", "--dry-run", *args_of(pol)])
            keyless = run(["forget", "-r", repo, "--json", "--dry-run", "--no-key", *args_of(pol)],
                          env=keyless_env)
            assert keyed.rc == keyless.rc and keyed.rc in (0, 1), (where, keyed, keyless)
            if keyed.rc:
                assert "the policy would remove" in keyed.err and "the policy would remove" in keyless.err
                continue
            a, b = decisions(keyed), decisions(keyless)
            assert a == b, (where, {i: (a.get(i), b.get(i)) for i in set(a) | set(b) if a.get(i) != b.get(i)})
            assert len(keyed.json()["groups"]) == len(keyless.json()["groups"]), where
            assert keyless.json()["keyless"] is True
            compared += 1
            removals += sum(v[0] == "remove" for v in a.values())
    assert compared > CASES // 2 and removals > 0, (compared, removals)
