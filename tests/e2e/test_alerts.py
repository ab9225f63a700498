# SPDX-License-Identifier: BSD-2-Clause
"""Alerts: every channel format against the harness's receivers on loopback
(an HTTP receiver; an SMTP sink that requires STARTTLS), and the once-per-
condition logic of `dvalin disks --state`: alerted once, again when worse,
and the recovery announced."""
import json
import os

import pytest

import services
from conftest import ROOT, run

SMART = os.path.join(ROOT, "tests", "fixtures", "smart")


@pytest.fixture
def http(http_receiver):
    http_receiver.route("/fail", status=500)
    return http_receiver


@pytest.fixture
def smtp(smtp_sink):
    return smtp_sink  # STARTTLS offered and required, certificate tls_cert


def config(world, http, smtp, extra=""):
    path = os.path.join(world, "alerts.conf")
    cacert = smtp.tls[0]
    open(path, "w").write(f"""# dvalin alert channels
[email]
url = smtp://localhost:{smtp.port}
from = dvalin@example.org
to = admin@example.org, second@example.org
starttls = required
cacert = {cacert}

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
    [m] = smtp.messages()
    assert m.tls, "STARTTLS was used"
    assert m.rcpt == ["admin@example.org", "second@example.org"], m.rcpt
    assert m.subject.startswith("dvalin on") and "test notification" in m.subject
    assert "test of the alert channels" in m.body()
    by_path = {r.path: (r.headers, r.text) for r in http.requests}
    h, b = by_path["/hook"]
    doc = json.loads(b)
    assert doc["source"] == "dvalin" and doc["severity"] == "test" and "test notification" in doc["title"]
    assert h["Authorization"] == "Bearer s3cret" and h["Content-Type"] == "application/json"
    h, b = by_path["/disks-topic"]
    assert h["Title"].startswith("dvalin on") and "Tags" in h and "test of the alert channels" in b
    h, b = by_path["/gotify/message"]
    assert h["X-Gotify-Key"] == "AppTok" and json.loads(b)["priority"] == 2


def test_alert_test_failures_are_named(world, http):
    closed = services.reserve_ports(1)  # held, nobody listens
    port = closed[0]
    path = os.path.join(world, "a.conf")
    open(path, "w").write(f"[webhook]\nurl = {http.url}/fail\n[ntfy]\nurl = http://127.0.0.1:{port}/x\n")
    r = run(["alert", "test", "--alerts", path])
    closed.release()
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
    subjects = [m.subject for m in smtp.messages()]
    assert len(subjects) == 3, subjects
    assert "disk warning" in subjects[0] and "disk FAILING" in subjects[1] and "recovered" in subjects[2]
    bodies = [r.json() for r in http.requests if r.path == "/hook"]
    assert [b["severity"] for b in bodies] == ["warning", "failing", "ok"]
    assert "grew from 1 to 3" in bodies[1]["message"] and "recovered" in bodies[2]["message"]
    ntfy = [r.headers for r in http.requests if r.path == "/disks-topic"]
    assert [h["Priority"] for h in ntfy] == ["4", "5", "3"]


def test_alerts_need_a_state(world, http, smtp):
    conf = config(world, http, smtp)
    r = run(["disks", "--alerts", conf, "--from", reading(world, "w.json", media_errors=1)])
    assert r.rc == 4 and "no alerts are sent" in r.err  # a warning
    assert http.requests == [] and smtp.messages() == []


def test_a_counter_appearing_since_the_last_reading_is_growth(world):
    state = os.path.join(world, "state.db")
    r = run(["disks", "--json", "--state", state, "--from", reading(world, "a.json")])
    assert r.rc == 0
    r = run(["disks", "--json", "--state", state, "--from", reading(world, "b.json", media_errors=1)])
    f = r.json()["disks"][0]["findings"]
    assert r.rc == 5 and "grew from 0 to 1" in f[0]["message"], f  # failing
