# SPDX-License-Identifier: BSD-2-Clause
"""pytest fixtures and hooks for the real services of services.py
(conftest.py imports them; docs/testing.md shows how to use each).

Expensive services (sshd, Ceph RGW, the SMTP sink) are session-scoped, so
each xdist worker starts its own on its own ports and directories; the
function-scoped fixture a test asks for resets what the previous test may
have changed.  A failing test's report carries the log tail of every
service it used; a service that cannot be stopped fails its teardown."""
import os

import pytest

import services

def _stop(service):
    killed = service.stop()
    assert not killed, f"{service.name}: PIDs {killed} outlived the orderly stop and were killed"


def _need(*paths):
    """Skip when a service's program is missing, except under `make test`
    (E2E_REQUIRE_SERVICES=1), which installs them: there it fails."""
    for p in paths:
        if not os.path.exists(p):
            msg = f"{p} is not installed (make test-deps installs it)"
            if os.environ.get("E2E_REQUIRE_SERVICES") == "1":
                pytest.fail(msg)
            pytest.skip(msg)


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    """(cert path, key path): a throwaway self-signed certificate for
    localhost and 127.0.0.1."""
    return services.make_cert(str(tmp_path_factory.mktemp("tls")))


# -- sshd

def _remote_env():
    """What a remote command sees: the dvalin under test first on PATH, and
    the sanitizer settings of this run."""
    from conftest import DVALIN
    env = {"PATH": os.path.dirname(os.path.abspath(DVALIN)) + ":/usr/local/bin:/usr/bin:/bin"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


@pytest.fixture(scope="session")
def sshd_server():
    _need("/usr/sbin/sshd")
    s = services.Sshd(remote_env=_remote_env()).start()
    yield s
    _stop(s)


@pytest.fixture
def sshd(sshd_server):
    """The worker's sshd with only its default key authorized; a test may
    authorize()/add_client() freely, it is undone afterwards."""
    sshd_server.reset()
    yield sshd_server
    sshd_server.reset()


# -- dvalin server

@pytest.fixture(scope="session")
def dvalin_server_session():
    from conftest import DVALIN
    s = services.DvalinServer(DVALIN).start()
    s.admin_token = s.add_token("session-admin", "admin")
    yield s
    _stop(s)


@pytest.fixture
def dvalin_server(dvalin_server_session):
    """The worker's `dvalin server` (HTTPS on loopback); .admin_token is
    valid for every repository.  Started again if a test stopped it."""
    yield dvalin_server_session
    if not dvalin_server_session.procs["server"].alive():
        dvalin_server_session.restart()


# -- Ceph RGW

@pytest.fixture(scope="session")
def rgw_server():
    _need("/usr/bin/ceph-mon", "/usr/bin/ceph-osd", "/usr/bin/radosgw")
    s = services.CephRgw().start()
    yield s
    _stop(s)


@pytest.fixture
def rgw(rgw_server):
    """The worker's RGW; if a test stopped radosgw, it is started again."""
    yield rgw_server
    if not rgw_server.procs["radosgw"].alive():
        rgw_server.start_rgw()


_buckets = [0]


@pytest.fixture
def s3_bucket(rgw):
    """A fresh empty bucket on the worker's RGW, removed (with its objects)
    afterwards: its name."""
    _buckets[0] += 1
    name = f"t{os.getpid()}-{_buckets[0]}"
    rgw.create_bucket(name)
    yield name
    rgw.remove_bucket(name)


# -- Prometheus

@pytest.fixture
def prometheus():
    """Factory: prometheus(["127.0.0.1:PORT"], metrics_path="/metrics")
    starts a Prometheus scraping those targets every second."""
    _need("/usr/bin/prometheus")
    started = []

    def start(targets, **kw):
        p = services.Prometheus(targets, **kw).start()
        started.append(p)
        return p
    yield start
    for p in started:
        _stop(p)


# -- SMTP sink and HTTP receiver

@pytest.fixture(scope="session")
def smtp_server(tls_cert):
    _need("/usr/lib/python3/dist-packages/aiosmtpd")
    s = services.SmtpSink(tls=tls_cert).start()
    yield s
    _stop(s)


@pytest.fixture
def smtp_sink(smtp_server):
    """The worker's SMTP sink (STARTTLS required, certificate tls_cert),
    emptied for this test; .messages() is what it received."""
    smtp_server.clear()
    yield smtp_server
    smtp_server.clear()


@pytest.fixture
def http_receiver():
    """An HTTP server recording every request (.requests); .route() sets answers."""
    h = services.HttpReceiver()
    yield h
    h.close()


# -- Chromium

@pytest.fixture
def browser():
    """Headless Chromium with a fresh profile: .driver (Selenium WebDriver),
    .screenshot(directory, name)."""
    _need("/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/lib/python3/dist-packages/selenium")
    b = services.Browser().start()
    yield b
    _stop(b)


@pytest.fixture
def artifacts(request):
    """A directory kept after the run for this test's screenshots and files."""
    d = os.path.join(services.session_log_dir(), "artifacts", request.node.name.replace("/", "_"))
    os.makedirs(d, exist_ok=True)
    return d


# -- hooks

def pytest_configure(config):
    config.addinivalue_line("markers", "serial: must run alone (timing, kill -9, filling a file "
                                       "system); tests/run-all.sh runs these after the parallel part")
    config.addinivalue_line("markers", "remote_repos(kind...): run also on https:// and ssh:// "
                                       "repositories (conftest.py)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item._services_before = services.created_count()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report gets the log tail of each service it used."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    seen = set()
    used = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, services.Service)]
    used += [s for s in services.live_services()
             if s.serial > getattr(item, "_services_before", 1 << 30)]
    for s in used:
        if id(s) not in seen:
            seen.add(id(s))
            rep.sections.append((f"service {s.name} logs ({s.log_dir})", s.log_tail()))


def pytest_sessionfinish(session, exitstatus):
    errors = services.stop_all()
    left = services.leftovers()
    if errors or left:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        msg = "; ".join(errors + ([f"leftover service processes {left} (killed)"] if left else []))
        if tr is not None:
            tr.write_line(f"SERVICE CLEANUP FAILED: {msg}", red=True)
        services._stop_at_exit()
        session.exitstatus = 1
