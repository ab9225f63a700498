# SPDX-License-Identifier: BSD-2-Clause
"""Ctrl-C says what was interrupted and what it leaves, and dvalin still
dies of the signal (exit status 130 in a shell): a backup stops, indexes
what it stored, releases its lease, and the next backup reuses that data."""
import os
import signal
import subprocess
import time

import pytest

from conftest import DVALIN, base_env, run, snapshots


def start(args, env=None):
    return subprocess.Popen([DVALIN, *args], env=env or base_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def interrupt(p, after_s):
    time.sleep(after_s)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=120)
    try:
        os.killpg(p.pid, signal.SIGTERM)  # a password command's sleep holds the pipes
    except ProcessLookupError:
        pass
    out, err = p.communicate(timeout=60)
    return p.returncode, out.decode(), err.decode()


def test_backup_stops_cleanly_and_the_next_reuses_what_was_stored(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    # compressible data at zstd 19 is slow enough to be caught in the middle
    for i in range(8):
        with open(os.path.join(src, f"f{i}"), "wb") as f:
            f.write(os.urandom(3 << 20).hex().encode())
    total = 8 * (6 << 20)
    p = start(["backup", "-r", repo, src, "--compression", "19", "--threads", "2"])
    deadline = time.monotonic() + 60
    while not os.listdir(os.path.join(repo, "data")) and time.monotonic() < deadline:
        time.sleep(0.01)
    rc, out, err = interrupt(p, 0.5)
    if rc == 0:
        pytest.skip("the backup finished before it could be interrupted")
    assert rc == -signal.SIGINT, (rc, err)
    assert err.strip().endswith("dvalin: backup interrupted: no snapshot was saved; the repository "
                                "is consistent, and the next backup reuses the data stored so far"), err
    assert "Sanitizer" not in err and "warning" not in err, err
    assert snapshots(repo) == []
    assert os.listdir(os.path.join(repo, "locks")) == [], "the lease is released"
    assert os.listdir(os.path.join(repo, "index")), "what was stored is indexed"
    r = run(["backup", "-r", repo, src, "--compression", "off", "--json"])
    assert r.rc == 0, r
    doc = r.json()
    assert doc["total_bytes"] == total and doc["bytes_read"] == total
    # the chunks stored before the interruption (a pack at least) are not
    # stored again: uncompressed, a full second copy would add total
    assert doc["bytes_added"] < total - (1 << 20), doc
    assert run(["check", "-r", repo, "--read-data"]).rc == 0


def test_a_command_that_does_not_poll_still_says_what_it_leaves(world, repo):
    env = base_env()
    del env["DVALIN_PASSWORD"]
    env["DVALIN_PASSWORD_COMMAND"] = "sleep 30; echo x"
    for cmd, note in [(["forget", "--keep-last", "1"],
                       "forget interrupted: each snapshot was removed whole or not at all"),
                      (["snapshots"], "snapshots interrupted: nothing was changed")]:
        p = start([*cmd, "-r", repo], env=env)
        rc, out, err = interrupt(p, 0.5)
        assert rc == -signal.SIGINT, (rc, err)
        assert err.strip() == "dvalin: " + note + (
            "; the repository is consistent" if cmd[0] == "forget" else ""), err


def test_restore_names_its_target(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    for i in range(400):
        open(os.path.join(src, f"f{i}"), "w").write("x" * 1000)
    assert run(["backup", "-r", repo, src]).rc == 0
    env = base_env()
    del env["DVALIN_PASSWORD"]
    env["DVALIN_PASSWORD_COMMAND"] = "sleep 30; echo x"
    target = os.path.join(world, "t")
    p = start(["restore", "-r", repo, "latest", "-t", target], env=env)
    rc, out, err = interrupt(p, 0.5)
    assert rc == -signal.SIGINT
    assert f"dvalin: restore interrupted: '{target}'" in err, err
