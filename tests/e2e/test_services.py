# SPDX-License-Identifier: BSD-2-Clause
"""The real services of services.py work as the other tests rely on:
sshd (remote commands, bytes both ways, forced commands, programs that
spawn `ssh`), Ceph RGW (S3 through curl's SigV4), Prometheus and promtool,
the SMTP sink, the HTTP receiver, headless Chromium; ports are never
shared; stopping leaves no process behind.  With E2E_SERVICE_REPORT=FILE
each start time and memory figure is appended to FILE (docs/testing.md)."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import services
from conftest import DVALIN


def record(service, **extra):
    path = os.environ.get("E2E_SERVICE_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"service": service.kind, "start_s": round(service.start_seconds, 3),
                                "pss_mib": round(service.memory_kib() / 1024, 1), **extra}) + "\n")


def test_reserved_ports_are_free_distinct_and_locked_against_other_processes():
    a, b = services.reserve_ports(3), services.reserve_ports(2)
    try:
        assert not set(a.ports) & set(b.ports)
        assert a.ports == list(range(a[0], a[0] + 3))
        lo, hi = services._port_range()
        assert all(lo <= p <= hi for p in a.ports + b.ports)
        # another process cannot take a held port
        probe = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR)\n"
                 "try:\n fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('took')\n"
                 "except BlockingIOError: print('held')")
        lock = os.path.join(services.PORT_LOCK_DIR, str(a[1]))
        out = subprocess.run([sys.executable, "-c", probe, lock], capture_output=True, text=True)
        assert out.stdout.strip() == "held", out
        a.release()
        out = subprocess.run([sys.executable, "-c", probe, lock], capture_output=True, text=True)
        assert out.stdout.strip() == "took", out
    finally:
        a.release()
        b.release()


# ---------------------------------------------------------------- sshd

def test_sshd_runs_commands_and_pipes_bytes_both_ways(sshd):
    r = sshd.ssh("echo hello from $(id -un)")
    assert r.returncode == 0 and r.stdout.decode().strip() == f"hello from {sshd.user}", r
    data = os.urandom(3 << 20)
    r = sshd.ssh("cat", input=data)
    assert r.returncode == 0 and r.stdout == data, (r.returncode, r.stderr)
    r = sshd.ssh("wc -c", input=data)
    assert r.stdout.decode().split() == [str(len(data))]
    # the dvalin under test is first on the far side's PATH
    r = sshd.ssh("command -v dvalin; dvalin --version")
    assert r.stdout.decode().splitlines()[0] == os.path.abspath(DVALIN), r
    assert "dvalin" in r.stdout.decode().splitlines()[1]
    record(sshd)


def test_programs_spawning_ssh_connect_without_prompts(sshd, world):
    # What dvalin's ssh:// transport does: spawn `ssh HOST command` with the
    # user's PATH; no -F, no terminal to prompt on.
    env = sshd.client_env()
    for host in (sshd.alias, "127.0.0.1", f"root@127.0.0.1" if sshd.user == "root" else sshd.alias):
        r = subprocess.run(["ssh", host, "echo ok"], env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=60)
        assert r.returncode == 0 and r.stdout == b"ok\n", (host, r)
    r = subprocess.run(["ssh", "-p", str(sshd.port), "localhost", "echo ok"], env=env,
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 0 and r.stdout == b"ok\n", r
    assert sshd.url("/srv/repo") == "ssh://dvalin-sshd/srv/repo"


def test_forced_commands_and_refused_keys(sshd):
    ro = sshd.add_client("appendonly", options='command="echo forced: $SSH_ORIGINAL_COMMAND",restrict')
    other = sshd.add_client("stranger", authorized=False)
    r = sshd.ssh("rm -rf /nothing", host=ro.alias)
    assert r.returncode == 0 and r.stdout == b"forced: rm -rf /nothing\n", r
    r = sshd.ssh("echo in", host=other.alias)
    assert r.returncode == 255 and b"Permission denied" in r.stderr, r
    # the default key still works, and a test can replace the whole file
    assert sshd.ssh("true").returncode == 0
    sshd.authorize(sshd.key_line(other, 'command="echo only stranger"'))
    assert sshd.ssh("true").returncode == 255
    assert sshd.ssh("x", host=other.alias).stdout == b"only stranger\n"


def test_a_service_dies_with_the_process_that_started_it(tmp_path):
    # A test worker that crashes never runs its clean-up: its services get
    # the parent-death signal instead of running on.
    script = ("import sys, time; sys.path.insert(0, sys.argv[1]); import services\n"
              "s = services.SmtpSink().start()\n"
              "print(s.procs['aiosmtpd'].pid, s.tag, s.dir, flush=True)\n"
              "import os; os._exit(0)")
    p = subprocess.run([sys.executable, "-c", script, os.path.dirname(services.__file__)],
                       capture_output=True, text=True, timeout=60)
    pid, tag, state = p.stdout.split()
    shutil.rmtree(state)  # its clean-up never ran
    deadline = time.monotonic() + 10
    while services._proc_alive(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not services._proc_alive(int(pid)) and services.tagged_pids(tag) == []


def test_stopping_sshd_ends_its_sessions_and_frees_its_port():
    with services.Sshd() as s:
        held = subprocess.Popen(s.argv("sleep 300"), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def remote_sleep():
            for p in s.pids():
                try:
                    if open(f"/proc/{p}/cmdline", "rb").read().startswith(b"sleep\0"):
                        return p
                except OSError:
                    pass
        sleeper = s.wait_for("the remote sleep", remote_sleep, 15)
        pids, port = s.pids(), s.port
        assert s.procs["sshd"].pid in pids and sleeper in pids  # found by its tag
    assert services.tagged_pids(s.tag) == []
    assert not any(services._proc_alive(p) for p in pids)
    assert held.wait(20) != 0  # the client saw its connection go
    assert not services.wait_tcp(port)
    assert not os.path.exists(s.dir) and os.listdir(s.log_dir)  # state gone, logs kept


# ---------------------------------------------------------------- Ceph RGW

def test_rgw_serves_s3_through_curl_sigv4(rgw, s3_bucket):
    body = os.urandom(100_000)
    r = rgw.s3("PUT", f"/{s3_bucket}/dir/obj", data=body)
    assert r.status == 200 and r.headers["etag"], r
    r = rgw.s3("GET", f"/{s3_bucket}/dir/obj")
    assert r.status == 200 and r.body == body
    r = rgw.s3("GET", f"/{s3_bucket}/dir/obj", byte_range="1000-1999")
    assert r.status == 206 and r.body == body[1000:2000], r
    assert r.headers["content-range"] == f"bytes 1000-1999/{len(body)}"
    r = rgw.s3("HEAD", f"/{s3_bucket}/dir/obj")
    assert r.status == 200 and r.headers["content-length"] == str(len(body))
    rgw.s3("PUT", f"/{s3_bucket}/other", data=b"x")
    r = rgw.s3("GET", f"/{s3_bucket}", query={"list-type": 2, "prefix": "dir/"})
    assert r.status == 200 and b"<Key>dir/obj</Key>" in r.body and b"<Key>other</Key>" not in r.body
    assert b"<KeyCount>1</KeyCount>" in r.body, r
    r = rgw.s3("DELETE", f"/{s3_bucket}/dir/obj")
    assert r.status == 204, r
    assert rgw.s3("GET", f"/{s3_bucket}/dir/obj").status == 404
    # wrong secret: refused
    r = rgw.s3("GET", f"/{s3_bucket}/other", keys=(rgw.access_key, "x" * 40))
    assert r.status == 403 and b"SignatureDoesNotMatch" in r.body, r
    # another user cannot read the first one's bucket
    r = rgw.s3("GET", f"/{s3_bucket}/other", keys=rgw.add_user(f"u{os.getpid()}"))
    assert r.status == 403, r
    # virtual-host style: BUCKET.localhost (curl resolves *.localhost to loopback)
    p = subprocess.run(["curl", "-sS", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user",
                        f"{rgw.access_key}:{rgw.secret_key}", "-H",
                        "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                        f"http://{s3_bucket}.localhost:{rgw.port}/other"], capture_output=True)
    assert p.returncode == 0 and p.stdout == b"x", p
    env = rgw.client_env({})
    assert env["AWS_ACCESS_KEY_ID"] == rgw.access_key and env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert rgw.url(s3_bucket, "repo") == f"s3:http://127.0.0.1:{rgw.port}/{s3_bucket}/repo"
    assert rgw.start_seconds < 60
    record(rgw)


def test_rgw_can_be_stopped_and_started_mid_test(rgw, s3_bucket):
    rgw.s3("PUT", f"/{s3_bucket}/keep", data=b"kept")
    rgw.stop_rgw()
    with pytest.raises(services.ServiceError, match="Connection refused|Failed to connect"):
        rgw.s3("GET", f"/{s3_bucket}/keep")
    t = time.monotonic()
    rgw.start_rgw()
    restart = time.monotonic() - t
    assert rgw.s3("GET", f"/{s3_bucket}/keep").body == b"kept"
    assert restart < 30, restart


# ---------------------------------------------------------------- Prometheus

EXPOSITION = """# HELP dvalin_selftest_jobs_total Jobs run.
# TYPE dvalin_selftest_jobs_total counter
dvalin_selftest_jobs_total{job_name="home"} 3
# HELP dvalin_selftest_up_seconds Seconds since start.
# TYPE dvalin_selftest_up_seconds gauge
dvalin_selftest_up_seconds 12.5
"""


def test_prometheus_scrapes_a_target_and_answers_queries(prometheus, http_receiver):
    http_receiver.route("/metrics", body=EXPOSITION, content_type="text/plain; version=0.0.4")
    dead = services.reserve_ports(1)  # held, nobody listens there
    t = time.monotonic()
    prom = prometheus([f"127.0.0.1:{http_receiver.port}", f"127.0.0.1:{dead[0]}"])
    res = prom.wait_for_series('dvalin_selftest_jobs_total{job_name="home"}')
    first_scrape = time.monotonic() - t
    assert res[0]["value"][1] == "3" and res[0]["metric"]["job"] == "dvalin-test", res
    assert prom.query("dvalin_selftest_up_seconds")[0]["value"][1] == "12.5"
    assert any(r.path == "/metrics" for r in http_receiver.requests)
    assert first_scrape < 30
    record(prom, first_scrape_s=round(first_scrape, 2))
    # a wait that times out says why: each target's state and last error
    prom.wait_for("the dead target's first scrape", lambda: any(
        t["health"] == "down" for t in prom.api("targets")["activeTargets"]), 30)
    with pytest.raises(services.ServiceError, match="connection refused"):
        prom.wait_for_series(f'up{{instance="127.0.0.1:{dead[0]}"}} == 1', timeout=1)
    dead.release()


def test_promtool_check_metrics():
    assert services.promtool_check_metrics(EXPOSITION)[0] == 0
    rc, out = services.promtool_check_metrics("dvalin_x{ 1\n")
    assert rc == 1, out
    rc, out = services.promtool_check_metrics("# HELP dvalin_jobs Jobs.\n# TYPE dvalin_jobs counter\n"
                                              "dvalin_jobs 3\n")
    assert rc == 3 and "_total" in out, out


# ---------------------------------------------------------------- SMTP and HTTP receivers

def curl_mail(port, to, extra=()):
    text = f"From: a@example.org\r\nTo: {to}\r\nSubject: hello sink\r\n\r\nbody line\r\n"
    return subprocess.run(["curl", "-sS", f"smtp://localhost:{port}", "--mail-from", "a@example.org",
                           "--mail-rcpt", to, "-T", "-", *extra], input=text.encode(),
                          capture_output=True, timeout=60)


def test_smtp_sink_takes_mail_over_starttls_and_requires_it(smtp_sink, tls_cert):
    p = curl_mail(smtp_sink.port, "b@example.org", ["--ssl-reqd", "--cacert", tls_cert[0]])
    assert p.returncode == 0, p
    [m] = smtp_sink.wait_for_messages(1)
    assert m.tls and m.rcpt == ["b@example.org"] and m.mail_from == "a@example.org"
    assert m.subject == "hello sink" and "body line" in m.body()
    p = curl_mail(smtp_sink.port, "c@example.org")  # no STARTTLS: refused
    assert p.returncode != 0 and len(smtp_sink.messages()) == 1
    record(smtp_sink)


def test_smtp_sink_plain_as_the_notes_start_it():
    with services.SmtpSink() as s:
        assert s.procs["aiosmtpd"].argv[-3:] == ["-c", "aiosmtpd.handlers.Mailbox", s.maildir]
        for i in range(3):
            assert curl_mail(s.port, f"r{i}@example.org").returncode == 0
        got = s.wait_for_messages(3)
        assert [m.rcpt for m in got] == [["r0@example.org"], ["r1@example.org"], ["r2@example.org"]]
        assert not got[0].tls
    assert services.tagged_pids(s.tag) == []


def test_http_receiver_records_requests_and_answers_routes(http_receiver):
    http_receiver.route("/fail", status=500, body="no")
    p = subprocess.run(["curl", "-sS", "-H", "X-Token: t1", "--data-binary", '{"a":1}',
                        "-w", "%{http_code}", http_receiver.url + "/hook?q=1"], capture_output=True)
    assert p.stdout == b"{}200", p
    p = subprocess.run(["curl", "-sS", "-X", "PUT", "-w", "%{http_code}", "-H", "Expect:",
                        "-H", "Transfer-Encoding: chunked", "--data-binary", "abc",
                        http_receiver.url + "/fail/x"], capture_output=True)
    assert p.stdout == b"no500", p
    a, b = http_receiver.wait_for(2)
    assert (a.method, a.path, a.headers["x-token"], a.json()) == ("POST", "/hook?q=1", "t1", {"a": 1})
    assert (b.method, b.path, b.body) == ("PUT", "/fail/x", b"abc")


# ---------------------------------------------------------------- Chromium

FORM = """<!doctype html><html><head><meta charset="utf-8"><title>self-test</title></head>
<body><h1>dvalin self-test</h1><form method="post" action="/greet">
<input id="name" name="name"><button id="go" type="submit">Greet</button></form></body></html>"""


def greet(req):
    name = req.text.partition("name=")[2].replace("+", " ")
    return f'<!doctype html><html><body><p id="out">Hello, {name}!</p></body></html>'


def test_browser_fills_a_form_and_takes_a_screenshot(browser, http_receiver, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    t = time.monotonic()
    http_receiver.route("/", body=FORM, content_type="text/html; charset=utf-8", method="GET")
    http_receiver.route("/greet", body=greet, content_type="text/html; charset=utf-8")
    d = browser.driver
    d.get(http_receiver.url + "/")
    assert d.title == "self-test"
    d.find_element(By.ID, "name").send_keys("Dvalin")
    before = browser.screenshot(artifacts, "form")
    d.find_element(By.ID, "go").click()
    out = WebDriverWait(d, 15).until(EC.presence_of_element_located((By.ID, "out")))
    assert out.text == "Hello, Dvalin!"
    shot = browser.screenshot(artifacts, "result.png")
    for p in (before, shot):
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(p) > 1000
    posts = [r for r in http_receiver.requests if r.method == "POST"]
    assert len(posts) == 1 and posts[0].text == "name=Dvalin"
    record(browser, click_and_submit_s=round(time.monotonic() - t, 2))
