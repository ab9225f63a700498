# SPDX-License-Identifier: BSD-2-Clause
"""The daemon's web UI: driven in headless Chromium (log in, the dashboard,
run a job now and watch it finish, browse a snapshot, download a file and
compare its bytes, a disk page with its plots), with a screenshot of each
page kept as a test artifact (and in docs/screenshots/ when
DVALIN_SCREENSHOTS names that directory: `make screenshots`); and over
plain HTTP: nothing without a session, no cross-site POST, wrong passwords
rate-limited, restores only below a restore-root, HTTPS with Secure
cookies."""
import base64
import hashlib
import io
import json
import os
import shutil
import tarfile
import time
import urllib.parse

import pytest

from conftest import base_env, run, snapshots
from daemonutil import Daemon, hash_password
from test_disks import SMART, fake_smartctl

PW = "correct-horse"


def make_tree(world):
    src = os.path.join(world, "src")
    os.makedirs(os.path.join(src, "docs", "deep"))
    with open(os.path.join(src, "docs", "report.pdf"), "wb") as f:
        f.write(os.urandom(300_000) + b"end")
    with open(os.path.join(src, "docs", "deep", "notes.txt"), "w") as f:
        f.write("remember the milk\n")
    with open(os.path.join(src, "hello.txt"), "w") as f:
        f.write("hello\n")
    return src


def web_config(world, repo, src, extra=""):
    return f"""[daemon]
state-dir = {world}/state

[web]
listen = 127.0.0.1:0
user = admin {hash_password(PW)}
restore-root = {world}/restores

[repository nas]
location = {repo}

[backup home]
repository = nas
path = {src}
schedule = hourly
max-age = 26h

[check nas]
repository = nas
schedule = daily
{extra}"""


def disk_env(world):
    """A stand-in smartctl whose disk warms up by 3 degrees per reading."""
    fixture = os.path.join(SMART, "scrutiny_ata_ssd_samsung860evo_healthy_xall.json")
    out = os.path.join(world, "sda.json")
    shutil.copy(fixture, out)
    env = fake_smartctl(world, [{"name": "/dev/sda", "type": "sat"}], {"/dev/sda": out})
    return env, out


def warm(path, by):
    doc = json.load(open(path))
    doc["temperature"]["current"] += by
    json.dump(doc, open(path, "w"))


def shoot(browser, artifacts, name):
    browser.screenshot(artifacts, name)
    keep = os.environ.get("DVALIN_SCREENSHOTS")
    if keep:
        browser.screenshot(keep, name)


def _wait(driver, timeout):
    # a page that is being replaced (a form posted, a view redrawn) leaves stale elements
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, poll_frequency=0.2, ignored_exceptions=[StaleElementReferenceException])


def wait_css(driver, css, timeout=30):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    return _wait(driver, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def wait_text(driver, css, pred, timeout=60):
    from selenium.webdriver.common.by import By

    def ok(d):
        els = d.find_elements(By.CSS_SELECTOR, css)
        return els and pred(els[0].text) and els[0].text
    return _wait(driver, timeout).until(ok)


def test_web_ui_in_chromium(world, repo, browser, artifacts):
    from selenium.webdriver.common.by import By
    src = make_tree(world)
    env, sda = disk_env(world)
    # a second backup whose repository (a drive not plugged in) is missing: what a failure looks like
    extra = f"\n[disks]\nschedule = *:*:0/2\n\n[backup offsite]\nrepository = {world}/usb-drive/repo\npath = {src}\nmax-age = 26h\n"
    d = Daemon(world, web_config(world, repo, src, extra), env=env)
    d.start()
    try:
        # readings over time for the disk page: three checks, a warmer disk each time
        d.wait_runs("disks", 1, timeout=60)
        for k in (2, 3):
            warm(sda, 3)
            d.wait_runs("disks", k, timeout=60)
        drv = browser.driver
        drv.get(d.url + "/")
        wait_css(drv, "#login-form")
        assert drv.current_url.endswith("/login")
        drv.find_element(By.ID, "user").send_keys("admin")
        drv.find_element(By.ID, "password").send_keys("wrong")
        drv.find_element(By.ID, "login-button").click()
        assert wait_text(drv, "#login-error", lambda t: "Wrong" in t)
        shoot(browser, artifacts, "login")
        drv.find_element(By.ID, "user").clear()
        drv.find_element(By.ID, "user").send_keys("admin")
        drv.find_element(By.ID, "password").send_keys(PW)
        drv.find_element(By.ID, "login-button").click()
        wait_css(drv, "#job-home")
        cookie = drv.get_cookie("dvalin_session")
        assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        assert wait_text(drv, "#status-home", lambda t: t == "never")

        # run now, and watch it finish
        drv.find_element(By.ID, "run-home").click()
        assert wait_text(drv, "#status-home", lambda t: t == "ok", timeout=60)
        wait_text(drv, "#repo-nas", lambda t: "1" in t and "B" in t, timeout=60)  # a size sample came
        shoot(browser, artifacts, "dashboard")

        # a failing job: the dashboard says so, its run's page says why
        drv.find_element(By.ID, "run-offsite").click()
        assert wait_text(drv, "#status-offsite", lambda t: t == "failed", timeout=60)
        row = drv.find_element(By.ID, "job-offsite").text
        assert "cannot open repository" in row and "usb-drive" in row, row
        shoot(browser, artifacts, "dashboard-failed")
        drv.get(d.url + "/#/jobs/offsite")
        wait_css(drv, "table.runs a").click()
        assert wait_text(drv, "#run-status", lambda t: t == "failed")
        assert "exit status 1" in drv.find_element(By.ID, "run-reason").text
        shoot(browser, artifacts, "run-failed")

        # the job's page and its run's log
        drv.get(d.url + "/#/jobs/home")
        wait_css(drv, "table.runs a")
        shoot(browser, artifacts, "job")
        drv.find_element(By.CSS_SELECTOR, "table.runs a").click()
        assert wait_text(drv, "#run-status", lambda t: t == "ok")
        assert "backup" in drv.find_element(By.ID, "run-log").text
        shoot(browser, artifacts, "run")

        # browse the snapshot down to a file
        drv.get(d.url + "/#/repos/nas")
        snap = snapshots(repo)[0]
        wait_css(drv, "#snap-" + snap["short_id"] + " a").click()
        for name in src.strip("/").split("/") + ["docs"]:
            wait_css(drv, f'a.entry.dir[data-name="{name}"]').click()
        wait_css(drv, 'a.download[data-name="report.pdf"]')
        shoot(browser, artifacts, "browse")

        # download a file through the browser's session and compare the bytes
        href = drv.find_element(By.CSS_SELECTOR, 'a.download[data-name="report.pdf"]').get_attribute("href")
        got = drv.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch(arguments[0], {credentials: "same-origin"}).then(r => r.arrayBuffer()).then(b => {
              let s = ""; const u = new Uint8Array(b);
              for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode.apply(null, u.subarray(i, i + 8192));
              done(btoa(s));
            }).catch(e => done("ERROR " + e));""", href)
        want = open(os.path.join(src, "docs", "report.pdf"), "rb").read()
        assert not got.startswith("ERROR"), got
        assert hashlib.sha256(base64.b64decode(got)).digest() == hashlib.sha256(want).digest()

        # restore the directory to the host through the form
        target = drv.find_element(By.ID, "restore-target")
        target.clear()
        target.send_keys(os.path.join(world, "restores", "docs-back"))
        drv.find_element(By.ID, "restore-button").click()
        wait_css(drv, "#restore-message a").click()
        assert wait_text(drv, "#run-status", lambda t: t == "ok", timeout=60)
        back = os.path.join(world, "restores", "docs-back", src.strip("/"), "docs", "deep", "notes.txt")
        assert open(back).read() == "remember the milk\n"

        # the disk page: plots from the readings kept in SQLite
        drv.get(d.url + "/#/disks")
        wait_css(drv, "a.disk-link").click()
        plot = wait_css(drv, "#plot-temperature polyline")
        assert len(plot.get_attribute("points").split()) >= 3
        wait_css(drv, "#plot-ata-5")
        shoot(browser, artifacts, "disk")

        # a phone: the dashboard still fits
        drv.set_window_size(390, 844)
        drv.get(d.url + "/")
        wait_css(drv, "#job-home")
        width = drv.execute_script("return document.documentElement.scrollWidth")
        assert width <= 400, width
        shoot(browser, artifacts, "dashboard-phone")
    finally:
        assert d.stop() == 0


@pytest.fixture
def webd(world, repo):
    src = make_tree(world)
    r = run(["backup", "-r", repo, src])
    assert r.rc == 0, r
    d = Daemon(world, web_config(world, repo, src))
    d.start()
    d.src = src
    yield d
    assert d.stop() == 0


def session(d):
    r, cookie = d.login("admin", PW)
    assert r.status == 303 and cookie, r
    doc = d.http("GET", "/api/session", headers={"Cookie": cookie}).json()
    return cookie, doc["csrf"]


def test_nothing_without_a_session(webd):
    d = webd
    r = d.http("GET", "/")
    assert r.status == 303 and r.headers["Location"] == "/login", r
    for path in ("/api/jobs", "/api/runs/1", "/api/repositories", "/api/repositories/nas/snapshots",
                 "/api/repositories/nas/dump?snapshot=latest&path=/", "/api/disks"):
        r = d.http("GET", path)
        assert r.status == 401 and r.json()["error"] == "login required", (path, r)
    r = d.http("POST", "/api/jobs/home/run")
    assert r.status == 401, r
    r = d.http("GET", "/api/jobs", headers={"Cookie": "dvalin_session=" + "0" * 64})
    assert r.status == 401, r
    # the login page and its assets need none
    assert d.http("GET", "/login").status == 200 and d.http("GET", "/style.css").status == 200
    r = d.http("GET", "/login")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"] and r.headers["X-Frame-Options"] == "DENY"
    # after logout the cookie is worth nothing
    cookie, csrf = session(d)
    assert d.http("GET", "/api/jobs", headers={"Cookie": cookie}).status == 200
    r = d.http("POST", "/api/logout", body="csrf=" + csrf,
               headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 303, r
    assert d.http("GET", "/api/jobs", headers={"Cookie": cookie}).status == 401


def test_cross_site_post_is_refused(webd):
    d = webd
    cookie, csrf = session(d)
    # what a foreign page could send along with the cookie: no token
    r = d.http("POST", "/api/jobs/home/run", headers={"Cookie": cookie, "Origin": "http://evil.example"})
    assert r.status == 403 and "cross-site" in r.json()["error"], r
    r = d.http("POST", "/api/jobs/home/run", headers={"Cookie": cookie})
    assert r.status == 403, r
    r = d.http("POST", "/api/jobs/home/run", headers={"Cookie": cookie, "X-CSRF-Token": "f" * 64})
    assert r.status == 403, r
    # the token, but from another origin
    r = d.http("POST", "/api/jobs/home/run", headers={"Cookie": cookie, "X-CSRF-Token": csrf,
                                                     "Origin": "http://evil.example"})
    assert r.status == 403, r
    assert d.runs("home") == []
    r = d.http("POST", "/api/jobs/home/run", headers={"Cookie": cookie, "X-CSRF-Token": csrf,
                                                     "Origin": d.url})
    assert r.status == 202, r
    # a login posted from another site is refused too
    r, c = d.login("admin", PW, headers={"Origin": "http://evil.example"})
    assert r.status == 403 and c is None, r


def test_wrong_passwords_are_rate_limited(webd):
    d = webd
    for i in range(5):
        r, c = d.login("admin", f"guess{i}")
        assert r.status == 303 and r.headers["Location"] == "/login?error=wrong" and c is None, r
    r, c = d.login("admin", "guess5")
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1, r
    # while limited, even the right password is not looked at
    r, c = d.login("admin", PW)
    assert r.status == 429 and c is None, r
    assert "rate-limited" in d.log()
    time.sleep(int(r.headers["Retry-After"]) + 0.2)
    r, c = d.login("admin", PW)
    assert r.status == 303 and c, r


def test_downloads_and_restores(webd, world):
    d = webd
    cookie, csrf = session(d)
    h = {"Cookie": cookie}
    q = urllib.parse.urlencode({"snapshot": "latest", "path": d.src + "/docs", "tar": "1"})
    r = d.http("GET", "/api/repositories/nas/dump?" + q, headers=h)
    assert r.status == 200 and r.headers["Content-Type"] == "application/x-tar", r
    assert 'filename="docs.tar"' in r.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(r.body)) as t:
        # named by their paths in the snapshot, without the leading "/"
        top = d.src.strip("/") + "/docs"
        names = sorted(n for n in t.getnames() if n.startswith(top))
        assert names == [top, top + "/deep", top + "/deep/notes.txt", top + "/report.pdf"], names
        assert t.extractfile(top + "/deep/notes.txt").read() == b"remember the milk\n"
    q = urllib.parse.urlencode({"snapshot": "latest", "path": d.src + "/hello.txt"})
    r = d.http("GET", "/api/repositories/nas/dump?" + q, headers=h)
    assert r.status == 200 and r.body == b"hello\n" and 'filename="hello.txt"' in r.headers["Content-Disposition"], r
    q = urllib.parse.urlencode({"snapshot": "latest", "path": d.src + "/nope"})
    r = d.http("GET", "/api/repositories/nas/dump?" + q, headers=h)
    assert r.status == 404, r
    r = d.http("GET", "/api/repositories/nas/ls?" + urllib.parse.urlencode({"snapshot": "latest", "path": d.src}), headers=h)
    nodes = r.json()
    assert [n["name"] for n in nodes] == [os.path.basename(d.src), "docs", "hello.txt"], nodes
    assert d.http("GET", "/api/repositories/other/snapshots", headers=h).status == 404
    # restores: only below a restore-root, and with the token
    post = dict(h, **{"X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded"})
    # a symlink inside the root that leads out of it
    os.makedirs(os.path.join(world, "restores"), exist_ok=True)
    os.makedirs(os.path.join(world, "outside"), exist_ok=True)
    os.symlink(os.path.join(world, "outside"), os.path.join(world, "restores", "link"))
    for target in ("/etc/dvalin-restore", os.path.join(world, "restores", "..", "escape"), world + "/restoresX",
                   os.path.join(world, "restores", "link", "x")):
        body = urllib.parse.urlencode({"snapshot": "latest", "path": d.src + "/docs", "target": target})
        r = d.http("POST", "/api/repositories/nas/restore", body, post)
        assert r.status == 403 and "restore-root" in r.json()["error"], (target, r)
    target = os.path.join(world, "restores", "one")
    body = urllib.parse.urlencode({"snapshot": "latest", "path": d.src + "/hello.txt", "target": target})
    r = d.http("POST", "/api/repositories/nas/restore", body, post)
    assert r.status == 202, r
    run_id = r.json()["run_id"]
    d.wait(lambda: d.run_doc(run_id)["status"] != "running", 60, "the restore")
    doc = d.run_doc(run_id)
    assert doc["status"] == "ok" and doc["kind"] == "restore", doc
    assert open(os.path.join(target, d.src.strip("/"), "hello.txt")).read() == "hello\n"
    assert not os.path.exists(os.path.join(target, d.src.strip("/"), "docs"))
    assert os.listdir(os.path.join(world, "outside")) == []


def test_https_when_asked(world, repo, tls_cert):
    import ssl
    import http.client
    src = make_tree(world)
    cert, key = tls_cert
    d = Daemon(world, web_config(world, repo, src).replace(
        "restore-root", f"tls-cert = {cert}\ntls-key = {key}\nrestore-root"))
    d.start()
    try:
        ctx = ssl.create_default_context(cafile=cert)
        c = http.client.HTTPSConnection("127.0.0.1", d.port, context=ctx, timeout=30)
        body = urllib.parse.urlencode({"user": "admin", "password": PW})
        c.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded",
                                          "Origin": f"https://127.0.0.1:{d.port}"})
        r = c.getresponse()
        r.read()
        assert r.status == 303, r.status
        cookie = r.getheader("Set-Cookie")
        assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
        assert "max-age" in r.getheader("Strict-Transport-Security")
        c.close()
    finally:
        assert d.stop() == 0
