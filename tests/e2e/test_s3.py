# SPDX-License-Identifier: BSD-2-Clause
"""Repositories on S3, against a real Ceph RGW on loopback (services.CephRgw):
the backend contract, backups that restore exactly, incremental runs that
cost a handful of requests, prune (with the concurrent stress test), check
finding a damaged object, multipart uploads, listings past 1,000 keys,
retries while radosgw is down, and one clear line for each thing a user can
get wrong.  docs/s3.md says what the backend does.

All of them share one RGW per worker (xdist_group), so they do not pay for
a second start; each gets a fresh bucket."""
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

import services
from conftest import DVALIN, ROOT, TOOLS, base_env, run, tree_digest
from test_prune import stress, write
from treeutil import compare, make_awkward_tree

pytestmark = pytest.mark.xdist_group("rgw")

LOW_KDF = ["--kdf-log-n", "10"]


def env_for(rgw, **extra):
    env = rgw.client_env(base_env())
    # errors that retries cannot fix should not take the default two minutes
    env.setdefault("DVALIN_RETRY_SECONDS", "20")
    env.update(extra)
    return env


def init(rgw, url, env=None):
    r = run(["init", "-r", url, *LOW_KDF], env=env or env_for(rgw))
    assert r.rc == 0, r
    return url


def keys(rgw, bucket, prefix=""):
    """Every key under prefix: {key: size} (through curl, not dvalin)."""
    out, token = {}, None
    while True:
        q = {"list-type": 2, "prefix": prefix}
        if token:
            q["continuation-token"] = token
        r = rgw.s3("GET", f"/{bucket}", query=q)
        assert r.status == 200, r
        body = r.body.decode()
        for k, sz in re.findall(r"<Key>([^<]*)</Key>.*?<Size>(\d+)</Size>", body):
            out[k] = int(sz)
        m = re.search(r"<NextContinuationToken>([^<]*)</NextContinuationToken>", body)
        if "<IsTruncated>true</IsTruncated>" not in body or not m:
            return out
        token = m.group(1)


class AccessLog:
    """radosgw's access log lines for one bucket from now on: what the
    server saw, to check dvalin's own request counts against."""

    def __init__(self, rgw, bucket):
        self.path = os.path.join(rgw.log_dir, "client.rgw.a.log")
        self.bucket = bucket
        self.start = os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def requests(self, settle=5.0):
        """[(verb, key or "" for the bucket, status, bytes)] of dvalin's
        requests, once the log stops growing."""
        pat = re.compile(r'"(GET|PUT|HEAD|POST|DELETE) /' + re.escape(self.bucket) +
                         r'/?([^ ?]*)\S* HTTP/1\.1" (\d+) (\d+) - "dvalin"')
        deadline, last = time.time() + settle, None
        while True:
            with open(self.path, "rb") as f:
                f.seek(self.start)
                text = f.read().decode(errors="replace")
            got = [(m.group(1), m.group(2), int(m.group(3)), int(m.group(4)))
                   for m in pat.finditer(text)]
            if got == last or time.time() > deadline:
                return got
            last = got
            time.sleep(0.5)

    def fetched(self):
        """The keys of the GETs (not listings) seen so far."""
        with open(self.path, "rb") as f:
            f.seek(self.start)
            text = f.read().decode(errors="replace")
        pat = re.compile(r'"GET /' + re.escape(self.bucket) + r'/(\S*) HTTP/1\.1" \d+ \S+ - "dvalin"')
        return [m.group(1) for m in pat.finditer(text)]

    def counts(self, settle=5.0):
        """{"GET": n, "PUT": n, "HEAD": n, "LIST": n, "DELETE": n, "POST": n} of
        requests made by dvalin, once the log stops growing."""
        deadline, last = time.time() + settle, None
        while True:
            with open(self.path, "rb") as f:
                f.seek(self.start)
                text = f.read().decode(errors="replace")
            c = {k: 0 for k in ("GET", "PUT", "HEAD", "LIST", "DELETE", "POST")}
            pat = re.compile(r'"(GET|PUT|HEAD|POST|DELETE) /' + re.escape(self.bucket) +
                             r'(\S*) HTTP/1\.1" \d+ \S+ - "dvalin"')
            for m in pat.finditer(text):
                verb, path = m.group(1), m.group(2)
                c["LIST" if verb == "GET" and "list-type=2" in path else verb] += 1
            if c == last or time.time() > deadline:
                return c
            last = c
            time.sleep(0.5)


def after_this_second():
    """Returns once the wall clock is in a later second than when called.
    S3 dates objects in whole seconds and dvalin takes a pack's time as the
    end of its second (docs/s3.md): a pack is older than a prune only once
    that second is over, so a test that prunes what it just wrote waits
    for it."""
    t = int(time.time())
    while int(time.time()) == t:
        time.sleep(0.05)


def requests_of(r):
    doc = r.json()
    assert doc["requests"] is not None, doc
    return doc["requests"]


# ---------------------------------------------------------------- the contract

def test_backend_conformance_suite_passes_on_s3(rgw, s3_bucket):
    """tests/unit/backend_conformance.c, unchanged, on an s3: URL: under
    ThreadSanitizer in the release pass, under ASan/UBSan in the ASan pass."""
    tsan = "asan" not in os.path.basename(os.path.dirname(DVALIN))
    binary = os.path.join(ROOT, "build", "tsan" if tsan else "", "tests", "backend_conformance")
    binary = os.path.normpath(binary)
    if not os.path.exists(binary):
        binary = os.path.join(ROOT, "build", "tests", "backend_conformance")
    env = env_for(rgw, TSAN_OPTIONS="halt_on_error=1 exitcode=66")
    p = subprocess.run([binary, rgw.url(s3_bucket, "conformance")], env=env, capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0 and "0 failed" in p.stdout, p.stdout[-3000:] + p.stderr[-3000:]
    assert "Sanitizer" not in p.stderr, p.stderr[-3000:]
    assert keys(rgw, s3_bucket) == {}, "the suite left objects behind"


# ---------------------------------------------------------------- backups

def test_awkward_tree_restores_identical_from_s3(rgw, s3_bucket, world):
    url = init(rgw, rgw.url(s3_bucket, "repo"))
    env = env_for(rgw)
    src = os.path.join(world, "src")
    make_awkward_tree(src, as_root=os.geteuid() == 0)
    r = run(["backup", "-r", url, src, "--json"], env=env)
    assert r.rc == 0, r
    target = os.path.join(world, "target")
    r = run(["restore", "-r", url, "latest", "--target", target], env=env)
    assert r.rc == 0, r
    assert compare(src, target + src) > 20
    # one object per repository file, under the prefix, nothing else
    k = keys(rgw, s3_bucket)
    assert k and all(key.startswith("repo/") for key in k), k
    assert "repo/config" in k and any(key.startswith("repo/data/") for key in k)


def test_sync_to_an_s3_replica_without_the_key(rgw, s3_bucket, world):
    """init --replica-of and sync --to s3:... with no password anywhere:
    the replica restores exactly with the source's password, and a second
    sync after a new backup copies only that snapshot; then local -> S3 ->
    local: a replica of the S3 one restores exactly too."""
    env = env_for(rgw)
    keyless = {k: v for k, v in env.items() if k != "DVALIN_PASSWORD"}
    src_repo = os.path.join(world, "local")
    assert run(["init", "-r", src_repo, *LOW_KDF], env=env).rc == 0
    data = os.path.join(world, "data")
    make_awkward_tree(data, as_root=os.geteuid() == 0)
    assert run(["backup", "-r", src_repo, data], env=env).rc == 0
    url = rgw.url(s3_bucket, "replica")
    r = run(["init", "--replica-of", src_repo, url], env=keyless)
    assert r.rc == 0, r
    r = run(["sync", "--from", src_repo, "--to", url, "--json"], env=keyless)
    assert r.rc == 0, r
    assert r.json()["snapshots_copied"] == 1, r.out
    with open(os.path.join(data, "new-file"), "w") as f:
        f.write("after the first sync\n")
    assert run(["backup", "-r", src_repo, data], env=env).rc == 0
    r = run(["sync", "--from", src_repo, "--to", url, "--json"], env=keyless)
    assert r.rc == 0, r
    doc = r.json()
    assert doc["snapshots_copied"] == 1 and doc["snapshots_present"] == 1, r.out
    target = os.path.join(world, "target")
    r = run(["restore", "-r", url, "latest", "--target", target], env=env)
    assert r.rc == 0, r
    assert compare(data, target + data) > 20
    r = run(["check", "-r", url, "--read-data"], env=env)
    assert r.rc == 0, r
    # and back: a local replica of the S3 one, keyless too, restores the same
    back = os.path.join(world, "back")
    assert run(["init", "--replica-of", url, back], env=keyless).rc == 0
    r = run(["sync", "--from", url, "--to", back, "--json"], env=keyless)
    assert r.rc == 0, r
    assert r.json()["snapshots_copied"] == 2, r.out
    target2 = os.path.join(world, "target2")
    r = run(["restore", "-r", back, "latest", "--target", target2], env=env)
    assert r.rc == 0, r
    assert compare(data, target2 + data) > 20


def small_files(world, seed, n, dirs, most, big):
    """world/src: n files of 100..most random bytes in dirs directories,
    and one of big bytes."""
    src = os.path.join(world, "src")
    rng = random.Random(seed)
    for i in range(n):
        write(os.path.join(src, f"d{i % dirs}", f"f{i}"), rng.randbytes(rng.randrange(100, most)))
    write(os.path.join(src, "big"), rng.randbytes(big))
    return src


def test_incremental_backup_costs_a_handful_of_requests(rgw, s3_bucket, world):
    """An unchanged re-backup reads no file and fetches almost nothing: no
    request per file or per blob; dvalin's counts agree with radosgw's log."""
    url = init(rgw, rgw.url(s3_bucket, "r"))
    env = env_for(rgw)
    src = small_files(world, 5, 400, 20, 20000, 6 << 20)
    by_init = sum(keys(rgw, s3_bucket, "r/").values())  # config and key file
    log = AccessLog(rgw, s3_bucket)
    r = run(["backup", "-r", url, src, "--json"], env=env)
    assert r.rc == 0, r
    first = requests_of(r)
    # the lease is removed after the summary: one DeleteObjects more
    seen = log.counts()
    assert seen["PUT"] == first["PUT"] and seen["LIST"] == first["LIST"], (seen, first)
    assert seen["GET"] == first["GET"] and seen["POST"] == first["POST"] + 1, (seen, first)
    # taking the lease reads the server's clock off the PUT's answer, and
    # confirming it does not write it again: one PUT of the lease in all
    lease_puts = [k for v, k, _, _ in log.requests() if v == "PUT" and "/locks/" in k]
    assert len(lease_puts) == 1, lease_puts
    assert first["PUT"] < 20, first  # packs, index, snapshot, lease: not per file
    # the bytes sent are what the backup added to the bucket, and a little for the lease and XML
    stored = sum(keys(rgw, s3_bucket, "r/").values()) - by_init
    sent = r.json()["request_bytes"]["sent"]
    assert stored <= sent < stored + (64 << 10), (stored, sent)
    log = AccessLog(rgw, s3_bucket)
    r = run(["backup", "-r", url, src, "--json"], env=env)
    assert r.rc == 0, r
    doc = r.json()
    assert doc["files_unchanged"] == 401 and doc["bytes_read"] == 0, doc
    again = requests_of(r)
    assert sum(again.values()) < 20, again
    # GETs: config, and the deletion notice at both commit checks (docs/concurrency.md,
    # "Deleting"); PUTs: the lease, snapshot, a tree and an index file for /tmp, whose mtime moves
    assert again["GET"] <= 3 and again["PUT"] <= 4, again
    seen = log.counts()
    for k in ("GET", "PUT", "LIST", "HEAD"):
        assert seen[k] == again[k], (seen, again)
    assert seen["POST"] == again["POST"] + 1 and seen["DELETE"] == 0, (seen, again)
    # the metadata cache: index files, snapshots and tree packs crossed the
    # network once (written through by the first backup), data packs not at all
    got = [k for k in log.fetched() if "/index/" in k or "/snapshots/" in k or "/data/" in k]
    assert got == [], got
    # a restore reads packs, not blobs: one GET of each data pack, no HEAD
    log = AccessLog(rgw, s3_bucket)
    target = os.path.join(world, "t")
    r = run(["restore", "-r", url, "latest", "--target", target, "--json"], env=env)
    assert r.rc == 0, r
    assert tree_digest(target + src) == tree_digest(src)
    seen = log.requests()
    packs = [k for v, k, _, _ in seen if v == "GET" and "/data/" in k]
    assert packs and len(packs) == len(set(packs)), seen
    assert [k for v, k, _, _ in seen if v == "HEAD"] == [], seen
    assert requests_of(r)["GET"] == len(packs) + 1, (r.json(), packs)  # and the config


def overhead(seen):
    """The requests of seen besides the PUTs of packs and index files
    (what a backup stores, which depends on the tree), as sorted
    (verb, what) pairs: a listing is ("LIST", ""), the bucket ("HEAD", "")."""
    out = []
    for verb, key, _, _ in seen:
        if verb == "PUT" and ("/data/" in key or "/index/" in key):
            continue
        what = key.split("/")[1] if "/" in key else key
        out.append(("LIST" if verb == "GET" and not key else verb, what))
    return sorted(out)


def test_a_backup_costs_few_requests_besides_what_it_stores(rgw, s3_bucket, world):
    """Upper bounds on the requests of a first and an unchanged backup of a
    small tree, from radosgw's log, so that one more shows (docs/s3.md,
    "Objects and requests" lists them): no HEAD of the bucket, the key file
    from the cache init filled, the lease, the listings, the two commit
    checks and the snapshot."""
    url = init(rgw, rgw.url(s3_bucket, "few"))
    env = env_for(rgw)
    src = os.path.join(world, "few-src")
    for i in range(20):
        write(os.path.join(src, f"d{i % 3}", f"f{i}"), b"%d" % i * (100 + i))
    log = AccessLog(rgw, s3_bucket)
    assert run(["backup", "-r", url, src], env=env).rc == 0
    seen = log.requests()
    first = overhead(seen)
    # config; the lease PUT, the index and snapshot listings; each commit
    # check's lease HEAD and data/ listing; the snapshot; the lease's
    # DeleteObjects; and keys/ listed (its file not fetched).  No notice
    # GET: every pack it relies on it sealed itself (docs/concurrency.md)
    assert len(first) <= 11, first
    assert ("HEAD", "") not in first and ("GET", "keys") not in first, first
    assert ("GET", "gc") not in first, first
    stored = [k for v, k, _, _ in seen if v == "PUT" and ("/data/" in k or "/index/" in k)]
    assert len(stored) <= 3, stored  # a data pack, a tree pack, an index file
    log = AccessLog(rgw, s3_bucket)
    assert run(["backup", "-r", url, src], env=env).rc == 0
    again = overhead(log.requests())
    # the same, and the notice read at each check: this one relies on the
    # first one's packs, which a sync could have stored again
    assert sorted(again) == sorted(first + [("GET", "gc")] * 2), (again, first)


def test_restore_fetches_each_object_once_and_one_file_by_ranges(rgw, s3_bucket, world):
    """With an empty metadata cache (a new machine) a restore GETs every
    object it needs once, and HEADs nothing; a restore of one
    file reads its blob with a ranged GET, not the whole pack."""
    url = init(rgw, rgw.url(s3_bucket, "c"))
    env = env_for(rgw)
    src = small_files(world, 9, 60, 6, 50000, 3 << 20)
    assert run(["backup", "-r", url, src], env=env).rc == 0
    cold = dict(env, XDG_CACHE_HOME=os.path.join(world, "cold-cache"))
    log = AccessLog(rgw, s3_bucket)
    target = os.path.join(world, "t")
    r = run(["restore", "-r", url, "latest", "--target", target], env=cold)
    assert r.rc == 0, r
    assert tree_digest(target + src) == tree_digest(src)
    seen = log.requests()
    gets = [k for v, k, _, _ in seen if v == "GET" and k]
    assert len(gets) == len(set(gets)), seen
    assert any("/index/" in k for k in gets) and any("/snapshots/" in k for k in gets), gets
    assert [k for v, k, _, _ in seen if v == "HEAD"] == [], seen
    sizes = keys(rgw, s3_bucket, "c/data/")
    log = AccessLog(rgw, s3_bucket)
    one = os.path.join(world, "one")
    r = run(["restore", "-r", url, f"latest:{src}/d1/f1", "--target", one], env=cold)
    assert r.rc == 0, r
    with open(os.path.join(src, "d1", "f1"), "rb") as a, open(os.path.join(one, "f1"), "rb") as b:
        assert a.read() == b.read()
    data = [(st, n, k) for v, k, st, n in log.requests() if v == "GET" and "/data/" in k]
    assert data and all(st == 206 and n < sizes[k] for st, n, k in data), (data, sizes)


def backups(url, env, data, n, contents):
    """n backups of data, its files before the i-th {name: bytes} = contents(i): the snapshot ids."""
    ids = []
    for i in range(n):
        for name, body in contents(i).items():
            write(os.path.join(data, name), body)
        r = run(["backup", "-r", url, data, "--json"], env=env)
        assert r.rc == 0, r
        ids.append(r.json()["snapshot_id"])
    return ids


def test_prune_frees_space_and_check_finds_a_flipped_byte(rgw, s3_bucket, world):
    url = init(rgw, rgw.url(s3_bucket, "p"))
    env = env_for(rgw)
    data = os.path.join(world, "data")
    rng = random.Random(2)
    ids = backups(url, env, data, 3, lambda i: {"big": rng.randbytes(2 << 20), "small": b"%d" % i})
    want = tree_digest(data)
    before = sum(v for k, v in keys(rgw, s3_bucket, "p/data/").items())
    assert run(["forget", "-r", url, ids[0], ids[1]], env=env).rc == 0
    after_this_second()
    r = run(["prune", "-r", url, "--json"], env={k: v for k, v in env.items() if k != "DVALIN_PASSWORD"})
    assert r.rc == 0, r
    g = r.json()
    assert g["packs_deleted"] >= 1 and g["records_waiting"] == 0, g
    assert g["requests"]["POST"] == 2, g  # old index files, then the packs: one DeleteObjects each
    after = sum(v for k, v in keys(rgw, s3_bucket, "p/data/").items())
    assert after < before - (3 << 20), (before, after)
    assert keys(rgw, s3_bucket, "p/gc/") == {}
    r = run(["check", "-r", url, "--read-data", "--json"], env=env)
    assert r.rc == 0, r
    target = os.path.join(world, "t")
    assert run(["restore", "-r", url, ids[2], "--target", target], env=env).rc == 0
    assert tree_digest(target + data) == want
    # flip one byte in the middle of the largest data pack
    packs = {k: v for k, v in keys(rgw, s3_bucket, "p/data/").items()}
    key = max(packs, key=packs.get)
    body = bytearray(rgw.s3("GET", f"/{s3_bucket}/{key}").body)
    body[len(body) // 3] ^= 0x40
    assert rgw.s3("PUT", f"/{s3_bucket}/{key}", data=bytes(body)).status == 200
    r = run(["check", "-r", url, "--read-data", "--json"], env=env)
    assert r.rc == 6, r
    doc = r.json()
    assert doc["blobs_damaged"] >= 1 and doc["files_affected"] >= 1, doc


def test_prune_costs_requests_per_page_not_per_pack(rgw, s3_bucket, world):
    """A prune learns sizes and times from one listing of data/ and deletes
    packs 1,000 a request: no stat or DELETE per pack."""
    url = init(rgw, rgw.url(s3_bucket, "many"))
    env = env_for(rgw)
    data = os.path.join(world, "data")
    rng = random.Random(7)
    ids = backups(url, env, data, 10, lambda i: {"f": rng.randbytes(100000)})
    assert run(["forget", "-r", url] + ids[:-1], env=env).rc == 0
    after_this_second()
    r = run(["prune", "-r", url, "--json"], env=env)
    assert r.rc == 0, r
    g = r.json()
    req = g["requests"]
    assert g["packs_deleted"] >= 9 and g["records_waiting"] == 0, g
    assert req["POST"] == 2, g  # old index files, then the packs
    assert req["DELETE"] < g["packs_deleted"] // 2, g
    assert req["LIST"] < 20, g
    target = os.path.join(world, "t")
    assert run(["restore", "-r", url, ids[-1], "--target", target], env=env).rc == 0
    assert tree_digest(target + data) == tree_digest(data)


@pytest.mark.serial
def test_backups_and_prunes_run_concurrently_on_s3(rgw, s3_bucket, world):
    """docs/concurrency.md's stress test with the repository on RGW: its
    leases and packs carry the storage's whole-second Last-Modified."""
    url = init(rgw, rgw.url(s3_bucket, "stress"))
    env = env_for(rgw, DVALIN_CLOCK_SKEW="0")
    prunes, backups, totals = stress(url, world, float(os.environ.get("DVALIN_S3_STRESS_SECONDS", "15")),
                                     env, lambda: list(keys(rgw, s3_bucket, "stress/gc/")))
    assert backups >= 6


# ---------------------------------------------------------------- uploads and listings

def test_multipart_upload_above_the_part_size(rgw, s3_bucket, world):
    """Packs (16 MiB) above a 5 MiB part size go up in parts; they read back
    exactly, and no upload is left open."""
    url = init(rgw, rgw.url(s3_bucket, "mp") + "?part-size=5MiB")
    env = env_for(rgw)
    src = os.path.join(world, "src")
    write(os.path.join(src, "random"), os.urandom(40 << 20))
    log = AccessLog(rgw, s3_bucket)
    r = run(["backup", "-r", url, src, "--json"], env=env)
    assert r.rc == 0, r
    req = requests_of(r)
    assert req["POST"] >= 4, req  # initiate + complete, for at least 2 packs
    big = [v for k, v in keys(rgw, s3_bucket, "mp/data/").items() if v > (5 << 20)]
    assert len(big) >= 2, big
    seen = log.counts()
    # and the lease's removal, a DeleteObjects after the summary
    assert seen["POST"] == req["POST"] + 1 and seen["PUT"] == req["PUT"], (seen, req)
    r = rgw.s3("GET", f"/{s3_bucket}", query={"uploads": "", "prefix": "mp/"})
    assert r.status == 200 and b"<Upload>" not in r.body, r.body[:500]
    target = os.path.join(world, "t")
    assert run(["restore", "-r", url, "latest", "--target", target], env=env).rc == 0
    assert tree_digest(target + src) == tree_digest(src)
    assert run(["check", "-r", url, "--read-data"], env=env).rc == 0


def test_killed_multipart_upload_leaves_no_visible_object(rgw, s3_bucket, world):
    """kill -9 in the middle of a backup whose packs go up in parts: every
    object there is whole (check --read-data passes) and the next backup
    completes; parts of the killed upload are invisible."""
    url = init(rgw, rgw.url(s3_bucket, "k") + "?part-size=5MiB")
    env = env_for(rgw)
    src = os.path.join(world, "src")
    write(os.path.join(src, "random"), os.urandom(60 << 20))
    p = subprocess.Popen([DVALIN, "backup", "-r", url, "-q", src], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    log = os.path.join(rgw.log_dir, "client.rgw.a.log")
    start = os.path.getsize(log)
    # wait for the first part of an upload, then kill
    while time.time() < deadline and p.poll() is None:
        with open(log, "rb") as f:
            f.seek(start)
            if re.search(rb"PUT /" + s3_bucket.encode() + rb"/k/data/\S+\?partNumber=", f.read()):
                break
        time.sleep(0.02)
    p.kill()
    p.wait()
    for k, v in keys(rgw, s3_bucket, "k/data/").items():
        assert v > 0, k
    r = run(["check", "-r", url, "--read-data"], env=env)
    assert r.rc == 0, r
    r = run(["backup", "-r", url, src], env=env)
    assert r.rc == 0, r
    assert run(["check", "-r", url, "--read-data"], env=env).rc == 0


def test_listings_past_a_thousand_keys(rgw, s3_bucket, world):
    """S3 lists 1,000 keys a page: dvalin follows the continuation tokens
    (1,500 files in data/ that no index names: check counts every one)."""
    url = init(rgw, rgw.url(s3_bucket, "many"))
    env = env_for(rgw)
    p = subprocess.run([os.path.join(TOOLS, "bput"), url, "data", "1500"], env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert len(keys(rgw, s3_bucket, "many/data/")) == 1500
    r = run(["check", "-r", url, "--json"], env=env)
    doc = r.json()
    assert doc["packs_unindexed"] == 1500, doc
    assert doc["requests"]["LIST"] >= 2, doc


# ---------------------------------------------------------------- faults

def test_backup_rides_out_radosgw_restarting(rgw, s3_bucket, world):
    """radosgw killed in the middle of a backup and started again 3 s later:
    the backup retries, says so, and its snapshot restores exactly."""
    url = init(rgw, rgw.url(s3_bucket, "rs"))
    env = env_for(rgw, DVALIN_RETRY_SECONDS="60")
    src = os.path.join(world, "src")
    rng = random.Random(3)
    for i in range(6):
        write(os.path.join(src, f"f{i}"), rng.randbytes(8 << 20))
    p = subprocess.Popen([DVALIN, "backup", "-r", url, "--json", src], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = os.path.join(rgw.log_dir, "client.rgw.a.log")
    start = os.path.getsize(log)
    deadline = time.time() + 60
    while time.time() < deadline and p.poll() is None:  # its first pack is going up
        with open(log, "rb") as f:
            f.seek(start)
            if re.search(rb"PUT /" + s3_bucket.encode() + rb"/rs/data/", f.read()):
                break
        time.sleep(0.02)
    rgw.stop_rgw()
    time.sleep(3)
    rgw.start_rgw()
    out, err = p.communicate(timeout=180)
    assert p.returncode == 0, (out, err)
    assert "trying again" in err, err
    target = os.path.join(world, "t")
    r = run(["restore", "-r", url, "latest", "--target", target], env=env)
    assert r.rc == 0, r
    assert tree_digest(target + src) == tree_digest(src)
    assert run(["check", "-r", url, "--read-data"], env=env).rc == 0


def test_nothing_listening_fails_after_the_retry_budget(world):
    ports = services.reserve_ports(1)
    try:
        env = base_env(AWS_ACCESS_KEY_ID="AK", AWS_SECRET_ACCESS_KEY="SK", DVALIN_RETRY_SECONDS="1")
        t0 = time.time()
        r = run(["snapshots", "-r", f"s3:http://127.0.0.1:{ports[0]}/bucket/x"], env=env)
        assert r.rc == 1 and time.time() - t0 < 20, r
        assert "gave up after" in r.err and r.err.count("\n") == 1, r
    finally:
        ports.release()


def one_line(r, *words):
    assert r.rc != 0, r
    lines = r.err.strip().split("\n")
    assert len(lines) == 1, r
    for w in words:
        assert w in lines[0], (w, r)


def test_wrong_credentials_missing_bucket_and_other_repositories(rgw, s3_bucket, world):
    url = rgw.url(s3_bucket, "repo")
    env = env_for(rgw)
    # a wrong secret, an unknown key
    r = run(["init", "-r", url, *LOW_KDF], env=env_for(rgw, AWS_SECRET_ACCESS_KEY="wrong" * 8))
    one_line(r, "secret key", rgw.access_key)
    r = run(["init", "-r", url, *LOW_KDF], env=env_for(rgw, AWS_ACCESS_KEY_ID="AKNOBODYKNOWS"))
    one_line(r, "does not know access key 'AKNOBODYKNOWS'")
    # no credentials at all
    bare = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    bare["HOME"] = world
    r = run(["snapshots", "-r", url], env=bare)
    one_line(r, "no S3 credentials", "AWS_ACCESS_KEY_ID")
    # a bucket that does not exist: an error to open, created by init
    missing = f"{s3_bucket}-new"
    r = run(["snapshots", "-r", rgw.url(missing, "x")], env=env)
    one_line(r, f"bucket '{missing}' does not exist")
    try:
        init(rgw, rgw.url(missing, "x"))
        assert run(["snapshots", "-r", rgw.url(missing, "x")], env=env).rc == 0
    finally:
        rgw.remove_bucket(missing)
    # someone else's bucket
    ak, sk = rgw.add_user("other")
    r = run(["snapshots", "-r", url], env=env_for(rgw, AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=sk))
    one_line(r, "access denied", ak)
    # a repository already there; a prefix holding something that is not one
    init(rgw, url)
    r = run(["init", "-r", url, *LOW_KDF], env=env)
    one_line(r, "already exists")
    assert rgw.s3("PUT", f"/{s3_bucket}/restic/config", data=b"\x00restic-config\x01" * 20).status == 200
    r = run(["snapshots", "-r", rgw.url(s3_bucket, "restic")], env=env)
    one_line(r, "restic")
    r = run(["snapshots", "-r", rgw.url(s3_bucket, "nothing-here")], env=env)
    one_line(r, "nothing-here")
    # plain http off loopback, a URL without a bucket
    r = run(["snapshots", "-r", "s3:http://192.0.2.1/bucket"], env=env)
    assert r.rc == 2 and "loopback" in r.err, r
    r = run(["snapshots", "-r", f"s3:{rgw.endpoint}/"], env=env)
    assert r.rc == 2 and "names no bucket" in r.err, r


def test_virtual_host_style_and_credential_profiles(rgw, s3_bucket, world):
    """bucket.localhost addressing, and keys from ~/.aws/credentials."""
    os.makedirs(os.path.join(world, ".aws"))
    with open(os.path.join(world, ".aws", "credentials"), "w") as f:
        f.write(f"[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n"
                f"[test]\naws_access_key_id = {rgw.access_key}\n"
                f"aws_secret_access_key = {rgw.secret_key}\n")
    env = {k: v for k, v in env_for(rgw).items() if not k.startswith("AWS_")}
    env.update(HOME=world, AWS_PROFILE="test")
    url = f"s3:http://localhost:{rgw.port}/{s3_bucket}/vh?style=virtual"
    r = run(["init", "-r", url, *LOW_KDF], env=env)
    assert r.rc == 0, r
    src = os.path.join(world, "src")
    write(os.path.join(src, "f"), b"virtual host")
    assert run(["backup", "-r", url, src], env=env).rc == 0
    # the same repository, path style
    r = run(["snapshots", "-r", rgw.url(s3_bucket, "vh"), "--json"], env=env)
    assert r.rc == 0 and len(r.json()) == 1, r
    assert "vh/config" in keys(rgw, s3_bucket, "vh/")


def faketime_lib():
    for p in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
              "/usr/lib/faketime/libfaketime.so.1"):
        if os.path.exists(p):
            return p
    return None


def test_clock_skew_is_refused_with_a_clear_message(rgw, s3_bucket, world):
    """A host whose clock is off the storage's by more than the skew
    allowance must not take part in leases and pruning; beyond S3's 15
    minutes the server refuses the signature itself."""
    lib = faketime_lib()
    if not lib:
        msg = "libfaketime is not installed (make test-deps installs faketime)"
        if os.environ.get("E2E_REQUIRE_SERVICES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    url = init(rgw, rgw.url(s3_bucket, "skew"))
    src = os.path.join(world, "src")
    write(os.path.join(src, "f"), b"tick")
    asan = os.environ.get("ASAN_OPTIONS", "")
    for offset, words in (("+10m", ("clock", "DVALIN_CLOCK_SKEW")),
                          ("+20m", ("clock", "15 minutes"))):
        env = env_for(rgw, LD_PRELOAD=lib, FAKETIME=offset, FAKETIME_DONT_RESET="1",
                      ASAN_OPTIONS=(asan + ":" if asan else "") + "verify_asan_link_order=0")
        r = run(["backup", "-r", url, src], env=env)
        one_line(r, *words)
    # the same host with a true clock is fine
    assert run(["backup", "-r", url, src], env=env_for(rgw)).rc == 0
