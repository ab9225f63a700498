# SPDX-License-Identifier: BSD-2-Clause
"""Restore never writes outside --target, whatever the snapshot says."""
import os
import subprocess

from conftest import TOOLS, base_env, run


def forge(repo, mode):
    p = subprocess.run([os.path.join(TOOLS, "forge"), repo, mode], env=base_env(),
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def listing(d):
    return sorted(os.path.relpath(os.path.join(a, n), d)
                  for a, ds, fs in os.walk(d) for n in ds + fs)


def test_malicious_names_are_refused(world, repo):
    snap = forge(repo, "traversal")
    outer = os.path.join(world, "outer")
    target = os.path.join(outer, "inner", "target")
    os.makedirs(target)
    before = listing(world)
    r = run(["restore", "-r", repo, snap[:12], "--target", target])
    assert r.rc == 1, r
    assert r.err.count("unsafe name") == 5, r.err  # ".", "..", "a/b", "sub/..", "x\0y"
    assert open(os.path.join(target, "ok")).read() == "safe\n"
    after = listing(world)
    new = sorted(set(after) - set(before))
    assert all(p.startswith("outer/inner/target/") or p == "repo" or p.startswith("repo/")
               for p in new), new
    assert not any("escaped" in open(os.path.join(dp, f), errors="ignore").read()
                   for dp, _, fs in os.walk(world) for f in fs
                   if not dp.startswith(repo))


def test_symlink_in_target_is_not_followed(world, repo):
    src = os.path.join(world, "srv", "data")
    os.makedirs(src)
    with open(os.path.join(src, "payload"), "w") as f:
        f.write("should stay inside")
    assert run(["backup", "-r", repo, src]).rc == 0
    target = os.path.join(world, "target")
    elsewhere = os.path.join(world, "elsewhere")
    os.makedirs(elsewhere)
    os.makedirs(target)
    # plant a symlink where the restore will descend
    os.symlink(elsewhere, os.path.join(target, src.lstrip("/").split("/")[0]))
    r = run(["restore", "-r", repo, "latest", "--target", target])
    assert r.rc == 1, r
    assert "symlink" in r.err
    assert os.listdir(elsewhere) == []


def test_symlink_to_file_in_target_is_replaced_not_followed(world, repo):
    src = os.path.join(world, "s")
    os.makedirs(src)
    with open(os.path.join(src, "f"), "w") as f:
        f.write("restored")
    assert run(["backup", "-r", repo, src]).rc == 0
    target = os.path.join(world, "t")
    victim = os.path.join(world, "victim")
    with open(victim, "w") as f:
        f.write("untouched")
    os.makedirs(target + src)
    os.symlink(victim, target + src + "/f")
    r = run(["restore", "-r", repo, "latest", "--target", target])
    assert r.rc == 0, r
    assert open(victim).read() == "untouched"
    assert not os.path.islink(target + src + "/f")
    assert open(target + src + "/f").read() == "restored"


def test_symlink_with_nul_in_target_is_refused(world, repo):
    snap = forge(repo, "badlink")
    r = run(["restore", "-r", repo, snap[:12], "--target", os.path.join(world, "t")])
    assert r.rc == 1 and "NUL" in r.err
