# SPDX-License-Identifier: BSD-2-Clause
"""Shared fixtures: the dvalin binary under test, repositories, users."""
import atexit
import contextlib
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

# No dvalin a test starts may write into the real user's cache
# ($HOME/.cache/dvalin): every process inherits a throwaway one, open to the
# tests' unprivileged users like /tmp.  Tests that look at caches set their own.
_XDG_CACHE = tempfile.mkdtemp(prefix="dvalin-e2e-cache-")
os.chmod(_XDG_CACHE, 0o1777)
os.environ["XDG_CACHE_HOME"] = _XDG_CACHE
atexit.register(shutil.rmtree, _XDG_CACHE, True)


# What the current test's remote repository needs in every dvalin's
# environment (a token, a fingerprint, the ssh on PATH): set by the repo
# fixtures below for one test, empty for a local repository.
_repo_env = {}


def base_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVALIN_")}
    env["DVALIN_PASSWORD"] = PASSWORD
    env.update(_repo_env)
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


class Repo(str):
    """A repository's location as dvalin takes it (-r): a path for a local
    one, a URL for a remote one.  .dir is the directory that holds its files
    (on the server's side for a remote one), .kind is local, https or ssh."""

    def __new__(cls, url, dir, kind):
        r = super().__new__(cls, url)
        r.dir, r.kind = dir, kind
        return r


REPO_KINDS = ["local", "https", "ssh"]


def pytest_generate_tests(metafunc):
    """A module with REMOTE_REPOS = True runs each test that takes a
    repository (repo, new_repo) once per kind: local, over https to a
    dvalin server, over ssh to `dvalin serve --stdio`.  A test marked
    @pytest.mark.remote_repos does too, or @pytest.mark.remote_repos(KIND...)
    locally and over those kinds only."""
    uses = {"repo", "new_repo"} & set(metafunc.fixturenames)
    mark = metafunc.definition.get_closest_marker("remote_repos")
    if uses and getattr(metafunc.module, "REMOTE_REPOS", False):
        metafunc.parametrize("repo_kind", REPO_KINDS, indirect=True)
    elif uses and mark:
        metafunc.parametrize("repo_kind", ["local", *(mark.args or REPO_KINDS[1:])], indirect=True)


@pytest.fixture
def repo_kind(request):
    return getattr(request, "param", "local")


_repo_serial = [0]


def repo_location(kind, local_path, request):
    """A new, empty repository location of that kind, and the environment
    every dvalin needs to reach it (set for the test: base_env() has it)."""
    env = {"XDG_CACHE_HOME": os.path.join(os.path.dirname(local_path), "xdg-cache")}
    os.makedirs(env["XDG_CACHE_HOME"], exist_ok=True)
    os.chmod(env["XDG_CACHE_HOME"], 0o777)
    if kind == "local":
        return Repo(local_path, local_path, kind), {}
    env["DVALIN_RETRY_SECONDS"] = "10"
    if kind == "https":
        server = request.getfixturevalue("dvalin_server")
        _repo_serial[0] += 1
        name = f"t{os.getpid()}-{_repo_serial[0]}"
        d = server.add_repo(name)
        env["DVALIN_TOKEN"] = server.admin_token
        env["DVALIN_FINGERPRINT"] = server.fingerprint
        return Repo(server.url(name), d, kind), env
    sshd = request.getfixturevalue("sshd")
    env["PATH"] = sshd.client_env({"PATH": os.environ.get("PATH", "/usr/bin:/bin")})["PATH"]
    return Repo(sshd.url(local_path), local_path, kind), env


@pytest.fixture
def new_repo(world, repo_kind, request):
    """A location for a repository the test creates itself (not initialised)."""
    r, env = repo_location(repo_kind, os.path.join(world, "repo"), request)
    _repo_env.clear()
    _repo_env.update(env)
    yield r
    _repo_env.clear()


@pytest.fixture
def repo(new_repo):
    r = run(["init", "-r", new_repo, "--kdf-log-n", "10"])
    assert r.rc == 0, r
    return new_repo


def give_to_nobody(*paths):
    """chown to nobody; a remote repository's files are the server's own."""
    paths = [getattr(p, "dir", p) for p in paths if getattr(p, "kind", "local") == "local"]
    if paths:
        subprocess.run(["chown", "-R", "-h", "65534:65534", *paths], check=True)


def skip_ssh_as_nobody(repo):
    if repo.kind == "ssh":
        pytest.skip("the unprivileged user has no ssh key for the test sshd")


def snapshots(repo_path):
    r = run(["snapshots", "-r", repo_path, "--json"])
    assert r.rc == 0, r
    return r.json()


def is_root():
    return os.geteuid() == 0


@contextlib.contextmanager
def small_tmpfs(path, size, options=""):
    """A tmpfs of size (e.g. "24m") mounted at path (made if missing) for a
    full-file-system test; the test is skipped where none can be mounted."""
    if not is_root():
        pytest.skip("mounting a small file system needs root")
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}{options}", "none", path],
                       capture_output=True)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + p.stderr.decode(errors="replace").strip())
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True)


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


def flip_byte(path, offset):
    """Flips one bit of the byte at offset (bit rot)."""
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x40]))
