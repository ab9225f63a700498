# SPDX-License-Identifier: BSD-2-Clause
"""What a backup to a dvalin server costs on the wire, from the client's own
--json counts ("requests", "request_bytes"): a first backup sends about what
it stores, an unchanged re-backup almost nothing (its parent's trees and the
index come from the local cache), and a restore reads what it needs."""
import json
import os

from conftest import run
from test_server import remote_repo


def tree(world, n=24, size=64 << 10):
    src = os.path.join(world, "src")
    os.makedirs(src)
    for i in range(n):
        with open(os.path.join(src, f"f{i}"), "wb") as f:
            f.write(os.urandom(size))
    return src


def stored_packs(repo_dir):
    total = 0
    for dp, _, fs in os.walk(os.path.join(repo_dir, "data")):
        total += sum(os.path.getsize(os.path.join(dp, f)) for f in fs)
    return total


def test_requests_and_bytes_of_backup_rebackup_restore(dvalin_server, world):
    url, d, env = remote_repo(dvalin_server, world, rights="append")
    src = tree(world)
    r = run(["backup", "-r", url, src, "--json"], env=env)
    assert r.rc == 0, r
    first = json.loads(r.out)
    packs = stored_packs(d)
    assert packs > 24 * (64 << 10)  # random data: stored as it is, plus framing
    assert first["requests"]["PUT"] >= 2, first["requests"]
    assert packs <= first["request_bytes"]["sent"] < packs + (256 << 10), (packs, first["request_bytes"])

    r = run(["backup", "-r", url, src, "--json"], env=env)
    assert r.rc == 0, r
    again = json.loads(r.out)
    # no data pack; at most a small tree pack (the directories above src
    # may have changed: the cache lives next to it)
    assert stored_packs(d) - packs < 16 << 10, (stored_packs(d), packs)
    # a snapshot, a lease, perhaps an index file: a few KiB, not the data
    assert again["request_bytes"]["sent"] < 64 << 10, again["request_bytes"]
    assert again["request_bytes"]["received"] < 64 << 10, again["request_bytes"]
    assert sum(again["requests"].values()) < sum(first["requests"].values()) + 8, again["requests"]

    target = os.path.join(world, "restore")
    r = run(["restore", "-r", url, "latest", "--target", target, "--json"], env=env)
    assert r.rc == 0, r
    rest = json.loads(r.out)
    assert rest["requests"]["GET"] >= 1, rest["requests"]
    # the data comes over the wire (the cache holds trees and indexes, not file data)
    assert rest["request_bytes"]["received"] >= 24 * (64 << 10), rest["request_bytes"]
    with open(os.path.join(target + src, "f3"), "rb") as a, open(os.path.join(src, "f3"), "rb") as b:
        assert a.read() == b.read()
