# SPDX-License-Identifier: BSD-2-Clause
"""Looking into snapshots: diff, find and dump."""
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import time

import pytest

from conftest import DVALIN, base_env, is_root, run, snapshots
from treeutil import LONG, compare, make_awkward_tree


def write(path, data, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(data)


def ndjson(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


@pytest.fixture
def two(world, repo):
    """Two snapshots of one tree with known edits between them."""
    src = os.path.join(world, "src")
    write(f"{src}/keep/a", "same")
    for i in range(40):  # an unchanged subtree of many directories
        write(f"{src}/big/d{i:02}/f", f"file {i}")
    write(f"{src}/edit", "before")
    write(f"{src}/gone", "bye")
    write(f"{src}/mode", "m")
    write(f"{src}/attr", "x")
    write(f"{src}/kind", "a file first")
    write(f"{src}/olddir/x", "in a removed directory")
    assert run(["backup", "-r", repo, src]).rc == 0
    write(f"{src}/edit", "after!")
    os.unlink(f"{src}/gone")
    os.chmod(f"{src}/mode", 0o600)
    os.setxattr(f"{src}/attr", "user.note", b"added")
    os.unlink(f"{src}/kind")
    write(f"{src}/kind/inside", "now a directory")
    shutil.rmtree(f"{src}/olddir")
    write(f"{src}/newdir/y", "in an added directory")
    write(f"{src}/added", "new")
    assert run(["backup", "-r", repo, src]).rc == 0
    a, b = (s["id"] for s in snapshots(repo))
    return repo, src, a, b


def test_diff_reports_each_kind_of_change(two):
    repo, src, a, b = two
    r = run(["diff", "-r", repo, a, b])
    assert r.rc == 0, r
    lines = [l for l in r.out.splitlines() if l[:1] in "+-MTU"]
    assert lines == [
        f"+  {src}/added",
        f"M  {src}/edit",
        f"-  {src}/gone",
        f"T  {src}/kind",
        f"+  {src}/kind/inside",
        f"+  {src}/newdir",
        f"+  {src}/newdir/y",
        f"-  {src}/olddir",
        f"-  {src}/olddir/x",
    ], r.out
    # the 40 unchanged directories were not read: their parent's tree id is the same
    assert "4 added, 3 removed, 1 changed, 1 changed type, 0 metadata only" in r.out
    trees = int(r.out.split("metadata only; ")[1].split()[0])
    assert trees <= 14, r.out  # /, the path to src and src in both, kind, newdir, olddir
    r = run(["diff", "-r", repo, a, b, "--metadata"])
    assert f"U  {src}/mode (mode)" in r.out and f"U  {src}/attr (xattrs)" in r.out, r.out
    assert f"M  {src}/edit (mtime)" in r.out


def test_diff_json_and_sub_path(two):
    repo, src, a, b = two
    r = run(["diff", "-r", repo, "--json", "--metadata", a, b])
    changes = {c["path"]: c for c in ndjson(r.out)}
    assert changes[f"{src}/edit"]["change"] == "modified"
    assert changes[f"{src}/edit"]["fields"] == ["content", "mtime"]
    assert changes[f"{src}/edit"]["before"]["size"] == 6 and changes[f"{src}/edit"]["after"]["size"] == 6
    assert changes[f"{src}/gone"]["change"] == "removed" and changes[f"{src}/gone"]["after"] is None
    assert changes[f"{src}/added"]["before"] is None and changes[f"{src}/added"]["type"] == "file"
    assert changes[f"{src}/mode"]["fields"] == ["mode"]
    assert changes[f"{src}/mode"]["after"]["mode"] == 0o600
    assert changes[f"{src}/attr"]["fields"] == ["xattrs"]
    assert changes[f"{src}/kind"]["change"] == "type"
    assert changes[f"{src}/kind"]["before"]["type"] == "file" and changes[f"{src}/kind"]["type"] == "dir"
    # below a path; a path in one snapshot only is all added or removed
    r = run(["diff", "-r", repo, a, b, f"{src}/newdir"])
    assert [l for l in r.out.splitlines() if l[:1] in "+-"] == [f"+  {src}/newdir", f"+  {src}/newdir/y"]
    r = run(["diff", "-r", repo, a, b, f"{src}/keep"])
    assert r.out.startswith("0 added, 0 removed"), r.out
    r = run(["diff", "-r", repo, a, b, f"{src}/edit"])
    assert r.out.splitlines()[0] == f"M  {src}/edit"
    r = run(["diff", "-r", repo, a, b, "/nowhere"])
    assert r.rc == 1 and "in neither snapshot" in r.err
    assert run(["diff", "-r", repo, a]).rc == 2


def test_find_with_each_filter(two, world):
    repo, src, a, b = two
    write(f"{src}/Big.LOG", "x" * 5000)
    old = f"{src}/old.log"
    write(old, "y" * 10)
    os.utime(old, (1577836800, 1577836800))  # 2020-01-01
    assert run(["backup", "-r", repo, src, "--host", "other", "--tag", "t"]).rc == 0
    c = snapshots(repo)[2]["id"]

    def found(*args):
        r = run(["find", "-r", repo, "--json", *args])
        assert r.rc == 0, r
        return {(m["snapshot_id"][:8], m["node"]["path"]) for m in ndjson(r.out)}

    assert found("added") == {(b[:8], f"{src}/added"), (c[:8], f"{src}/added")}
    assert found("*.log") == {(c[:8], old)}
    assert found("-i", "*.log") == {(c[:8], f"{src}/Big.LOG"), (c[:8], old)}
    assert found(f"{src}/big/d1*/f") == {(s[:8], f"{src}/big/d{i}/f") for s in (a, b, c)
                                          for i in range(10, 20)}
    assert found("--regex", r"/d0[12]/f$", "--snapshot", a) == {(a[:8], f"{src}/big/d01/f"),
                                                                 (a[:8], f"{src}/big/d02/f")}
    assert found("*", "--larger", "4K") == {(c[:8], f"{src}/Big.LOG")}
    assert found("*.log", "-i", "--smaller", "100") == {(c[:8], old)}
    assert found("*", "--older", "2021-01-01") == {(c[:8], old)}
    assert found("-i", "*.log", "--newer", "2021-01-01 00:00") == {(c[:8], f"{src}/Big.LOG")}
    assert found("kind", "--type", "d") == {(b[:8], f"{src}/kind"), (c[:8], f"{src}/kind")}
    assert found("kind", "--type", "f") == {(a[:8], f"{src}/kind")}
    assert found("added", "--host", "other") == {(c[:8], f"{src}/added")}
    assert found("added", "--tag", "t", "--path", src) == {(c[:8], f"{src}/added")}
    r = run(["find", "-r", repo, "added", "--tag", "none"])
    assert r.rc == 1 and "matches the filters" in r.err
    r = run(["find", "-r", repo, "edit"])
    cols = r.out.splitlines()[0].split()
    assert cols[0] == a[:8] and cols[3] == "6" and cols[4] == f"{src}/edit", r.out
    assert run(["find", "-r", repo, "--regex", "("]).rc == 2
    assert run(["find", "-r", repo, "x", "--larger", "5Q"]).rc == 2
    assert run(["find", "-r", repo, "x", "--newer", "yesterday"]).rc == 2


def test_find_skips_trees_without_matches_in_later_snapshots(two):
    repo, src, a, b = two
    r = run(["find", "-r", repo, "nothing-like-this"])
    assert r.rc == 0 and r.out == ""
    # the 40 directories of big/ are walked in the first snapshot only
    assert "0 matches in 2 snapshots" in r.err
    skipped = int(r.err.split(", ")[1].split()[0])
    assert skipped >= 1, r.err


def test_dump_of_a_file_equals_the_file(world, repo):
    src = os.path.join(world, "src")
    data = os.urandom(3 << 20) + b"\0" * (1 << 20) + os.urandom(12345)
    write(f"{src}/blob.bin", data, "wb")
    assert run(["backup", "-r", repo, src]).rc == 0
    p = subprocess.run([DVALIN, "dump", "-r", repo, "latest", f"{src}/blob.bin"], env=base_env(),
                       capture_output=True)
    assert p.returncode == 0 and p.stdout == data
    # in a pipe, as a backup of a database dump is read back
    p = subprocess.run(f"'{DVALIN}' dump -r '{repo}' latest '{src}/blob.bin' | sha256sum",
                       shell=True, env=base_env(), capture_output=True, text=True)
    assert p.stdout.split()[0] == hashlib.sha256(data).hexdigest()
    r = run(["dump", "-r", repo, "latest", src, "--format", "raw"])
    assert r.rc == 2 and "not a regular file" in r.err
    r = run(["dump", "-r", repo, "latest", f"{src}/nope"])
    assert r.rc == 1 and "is not in the snapshot" in r.err


@pytest.mark.skipif(not is_root(), reason="owners, devices and trusted.* need root")
def test_dump_of_a_directory_extracts_to_the_source(world, repo):
    src = os.path.join(world, "src")
    make_awkward_tree(src, as_root=True)
    assert run(["backup", "-r", repo, src]).rc == 0
    tarball = os.path.join(world, "t.tar")
    with open(tarball, "wb") as out:
        p = subprocess.run([DVALIN, "dump", "-r", repo, "latest", src], env=base_env(),
                           stdout=out, stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, p.stderr
    # GNU tar cannot create paths beyond PATH_MAX; the deep entry is in the stream all the same
    with tarfile.open(tarball) as t:
        names = t.getnames()
    deep = [n for n in names if n.endswith("/deep_file")]
    assert len(deep) == 1 and len(deep[0]) > 4096
    dest = os.path.join(world, "x")
    os.makedirs(dest)
    top = src.lstrip("/") + "/" + LONG.decode()
    r = subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner",
                        "-xpf", tarball, "-C", dest, "--exclude", top], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    st = os.stat(src)
    shutil.rmtree(os.path.join(src, LONG.decode()))
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))  # as it was backed up
    # sparse: GNU sparse 1.0 keeps the holes holes
    assert compare(src, dest + src) > 30
    # the directories on the way come first, with their metadata
    assert names[0] == src.lstrip("/").split("/")[0]
    # a file as a tar stream: its directories, then it
    p = subprocess.run([DVALIN, "dump", "-r", repo, "latest", f"{src}/plain.txt", "--format", "tar"],
                       env=base_env(), capture_output=True)
    assert p.returncode == 0
    with open(tarball, "wb") as f:
        f.write(p.stdout)
    with tarfile.open(tarball) as t:
        assert t.getnames()[-1] == src.lstrip("/") + "/plain.txt"
        assert t.extractfile(t.getnames()[-1]).read() == b"hello\n" * 1000
