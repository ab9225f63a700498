# SPDX-License-Identifier: BSD-2-Clause
"""Alerts: every channel format against receivers started here on loopback
(an HTTP server; an SMTP sink that speaks STARTTLS), and the once-per-
condition logic of `dvalin disks --state`: alerted once, again when worse,
and the recovery announced."""
import json
import os
import socket
import socketserver
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT, run

SMART = os.path.join(ROOT, "tests", "fixtures", "smart")


class Http:
    def __init__(self):
        self.got = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                outer.got.append((self.path, dict(self.headers), self.rfile.read(n).decode()))
                status = 500 if self.path.startswith("/fail") else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()


class Smtp:
    """A sink that accepts mail, over STARTTLS when a context is given."""

    def __init__(self, tls_ctx=None):
        self.mails = []
        outer = self

        class H(socketserver.StreamRequestHandler):
            def handle(self):
                f = self.request.makefile("rwb")
                sock = self.request

                def send(line):
                    f.write(line.encode() + b"\r\n")
                    f.flush()

                send("220 sink ESMTP")
                mail = {"rcpt": [], "tls": False}
                while True:
                    line = f.readline().decode().rstrip("\r\n")
                    if not line:
                        return
                    cmd = line.split(" ")[0].upper()
                    if cmd in ("EHLO", "HELO"):
                        if tls_ctx and not mail["tls"]:
                            send("250-sink")
                            send("250 STARTTLS")
                        else:
                            send("250 sink")
                    elif cmd == "STARTTLS":
                        send("220 go ahead")
                        sock = tls_ctx.wrap_socket(sock, server_side=True)
                        f = sock.makefile("rwb")
                        mail["tls"] = True
                    elif cmd == "MAIL":
                        mail["from"] = line
                        send("250 ok")
                    elif cmd == "RCPT":
                        mail["rcpt"].append(line)
                        send("250 ok")
                    elif cmd == "DATA":
                        send("354 go")
                        data = []
                        while True:
                            l2 = f.readline().decode()
                            if l2 in (".\r\n", ".\n", ""):
                                break
                            data.append(l2)
                        mail["data"] = "".join(data)
                        outer.mails.append(dict(mail))
                        send("250 queued")
                    elif cmd == "QUIT":
                        send("221 bye")
                        return
                    else:
                        send("250 ok")

        self.srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()


@pytest.fixture
def http():
    h = Http()
    yield h
    h.close()


@pytest.fixture
def cert(world):
    key, crt = os.path.join(world, "key.pem"), os.path.join(world, "cert.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", crt, "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], capture_output=True)
    if p.returncode != 0:
        pytest.skip("openssl cannot make a test certificate here")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    return ctx, crt


@pytest.fixture
def smtp(cert):
    s = Smtp(cert[0])
    s.cacert = cert[1]
    yield s
    s.close()


def config(world, http, smtp, extra=""):
    path = os.path.join(world, "alerts.conf")
    open(path, "w").write(f"""# dvalin alert channels
[email]
url = smtp://localhost:{smtp.port}
from = dvalin@example.org
to = admin@example.org, second@example.org
starttls = required
cacert = {smtp.cacert}

[webhook]
url = {http.url}/hook
token = s3cret

[ntfy]
url = {http.url}/disks-topic

[gotify]
url = {http.url}/gotify/
token = AppTok
{extra}""")
    return path


def test_alert_test_reaches_every_channel(world, http, smtp):
    path = config(world, http, smtp)
    r = run(["alert", "test", "--alerts", path])
    assert r.rc == 0, r
    assert r.out.count(": sent") == 4
    assert len(smtp.mails) == 1
    m = smtp.mails[0]
    assert m["tls"], "STARTTLS was used"
    assert len(m["rcpt"]) == 2 and "Subject: dvalin on" in m["data"] and "test notification" in m["data"]
    by_path = {p: (h, b) for p, h, b in http.got}
    h, b = by_path["/hook"]
    doc = json.loads(b)
    assert doc["source"] == "dvalin" and doc["severity"] == "test" and "test notification" in doc["title"]
    assert h["Authorization"] == "Bearer s3cret" and h["Content-Type"] == "application/json"
    h, b = by_path["/disks-topic"]
    assert h["Title"].startswith("dvalin on") and "Tags" in h and "test of the alert channels" in b
    h, b = by_path["/gotify/message"]
    assert h["X-Gotify-Key"] == "AppTok" and json.loads(b)["priority"] == 2


def test_alert_test_failures_are_named(world, http):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    path = os.path.join(world, "a.conf")
    open(path, "w").write(f"[webhook]\nurl = {http.url}/fail\n[ntfy]\nurl = http://127.0.0.1:{port}/x\n")
    r = run(["alert", "test", "--alerts", path])
    assert r.rc == 1 and "HTTP status 500" in r.err and f"127.0.0.1:{port}" in r.err, r


@pytest.mark.parametrize("text,msg", [
    ("[pager]\nurl = x\n", "bad.conf:1: unknown section '[pager]'"),
    ("url = x\n", "bad.conf:1: 'url' is outside any section (expected '[section]'"),
    ("[webhook]\nurl = http://x\n" + "# " + "x" * 5000 + "\n", "bad.conf:3: line longer than 4096 bytes"),
    ("[email]\nurl = smtp://x\n", "[email] needs from and to"),
    ("[gotify]\nurl = http://x\n", "[gotify] needs a token"),
    ("[webhook]\ncolour = red\n", "invalid setting 'colour'"),
    ("[email]\nurl=smtp://x\nfrom=a\nto=b\nstarttls = maybe\n", "invalid setting 'starttls'"),
])
def test_bad_alert_config(world, text, msg):
    path = os.path.join(world, "bad.conf")
    open(path, "w").write(text)
    r = run(["alert", "test", "--alerts", path])
    assert r.rc == 1 and msg in r.err and path in r.err and r.err.count("\n") == 1, r


def reading(world, name, **nvme):
    doc = json.load(open(os.path.join(SMART, "scrutiny_nvme_intel660p_healthy.json")))
    doc["nvme_smart_health_information_log"].update(nvme)
    path = os.path.join(world, name)
    json.dump(doc, open(path, "w"))
    return path


def test_disks_alert_once_again_when_worse_and_on_recovery(world, http, smtp):
    conf = config(world, http, smtp)
    state = os.path.join(world, "state.db")

    def check(path):
        r = run(["disks", "--json", "--state", state, "--alerts", conf, "--from", path])
        assert r.rc in (0, 4, 5), r
        return r.json()["notifications_sent"]

    assert check(reading(world, "w1.json", media_errors=1)) == 4      # new: warning
    assert check(reading(world, "w1.json", media_errors=1)) == 0      # the same: silent
    assert check(reading(world, "w2.json", media_errors=3)) == 4      # grew: failing, worse
    assert check(reading(world, "w2.json", media_errors=3)) == 0      # no longer growing: not worse
    assert check(reading(world, "ok.json", media_errors=0)) == 4      # recovered
    assert check(reading(world, "ok.json", media_errors=0)) == 0
    subjects = [m["data"].split("Subject: ")[1].split("\r\n")[0] for m in smtp.mails]
    assert len(subjects) == 3, subjects
    assert "disk warning" in subjects[0] and "disk FAILING" in subjects[1] and "recovered" in subjects[2]
    bodies = [json.loads(b) for p, h, b in http.got if p == "/hook"]
    assert [b["severity"] for b in bodies] == ["warning", "failing", "ok"]
    assert "grew from 1 to 3" in bodies[1]["message"] and "recovered" in bodies[2]["message"]
    ntfy = [h for p, h, b in http.got if p == "/disks-topic"]
    assert [h["Priority"] for h in ntfy] == ["4", "5", "3"]


def test_alerts_need_a_state(world, http, smtp):
    conf = config(world, http, smtp)
    r = run(["disks", "--alerts", conf, "--from", reading(world, "w.json", media_errors=1)])
    assert r.rc == 4 and "no alerts are sent" in r.err  # a warning
    assert http.got == [] and smtp.mails == []


def test_a_counter_appearing_since_the_last_reading_is_growth(world):
    state = os.path.join(world, "state.db")
    r = run(["disks", "--json", "--state", state, "--from", reading(world, "a.json")])
    assert r.rc == 0
    r = run(["disks", "--json", "--state", state, "--from", reading(world, "b.json", media_errors=1)])
    f = r.json()["disks"][0]["findings"]
    assert r.rc == 5 and "grew from 0 to 1" in f[0]["message"], f  # failing
