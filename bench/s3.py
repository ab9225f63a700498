#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A repository on S3 (a Ceph RGW on loopback, tests/e2e/services.py) against
one in a local directory: first backup, unchanged re-backup and restore of
one source tree, with times and, for S3, the requests dvalin counted.

  /usr/bin/python3 bench/s3.py [SOURCE_DIR]      (default /usr/include)

Run from the source tree after `make`.  RGW keeps its data in RAM
(memstore), so the tree should compress to well under 4 GiB.  Prints the
commands and a markdown table; everything lives under a scratch directory
that is removed at the end, and RGW is stopped."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import services  # noqa: E402

DVALIN = os.environ.get("DVALIN_BIN", os.path.join(ROOT, "dvalin"))
SRC = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "/usr/include"


def dv(env, *args):
    print("  $ dvalin " + " ".join(args), flush=True)
    t = time.monotonic()
    p = subprocess.run([DVALIN, *args], capture_output=True, env=env)
    secs = time.monotonic() - t
    if p.returncode != 0:
        raise SystemExit(p.stderr.decode())
    doc = json.loads(p.stdout) if "--json" in args else {}
    return secs, (doc.get("requests"), doc.get("request_bytes"))


def fmt_req(r):
    req, b = r
    if not req:
        return "–"
    return (", ".join(f"{k} {v}" for k, v in req.items() if v) +
            f" | {b['sent'] / 1e6:.1f} MB up, {b['received'] / 1e6:.1f} MB down")


def run(env, url, scratch, label):
    dv(env, "init", "-r", url, "--kdf-log-n", "10")
    out = []
    s, r = dv(env, "backup", "-r", url, SRC, "--json")
    out.append(("first backup", s, r))
    s, r = dv(env, "backup", "-r", url, SRC, "--json")
    out.append(("unchanged re-backup", s, r))
    target = os.path.join(scratch, "restore-" + label)
    s, r = dv(env, "restore", "-r", url, "latest", "--target", target, "--json")
    out.append(("restore", s, r))
    shutil.rmtree(target)
    return out


def main():
    scratch = tempfile.mkdtemp(prefix="dvalin-bench-s3-")
    rgw = services.CephRgw().start()
    try:
        base = dict(os.environ, DVALIN_PASSWORD="bench", XDG_CACHE_HOME=os.path.join(scratch, "cache"))
        rgw.create_bucket("bench")
        s3 = run(rgw.client_env(dict(base)), rgw.url("bench", "repo"), scratch, "s3")
        local = run(base, os.path.join(scratch, "repo"), scratch, "local")
    finally:
        rgw.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    size = subprocess.run(["du", "-sh", SRC], capture_output=True, text=True).stdout.split()[0]
    print(f"\n{SRC} ({size}), {os.cpu_count()} cores, RGW on loopback (memstore)\n")
    print("| operation | local | S3 | S3 / local | S3 requests | S3 bytes |")
    print("|---|---|---|---|---|---|")
    for (op, ls, _), (_, ss, sr) in zip(local, s3):
        print(f"| {op} | {ls:.2f} s | {ss:.2f} s | {ss / ls:.2f}x | {fmt_req(sr)} |")


if __name__ == "__main__":
    main()
