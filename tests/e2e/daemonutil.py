# SPDX-License-Identifier: BSD-2-Clause
"""Running `dvalin daemon` in a test: a configuration written to the test's
world, the daemon in its own process group with a log file, the local API
over its Unix socket and the web UI over HTTP (with a session), and an
orderly stop by PID that fails the test if the daemon does not exit."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse

from conftest import DVALIN, base_env, run


def hash_password(pw):
    r = run(["daemon", "--hash-password"], input=pw + "\n")
    assert r.rc == 0 and r.out.startswith("$y$"), r
    return r.out.strip()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode(errors="replace")

    def __repr__(self):
        return f"<HTTP {self.status} {self.body[:300]!r}>"


class Daemon:
    """A dvalin daemon on conf (text), state under world/state."""

    def __init__(self, world, conf, env=None, name="daemon", prefix=()):
        self.world = world
        self.prefix = list(prefix)  # a command the daemon runs under (setpriv ...)
        self.state = os.path.join(world, "state")
        self.conf_path = os.path.join(world, name + ".conf")
        self.log_path = os.path.join(world, name + ".log")
        self.env = env or base_env()
        self.proc = None
        self.port = None
        self.write_conf(conf)

    def write_conf(self, conf):
        with open(self.conf_path, "w") as f:
            f.write(conf)

    @property
    def sock(self):
        return os.path.join(self.state, "control.sock")

    def start(self, wait_web=True, timeout=30):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.prefix + [DVALIN, "daemon", "--config", self.conf_path], env=self.env,
                                     stdout=self.logf, stderr=self.logf, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.log()}")
            m = re.search(r"web UI on \S+ \(port (\d+)\)", self.log())
            if os.path.exists(self.sock) and (m or not wait_web):
                self.port = int(m.group(1)) if m else None
                return self
            time.sleep(0.05)
        raise AssertionError(f"daemon not ready in {timeout} s: {self.log()}")

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, timeout=60):
        """SIGTERM, then wait; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        # the jobs are dvalin processes too: a sanitizer report in a run's log is a bug
        try:
            for r in self.runs():
                if r["status"] != "running":
                    log = self.run_doc(r["id"]).get("log") or ""
                    assert "Sanitizer" not in log, log
        except (OSError, http.client.HTTPException):
            pass
        self.signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            raise AssertionError(f"daemon did not stop within {timeout} s: {self.log()}")
        self.logf.close()
        assert "Sanitizer" not in self.log(), self.log()
        return rc

    # -- the local API (trusted Unix socket)

    def api(self, path, method="GET", body=None):
        c = UnixHTTPConnection(self.sock)
        try:
            c.request(method, path, body=body)
            r = c.getresponse()
            return Response(r.status, dict(r.getheaders()), r.read())
        finally:
            c.close()

    def jobs(self):
        r = self.api("/api/jobs")
        assert r.status == 200, r
        return {j["name"]: j for j in r.json()["jobs"]}

    def runs(self, job=None):
        r = self.api(f"/api/jobs/{job}/runs?limit=1000" if job else "/api/runs?limit=1000")
        assert r.status == 200, r
        return r.json()["runs"]

    def run_doc(self, run_id):
        """One run with its result and log."""
        r = self.api(f"/api/runs/{run_id}")
        assert r.status == 200, r
        return r.json()

    def wait(self, pred, timeout=60, what="condition", interval=0.1):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = pred()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r}); log:\n{self.log()}")

    def wait_runs(self, job, n, timeout=60, finished=True):
        def done():
            rs = [r for r in self.runs(job) if not finished or r["status"] != "running"]
            return rs if len(rs) >= n else None
        return self.wait(done, timeout, f"{n} finished runs of {job}")

    def run_now(self, job):
        r = self.api(f"/api/jobs/{job}/run", method="POST")
        assert r.status == 202, r
        return r

    # -- the web UI over HTTP

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def http(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return Response(r.status, dict(r.getheaders()), r.read())
        finally:
            c.close()

    def login(self, user, password, headers=None):
        """POST /login: (Response, cookie header or None)."""
        body = urllib.parse.urlencode({"user": user, "password": password})
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        r = self.http("POST", "/login", body, h)
        cookie = r.headers.get("Set-Cookie")
        return r, cookie.split(";")[0] if cookie else None

