# SPDX-License-Identifier: BSD-2-Clause
"""Faults between a client and a real `dvalin server` (issue 10): the
network cut in the middle of a backup, a peer that stalls without closing,
an upload cut half way, the server's disk full.  The network is a small
TCP relay of the test's own on 127.0.0.1 between the client and the
server, which the test cuts or stops forwarding.  After each fault the
client has said what failed in one line (or, for a cut it could retry,
finished), the repository checks clean, nothing half-written is left on
the server, and the next backup succeeds and reuses what was stored."""
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

import services
from conftest import DVALIN, base_env, run, small_tmpfs, tree_digest

# The client gives up quickly here: these tests wait for its verdict.
FAST = {"DVALIN_RETRY_SECONDS": "3", "DVALIN_STALL_SECONDS": "3"}


class Relay:
    """127.0.0.1:port -> 127.0.0.1:upstream, one pair of pumps per
    connection.  cut_after(n) resets every connection once n more bytes
    went upstream, then refuses (or, with then="forward", serves) new
    connections; stall_after(n) stops forwarding anything in either
    direction and opens nothing upstream, without closing a connection."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.ls.settimeout(0.2)  # the accept loop notices close()
        self.port = self.ls.getsockname()[1]
        self.lock = threading.Lock()
        self.mode = "forward"
        self.socks = []
        self.up_bytes = 0
        self.trigger = None  # (bytes, what, then)
        self.fired = threading.Event()
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def url(self, repo):
        return f"https://127.0.0.1:{self.port}/{repo}"

    def cut_after(self, n, then="refuse"):
        with self.lock:
            self.trigger = (self.up_bytes + n, "cut", then)

    def stall_after(self, n):
        with self.lock:
            self.trigger = (self.up_bytes + n, "stall", None)

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(None)
            with self.lock:
                mode = self.mode
                if mode != "refuse":
                    self.socks.append(c)
            if mode == "refuse":
                _reset(c)
                continue
            if mode == "stall":
                continue  # held open, never answered
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                _reset(c)
                continue
            with self.lock:
                self.socks.append(u)
            for src, dst, up in ((c, u, True), (u, c, False)):
                t = threading.Thread(target=self._pump, args=(src, dst, up), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst, up):
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if up:
                    self._count(len(data))
                self.flowing.wait()
                if self.closed:
                    return
                dst.sendall(data)
        except OSError:
            return

    def _count(self, n):
        with self.lock:
            self.up_bytes += n
            t = self.trigger
            if not t or self.up_bytes < t[0]:
                return
            self.trigger = None
            if t[1] == "stall":
                self.mode = "stall"
                self.flowing.clear()
                self.fired.set()
                return
            socks, self.socks = self.socks, []
            self.mode = "refuse" if t[2] == "refuse" else "forward"
        for s in socks:
            _reset(s)
        self.fired.set()

    def held(self):
        with self.lock:
            return len(self.socks)

    def close(self):
        self.closed = True
        self.flowing.set()
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            _reset(s)
        self.ls.close()
        for t in self.threads:
            t.join(10)


def _reset(s):
    """Closes s with a TCP reset (no orderly end), waking its readers."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


@pytest.fixture
def relay(dvalin_server):
    r = Relay(dvalin_server.port)
    yield r
    r.close()


def tree(world, name, files, size):
    d = os.path.join(world, name)
    os.makedirs(d, exist_ok=True)
    for i in range(files):
        with open(os.path.join(d, f"f{i}"), "wb") as f:
            f.write(os.urandom(size))
    return d


def new_repo(server, world):
    """An initialised repository of its own on server: (name, its
    directory, the environment with an admin token for it)."""
    name = f"f{os.getpid()}-{time.monotonic_ns()}"
    d = server.add_repo(name)
    tok = server.add_token(f"{name}-admin", "admin", repo=name)
    env = base_env(XDG_CACHE_HOME=os.path.join(world, "cache"), DVALIN_TOKEN=tok,
                   DVALIN_FINGERPRINT=server.fingerprint, **FAST)
    r = run(["init", "-r", server.url(name), "--kdf-log-n", "10"], env=env)
    assert r.rc == 0, r
    return name, d, env


def backup_json(url, src, env):
    r = run(["backup", "-r", url, "--json", src], env=env)
    assert r.rc == 0, r
    return r.json()


def one_error_line(err):
    lines = [l for l in err.splitlines() if l.strip() and "warning:" not in l]
    assert len(lines) == 1, err
    print(lines[0])
    return lines[0]


def half_written(d):
    """Temporary files of uploads under a repository directory on the server."""
    return [os.path.join(dp, f) for dp, _, fs in os.walk(d) for f in fs if f.startswith(".tmp")]


def wait_until(pred, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)


def checks_clean_and_restores(url, env, src, world):
    r = run(["check", "-r", url, "--read-data"], env=env)
    assert r.rc == 0, r
    target = os.path.join(world, "restored")
    shutil.rmtree(target, ignore_errors=True)
    r = run(["restore", "-r", url, "latest", "--target", target], env=env)
    assert r.rc == 0, r
    assert tree_digest(os.path.join(target, src.lstrip("/"))) == tree_digest(src)


def test_network_cut_mid_backup_fails_in_one_line_and_the_next_backup_reuses(
        dvalin_server, relay, world):
    name, d, env = new_repo(dvalin_server, world)
    src = tree(world, "src", 4, 1 << 20)
    first = backup_json(relay.url(name), src, env)
    # new data, and the network goes away for good after 3 MiB of it
    tree(world, "src/more", 12, 1 << 20)
    relay.cut_after(3 << 20)
    r = run(["backup", "-r", relay.url(name), src], env=env, timeout=300)
    assert relay.fired.is_set(), "the backup ended before the cut: make the data larger"
    assert r.rc != 0, r
    line = one_error_line(r.err)
    assert relay.url(name) in line, line  # names the repository and what failed
    # the server is fine; the repository checks clean from where it is reachable
    url = dvalin_server.url(name)
    r = run(["check", "-r", url], env=env)
    assert r.rc == 0, r
    wait_until(lambda: not half_written(d), "removal of the cut uploads' temporary files")
    # the next backup completes and does not store again what the first one did
    again = backup_json(url, src, env)
    assert again["bytes_added"] < again["total_bytes"] - first["total_bytes"] + (256 << 10), \
        (first, again)
    checks_clean_and_restores(url, env, src, world)


def test_upload_cut_half_way_is_retried_and_leaves_nothing_half_written(
        dvalin_server, relay, world):
    name, d, env = new_repo(dvalin_server, world)
    src = tree(world, "src", 10, 1 << 20)
    # every connection is reset in the middle of the first pack's upload;
    # the network is back at once: the client retries and completes
    relay.cut_after(2 << 20, then="forward")
    r = run(["backup", "-r", relay.url(name), "--json", src], env=env, timeout=300)
    assert relay.fired.is_set(), "the backup ended before the cut"
    assert r.rc == 0, r
    wait_until(lambda: not half_written(d), "removal of the cut upload's temporary file")
    checks_clean_and_restores(relay.url(name), env, src, world)


def test_stalled_peer_times_out_in_one_line_and_the_server_serves_others(
        dvalin_server, relay, world):
    name, d, env = new_repo(dvalin_server, world)
    other, other_d, other_env = new_repo(dvalin_server, world)
    src = tree(world, "src", 10, 1 << 20)
    relay.stall_after(2 << 20)
    p = subprocess.Popen([DVALIN, "backup", "-r", relay.url(name), src], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(relay.fired.is_set, "stall", timeout=120)
        # while the stalled connections are held open, another client is served
        osrc = tree(world, "other", 3, 100 << 10)
        backup_json(dvalin_server.url(other), osrc, other_env)
        # the stalled client gives up by itself: its stall limit, then its retries
        out, err = p.communicate(timeout=240)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert "Sanitizer" not in err, err
    assert p.returncode not in (0, None) and p.returncode > 0, (p.returncode, err)
    line = one_error_line(err)
    assert relay.url(name) in line and ("stopped answering" in line or "timed out" in line), line
    relay.close()
    url = dvalin_server.url(name)
    r = run(["check", "-r", url], env=env)
    assert r.rc == 0, r
    wait_until(lambda: not half_written(d), "removal of the stalled uploads' temporary files",
               timeout=180)
    backup_json(url, src, env)
    checks_clean_and_restores(url, env, src, world)
    checks_clean_and_restores(dvalin_server.url(other), other_env, osrc, world)


@pytest.fixture
def small_server(world):
    """A server of its own whose data directory is on a 24 MiB tmpfs."""
    with small_tmpfs(os.path.join(world, "small"), "24m", ",mode=0755") as mnt:
        s = None
        try:
            s = services.DvalinServer(DVALIN, state_base=mnt).start()
            s.mnt = mnt
            yield s
        finally:
            if s:
                s.stop(check=False)


def test_server_disk_full_is_one_clear_line_and_nothing_is_corrupted(small_server, world):
    name, d, env = new_repo(small_server, world)
    url = small_server.url(name)
    src = tree(world, "src", 3, 1 << 20)
    first = backup_json(url, src, env)
    tree(world, "src/huge", 10, 4 << 20)  # 40 MiB of random data: the disk cannot hold it
    r = run(["backup", "-r", url, src], env=env, timeout=300)
    assert r.rc != 0, r
    line = one_error_line(r.err)
    assert url in line and "disk is full" in line, line
    r = run(["check", "-r", url], env=env)
    assert r.rc == 0, r
    assert not half_written(d), half_written(d)
    # with room again the next backup completes and reuses the first one's
    # data and the packs the failed one stored before the disk was full
    # (it indexed them as it failed)
    p = subprocess.run(["mount", "-o", "remount,size=128m", small_server.mnt], capture_output=True)
    assert p.returncode == 0, p.stderr
    again = backup_json(url, src, env)
    assert again["bytes_added"] < again["total_bytes"] - first["total_bytes"] - (8 << 20), \
        (first, again)
    checks_clean_and_restores(url, env, src, world)


CLIENTS = 32


def test_32_clients_back_up_at_once_to_one_server(world):
    """Each client its own host name, append token and small tree (and a
    file all of them share); all at the same time into one repository of
    one server of the test's own."""
    server = services.DvalinServer(DVALIN).start()
    try:
        name, d, admin_env = new_repo(server, world)
        url = server.url(name)
        shared = os.urandom(300 << 10)
        clients = []
        for i in range(CLIENTS):
            src = tree(world, f"c{i}", 4, 20 << 10)
            with open(os.path.join(src, "shared"), "wb") as f:
                f.write(shared)
            env = dict(admin_env, DVALIN_TOKEN=server.add_token(f"{name}-c{i}", "append", repo=name),
                       DVALIN_RETRY_SECONDS="60",
                       XDG_CACHE_HOME=os.path.join(world, f"cache{i}"))
            clients.append((src, env))
        started = [(src, subprocess.Popen(
            [DVALIN, "backup", "-r", url, "--host", f"h{i}", "--json", src], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            for i, (src, env) in enumerate(clients)]
        ids = {}
        for src, p in started:
            out, err = p.communicate(timeout=600)
            assert "Sanitizer" not in err, err
            assert p.returncode == 0, err
            ids[src] = json.loads(out)["snapshot_id"]
        r = run(["check", "-r", url, "--read-data"], env=admin_env)
        assert r.rc == 0, r
        snaps = run(["snapshots", "-r", url, "--json"], env=admin_env).json()
        assert sorted(s["host"] for s in snaps) == sorted(f"h{i}" for i in range(CLIENTS))
        for src, sid in ids.items():
            target = os.path.join(world, "t-" + os.path.basename(src))
            r = run(["restore", "-r", url, sid, "--target", target], env=admin_env)
            assert r.rc == 0, r
            assert tree_digest(os.path.join(target, src.lstrip("/"))) == tree_digest(src), src
    finally:
        server.stop(check=False)
