# SPDX-License-Identifier: BSD-2-Clause
"""Error messages a restic or borg user meets first: each one line, naming
the option, file or command, in words rather than internals (issue 18)."""
import os
import subprocess

import pytest

from conftest import PASSWORD, base_env, is_root, run

REPO_COMMANDS = [["snapshots"], ["ls", "latest"], ["restore", "latest", "-t", "/nonexistent"],
                 ["forget", "--keep-last", "1"], ["prune"], ["check"], ["repair", "index"],
                 ["stats"], ["protect", "latest"], ["cat", "config"], ["backup", "/etc/hostname"],
                 ["init"], ["tag", "latest", "--add", "x"], ["key", "list"], ["unlock"],
                 ["key", "import", "/dev/null"]]


@pytest.mark.parametrize("args", REPO_COMMANDS, ids=lambda a: a[0])
def test_no_repository_is_a_usage_error(args):
    r = run(args, env=base_env())
    assert r.rc == 2, r
    assert r.err.count("\n") == 1 and "no repository given" in r.err, r


@pytest.mark.parametrize("args,line", [
    (["backup", "--frob", "/tmp"], "unknown option '--frob'"),
    (["ls", "-z", "latest"], "unknown option '-z'"),
    (["forget", "--keep-last"], "option '--keep-last' needs a value"),
    (["restore", "latest", "-t"], "option '-t' needs a value"),
    (["restore", "latest", "--verify=yes", "-t", "x"], "option '--verify' takes no value"),
    (["forget", "--keep", "3"], "option '--keep' is ambiguous (--keep-last, --keep-hourly"),
    (["forget", "--keep-last", "-1"], "invalid count '-1' for --keep-last"),
    (["forget", "--keep-daily", "x"], "invalid count 'x' for --keep-daily"),
    (["forget", "--keep-within", "3q"], "invalid duration '3q' for --keep-within"),
])
def test_bad_options_are_one_line_naming_the_option(repo, args, line):
    r = run(args + ["-r", repo])
    assert r.rc == 2, r
    lines = r.err.splitlines()
    assert len(lines) == 1 and line in lines[0], r
    assert lines[0].startswith(f"dvalin {args[0]}: ") and f"'dvalin {args[0]} --help'" in lines[0]


def no_password_env(**extra):
    env = base_env(**extra)
    del env["DVALIN_PASSWORD"]
    return env


@pytest.mark.parametrize("command,reason", [
    ("false", "exited with status 1"),
    ("exit 3", "exited with status 3"),
    ("kill -9 $$", "killed by signal 9 (SIGKILL)"),
    ("dvalin-no-such-program", "was not found"),
    ("true", "printed nothing"),
    ("echo", "starts with an empty line"),
])
def test_password_command_failures_in_words(repo, command, reason):
    r = run(["snapshots", "-r", repo], env=no_password_env(DVALIN_PASSWORD_COMMAND=command))
    assert r.rc == 1, r
    last = r.err.splitlines()[-1]
    assert reason in last and "DVALIN_PASSWORD_COMMAND" in last, r
    assert "status 256" not in r.err and "32512" not in r.err


def test_password_command_output_beyond_the_first_line(repo):
    # only the first line is the password; the rest is read and ignored
    cmd = f"printf '%s\\n' '{PASSWORD}'; yes | head -c 200000"
    r = run(["snapshots", "-r", repo], env=no_password_env(DVALIN_PASSWORD_COMMAND=cmd))
    assert r.rc == 0, r


def test_password_file_problems_name_the_file(world, repo):
    empty = os.path.join(world, "empty")
    open(empty, "w").close()
    blank = os.path.join(world, "blank")
    open(blank, "w").write("\n" + PASSWORD + "\n")
    for path, reason in [(world, "is a directory"), (empty, "is empty"),
                         (blank, "starts with an empty line"),
                         (os.path.join(world, "missing"), "No such file or directory")]:
        r = run(["snapshots", "-r", repo, "--password-file", path], env=no_password_env())
        assert r.rc == 1 and f"password file '{path}'" in r.err and reason in r.err, r


def test_empty_password_variable_is_named(repo):
    r = run(["snapshots", "-r", repo], env=base_env(DVALIN_PASSWORD=""))
    assert r.rc == 1 and "DVALIN_PASSWORD is set but empty" in r.err, r
    assert "wrong password" not in r.err


def test_read_only_repository_is_read_without_a_lease_or_warning(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    open(os.path.join(src, "f"), "w").write("data\n")
    assert run(["backup", "-r", repo, src]).rc == 0
    if is_root():
        mnt = os.path.join(world, "ro")
        os.makedirs(mnt)
        p = subprocess.run(["mount", "--bind", repo, mnt], capture_output=True)
        if p.returncode != 0:
            pytest.skip("cannot bind-mount here")
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", mnt], check=True)
            target = os.path.join(world, "t")
            r = run(["restore", "-r", mnt, "latest", "-t", target])
            assert r.rc == 0 and r.err == "", r
            assert open(os.path.join(target, src.lstrip("/"), "f")).read() == "data\n"
            r = run(["snapshots", "-r", mnt])
            assert r.rc == 0 and r.err == "", r
            # a writer is told why it cannot start, in one line
            r = run(["backup", "-r", mnt, src])
            assert r.rc == 1 and "Read-only file system" in r.err, r
            assert len(r.err.splitlines()) == 1, r
        finally:
            subprocess.run(["umount", mnt])
    else:
        subprocess.run(["chmod", "-R", "a-w", repo], check=True)
        target = os.path.join(world, "t")
        r = run(["restore", "-r", repo, "latest", "-t", target])
        assert r.rc == 0 and r.err == "", r
