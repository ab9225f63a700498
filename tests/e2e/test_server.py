# SPDX-License-Identifier: BSD-2-Clause
"""dvalin server and serve --stdio (docs/http-api.md): the backend
conformance suite over https:// and ssh://, rights, tokens, hostile
requests, and keyless maintenance on the server."""
import http.client
import json
import os
import socket
import ssl
import subprocess
import time

import pytest

from conftest import ROOT, run, snapshots

CONFORMANCE = os.path.join(ROOT, "build", "tests", "backend_conformance")


def raw(server, method, path, token=None, body=None, headers=None, timeout=30):
    """One request as sent (the path is not normalised): (status, JSON or text)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=timeout)
    h = {"Dvalin-Protocol": "1", **(headers or {})}
    if token:
        h["Authorization"] = f"Bearer {token}"
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, data.decode(errors="replace")


def small_tree(world, name="src", n=20):
    src = os.path.join(world, name)
    os.makedirs(src, exist_ok=True)
    for i in range(n):
        with open(os.path.join(src, f"f{i}"), "wb") as f:
            f.write(os.urandom(3000 + i))
    return src


def remote_repo(server, world, rights="admin", name=None):
    """A new repository on the server, initialised with an admin token:
    (URL, its directory, the environment with a token of these rights)."""
    name = name or f"r{os.getpid()}-{time.monotonic_ns()}"
    d = server.add_repo(name)
    admin = server.add_token(f"{name}-admin", "admin", repo=name)
    env = {"XDG_CACHE_HOME": os.path.join(world, "cache"), "DVALIN_RETRY_SECONDS": "5"}
    r = run(["init", "-r", server.url(name), "--kdf-log-n", "10"],
            env=_env(server, admin, env))
    assert r.rc == 0, r
    tok = admin if rights == "admin" else server.add_token(f"{name}-{rights}", rights, repo=name)
    return server.url(name), d, _env(server, tok, env)


def _env(server, token, extra):
    from conftest import base_env
    e = base_env(**extra)
    e["DVALIN_TOKEN"] = token
    e["DVALIN_FINGERPRINT"] = server.fingerprint
    return e


@pytest.mark.parametrize("kind", ["https", "ssh"])
def test_backend_conformance_suite_passes_unchanged(kind, request, world):
    if kind == "https":
        server = request.getfixturevalue("dvalin_server")
        name = f"conf{os.getpid()}-{time.monotonic_ns()}"
        server.add_repo(name, scratch=True)
        url = server.url(name)
        env = server.client_env(token=server.admin_token)
    else:
        sshd = request.getfixturevalue("sshd")
        d = os.path.join(world, "scratch")
        os.makedirs(d)
        open(os.path.join(d, ".scratch"), "w").close()
        url = sshd.url(d)
        env = sshd.client_env()
    p = subprocess.run([CONFORMANCE, url], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert " 0 failed" in p.stdout, p.stdout[-2000:]


def test_append_token_cannot_delete_or_overwrite_and_prune_names_the_server(dvalin_server, world):
    url, d, env = remote_repo(dvalin_server, world, rights="append")
    src = small_tree(world)
    assert run(["backup", "-r", url, src], env=env).rc == 0, "append backs up"
    name = os.path.basename(url)
    tok = env["DVALIN_TOKEN"]
    snap = os.listdir(os.path.join(d, "snapshots"))[0]
    st, body = raw(dvalin_server, "DELETE", f"/{name}/snapshots/{snap}", tok)
    assert st == 403 and body["error"] == "forbidden", (st, body)
    assert "prune" in body["message"]
    pack_dir = next(os.path.join(d, "data", x) for x in os.listdir(os.path.join(d, "data")))
    pack = os.listdir(pack_dir)[0]
    st, body = raw(dvalin_server, "DELETE", f"/{name}/data/{pack[:2]}/{pack}", tok)
    assert st == 403 and body["error"] == "forbidden", (st, body)
    # overwriting the config (initialised) needs admin
    st, body = raw(dvalin_server, "PUT", f"/{name}/config", tok, body=b"x" * 72)
    assert st == 403, (st, body)
    assert os.path.exists(os.path.join(d, "snapshots", snap))
    r = run(["prune", "-r", url], env=env)
    assert r.rc != 0
    assert "'prune'" in r.err and "dvalin server prune" in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1, r.err
    # forget needs prune too; the server prunes without the key
    p = dvalin_server.cli("prune", name)
    assert p.returncode == 0, p.stderr
    assert len(snapshots_of(url, env)) == 1


def snapshots_of(url, env):
    r = run(["snapshots", "-r", url, "--json"], env=env)
    assert r.rc == 0, r
    return json.loads(r.out)


def test_tokens_other_repo_revoked_expired_and_they_survive_a_restart(dvalin_server, world):
    url, d, env = remote_repo(dvalin_server, world, rights="read")
    name = os.path.basename(url)
    other = dvalin_server.add_repo(name + "-other")
    assert other
    st, body = raw(dvalin_server, "GET", f"/{name}-other/", env["DVALIN_TOKEN"])
    assert st == 403 and body["error"] == "wrong-repository", (st, body)
    st, body = raw(dvalin_server, "GET", f"/{name}/", "dvt_0123456789abcdef_" + "0" * 64)
    assert st == 401 and body["error"] == "unauthorized", (st, body)
    short = dvalin_server.add_token(f"{name}-short", "read", repo=name, expires="1s")
    time.sleep(2.2)
    st, body = raw(dvalin_server, "GET", f"/{name}/", short)
    assert st == 401 and "expired" in body["message"], (st, body)
    gone = dvalin_server.add_token(f"{name}-gone", "read", repo=name)
    assert raw(dvalin_server, "GET", f"/{name}/", gone)[0] == 200
    dvalin_server.cli("token", "revoke", f"{name}-gone")
    st, body = raw(dvalin_server, "GET", f"/{name}/", gone)
    assert st == 401 and "revoked" in body["message"], (st, body)
    # the token store is on disk: a restarted server knows the same tokens
    dvalin_server.restart()
    assert snapshots_of(url, env) == []
    assert raw(dvalin_server, "GET", f"/{name}/", gone)[0] == 401
    listed = dvalin_server.cli("token", "list").stdout
    assert f"{name}-gone" in listed and "revoked" in listed
    assert env["DVALIN_TOKEN"].split("_")[2] not in listed  # never the secret


@pytest.mark.parametrize("path", [
    "/{r}/../{r}-x/config", "/{r}/data/..", "/{r}/data/%2e%2e/config", "/{r}/data%2Fab",
    "/{r}//etc/passwd", "/{r}/./config", "//etc/passwd", "/../../etc/passwd",
    "/{r}/keys/../../../etc/passwd", "/{r}/snapshots/" + "a" * 4000,
])
def test_path_traversal_is_a_bad_request(dvalin_server, world, path):
    url, d, env = remote_repo(dvalin_server, world)
    name = os.path.basename(url)
    tok = env["DVALIN_TOKEN"]
    p = path.format(r=name)
    for method in ("GET", "PUT", "DELETE"):
        st, body = raw(dvalin_server, method, p, tok, body=b"" if method == "PUT" else None)
        assert st in (400, 404, 431), (method, p, st, body)
        if st == 400:
            assert body["error"] == "bad-request", body
    assert not os.path.exists(os.path.join(os.path.dirname(d), name + "-x"))
    assert raw(dvalin_server, "GET", f"/{name}/", tok)[0] == 200  # still serving


def test_oversized_malformed_and_slow_requests_are_refused(dvalin_server, world):
    url, d, env = remote_repo(dvalin_server, world)
    name = os.path.basename(url)
    tok = env["DVALIN_TOKEN"]
    # larger than any snapshot: refused from the headers, before the body
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", dvalin_server.port, context=ctx, timeout=30)
    c.putrequest("PUT", f"/{name}/snapshots/" + "ab" * 32)
    for k, v in {"Dvalin-Protocol": "1", "Authorization": f"Bearer {tok}",
                 "Content-Length": str(1 << 40), "Expect": "100-continue"}.items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    assert r.status == 413 and json.loads(r.read())["error"] == "too-large"
    c.close()
    # a snapshot whose content is not its name
    st, body = raw(dvalin_server, "PUT", f"/{name}/snapshots/" + "ab" * 32, tok, body=b"garbage")
    assert st == 422 and body["error"] == "bad-content", (st, body)
    assert not os.path.exists(os.path.join(d, "snapshots", "ab" * 32))
    # no protocol header, a protocol from the future
    st, body = raw(dvalin_server, "GET", f"/{name}/", tok, headers={"Dvalin-Protocol": "99"})
    assert st == 400 and body["error"] == "protocol" and "99" in body["message"], (st, body)
    # garbage instead of HTTP, and a client that sends half a request and stalls
    for junk in (b"\x16\x03\x01\x00\xff" + os.urandom(300), b"GET / HTTP/1.1\r\nHost: x\r\n"):
        s = socket.create_connection(("127.0.0.1", dvalin_server.port), timeout=10)
        s.sendall(junk)
        s.close()
    stalled = socket.create_connection(("127.0.0.1", dvalin_server.port), timeout=10)
    stalled.sendall(b"\x16\x03\x01")
    # meanwhile a real client is served, and the server is alive
    assert snapshots_of(url, env) == []
    stalled.close()
    assert dvalin_server.procs["server"].alive()


def test_server_check_read_data_finds_a_flipped_byte_without_the_key(dvalin_server, world):
    url, d, env = remote_repo(dvalin_server, world, rights="append")
    src = small_tree(world, n=40)
    assert run(["backup", "-r", url, src], env=env).rc == 0
    name = os.path.basename(url)
    p = dvalin_server.cli("check", name, "--read-data")
    assert p.returncode == 0, p.stderr
    packs = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(d, "data")) for f in fs
             if not f.startswith(".")]
    victim = max(packs, key=os.path.getsize)
    with open(victim, "r+b") as f:
        f.seek(40)
        b = f.read(1)
        f.seek(40)
        f.write(bytes([b[0] ^ 0x01]))
    p = dvalin_server.cli("check", name, check=False)
    assert p.returncode == 0, "without --read-data the pack's bytes are not read"
    p = dvalin_server.cli("check", name, "--read-data", check=False)
    assert p.returncode != 0
    assert os.path.basename(victim) in p.stdout + p.stderr, p.stdout + p.stderr


def test_ssh_append_only_key_cannot_delete(sshd, world):
    d = os.path.join(world, "repo")
    env = sshd.client_env(run.__globals__["base_env"]())
    r = run(["init", "-r", sshd.url(d), "--kdf-log-n", "10"], env=env)
    assert r.rc == 0, r
    sshd.authorize(sshd.key_line(options=f'command="dvalin serve --stdio --append-only {d}",restrict'))
    src = small_tree(world)
    r = run(["backup", "-r", sshd.url(d), src], env=env)
    assert r.rc == 0, r
    r = run(["prune", "-r", sshd.url(d)], env=env)
    assert r.rc != 0 and "'prune'" in r.err, r.err
    # the client's one line, not also the far side's log of the refusal
    assert len(r.err.strip().splitlines()) == 1 and "warning" not in r.err, r.err
    assert len(os.listdir(os.path.join(d, "snapshots"))) == 1


def test_ssh_failures_are_one_line_saying_why(sshd, world):
    """What ssh and the far side's dvalin write on stderr is not shown as
    it is: the client's one line carries the reason."""
    env = sshd.client_env(run.__globals__["base_env"]())
    gone = os.path.join(world, "no-such-repo")
    r = run(["snapshots", "-r", sshd.url(gone)], env=env)
    assert r.rc != 0, r
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert "the server refused" in r.err and gone in r.err and "No such file" in r.err, r.err
    assert "attempt" not in r.err, "a refusal is not retried: " + r.err
    sshd.add_client("stranger", authorized=False)
    r = run(["snapshots", "-r", sshd.url(gone, host="stranger")], env=env)
    assert r.rc != 0, r
    assert len(r.err.strip().splitlines()) == 1 and "Permission denied" in r.err, r.err


@pytest.mark.serial
def test_server_killed_mid_backup_then_a_retried_backup_completes_and_checks_clean(world):
    import services
    from conftest import DVALIN
    server = services.DvalinServer(DVALIN).start()
    try:
        url, d, env = remote_repo(server, world, rights="append")
        env["DVALIN_RETRY_SECONDS"] = "3"
        src = os.path.join(world, "big")
        os.makedirs(src)
        for i in range(12):
            with open(os.path.join(src, f"f{i}"), "wb") as f:
                f.write(os.urandom(4 << 20))
        from conftest import DVALIN as dv
        p = subprocess.Popen([dv, "backup", "-r", url, src], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        # killed while a pack is being uploaded: its temporary file stays behind
        uploading = lambda: [f for _, _, fs in os.walk(os.path.join(d, "data")) for f in fs
                             if f.startswith(".tmp-")]
        while not uploading() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.01)
        assert p.poll() is None, "the backup ended before the kill: make the data larger"
        server.kill()
        out, err = p.communicate(timeout=120)
        assert p.returncode != 0
        errors = [l for l in err.splitlines() if l.strip() and "warning:" not in l]
        assert len(errors) == 1 and "127.0.0.1" in errors[0], err  # one line says what failed
        assert "Sanitizer" not in err
        server.restart()
        r = run(["backup", "-r", url, src], env=env)
        assert r.rc == 0, r
        c = server.cli("check", os.path.basename(url), "--read-data", check=False)
        assert c.returncode == 0, c.stdout + c.stderr
        assert len(snapshots_of(url, env)) == 1
        r = run(["check", "-r", url], env=env)
        assert r.rc == 0, r
        # the killed server's half-written uploads are gone once listed
        left = [f for _, _, fs in os.walk(d) for f in fs if f.startswith(".tmp-")]
        assert left == [], left
    finally:
        server.stop()


def test_a_read_token_stores_only_a_read_lease_of_its_own(dvalin_server, world):
    url, d, env = remote_repo(dvalin_server, world, rights="read")
    name, tok = os.path.basename(url), env["DVALIN_TOKEN"]
    now = time.time_ns()

    def lease(kind="read", start=now, refresh=now):
        return f"dvalin-lease 1\nkind {kind}\nhost box\npid 7\nstart {start}\nrefresh {refresh}\n".encode()

    mine, other = "locks/0123456789abcdef", "locks/fedcba9876543210"
    assert raw(dvalin_server, "PUT", f"/{name}/{mine}", tok, body=lease())[0] == 201
    assert raw(dvalin_server, "PUT", f"/{name}/{mine}", tok, body=lease(refresh=now + 1))[0] == 200
    # not a read lease, an old start, a refresh that moves the start
    for body in (lease("backup"), lease(start=now - 3600 * 10**9), b"garbage\n"):
        st, b = raw(dvalin_server, "PUT", f"/{name}/locks/00000000000000aa", tok, body=body)
        assert st in (403, 422), (st, b)
    st, b = raw(dvalin_server, "PUT", f"/{name}/{mine}", tok, body=lease(start=now - 10**9))
    assert st == 403 and "keep" in b["message"], (st, b)
    # another client's lease, and any other file
    admin = dvalin_server.add_token(f"{name}-adm2", "admin", repo=name)
    assert raw(dvalin_server, "PUT", f"/{name}/{other}", admin, body=lease("backup"))[0] == 201
    for method in ("PUT", "DELETE"):
        st, b = raw(dvalin_server, method, f"/{name}/{other}", tok, body=lease() if method == "PUT" else None)
        assert st == 403 and b["error"] == "forbidden", (method, st, b)
    st, b = raw(dvalin_server, "PUT", f"/{name}/protected/{'0' * 64}", tok, body=b"")
    assert st == 403, (st, b)
    with open(os.path.join(d, other)) as f:
        assert "kind backup" in f.read()
    assert raw(dvalin_server, "DELETE", f"/{name}/{mine}", tok)[0] == 200
    assert not os.path.exists(os.path.join(d, mine))


def test_max_per_address_caps_the_connections_of_one_client_address(world):
    """`server run --max-per-address 2`: a third connection from 127.0.0.1
    is refused at accept while two are open, and served once one closes."""
    import services
    from conftest import DVALIN

    def get_root():
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            c.request("GET", "/")
            return c.getresponse().status
        except (ConnectionError, http.client.HTTPException, OSError):
            return None
        finally:
            c.close()

    assert run(["server", "run", "--max-per-address", "0", "--listen", "127.0.0.1:1"]).rc == 2
    server = services.DvalinServer(DVALIN, args=["--max-per-address", "2"], no_tls=True).start()
    try:
        held = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(2)]
        assert get_root() is None, "a third connection from the address was served"
        held.pop().close()
        deadline = time.monotonic() + 60  # the server notices the close on its own time
        while get_root() != 200:
            assert time.monotonic() < deadline, "no connection served after one closed"
            time.sleep(0.1)
        held.pop().close()
    finally:
        server.stop()
