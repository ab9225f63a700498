#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""dvalin on S3 (a Ceph RGW on loopback, tests/e2e/services.py) against
dvalin on a local directory and restic 0.14's S3 backend on the same RGW,
in one run: first backup, unchanged re-backup and restore of one source
tree, with wall time, CPU, peak RSS and the requests each tool made.

  /usr/bin/python3 bench/s3.py [SOURCE_DIR]   a tree (default /usr/include)
  /usr/bin/python3 bench/s3.py --linux        linux-source-6.1, unpacked into
                                              BENCH_DIR; results-s3.md

Requests are counted from radosgw's own access log (every tool in a bucket
of its own), so restic's are counted the same way as dvalin's; dvalin's own
count (`requests` in --json) is printed next to it as a check.  Each number
is the median of BENCH_RUNS rounds (default 3); in each round every tool
gets a fresh repository, and the tools take turns.  RGW keeps its data in
RAM (memstore); each round's buckets are purged after it.  Run from the
source tree after `make`; everything lives under a scratch directory that
is removed at the end, and RGW is stopped.

Environment: BENCH_DIR (where linux-source is unpacked and the scratch
directory lives; default a tmpfs under /dev/shm when it has room),
BENCH_RUNS."""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import services  # noqa: E402

DVALIN = os.environ.get("DVALIN_BIN", os.path.join(ROOT, "dvalin"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
LINUX_TAR = "/usr/src/linux-source-6.1.tar.xz"
PASSWORD = "bench password"
OPS = ("first backup", "unchanged re-backup", "restore")
VERBS = ("GET", "PUT", "HEAD", "LIST", "DELETE", "POST")


def work_base():
    if os.environ.get("BENCH_DIR"):
        return os.environ["BENCH_DIR"]
    if shutil.disk_usage("/dev/shm").free > 8 << 30:
        return "/dev/shm"
    return tempfile.gettempdir()


class RgwLog:
    """Counts the requests radosgw logged for one bucket between two
    offsets of its log, whoever made them (beast's access lines:
    `"VERB /bucket/key?query HTTP/1.1" status ...`)."""

    def __init__(self, rgw):
        self.path = os.path.join(rgw.log_dir, "client.rgw.a.log")

    def offset(self):
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def _count(self, bucket, start):
        with open(self.path, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        c = dict.fromkeys(VERBS, 0)
        pat = re.compile(r'"(GET|PUT|HEAD|POST|DELETE) /' + re.escape(bucket) +
                         r'(/?[^ ?]*)(\?\S*)? HTTP/1\.1" \d+')
        for m in pat.finditer(text):
            verb, key, query = m.group(1), m.group(2).lstrip("/"), m.group(3) or ""
            # a GET of the bucket itself is a listing (ListObjects V1 or V2);
            # restic's ?location lookups are counted as the GETs they are
            listing = verb == "GET" and not key and "location" not in query
            c["LIST" if listing else verb] += 1
        return c

    def counts(self, bucket, start, settle=3.0):
        """Once the log has stopped growing (radosgw writes it from a
        thread of its own), or after `settle` seconds of it changing."""
        deadline, last = time.monotonic() + settle, None
        while True:
            c = self._count(bucket, start)
            if c == last or time.monotonic() > deadline:
                return c
            last = c
            time.sleep(0.3)


def measure(argv, env, out_path):
    """Runs argv with stdout to out_path: (wall s, cpu s, peak RSS MB)."""
    t0 = time.monotonic()
    with open(out_path, "wb") as out:
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.PIPE)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(argv)} failed:\n{err.decode(errors='replace')}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


class Tool:
    s3 = True

    def __init__(self, rgw, log, scratch, env):
        self.rgw, self.log, self.scratch, self.env = rgw, log, scratch, env

    def round(self, n, src):
        """One fresh repository: {op: {"t": (wall, cpu, rss), "server": counts,
        "own": dvalin's counts or None}}, and the repository's size."""
        self.bucket = f"{self.key}-{n}"
        if self.s3:
            self.rgw.create_bucket(self.bucket)
        self.init()
        res = {}
        target = os.path.join(self.scratch, f"restore-{self.key}")
        for op in OPS:
            argv = self.restore_cmd(target) if op == "restore" else self.backup_cmd(src)
            start = self.log.offset() if self.s3 else 0
            out = os.path.join(self.scratch, "stdout")
            t = measure(argv, self.env, out)
            res[op] = {"t": t,
                       "server": self.log.counts(self.bucket, start) if self.s3 else None,
                       "own": self.own_counts(out)}
            shutil.rmtree(target, ignore_errors=True)
        return res, self.size()

    def size(self):
        p = subprocess.run(["radosgw-admin", "-c", self.rgw.conf, "bucket", "stats",
                            f"--bucket={self.bucket}"], capture_output=True, text=True)
        try:
            usage = json.loads(p.stdout)["usage"]
            return sum(u.get("size", 0) for u in usage.values())
        except (ValueError, KeyError):
            return None

    def drop(self):
        if self.s3:
            self.rgw.remove_bucket(self.bucket)

    def own_counts(self, out):
        return None


class DvalinTool(Tool):
    def init(self):
        subprocess.run([DVALIN, "init", "-q", "-r", self.url()], env=self.env, check=True,
                       capture_output=True)

    def backup_cmd(self, src):
        return [DVALIN, "backup", "-r", self.url(), src, "--json"]

    def restore_cmd(self, target):
        return [DVALIN, "restore", "-r", self.url(), "latest", "--target", target, "--json"]

    def own_counts(self, out):
        with open(out) as f:
            doc = json.load(f)
        return doc.get("requests")


class DvalinS3(DvalinTool):
    key, label = "dvalin-s3", "dvalin S3"

    def url(self):
        return self.rgw.url(self.bucket, "repo")


class DvalinLocal(DvalinTool):
    key, label, s3 = "dvalin-local", "dvalin local", False

    def url(self):
        return os.path.join(self.scratch, f"local-{self.bucket}")

    def size(self):
        return int(subprocess.run(["du", "-sb", self.url()], capture_output=True,
                                  text=True).stdout.split()[0])

    def drop(self):
        shutil.rmtree(self.url(), ignore_errors=True)


class ResticS3(Tool):
    key, label = "restic-s3", "restic S3"

    def url(self):
        return f"s3:{self.rgw.endpoint}/{self.bucket}/repo"

    def init(self):
        subprocess.run(["restic", "-q", "-r", self.url(), "init"], env=self.env, check=True,
                       capture_output=True)

    def backup_cmd(self, src):
        return ["restic", "-q", "-r", self.url(), "backup", src]

    def restore_cmd(self, target):
        return ["restic", "-q", "-r", self.url(), "restore", "latest", "--target", target]


def prepare_linux(base):
    src = os.path.join(base, "dvalin-bench-s3-linux", "linux-source-6.1")
    if not os.path.isdir(src):
        os.makedirs(os.path.dirname(src), exist_ok=True)
        print(f"  unpacking {LINUX_TAR} into {os.path.dirname(src)}", flush=True)
        subprocess.run(["tar", "xf", LINUX_TAR, "-C", os.path.dirname(src)], check=True)
    return src


def tree_stats(src):
    files, size = 0, 0
    for dp, _, fs in os.walk(src):
        for f in fs:
            st = os.lstat(os.path.join(dp, f))
            files, size = files + 1, size + st.st_size
    return files, size


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def total(c):
    return sum(c.values()) if c else None


def fmt_counts(c):
    if not c:
        return "–"
    return ", ".join(f"{k} {int(v)}" for k, v in c.items() if v) or "none"


def report(src, files, size, results, sizes):
    """The markdown tables: times and resources, then requests."""
    L = [f"{src}: {files} files, {size / 1e9:.2f} GB; {os.cpu_count()} cores, shared with other "
         f"work; RGW 16.2 on loopback (memstore); median of {RUNS} rounds, in each a fresh "
         "repository per tool, the tools taking turns.", "",
         "| operation | dvalin local s | dvalin S3 s | restic S3 s | dvalin S3 / local | "
         "dvalin S3 / restic | CPU s (local / S3 / restic) | RSS MB (local / S3 / restic) |",
         "|---|---|---|---|---|---|---|---|"]

    def m(tool, op, i):
        return med([r[op]["t"][i] for r in results[tool]])

    for op in OPS:
        dl, ds, rs = (m(k, op, 0) for k in ("dvalin-local", "dvalin-s3", "restic-s3"))
        cpu = " / ".join(f"{m(k, op, 1):.2f}" for k in ("dvalin-local", "dvalin-s3", "restic-s3"))
        rss = " / ".join(f"{m(k, op, 2):.0f}" for k in ("dvalin-local", "dvalin-s3", "restic-s3"))
        L.append(f"| {op} | {dl:.2f} | {ds:.2f} | {rs:.2f} | {ds / dl:.2f}x | {ds / rs:.2f}x | "
                 f"{cpu} | {rss} |")
    sz = {k: med(v) for k, v in sizes.items()}
    L.append("| repository MB | " + " | ".join(
        f"{sz[k] / 1e6:.0f}" if sz[k] else "?" for k in ("dvalin-local", "dvalin-s3", "restic-s3"))
        + " | | | | |")
    L += ["", "Requests, counted in radosgw's access log (the round with the median total; "
          "dvalin's own `requests` count from --json in brackets: it is printed before the "
          "lease's removal):", "",
          "| operation | dvalin S3 | restic S3 | dvalin / restic | dvalin by kind | restic by kind |",
          "|---|---|---|---|---|---|"]
    def typical(tool, op):
        """The round whose total is the median (the lower middle one)."""
        rounds = sorted(results[tool], key=lambda r: total(r[op]["server"]))
        return rounds[(len(rounds) - 1) // 2][op]

    for op in OPS:
        dv, rs = typical("dvalin-s3", op), typical("restic-s3", op)
        dt, rt = total(dv["server"]), total(rs["server"])
        L.append(f"| {op} | {dt} ({total(dv['own'])}) | {rt} | {dt / max(rt, 1):.2f} | "
                 f"{fmt_counts(dv['server'])} | {fmt_counts(rs['server'])} |")
    return L


def main():
    args = sys.argv[1:]
    base = work_base()
    linux = args == ["--linux"]
    src = prepare_linux(base) if linux else os.path.abspath(args[0] if args else "/usr/include")
    for tool in ("restic", "radosgw"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed (make bench installs it)")
    files, size = tree_stats(src)
    scratch = tempfile.mkdtemp(prefix="dvalin-bench-s3-", dir=base)
    rgw = services.CephRgw(memstore_bytes=8 << 30).start()
    try:
        env = rgw.client_env(dict(os.environ, DVALIN_PASSWORD=PASSWORD, RESTIC_PASSWORD=PASSWORD,
                                  XDG_CACHE_HOME=os.path.join(scratch, "cache"),
                                  RESTIC_CACHE_DIR=os.path.join(scratch, "cache", "restic")))
        log = RgwLog(rgw)
        tools = [cls(rgw, log, scratch, env) for cls in (DvalinLocal, DvalinS3, ResticS3)]
        results = {t.key: [] for t in tools}
        sizes = {t.key: [] for t in tools}
        # warm the page cache with the source
        subprocess.run(f"tar cf - -C '{src}' . | cat > /dev/null", shell=True, check=True)
        for n in range(RUNS):
            for t in (tools[n % 3:] + tools[:n % 3]):
                print(f"  round {n + 1}/{RUNS}: {t.label}", flush=True)
                res, sz = t.round(n, src)
                results[t.key].append(res)
                sizes[t.key].append(sz)
                for op in OPS:
                    w, c, r = res[op]["t"]
                    print(f"    {op}: {w:.2f} s, cpu {c:.2f} s, {r:.0f} MB; "
                          f"server {fmt_counts(res[op]['server'])}; own {fmt_counts(res[op]['own'])}",
                          flush=True)
                t.drop()
            shutil.rmtree(os.path.join(scratch, "cache"), ignore_errors=True)
    finally:
        rgw.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        if linux:  # 1.4 GB, most likely in RAM
            shutil.rmtree(os.path.dirname(src), ignore_errors=True)
    text = "\n".join(report("linux-source-6.1" if linux else src, files, size, results, sizes))
    print("\n" + text)
    if linux:
        with open(os.path.join(HERE, "results-s3.md"), "w") as f:
            f.write("# dvalin on S3 against a local repository and restic's S3 backend\n\n"
                    "`make bench` (`bench/s3.py --linux`).\n\n" + text + "\n")


if __name__ == "__main__":
    main()
