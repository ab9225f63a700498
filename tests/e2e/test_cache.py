# SPDX-License-Identifier: BSD-2-Clause
"""`dvalin cache`: the local caches of remote repositories, made by backing
up to a real `dvalin server` on 127.0.0.1, listed, and removed by age, by id
and all at once; never a foreign directory, a symlink or a cache in use
(backend/cachedir.h)."""
import datetime
import fcntl
import json
import os
import subprocess
import time

from conftest import DVALIN, run
from test_server import remote_repo, small_tree

SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55\n"


def cache_root(world):
    return os.path.join(world, "cache", "dvalin")


def listing(env, *extra):
    r = run(["cache", "--json", *extra], env=env)
    assert r.rc == 0, r
    return r.json()


def tree_bytes(d):
    total = 0
    for dirpath, _, files in os.walk(d):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def backed_up(server, world, name):
    url, _, env = remote_repo(server, world, name=name)
    r = run(["backup", "-r", url, small_tree(world, name="src-" + name, n=5)], env=env)
    assert r.rc == 0, r
    return url, env


def age(path, days):
    t = time.time() - days * 86400
    os.utime(path, (t, t))


def test_backup_makes_a_tagged_cache_that_is_listed(dvalin_server, world):
    url, env = backed_up(dvalin_server, world, f"c{os.getpid()}-{time.monotonic_ns()}")
    j = listing(env)
    assert j["root"] == cache_root(world)
    assert len(j["caches"]) == 1 and j["others"] == 0 and j["untagged"] == 0, j
    c = j["caches"][0]
    assert len(c["id"]) == 64 and c["path"] == os.path.join(cache_root(world), c["id"])
    assert c["location"] == url and c["in_use"] is False
    tag = os.path.join(c["path"], "CACHEDIR.TAG")
    with open(tag, "rb") as f:
        text = f.read()
    assert text.startswith(SIGNATURE) and b"# dvalin-cache: 1\n" in text, text
    assert c["size"] == tree_bytes(c["path"]) and c["size"] > len(text)
    assert any(os.scandir(os.path.join(c["path"], "snapshots")))
    used = datetime.datetime.fromisoformat(c["last_used"].replace("Z", "+00:00")).timestamp()
    assert int(used) == int(os.stat(tag).st_mtime)
    assert listing(env, "--no-size")["caches"][0]["size"] is None
    r = run(["cache"], env=env)
    assert r.rc == 0 and url in r.out and c["id"][:8] in r.out, r
    assert "1 cache (" in r.out and cache_root(world) in r.out, r.out
    # the tag keeps the cache out of a backup with --exclude-caches
    local = os.path.join(world, "local")
    assert run(["init", "-r", local, "--kdf-log-n", "10"], env=env).rc == 0
    r = run(["backup", "-r", local, "--exclude-caches", "--json", os.path.join(world, "cache")],
            env=env)
    assert r.rc == 0, r
    r = run(["ls", "-r", local, "latest"], env=env)
    assert r.rc == 0 and "CACHEDIR.TAG" in r.out and "/snapshots" not in r.out, r.out


def test_cleanup_removes_old_caches_and_nothing_else(dvalin_server, world):
    tag = os.getpid(), time.monotonic_ns()
    old_url, env = backed_up(dvalin_server, world, "old%d-%d" % tag)
    new_url, _ = backed_up(dvalin_server, world, "new%d-%d" % tag)
    caches = {c["location"]: c for c in listing(env)["caches"]}
    old, new = caches[old_url], caches[new_url]
    age(os.path.join(old["path"], "CACHEDIR.TAG"), 40)
    age(os.path.join(new["path"], "CACHEDIR.TAG"), 20)
    root = cache_root(world)
    # what is not a dvalin cache: an untagged directory named like an id (an
    # older dvalin's), one with someone else's tag, a file, and a symlink to a
    # tagged cache outside the root; all of them old
    foreign_id = os.path.join(root, "ab" * 32)
    os.makedirs(os.path.join(foreign_id, "index"))
    open(os.path.join(foreign_id, "index", "x"), "w").close()
    other = os.path.join(root, "other-tool")
    os.makedirs(other)
    with open(os.path.join(other, "CACHEDIR.TAG"), "wb") as f:
        f.write(SIGNATURE + b"# not dvalin\n")
    open(os.path.join(root, "notes.txt"), "w").close()
    outside = os.path.join(world, "outside")
    subprocess.run(["cp", "-a", old["path"], outside], check=True)
    link = os.path.join(root, "cd" * 32)
    os.symlink(outside, link)
    for p in (foreign_id, other, os.path.join(other, "CACHEDIR.TAG"),
              os.path.join(outside, "CACHEDIR.TAG")):
        age(p, 400)

    j = listing(env)
    assert {c["id"] for c in j["caches"]} == {old["id"], new["id"]}
    assert j["untagged"] == 1 and j["others"] == 3, j

    r = run(["cache", "--cleanup"], env=env)
    assert r.rc == 0, r
    assert f"removed {old['id'][:8]}" in r.out and old_url in r.out, r.out
    assert "1 cache removed" in r.out, r.out
    assert not os.path.exists(old["path"]) and os.path.exists(new["path"])
    for p in (foreign_id, os.path.join(foreign_id, "index", "x"), other,
              os.path.join(root, "notes.txt"), outside, os.path.join(outside, "CACHEDIR.TAG")):
        assert os.path.exists(p), p
    assert os.path.islink(link)

    r = run(["cache", "--cleanup", "--max-age", "15", "--json"], env=env)
    assert r.rc == 0, r
    assert [c["id"] for c in r.json()["removed"]] == [new["id"]] and r.json()["kept"] == []
    r = run(["cache", "--cleanup"], env=env)
    assert r.rc == 0 and "no cache unused for more than 30 days" in r.out, r

    # asked by name, each foreign entry is refused with its reason
    for name, why in ((os.path.basename(link), "symbolic link"),
                      ("other-tool", "no CACHEDIR.TAG written by dvalin"),
                      ("ab" * 32, "no CACHEDIR.TAG written by dvalin"),
                      ("notes.txt", "not a directory"),
                      ("nosuch", "no dvalin cache 'nosuch'")):
        r = run(["cache", "--remove", name], env=env)
        assert r.rc == 1 and why in r.err, (name, r)
        assert len(r.err.strip().splitlines()) == 1, r.err
    assert os.path.islink(link) and os.path.exists(os.path.join(outside, "CACHEDIR.TAG"))

    # the repository works on as before: its cache is made again
    r = run(["snapshots", "-r", old_url, "--json"], env=env)
    assert r.rc == 0 and len(r.json()) == 1, r
    assert old["id"] in {c["id"] for c in listing(env)["caches"]}


def test_a_cache_in_use_is_kept(dvalin_server, world):
    url, env = backed_up(dvalin_server, world, f"u{os.getpid()}-{time.monotonic_ns()}")
    c = listing(env)["caches"][0]
    # a backup reading stdin holds the repository, and so its cache, open
    p = subprocess.Popen([DVALIN, "backup", "-r", url, "--stdin"], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not listing(env, "--no-size")["caches"][0]["in_use"]:
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline, "the backup never opened the cache"
            time.sleep(0.05)
        r = run(["cache"], env=env)
        assert "(in use)" in r.out, r.out
        age(os.path.join(c["path"], "CACHEDIR.TAG"), 90)
        r = run(["cache", "--cleanup"], env=env)
        assert r.rc == 0, r  # in use is what --cleanup expects
        assert f"cache '{c['id']}' is in use by another dvalin process: kept" in r.out, r
        for args in (["--all"], ["--remove", c["id"][:10]]):
            r = run(["cache", "--json", *args], env=env)
            assert r.rc == 1, r  # asked for and not done
            j = r.json()
            assert j["removed"] == [] and [k["id"] for k in j["kept"]] == [c["id"]], j
            assert "in use" in j["kept"][0]["reason"]
        assert os.path.exists(os.path.join(c["path"], "CACHEDIR.TAG"))
        out, err = p.communicate(b"some bytes\n", timeout=300)
        assert p.returncode == 0, err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    # closed, it was used just now: not old any more, but --all removes it
    assert not listing(env)["caches"][0]["in_use"]
    r = run(["cache", "--cleanup"], env=env)
    assert "no cache unused" in r.out, r
    r = run(["cache", "--all"], env=env)
    assert r.rc == 0 and "1 cache removed" in r.out, r
    assert listing(env)["caches"] == []


def test_a_lock_held_like_a_dvalin_process_keeps_it_and_prefixes(dvalin_server, world):
    url, env = backed_up(dvalin_server, world, f"l{os.getpid()}-{time.monotonic_ns()}")
    c = listing(env)["caches"][0]
    fd = os.open(os.path.join(c["path"], "CACHEDIR.TAG"), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        r = run(["cache", "--remove", c["id"][:6]], env=env)
        assert r.rc == 1 and "in use" in r.out, r
    finally:
        os.close(fd)
    r = run(["cache", "--remove", c["id"][:6]], env=env)
    assert r.rc == 0 and f"removed {c['id'][:8]}" in r.out, r
    assert not os.path.exists(c["path"])


def test_missing_root_is_an_empty_list_and_bad_usage(world):
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(world, "none"))
    r = run(["cache", "--json"], env=env)
    assert r.rc == 0 and r.json() == {"root": os.path.join(world, "none", "dvalin"),
                                      "caches": [], "untagged": 0, "others": 0}, r
    assert not os.path.exists(os.path.join(world, "none")), "listing creates nothing"
    r = run(["cache"], env=env)
    assert r.rc == 0 and "0 caches in" in r.out, r
    r = run(["cache", "--cleanup", "--json"], env=env)
    assert r.rc == 0 and r.json()["removed"] == [], r
    for args, why in ((["--max-age", "3"], "--max-age is the age for --cleanup"),
                      (["--cleanup", "--max-age", "x"], "invalid --max-age 'x'"),
                      (["--cleanup", "--max-age", "-1"], "invalid --max-age '-1'"),
                      (["--cleanup", "--all"], "give one of"),
                      (["--remove", ""], "--remove needs a cache id"),
                      (["extra"], "unexpected argument 'extra'")):
        r = run(["cache", *args], env=env)
        assert r.rc == 2 and why in r.err, (args, r)
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME")}
    r = run(["cache"], env=env)
    assert r.rc == 1 and "neither $XDG_CACHE_HOME nor $HOME is set" in r.err, r
