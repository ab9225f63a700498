# SPDX-License-Identifier: BSD-2-Clause
"""The new index of a prune is built in bounded memory (DVALIN_INDEX_MEMORY:
sorted runs in a spill file, merged at the write): a tiny budget gives the
same index files as the default, and the repository checks clean."""
import os
import random
import shutil

from conftest import base_env, run, snapshots, tree_digest


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def index_files(repo_dir):
    d = os.path.join(repo_dir, "index")
    out = {}
    for name in sorted(os.listdir(d)):
        if not name.startswith("."):
            with open(os.path.join(d, name), "rb") as f:
                out[name] = f.read()
    return out


def test_prune_with_a_tiny_index_budget_writes_the_same_index(world, repo):
    data = os.path.join(world, "data")
    rng = random.Random(7)
    for i in range(5):
        # a few hundred small blobs a backup, each backup its own index file
        for k in range(120):
            write(os.path.join(data, f"d{k % 9}", f"f{i}-{k}"), rng.randbytes(rng.randrange(1, 3000)))
        write(os.path.join(data, "big"), rng.randbytes(1 << 20))
        r = run(["backup", "-r", repo, "--json", data])
        assert r.rc == 0, r
    ids = [s["id"] for s in snapshots(repo)]
    assert run(["forget", "-r", repo, ids[0], ids[2]]).rc == 0
    assert len(index_files(repo.dir)) >= 5

    tiny = os.path.join(world, "tiny")
    shutil.copytree(repo.dir, tiny)
    r = run(["prune", "-r", repo, "--json"])
    assert r.rc == 0, r
    g = r.json()
    # 1K: 17 entries a run, so the ~1000 kept and repacked blobs are dozens of runs
    r = run(["prune", "-r", tiny, "--json"], env=base_env(DVALIN_INDEX_MEMORY="1K"))
    assert r.rc == 0, r
    assert g["packs_deleted"] + g["packs_repacked"] > 0, g
    want = index_files(repo.dir)
    assert len(want) == 1
    blobs = int.from_bytes(next(iter(want.values()))[16:20], "little")
    assert blobs > 20 * 17, blobs  # many runs of a 1K budget
    assert index_files(tiny) == want

    r = run(["check", "-r", tiny, "--read-data"])
    assert r.rc == 0, r
    target = os.path.join(world, "restored")
    r = run(["restore", "-r", tiny, ids[-1], "--target", target])
    assert r.rc == 0, r
    assert tree_digest(os.path.join(target, data.lstrip("/"))) == tree_digest(data)
