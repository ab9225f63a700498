# SPDX-License-Identifier: BSD-2-Clause
"""Restoring into a target that is not empty (issue 18): --overwrite, named
replacements, --dry-run, --delete, --exclude, SNAPSHOT:PATH, restic's
patterns for --include, and errors that name the target path."""
import os
import time

import pytest

from conftest import base_env, run, tree_digest


@pytest.fixture
def backed_up(world, repo):
    src = os.path.join(world, "srv", "data")
    for d in ("docs", "src/sub", "cache"):
        os.makedirs(os.path.join(src, d))
    files = {"docs/a.txt": "alpha\n", "docs/b.TMP": "tmp\n", "src/main.c": "int main;\n",
             "src/sub/x.o": "obj\n", "cache/blob": "cached\n", "top": "top\n"}
    for p, text in files.items():
        with open(os.path.join(src, p), "w") as f:
            f.write(text)
    old = time.time() - 86400
    for p in files:
        os.utime(os.path.join(src, p), (old, old))
    assert run(["backup", "-r", repo, src]).rc == 0
    return repo, src, files


def restore(repo, target, *args, **kw):
    return run(["restore", "-r", repo, "latest", "--target", target, *args], **kw)


def fresh(world, repo):
    target = os.path.join(world, "t%d" % len(os.listdir(world)))
    assert restore(repo, target).rc == 0
    return target


def test_default_replaces_what_differs_and_names_it(world, backed_up):
    repo, src, files = backed_up
    t = fresh(world, repo)
    here = t + src
    with open(os.path.join(here, "docs/a.txt"), "w") as f:
        f.write("edited locally\n")
    ino = os.stat(os.path.join(here, "top")).st_ino
    r = restore(repo, t)
    assert r.rc == 0, r
    assert f"replaced {here}/docs/a.txt (it differed)" in r.out, r
    assert len([l for l in r.out.splitlines() if l.startswith("replaced ")]) == 1
    assert "existing entries: 1 replaced (they differed), 5 unchanged, 0 kept, 0 deleted" in r.out, r
    assert open(os.path.join(here, "docs/a.txt")).read() == "alpha\n"
    # what matched was not rewritten
    assert os.stat(os.path.join(here, "top")).st_ino == ino
    j = restore(repo, t, "--json").json()
    assert j["replaced"] == 0 and j["unchanged"] == 6 and j["dry_run"] is False


def test_overwrite_modes(world, backed_up):
    repo, src, files = backed_up
    t = fresh(world, repo)
    here = t + src
    a, main = os.path.join(here, "docs/a.txt"), os.path.join(here, "src/main.c")
    for p in (a, main):
        with open(p, "w") as f:
            f.write("local\n")
    os.utime(main, (1, 1))  # older than the snapshot's copy
    r = restore(repo, t, "--overwrite", "never")
    assert r.rc == 0 and f"kept {a} (--overwrite never)" in r.out, r
    assert open(a).read() == open(main).read() == "local\n"
    r = restore(repo, t, "--overwrite", "if-newer")
    assert f"kept {a} (newer than in the snapshot, --overwrite if-newer)" in r.out, r
    assert f"replaced {main} (it differed)" in r.out
    assert open(a).read() == "local\n" and open(main).read() == "int main;\n"
    # a second name for top shows whether top itself is rewritten (a new inode)
    os.link(os.path.join(here, "top"), os.path.join(world, "top-link"))
    r = restore(repo, t, "--overwrite", "always")
    assert open(a).read() == "alpha\n"
    assert os.stat(os.path.join(here, "top")).st_nlink == 1  # rewritten, though it matched
    assert f"replaced {a}" in r.out and "replaced " + os.path.join(here, "top") not in r.out
    r = restore(repo, t, "--overwrite", "sometimes")
    assert r.rc == 2 and "invalid --overwrite 'sometimes'" in r.err


def test_dry_run_writes_nothing(world, backed_up):
    repo, src, files = backed_up
    missing = os.path.join(world, "missing")
    r = restore(repo, missing, "--dry-run")
    assert r.rc == 0 and not os.path.exists(missing), r
    assert "would restore 6 files" in r.out, r
    t = fresh(world, repo)
    here = t + src
    with open(os.path.join(here, "docs/a.txt"), "w") as f:
        f.write("edited\n")
    os.makedirs(os.path.join(here, "extra/deep"))
    open(os.path.join(here, "extra/deep/f"), "w").close()
    before = tree_digest(t)
    r = restore(repo, t, "--dry-run", "--delete")
    assert r.rc == 0, r
    assert f"would replace {here}/docs/a.txt (it differed)" in r.out
    assert f"would delete {here}/extra (a directory not in the snapshot)" in r.out
    assert "existing entries: 1 to replace" in r.out and "1 to delete" in r.out, r
    assert tree_digest(t) == before and os.path.exists(os.path.join(here, "extra/deep/f"))
    j = restore(repo, t, "--dry-run", "--delete", "--json").json()
    assert j["dry_run"] is True and j["replaced"] == 1 and j["deleted"] == 1


def test_delete_only_inside_the_backed_up_paths(world, backed_up):
    repo, src, files = backed_up
    t = fresh(world, repo)
    here = t + src
    stray_outside = os.path.join(t + os.path.dirname(src), "stray")  # in a directory on the way
    open(stray_outside, "w").close()
    open(os.path.join(here, "new.log"), "w").close()
    open(os.path.join(here, "keep.TMP"), "w").close()
    os.makedirs(os.path.join(here, "src/sub/gen"))
    os.symlink("/etc", os.path.join(here, "docs/link"))
    r = restore(repo, t, "--delete", "--iexclude", "*.tmp")
    assert r.rc == 0, r
    assert sorted(l.split(" (")[0] for l in r.out.splitlines() if l.startswith("deleted ")) == [
        f"deleted {here}/docs/link", f"deleted {here}/new.log", f"deleted {here}/src/sub/gen"]
    assert os.path.exists(stray_outside), "only inside the backed-up paths"
    assert os.path.exists(os.path.join(here, "keep.TMP")), "excluded entries are left alone"
    assert not os.path.lexists(os.path.join(here, "docs/link"))
    assert os.path.isdir("/etc"), "the symlink was removed, not followed"
    got = {os.path.relpath(os.path.join(d, f), here) for d, _, fs in os.walk(here) for f in fs}
    # docs/b.TMP was restored before and is excluded now: left alone, not deleted
    assert got == set(files) | {"keep.TMP"}, got


def test_a_directory_in_the_way_is_named_by_its_target_path(world, backed_up):
    repo, src, files = backed_up
    t = fresh(world, repo)
    here = t + src
    os.unlink(os.path.join(here, "top"))
    os.makedirs(os.path.join(here, "top/inner"))
    r = restore(repo, t)
    assert r.rc == 1, r
    assert f"cannot restore '{here}/top': a directory is in the way (--delete replaces it)" in r.err
    assert os.path.isdir(os.path.join(here, "top/inner"))
    r = restore(repo, t, "--delete")
    assert r.rc == 0 and f"replaced {here}/top (a directory was there, --delete)" in r.out, r
    assert open(os.path.join(here, "top")).read() == "top\n"
    # a symlink where a directory belongs is never gone through
    os.rename(os.path.join(here, "docs"), os.path.join(t, "docs-moved"))
    os.symlink(os.path.join(t, "docs-moved"), os.path.join(here, "docs"))
    r = restore(repo, t)
    assert r.rc == 1 and f"refusing to restore '{here}/docs': a symlink is in the way" in r.err, r


def test_exclude_and_restic_patterns(world, backed_up):
    repo, src, files = backed_up

    def restored(*args):
        t = os.path.join(world, "p%d" % len(os.listdir(world)))
        r = restore(repo, t, *args)
        assert r.rc == 0, r
        base = t + src
        return {os.path.relpath(os.path.join(d, f), base) for d, _, fs in os.walk(base) for f in fs}

    every = set(files)
    # no leading '/': at any depth; trailing '/': directories only
    assert restored("--exclude", "sub") == every - {"src/sub/x.o"}
    assert restored("--exclude", "src/sub/") == every - {"src/sub/x.o"}
    assert restored("--exclude", "top/") == every  # top is a file
    assert restored("--exclude", "*.o", "--exclude", "cache") == every - {"src/sub/x.o", "cache/blob"}
    assert restored("--iexclude", "*.tmp") == every - {"docs/b.TMP"}
    assert restored("--exclude", src + "/docs") == every - {"docs/a.txt", "docs/b.TMP"}
    assert restored("--exclude", "/docs") == every  # anchored at the root: no such path
    assert restored("--exclude", "**/sub/*.o") == every - {"src/sub/x.o"}
    pats = os.path.join(world, "patterns")
    with open(pats, "w") as f:
        f.write("# comment\n\n  *.o  \n$DOCS_DIR/\n")
    r = run(["restore", "-r", repo, "latest", "--target", os.path.join(world, "ef"),
             "--exclude-file", pats], env=base_env(DOCS_DIR="docs"))
    assert r.rc == 0, r
    base = os.path.join(world, "ef") + src
    assert {os.path.relpath(os.path.join(d, f), base) for d, _, fs in os.walk(base) for f in fs} == \
        every - {"src/sub/x.o", "docs/a.txt", "docs/b.TMP"}
    # --include: relative and with a trailing slash, as the issue tried them
    assert restored("--include", "data/docs") == {"docs/a.txt", "docs/b.TMP"}
    assert restored("--include", src + "/docs/") == {"docs/a.txt", "docs/b.TMP"}
    assert restored("--include", "*.c") == {"src/main.c"}
    r = restore(repo, os.path.join(world, "none"), "--include", "data/nothing", "--include", "*.c")
    assert r.rc == 1 and "--include 'data/nothing' matches nothing in the snapshot" in r.err, r
    r = restore(repo, os.path.join(world, "none2"), "--include", "/docs/")
    assert r.rc == 1 and "matches nothing" in r.err


def test_snapshot_colon_path_restores_its_contents_into_the_target(world, backed_up):
    repo, src, files = backed_up
    t = os.path.join(world, "sub")
    r = run(["restore", "-r", repo, f"latest:{src}/src", "--target", t])
    assert r.rc == 0, r
    assert sorted(os.listdir(t)) == ["main.c", "sub"] and open(os.path.join(t, "sub/x.o")).read() == "obj\n"
    t2 = os.path.join(world, "one")
    r = run(["restore", "-r", repo, f"latest:{src}/docs/a.txt", "--target", t2])
    assert r.rc == 0 and os.listdir(t2) == ["a.txt"], r
    # --delete with a file: nothing else in the target is the restore's business
    open(os.path.join(t2, "mine"), "w").close()
    r = run(["restore", "-r", repo, f"latest:{src}/docs/a.txt", "--target", t2, "--delete"])
    assert r.rc == 0 and sorted(os.listdir(t2)) == ["a.txt", "mine"], r
    # --delete with a directory inside the backed-up path: the target is that directory
    open(os.path.join(t, "extra"), "w").close()
    r = run(["restore", "-r", repo, f"latest:{src}/src", "--target", t, "--delete"])
    assert r.rc == 0 and sorted(os.listdir(t)) == ["main.c", "sub"], r
    r = run(["restore", "-r", repo, f"latest:{src}/nope", "--target", t])
    assert r.rc == 1 and "is not in the snapshot" in r.err
