# SPDX-License-Identifier: BSD-2-Clause
"""Shared fixtures: the dvalin binary under test, repositories, users."""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DVALIN = os.environ.get("DVALIN_BIN", os.path.join(ROOT, "dvalin"))
TOOLS = os.environ.get("DVALIN_TOOLS", os.path.join(ROOT, "build", "tools"))
PASSWORD = "correct horse battery staple"


def base_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVALIN_")}
    env["DVALIN_PASSWORD"] = PASSWORD
    env.update(extra)
    return env


class Result:
    def __init__(self, p):
        self.rc = p.returncode
        self.out = p.stdout
        self.err = p.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"<rc={self.rc} out={self.out[:300]!r} err={self.err[:600]!r}>"


def run(args, env=None, user=None, input=None, cwd=None, timeout=600):
    cmd = [DVALIN] + [str(a) for a in args]
    if user:
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] + cmd
    p = subprocess.run(cmd, env=env or base_env(), input=input, capture_output=True,
                       text=True, errors="surrogateescape", cwd=cwd, timeout=timeout)
    r = Result(p)
    # A sanitizer report means a bug even when the exit status looks fine.
    assert "Sanitizer" not in r.err, r.err
    assert r.rc >= 0, f"dvalin died from signal {-r.rc}: {r!r}"
    return r


@pytest.fixture
def dv():
    return run


@pytest.fixture
def world(tmp_path):
    """A scratch area readable by the unprivileged test user too."""
    d = tempfile.mkdtemp(prefix="dvalin-e2e-", dir="/tmp")
    os.chmod(d, 0o777)
    yield d
    subprocess.run(["chattr", "-R", "-i", d], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def repo(world):
    path = os.path.join(world, "repo")
    r = run(["init", "-r", path, "--kdf-log-n", "10"])
    assert r.rc == 0, r
    return path


def snapshots(repo_path):
    r = run(["snapshots", "-r", repo_path, "--json"])
    assert r.rc == 0, r
    return r.json()


def is_root():
    return os.geteuid() == 0


def tree_digest(root):
    """path -> sha256 of contents, for every regular file under root."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


# Real services (sshd, Ceph RGW, Prometheus, SMTP, HTTP receiver, Chromium):
# fixtures and hooks, see docs/testing.md.
from service_fixtures import *  # noqa: E402,F401,F403
