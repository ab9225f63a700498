# SPDX-License-Identifier: BSD-2-Clause
"""Damaged repositories are reported by name, never crash, never lie."""
import glob
import os

import pytest

from conftest import PASSWORD, base_env, run


@pytest.fixture
def filled(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    for i in range(20):
        with open(os.path.join(src, f"f{i}"), "wb") as f:
            f.write(os.urandom(50000 + i))
    r = run(["backup", "-r", repo, src])
    assert r.rc == 0, r
    return repo, src


def one_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) >= 1
    return lines


def test_wrong_password_is_one_line_and_exit_1(filled):
    repo, _ = filled
    r = run(["snapshots", "-r", repo], env=base_env(DVALIN_PASSWORD="nope"))
    assert r.rc == 1
    assert r.err.strip() == f"dvalin: wrong password for repository '{repo}'"


def test_missing_password_without_terminal(filled):
    repo, _ = filled
    env = base_env()
    del env["DVALIN_PASSWORD"]
    r = run(["snapshots", "-r", repo], env=env)
    assert r.rc == 1 and "DVALIN_PASSWORD" in r.err


def test_not_a_repository(world):
    r = run(["snapshots", "-r", world])
    assert r.rc == 1 and "not a dvalin repository" in r.err
    r = run(["snapshots", "-r", os.path.join(world, "missing")])
    assert r.rc == 1 and "missing" in r.err


def data_packs(repo):
    packs = sorted(glob.glob(os.path.join(repo, "data", "*", "*")), key=os.path.getsize)
    return packs


def restore(repo, world, name="t"):
    return run(["restore", "-r", repo, "latest", "--target", os.path.join(world, name)])


def test_truncated_pack_is_named(filled, world):
    repo, _ = filled
    big = data_packs(repo)[-1]
    os.chmod(big, 0o644)
    with open(big, "r+b") as f:
        f.truncate(os.path.getsize(big) // 2)
    r = restore(repo, world)
    assert r.rc == 1, r
    assert os.path.basename(big) in r.err and "truncated" in r.err


@pytest.mark.parametrize("where", [0.3, 0.6, 0.9])
def test_bit_flip_in_pack_is_detected(filled, world, where):
    repo, src = filled
    big = data_packs(repo)[-1]
    os.chmod(big, 0o644)
    with open(big, "r+b") as f:
        f.seek(int(os.path.getsize(big) * where))
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x20]))
    r = restore(repo, world)
    assert r.rc == 1, r
    assert "damaged" in r.err and os.path.basename(big) in r.err
    # what is intact still restores: the others are identical
    t = os.path.join(world, "t")
    ok = [n for n in os.listdir(t + src) if open(t + src + "/" + n, "rb").read() ==
          open(src + "/" + n, "rb").read()]
    assert len(ok) >= 1


@pytest.mark.parametrize("kind", ["truncate", "flip", "empty"])
def test_damaged_index_is_named(filled, kind):
    repo, _ = filled
    idx = glob.glob(os.path.join(repo, "index", "*"))[0]
    os.chmod(idx, 0o644)
    data = open(idx, "rb").read()
    if kind == "truncate":
        data = data[: len(data) - 10]
    elif kind == "flip":
        data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
    else:
        data = b""
    open(idx, "wb").write(data)
    r = run(["snapshots", "-r", repo])
    assert r.rc == 1
    assert os.path.basename(idx) in r.err and "damaged" in r.err


def test_damaged_snapshot_is_named_and_others_still_work(filled, world):
    repo, src = filled
    with open(os.path.join(src, "extra"), "w") as f:
        f.write("x")
    assert run(["backup", "-r", repo, src]).rc == 0
    snaps = sorted(glob.glob(os.path.join(repo, "snapshots", "*")), key=os.path.getmtime)
    os.chmod(snaps[-1], 0o644)
    data = bytearray(open(snaps[-1], "rb").read())
    data[60] ^= 1
    open(snaps[-1], "wb").write(bytes(data))
    r = run(["snapshots", "-r", repo])
    assert r.rc == 1 and os.path.basename(snaps[-1]) in r.err
    assert "1 snapshot" in r.out
    r = run(["restore", "-r", repo, os.path.basename(snaps[0])[:8], "--target",
             os.path.join(world, "t")])
    assert r.rc == 0, r


@pytest.mark.parametrize("victim", ["config", "key"])
def test_damaged_config_or_key(filled, victim):
    repo, _ = filled
    path = os.path.join(repo, "config") if victim == "config" else \
        glob.glob(os.path.join(repo, "keys", "*"))[0]
    os.chmod(path, 0o644)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xff
    open(path, "wb").write(bytes(data))
    r = run(["snapshots", "-r", repo])
    assert r.rc == 1
    assert ("config" in r.err and "damaged" in r.err) if victim == "config" else \
        ("wrong password" in r.err or "damaged" in r.err)


def test_random_garbage_files_never_crash(filled, world):
    """Every repository file replaced by garbage of several sizes: errors only."""
    repo, _ = filled
    files = [p for p in glob.glob(os.path.join(repo, "**", "*"), recursive=True)
             if os.path.isfile(p)]
    for victim in files:
        original = open(victim, "rb").read()
        os.chmod(victim, 0o644)
        for size in (0, 7, 64, len(original)):
            open(victim, "wb").write(os.urandom(size))
            for cmd in (["snapshots"], ["ls", "latest"], ["restore", "latest", "--target",
                                                           os.path.join(world, "g")]):
                r = run(cmd + ["-r", repo])
                assert r.rc in (0, 1), (victim, size, r)
        open(victim, "wb").write(original)
    r = restore(repo, world, "final")
    assert r.rc == 0, r
