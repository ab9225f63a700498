# SPDX-License-Identifier: BSD-2-Clause
"""A hostile repository: every kind of file of a small repository
(config, keys, index, snapshots, tree and data packs, locks, gc records,
protection marks) truncated, extended, bit-flipped and swapped with
another of the same or of a different kind; after each mutation every read
command runs (DVALIN_BIN, on both builds).  Never a crash (signal or
sanitizer report, which conftest.run refuses), never a hang (a timeout),
never a restore that reports success with wrong contents, never a write
outside the target, never a change by a --dry-run.

The mutations are sampled deterministically (every kind of file and every
kind of mutation at least once) to keep the run short;
DVALIN_HOSTILE_ALL=1 runs every mutation of every file,
DVALIN_HOSTILE_SEED and DVALIN_HOSTILE_N choose another sample."""
import hashlib
import os
import random
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import base_env, run

TIMEOUT = 60
SEED = int(os.environ.get("DVALIN_HOSTILE_SEED", "16"))
SAMPLE = int(os.environ.get("DVALIN_HOSTILE_N", "40"))


def digest(root):
    """relative path -> sha256 of contents (regular files) or target (symlinks)."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            if os.path.islink(p):
                out[os.path.relpath(p, root)] = "-> " + os.readlink(p)
            else:
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def listing(root):
    return sorted((os.path.relpath(os.path.join(d, f), root), os.path.getsize(os.path.join(d, f)))
                  for d, _, fs in os.walk(root) for f in fs)


def kind_of(rel):
    top = rel.split("/")[0]
    if top != "data":
        return top
    with open(rel_abs[rel], "rb") as f:  # the last table entry says what the pack holds
        f.seek(-40 - 65, 2)
        return "data-tree" if f.read(1) == b"\x02" else "data-data"


rel_abs = {}


@pytest.fixture(scope="module")
def pristine():
    """The repository: three snapshots of a small tree (files, a hard link,
    an xattr, a sparse file, a symlink), one forgotten and pruned while a
    lease is held (so a gc record stays), one protected."""
    top = tempfile.mkdtemp(prefix="dvalin-hostile-", dir="/tmp")
    src, repo = os.path.join(top, "src"), os.path.join(top, "repo")
    os.makedirs(os.path.join(src, "sub"))
    rnd = random.Random(1)
    with open(os.path.join(src, "small"), "w") as f:
        f.write("hello\n")
    os.setxattr(os.path.join(src, "small"), "user.test", b"value")
    with open(os.path.join(src, "big"), "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(600 << 10)))
    os.link(os.path.join(src, "small"), os.path.join(src, "sub", "hardlink"))
    with open(os.path.join(src, "sparse"), "wb") as f:
        f.truncate(2 << 20)
        f.seek(1 << 20)
        f.write(b"island" * 700)
    os.symlink("small", os.path.join(src, "sym"))
    assert run(["init", "-r", repo, "--kdf-log-n", "10"]).rc == 0
    expect, ids = {}, []
    for step in range(3):
        if step:
            with open(os.path.join(src, "new%d" % step), "w") as f:
                f.write("step %d\n" % step)
        assert run(["backup", "-r", repo, src]).rc == 0
        new = {s["id"] for s in run(["snapshots", "-r", repo, "--json"]).json()} - set(ids)
        assert len(new) == 1
        ids.append(new.pop())
        expect[ids[-1]] = digest(src)
    assert run(["protect", "-r", repo, ids[0]]).rc == 0
    now = time.time_ns()
    with open(os.path.join(repo, "locks", "00c0ffee00c0ffee"), "w") as f:
        f.write("dvalin-lease 1\nkind backup\nhost hostile\npid %d\nstart %d\nrefresh %d\n"
                % (os.getpid(), now, now))
    assert run(["forget", "-r", repo, ids[1]]).rc == 0
    r = run(["prune", "-r", repo], env=base_env(DVALIN_CLOCK_SKEW="0"))
    assert r.rc == 0, r
    del expect[ids[1]]
    files = sorted(os.path.relpath(os.path.join(d, f), repo)
                   for d, _, fs in os.walk(repo) for f in fs)
    for rel in files:
        rel_abs[rel] = os.path.join(repo, rel)
    kinds = {}
    for rel in files:
        kinds.setdefault(kind_of(rel), []).append(rel)
    want = {"config", "keys", "index", "snapshots", "data-tree", "data-data", "locks", "gc",
            "protected"}
    assert set(kinds) == want, kinds
    assert all(len(kinds[k]) == 1 for k in SINGLE) and os.path.getsize(rel_abs[kinds["protected"][0]]) == 0
    yield {"top": top, "src": src, "repo": repo, "ids": ids, "expect": expect, "kinds": kinds,
           "src_digest": digest(src)}
    shutil.rmtree(top, ignore_errors=True)


MUTATIONS = ["truncate-0", "truncate-half", "truncate-1", "extend-1", "extend-4k",
             "flip-start", "flip-header", "flip-middle", "flip-end", "flip-tail", "flip-random",
             "swap-same", "swap-other"]


def mutate(repo, kinds, rel, how, rnd):
    """Applies mutation how to repo/rel; False when it does not apply."""
    path = os.path.join(repo, rel)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if how.startswith("swap"):
        mine = kind_of(rel)
        pool = ([r for r in kinds[mine] if r != rel] if how == "swap-same" else
                [r for k, v in kinds.items() if k != mine for r in v])
        if not pool:
            return False
        other = os.path.join(repo, rnd.choice(pool))
        with open(other, "rb") as f:
            theirs = f.read()
        with open(other, "wb") as f:
            f.write(data)
        with open(path, "wb") as f:
            f.write(theirs)
        return True
    if how.startswith("flip"):
        if not data:
            return False
        pos = {"flip-start": 0, "flip-header": min(12, len(data) - 1),
               "flip-middle": len(data) // 2, "flip-end": len(data) - 1,
               "flip-tail": max(0, len(data) - 17),
               "flip-random": rnd.randrange(len(data))}[how]
        data[pos] ^= 1 << rnd.randrange(8)
    elif how == "truncate-0":
        data = data[:0]
    elif how == "truncate-half":
        data = data[:len(data) // 2]
    elif how == "truncate-1":
        if not data:
            return False
        data = data[:-1]
    elif how == "extend-1":
        data += b"\0"
    elif how == "extend-4k":
        data += bytes(rnd.getrandbits(8) for _ in range(4096))
    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(data)
    return True


# kinds with one file here (the fixture checks it), and the empty one
SINGLE = {"config", "keys", "index", "locks", "gc", "protected"}


def applies(kind, how):
    if how == "swap-same":
        return kind not in SINGLE
    if kind == "protected":  # empty: nothing to flip or cut
        return not (how.startswith("flip") or how in ("truncate-half", "truncate-1"))
    return True


def cases():
    """(kind, index of the file of that kind, mutation) to run."""
    kinds = ["config", "keys", "index", "snapshots", "data-tree", "data-data", "locks", "gc",
             "protected"]
    every = [(k, i, m) for k in kinds for i in range(8) for m in MUTATIONS if applies(k, m)]
    if os.environ.get("DVALIN_HOSTILE_ALL"):
        return every
    rnd = random.Random(SEED)
    groups = [(k, m) for k in kinds for m in MUTATIONS if applies(k, m)]
    rnd.shuffle(groups)
    # every kind and every mutation first, then the rest of the shuffle
    picked, seen_k, seen_m = [], set(), set()
    for g in groups:
        if g[0] not in seen_k or g[1] not in seen_m:
            picked.append(g)
            seen_k.add(g[0])
            seen_m.add(g[1])
    picked += [g for g in groups if g not in picked]
    return [(k, rnd.randrange(8), m) for k, m in picked[:SAMPLE]]


def check_run(args, repo_ok=(0, 1, 6)):  # 6: check found damage
    r = run(args, timeout=TIMEOUT)
    assert r.rc in repo_ok, (args, r)
    return r


@pytest.mark.parametrize("kind,which,how", cases())
def test_mutated_repository(pristine, kind, which, how):
    files = pristine["kinds"][kind]
    rel = files[which % len(files)]
    work = tempfile.mkdtemp(prefix="dvalin-mut-", dir=pristine["top"])
    repo = os.path.join(work, "repo")
    shutil.copytree(pristine["repo"], repo, symlinks=True)
    rnd = random.Random("%d %s %s %s" % (SEED, kind, which, how))
    assert mutate(repo, pristine["kinds"], rel, how, rnd), (rel, how)
    newest = pristine["ids"][-1]
    try:
        check_run(["snapshots", "-r", repo])
        check_run(["snapshots", "-r", repo, "--json"])
        for snap in sorted(pristine["expect"]):
            check_run(["ls", "-r", repo, snap[:12], "-l"])
            check_run(["cat", "-r", repo, "snapshot", snap[:12]])
            check_run(["cat", "-r", repo, "tree", snap[:12]])
            target = os.path.join(work, "t-" + snap[:8])
            r = check_run(["restore", "-r", repo, snap[:12], "--target", target])
            if r.rc == 0:  # success means every byte is right
                got = digest(os.path.join(target, pristine["src"].lstrip("/")))
                assert got == pristine["expect"][snap], (rel, how, snap)
        # nothing written outside the targets
        assert set(os.listdir(work)) <= {"repo"} | {"t-" + s[:8] for s in pristine["expect"]}
        check_run(["cat", "-r", repo, "config"])
        check_run(["check", "-r", repo])
        check_run(["check", "-r", repo, "--read-data"])
        check_run(["stats", "-r", repo])
        before = listing(repo)
        check_run(["forget", "-r", repo, "--keep-last", "1", "--dry-run"])
        check_run(["prune", "-r", repo, "--dry-run"])
        assert listing(repo) == before, "a --dry-run changed the repository"
        # repairs, on a copy
        copy = os.path.join(work, "copy")
        shutil.copytree(repo, copy, symlinks=True)
        check_run(["repair", "-r", copy, "index"])
        check_run(["repair", "-r", copy, "snapshots"])
        check_run(["repair", "-r", copy, "snapshots", "--forget-damaged"])
        r = check_run(["restore", "-r", copy, newest[:12], "--target", os.path.join(work, "after")])
        if r.rc == 0 and "repaired" not in run(["snapshots", "-r", copy]).out:
            got = digest(os.path.join(work, "after", pristine["src"].lstrip("/")))
            assert got == pristine["expect"][newest], (rel, how, "after repair")
    finally:
        subprocess.run(["rm", "-rf", work])
    assert digest(pristine["src"]) == pristine["src_digest"], "the source changed"
