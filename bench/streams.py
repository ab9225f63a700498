#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Streams and block devices: throughput, and how much of successive dumps
deduplicates.  Run as root from the source tree after `make` (the device
part needs loop devices):  /usr/bin/python3 bench/streams.py [--quick]

Prints the commands it runs and a markdown table (bench/results-streams.md
keeps one run).  Everything lives in a scratch directory under /tmp that
is removed at the end; loop devices are detached."""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DVALIN = os.environ.get("DVALIN_BIN", os.path.join(ROOT, "dvalin"))
MiB = 1 << 20
QUICK = "--quick" in sys.argv
ENV = dict(os.environ, DVALIN_PASSWORD="bench")
rows = []


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, **kw)


def dv(*args, stdin=None):
    cmd = [DVALIN, *args]
    shown = " ".join(a if " " not in a else repr(a) for a in cmd[1:])
    print("  $ dvalin " + shown + (f" < {os.path.basename(stdin)}" if stdin else ""), flush=True)
    t = time.monotonic()
    with open(stdin, "rb") if stdin else open(os.devnull, "rb") as f:
        p = subprocess.run(cmd, stdin=f, capture_output=True, env=ENV)
    secs = time.monotonic() - t
    if p.returncode not in (0, 3):
        raise SystemExit(p.stderr.decode())
    out = p.stdout.decode()
    return (json.loads(out) if out.startswith("{") else out), secs


def row(what, nbytes, secs, extra=""):
    rows.append((what, f"{nbytes / MiB:.0f} MiB", f"{secs:.2f} s", f"{nbytes / MiB / secs:.0f} MiB/s", extra))


def repo_size(repo):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(repo) for f in fs)


def sql_dump(path, nrows, rng, edit=None):
    """A dump of one table: INSERT lines, rows in id order.  edit(id, line)
    may change a row (returning the new line) or drop it (None)."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    with open(path, "w") as f:
        f.write("-- dump of table accounts\nBEGIN;\n")
        for i in range(nrows):
            r = random.Random(i * 7919)  # each row's contents depend on its id only
            line = (f"INSERT INTO accounts VALUES ({i}, '{r.choice(words)}-{r.randrange(10**6)}', "
                    f"{r.randrange(10**9)}, '{' '.join(r.choice(words) for _ in range(8))}');\n")
            if edit:
                line = edit(i, line)
            if line:
                f.write(line)
        f.write("COMMIT;\n")


def main():
    if not os.path.exists(DVALIN):
        raise SystemExit("build first: make")
    w = tempfile.mkdtemp(prefix="dvalin-bench-streams-", dir="/tmp")
    loops = []
    try:
        repo = os.path.join(w, "repo")
        sh(DVALIN, "init", "-r", repo, "--kdf-log-n", "10", env=ENV)
        size = (256 if QUICK else 1024) * MiB
        print(f"random stream, {size // MiB} MiB:")
        data = os.path.join(w, "random.bin")
        with open(data, "wb") as f:
            for _ in range(size // MiB):
                f.write(os.urandom(MiB))
        j, s = dv("backup", "-r", repo, "--json", "--stdin", "--stdin-name", "/random.bin", stdin=data)
        row("stream, random, first backup", size, s, f"{j['bytes_added'] / MiB:.0f} MiB added")
        j, s = dv("backup", "-r", repo, "--json", "--stdin", "--stdin-name", "/random.bin", stdin=data)
        row("stream, random, same again", size, s, f"{j['bytes_new'] / MiB:.1f} MiB new, {j['bytes_added'] / 1024:.0f} KiB added")
        j, s = dv("backup", "-r", repo, "--json", "--stdin-from-command", "--stdin-name", "/random2.bin",
                  "--", "cat", data)
        row("--stdin-from-command cat, same bytes", size, s, f"{j['bytes_new'] / MiB:.1f} MiB new")
        os.unlink(data)

        nrows = 300_000 if QUICK else 2_000_000
        rng = random.Random(1)
        d1, d2, d3, d4 = (os.path.join(w, f"dump{i}.sql") for i in range(1, 5))
        sql_dump(d1, nrows, rng)
        updated = set(rng.sample(range(nrows), nrows // 10000))  # 0.01% of rows
        sql_dump(d2, nrows, rng, lambda i, l: l.replace("VALUES (", "VALUES ( ") if i in updated else l)
        sql_dump(d3, nrows + nrows // 100, rng)  # 1% more rows, appended
        many = set(rng.sample(range(nrows), nrows // 100))  # 1% of rows, scattered
        sql_dump(d4, nrows, rng, lambda i, l: None if i in many else l)
        print(f"SQL dumps, {nrows} rows, {os.path.getsize(d1) // MiB} MiB:")
        for path, what in ((d1, "dump, first"), (d1, "dump, unchanged"),
                           (d2, f"dump, {len(updated)} rows (0.01%) updated"),
                           (d3, "dump, 1% more rows at the end"),
                           (d4, "dump, 1% of rows deleted, scattered")):
            n = os.path.getsize(path)
            j, s = dv("backup", "-r", repo, "--json", "--stdin", "--stdin-name", "/db/accounts.sql", stdin=path)
            row(what, n, s, f"{j['bytes_new'] / MiB:.1f} MiB new ({100 * j['bytes_new'] / n:.1f}%), "
                            f"{j['bytes_added'] / MiB:.2f} MiB added")
        for p in (d1, d2, d3, d4):
            os.unlink(p)

        if os.geteuid() == 0:
            dsize = (512 if QUICK else 2048) * MiB
            print(f"block device, {dsize // MiB} MiB loop device, ext4 with {dsize // 4 // MiB} MiB of random files:")
            img = os.path.join(w, "disk.img")
            with open(img, "wb") as f:
                f.truncate(dsize)
            dev = sh("losetup", "--find", "--show", img).stdout.decode().strip()
            loops.append(dev)
            sh("mkfs.ext4", "-q", "-F", dev)
            mnt = os.path.join(w, "mnt")
            os.mkdir(mnt)
            sh("mount", dev, mnt)
            for i in range(dsize // 4 // (16 * MiB)):
                with open(os.path.join(mnt, f"f{i}"), "wb") as f:
                    f.write(os.urandom(16 * MiB))
            sh("umount", mnt)
            sh("sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches")
            drepo = os.path.join(w, "drepo")
            sh(DVALIN, "init", "-r", drepo, "--kdf-log-n", "10", env=ENV)
            j, s = dv("backup", "-r", drepo, "--json", "--read-devices", dev)
            row("device, first backup (cold cache)", dsize, s,
                f"{j['bytes_added'] / MiB:.0f} MiB added, repository {repo_size(drepo) / MiB:.0f} MiB")
            sh("sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches")
            j, s = dv("backup", "-r", drepo, "--json", "--read-devices", dev)
            row("device, unchanged, re-read (cold cache)", dsize, s, f"{j['bytes_added'] / 1024:.0f} KiB added")
            j, s = dv("backup", "-r", drepo, "--json", "--read-devices", dev)
            row("device, unchanged, re-read (warm cache)", dsize, s, f"{j['bytes_added'] / 1024:.0f} KiB added")
            img2 = os.path.join(w, "disk2.img")
            with open(img2, "wb") as f:
                f.truncate(dsize)
            dev2 = sh("losetup", "--find", "--show", img2).stdout.decode().strip()
            loops.append(dev2)
            j, s = dv("restore", "-r", drepo, "latest", "--json", "--to-device", dev2)
            row("restore --to-device", dsize, s, f"{j['data'] / MiB:.0f} MiB written, {j['zeroed'] / MiB:.0f} MiB zeroed")
            out = os.path.join(w, "out.img")
            j, s = dv("restore", "-r", drepo, "latest", "--json", "--to-device", out)
            row("restore to a sparse image", dsize, s,
                f"{os.stat(out).st_blocks * 512 / MiB:.0f} MiB allocated")
            sh("cmp", dev, dev2)
            sh("cmp", dev, out)
        else:
            print("not root: the device part is left out")
    finally:
        for d in loops:
            subprocess.run(["losetup", "-d", d])
        shutil.rmtree(w, ignore_errors=True)
    print()
    print("| what | bytes | time | rate | result |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
