# SPDX-License-Identifier: BSD-2-Clause
"""The backup options of everyday cron scripts (issue 18): exclude files and
case-insensitive excludes, CACHEDIR.TAG and --exclude-if-present, a size
limit, --files-from in its three forms, restic's patterns, and a repository
inside the backed-up tree left out by itself."""
import json
import os
import subprocess

import pytest

from conftest import base_env, run

CACHEDIR_TAG = b"Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n"


def tree(root, files):
    for p, data in files.items():
        full = os.path.join(root, p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())


def listed(repo, below):
    r = run(["ls", "-r", repo, "latest", below, "--json"])
    assert r.rc == 0, r
    return {os.path.relpath(json.loads(l)["path"], below) for l in r.out.splitlines()} - {"."}


@pytest.fixture
def src(world):
    root = os.path.join(world, "tree")
    tree(root, {
        "data/src/a.c": "a", "data/docs/d.txt": "d", "src/main.c": "m", "src/Notes.TXT": "n",
        "build/out.o": "o", "home/.cache/CACHEDIR.TAG": CACHEDIR_TAG, "home/.cache/blob": "b",
        "fake/CACHEDIR.TAG": "not the signature\n", "fake/kept": "k",
        "vm/.nobackup": "", "vm/disk.img": "i", "big": b"\0" * (3 << 20), "small": "s",
    })
    return root


def test_patterns_as_restic_users_write_them(world, repo, src):
    # the cases: a relative path with '/', and a trailing '/'
    assert run(["backup", "-r", repo, src, "--exclude", "data/src"]).rc == 0
    got = listed(repo, src)
    assert "data/src" not in got and "data/src/a.c" not in got and "src/main.c" in got
    assert run(["backup", "-r", repo, src, "--exclude", "src/"]).rc == 0
    got = listed(repo, src)
    assert not any(p == "src" or p.startswith("src/") or "/src" in p for p in got), got
    assert "data/docs/d.txt" in got
    assert run(["backup", "-r", repo, src, "--exclude", "small/"]).rc == 0  # a file: not matched
    assert "small" in listed(repo, src)


def test_exclude_files_and_case(world, repo, src):
    ef = os.path.join(world, "excludes")
    with open(ef, "w") as f:
        f.write("# build output\n  *.o  \n\n${WHAT}/docs\n")
    ief = os.path.join(world, "iexcludes")
    with open(ief, "w") as f:
        f.write("*.txt\n")
    r = run(["backup", "-r", repo, src, "--exclude-file", ef, "--iexclude-file", ief],
            env=base_env(WHAT="data"))
    assert r.rc == 0, r
    got = listed(repo, src)
    assert "build/out.o" not in got and "data/docs" not in got
    assert "src/Notes.TXT" not in got and "src/main.c" in got
    assert run(["backup", "-r", repo, src, "--iexclude", "NOTES.txt"]).rc == 0
    assert "src/Notes.TXT" not in listed(repo, src)
    r = run(["backup", "-r", repo, src, "--exclude-file", os.path.join(world, "missing")])
    assert r.rc == 1 and "cannot read" in r.err and "missing" in r.err, r


def test_tagged_directories_keep_only_their_tag(world, repo, src):
    r = run(["backup", "-r", repo, src, "--exclude-caches", "--exclude-if-present", ".nobackup"])
    assert r.rc == 0, r
    got = listed(repo, src)
    assert "home/.cache/CACHEDIR.TAG" in got and "home/.cache/blob" not in got
    assert "fake/kept" in got, "a CACHEDIR.TAG without the signature tags nothing"
    assert "vm/.nobackup" in got and "vm/disk.img" not in got
    r = run(["backup", "-r", repo, src, "--exclude-if-present", "a/b"])
    assert r.rc == 2 and "--exclude-if-present 'a/b'" in r.err


def test_exclude_larger_than(world, repo, src):
    assert run(["backup", "-r", repo, src, "--exclude-larger-than", "1M"]).rc == 0
    got = listed(repo, src)
    assert "big" not in got and "small" in got
    assert run(["backup", "-r", repo, src, "--exclude-larger-than", "3MiB"]).rc == 0
    assert "big" in listed(repo, src)  # exactly 3 MiB is not larger
    for bad in ("lots", "0", "1Q", "-5", "99999999999999999999T"):
        r = run(["backup", "-r", repo, src, "--exclude-larger-than", bad])
        assert r.rc == 2 and "invalid --exclude-larger-than" in r.err, (bad, r)


def test_files_from_three_ways(world, repo, src):
    lst = os.path.join(world, "list")
    with open(lst, "w") as f:
        f.write(f"# what to save\n{src}/src/*.c\n\n  {src}/small  \n")
    r = run(["backup", "-r", repo, "--files-from", lst, "--json"])
    assert r.rc == 0, r
    snap = run(["snapshots", "-r", repo, "--json"]).json()[-1]
    assert snap["paths"] == sorted([f"{src}/src/main.c", f"{src}/small"])
    # verbatim: a name with a leading blank or '#', exactly
    odd = os.path.join(src, " #odd")
    open(odd, "w").close()
    with open(lst, "w") as f:
        f.write(odd + "\n")
    assert run(["backup", "-r", repo, "--files-from-verbatim", lst]).rc == 0
    assert run(["snapshots", "-r", repo, "--json"]).json()[-1]["paths"] == [odd]
    # raw: NUL-separated, as find -print0 writes, a newline in a name too
    nl = os.path.join(src, "new\nline")
    open(nl, "w").close()
    found = subprocess.run(["find", src, "-maxdepth", "1", "-name", "new*", "-print0"],
                           capture_output=True, check=True).stdout
    r = run(["backup", "-r", repo, "--files-from-raw", "-"], input=found.decode())
    assert r.rc == 0, r
    assert run(["snapshots", "-r", repo, "--json"]).json()[-1]["paths"] == [nl]
    empty = os.path.join(world, "empty")
    open(empty, "w").close()
    r = run(["backup", "-r", repo, "--files-from", empty])
    assert r.rc == 2 and "no path to back up" in r.err


def test_the_repository_inside_the_tree_is_left_out(world, src):
    repo = os.path.join(src, "backups", "repo")
    os.makedirs(os.path.dirname(repo))
    assert run(["init", "-r", repo, "--kdf-log-n", "10"]).rc == 0
    r = run(["backup", "-r", repo, src])
    assert r.rc == 0, r
    assert f"dvalin: not backing up '{repo}': it is the repository this backup writes to" in r.err
    got = listed(repo, src)
    assert "backups" in got and not any(p.startswith("backups/repo") for p in got), got
    assert "small" in got


def test_dry_run_reads_and_counts_but_stores_nothing(world, repo, src):
    def files(d):
        return sorted(os.listdir(os.path.join(repo, d)))
    before = {d: files(d) for d in ("data", "index", "snapshots", "locks")}
    r = run(["backup", "-r", repo, src, "--dry-run", "--json"])
    assert r.rc == 0, r
    dry = r.json()
    assert dry["dry_run"] is True and dry["snapshot_id"] is None
    assert {d: files(d) for d in before} == before, "nothing stored, the lease gone"
    real = run(["backup", "-r", repo, src, "--json"]).json()
    assert real["dry_run"] is False and real["bytes_read"] == dry["bytes_read"]
    # the estimate is the real thing: the same chunks, sealed the same way
    assert abs(real["bytes_added"] - dry["bytes_added"]) <= 64, (dry, real)
    open(os.path.join(src, "small"), "w").write("changed\n")
    r = run(["backup", "-r", repo, src, "-n"])
    assert r.rc == 0 and "would add:" in r.out and "dry run: nothing was stored" in r.out, r
    assert "1 changed" in r.out
    assert len(run(["snapshots", "-r", repo, "--json"]).json()) == 1
