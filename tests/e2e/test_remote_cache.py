# SPDX-License-Identifier: BSD-2-Clause
"""The client's metadata cache of a remote repository (src/backend/cache.c):
a damaged copy (a flipped byte, cut short, a directory in its place) is
noticed, said, dropped and fetched again, and backup and restore stay
exact."""
import os
import shutil
import time

import pytest

from conftest import base_env, run, tree_digest


def make_tree(root, tag):
    for sub in ("a", "a/b", "c"):
        d = os.path.join(root, sub)
        os.makedirs(d, exist_ok=True)
        for i in range(3):
            with open(os.path.join(d, f"{tag}{i}"), "wb") as f:
                f.write(os.urandom(5000 + i))


def cached_files(cache):
    """name (below the repository's cache directory) -> path, for every copy."""
    root = os.path.join(cache, "dvalin")
    (rid,) = os.listdir(root)
    base = os.path.join(root, rid)
    out = {}
    for dp, _, fs in os.walk(base):
        for f in fs:
            p = os.path.join(dp, f)
            # copies are below the layout's directories; the cache's own
            # files (CACHEDIR.TAG, its lock) are beside them
            if not f.startswith(".") and dp != base:
                out[os.path.relpath(p, base)] = p
    return out


def damage(path, how):
    if how == "flip":
        with open(path, "r+b") as f:
            f.seek(os.path.getsize(path) // 2)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0x20]))
    elif how == "truncate":
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 3)
    else:  # a directory, not empty, where the file was
        os.unlink(path)
        os.makedirs(os.path.join(path, "inside"))


@pytest.mark.parametrize("how", ["flip", "truncate", "directory"])
def test_a_damaged_cache_file_is_noticed_fetched_again_and_nothing_changes(dvalin_server, world, how):
    name = f"c{os.getpid()}-{time.monotonic_ns()}"
    d = dvalin_server.add_repo(name)
    url = dvalin_server.url(name)
    cache = os.path.join(world, "cache")
    env = base_env(XDG_CACHE_HOME=cache, DVALIN_TOKEN=dvalin_server.admin_token,
                   DVALIN_FINGERPRINT=dvalin_server.fingerprint, DVALIN_RETRY_SECONDS="10")
    assert run(["init", "-r", url, "--kdf-log-n", "10"], env=env).rc == 0
    src = os.path.join(world, "src")
    make_tree(src, "x")
    r = run(["backup", "-r", url, "--json", src], env=env)
    assert r.rc == 0, r
    first, first_tree = r.json()["snapshot_id"], tree_digest(src)
    copies = cached_files(cache)
    kinds = {n.split("/")[0] for n in copies}
    assert {"index", "snapshots", "data"} <= kinds, copies  # index files, snapshots, tree packs
    for p in copies.values():
        damage(p, how)
    # a second backup reads the index, its parent snapshot and its trees
    make_tree(os.path.join(src, "new"), "y")
    r = run(["backup", "-r", url, "--json", src], env=env)
    assert r.rc == 0, r
    warned = [l for l in r.err.splitlines() if "cached copy of" in l]
    assert warned and all(url in l and "fetched again" in l for l in warned), r.err
    for sid, want in ((first, first_tree), ("latest", tree_digest(src))):
        target = os.path.join(world, "t")
        shutil.rmtree(target, ignore_errors=True)
        r = run(["restore", "-r", url, sid, "--target", target], env=env)
        assert r.rc == 0, r
        assert tree_digest(os.path.join(target, src.lstrip("/"))) == want, sid
    # no damaged copy is left; every copy there now has the server's bytes,
    # and those read again (the index files at least) were kept again
    now = cached_files(cache)
    for n, p in copies.items():
        assert not os.path.lexists(p) or os.path.isfile(p), n
    for n, p in now.items():
        with open(p, "rb") as a, open(os.path.join(d, n), "rb") as b:
            assert a.read() == b.read(), n
    assert any(n.startswith("index/") for n in copies if n in now), (copies, now)
    r = run(["check", "-r", url, "--read-data"], env=env)
    assert r.rc == 0, r
