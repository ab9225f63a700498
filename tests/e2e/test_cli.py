# SPDX-License-Identifier: BSD-2-Clause
"""Command-line conventions: options, environment, JSON, help, ids."""
import json
import os
import re

import pytest

from conftest import PASSWORD, base_env, run, snapshots

COMMANDS = ["init", "backup", "snapshots", "ls", "restore", "cat", "version"]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_on_every_command(cmd):
    r = run([cmd, "--help"])
    assert r.rc == 0 and r.out.startswith(f"usage: dvalin {cmd}")


def test_main_help_and_unknown_command():
    r = run(["--help"])
    assert r.rc == 0 and all(c in r.out for c in COMMANDS)
    r = run(["frobnicate"])
    assert r.rc == 2 and "unknown command 'frobnicate'" in r.err


def test_repo_option_anywhere_and_environment(world):
    repo = os.path.join(world, "r")
    src = os.path.join(world, "s")
    os.makedirs(src)
    assert run(["-r", repo, "init", "--kdf-log-n", "10"]).rc == 0
    assert run(["backup", src, "-r", repo]).rc == 0
    assert run(["backup", "--repo=" + repo, src]).rc == 0
    r = run(["snapshots", "--json"], env=base_env(DVALIN_REPOSITORY=repo))
    assert r.rc == 0 and len(r.json()) == 2
    r = run(["snapshots"], env=base_env())
    assert r.rc == 2 and "DVALIN_REPOSITORY" in r.err  # bad usage


def test_password_file_and_command(world, repo):
    pf = os.path.join(world, "pw")
    with open(pf, "w") as f:
        f.write(PASSWORD + "\n")
    env = base_env()
    del env["DVALIN_PASSWORD"]
    assert run(["snapshots", "-r", repo], env=dict(env, DVALIN_PASSWORD_FILE=pf)).rc == 0
    assert run(["snapshots", "-r", repo, "--password-file", pf], env=env).rc == 0
    r = run(["snapshots", "-r", repo], env=dict(env, DVALIN_PASSWORD_COMMAND=f"cat {pf}"))
    assert r.rc == 0
    r = run(["snapshots", "-r", repo], env=dict(env, DVALIN_PASSWORD_COMMAND="false"))
    assert r.rc == 1 and "password command (DVALIN_PASSWORD_COMMAND) exited with status 1" in r.err


def test_init_refuses_existing_repository(repo):
    r = run(["init", "-r", repo])
    assert r.rc == 1 and "already exists" in r.err


def test_snapshots_json_shape_and_prefixes(world, repo):
    src = os.path.join(world, "s")
    os.makedirs(src)
    assert run(["backup", "-r", repo, src, "--tag", "a,b", "--tag", "c", "--host", "h1",
                "--time", "2021-03-04 05:06:07"]).rc == 0
    assert run(["backup", "-r", repo, src]).rc == 0
    s = snapshots(repo)
    assert len(s) == 2
    first = s[0]
    for key in ("id", "time", "host", "paths", "tags", "parent"):
        assert key in first
    assert re.fullmatch(r"[0-9a-f]{64}", first["id"])
    assert re.fullmatch(r"2021-03-04T05:06:07\.000000000[+-]\d\d:\d\d", first["time"])
    assert first["host"] == "h1" and first["tags"] == ["a", "b", "c"]
    assert first["paths"] == [src] and first["parent"] is None
    for spec in (first["id"][:6], first["id"].upper()[:10], first["id"]):
        r = run(["cat", "-r", repo, "snapshot", spec])
        assert r.rc == 0 and r.json()["id"] == first["id"], r
    r = run(["cat", "-r", repo, "snapshot", "zz"])
    assert r.rc == 2 and "invalid snapshot id 'zz'" in r.err
    r = run(["cat", "-r", repo, "snapshot", "ffffffffffff"])
    assert r.rc == 1 and "no snapshot matches" in r.err


def test_ls_and_cat(world, repo):
    src = os.path.join(world, "s")
    os.makedirs(os.path.join(src, "d"))
    with open(os.path.join(src, "d", "f"), "w") as f:
        f.write("content of f")
    os.symlink("d/f", os.path.join(src, "l"))
    assert run(["backup", "-r", repo, src]).rc == 0
    r = run(["ls", "-r", repo, "latest"])
    assert r.rc == 0
    assert src + "/d/f" in r.out.splitlines() and src + "/l" in r.out.splitlines()
    r = run(["ls", "-r", repo, "latest", src + "/d", "--json"])
    nodes = [json.loads(l) for l in r.out.splitlines()]
    assert [n["path"] for n in nodes] == [src + "/d", src + "/d/f"]
    assert nodes[1]["size"] == 12 and nodes[1]["type"] == "file"
    r = run(["ls", "-r", repo, "latest", "-l", src + "/l"])
    assert "-> d/f" in r.out
    r = run(["ls", "-r", repo, "latest", src + "/nope"])
    assert r.rc == 1 and "not in the snapshot" in r.err
    cfg = run(["cat", "-r", repo, "config"]).json()
    assert cfg["version"] == 1 and cfg["chunker"]["avg_size"] == 1 << 20
    tree = run(["cat", "-r", repo, "tree", "latest"]).json()
    assert tree["nodes"][0]["type"] == "dir"
    # walk down to the file and print its blob
    t = tree
    for comp in src.strip("/").split("/") + ["d"]:
        node = [n for n in t["nodes"] if n["name"] == comp][0]
        t = run(["cat", "-r", repo, "tree", node["subtree"]]).json()
    blob = [n for n in t["nodes"] if n["name"] == "f"][0]["content"][0]["blob"]
    r = run(["cat", "-r", repo, "blob", blob])
    assert r.rc == 0 and r.out == "content of f"


def test_bad_usage_is_exit_2(repo):
    assert run(["backup", "-r", repo]).rc == 2
    assert run(["restore", "-r", repo, "latest"]).rc == 2
    assert run(["backup", "-r", repo, "--time", "yesterday", "/tmp"]).rc == 2
    assert run(["backup", "-r", repo, "--compression", "zz", "/tmp"]).rc == 2
    r = run(["backup", "-r", repo, "/does/not/exist"])
    assert r.rc == 1 and "/does/not/exist" in r.err


def test_compression_off_and_max(world, repo):
    src = os.path.join(world, "s")
    os.makedirs(src)
    with open(os.path.join(src, "text"), "w") as f:
        f.write("compress me " * 100000)
    off = run(["backup", "-r", repo, src, "--compression", "off", "--json", "--force"]).json()
    assert off["bytes_added"] > 1_000_000
    r = run(["backup", "-r", repo, src, "--compression", "max", "--json", "--force"])
    assert r.rc == 0 and r.json()["bytes_added"] < 20000  # only the tree is new
