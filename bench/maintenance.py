#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Maintenance benchmark: prune and check on a repository of 20 snapshots.

A copy of linux-source-6.1 (about 78,000 files) is backed up 20 times by
dvalin, restic and borg; before each backup 1% of the files get new
contents (so every snapshot adds data that forgetting it makes garbage).
Then each tool forgets the 10 oldest snapshots and prunes, checks its
structure and checks with every byte read back.  Prints one table: wall
seconds, CPU seconds and peak RSS per operation, and ratios to dvalin.
Run by `make bench-maintenance`; the table is also written to
bench/results-maintenance.md.

`bench/maintenance.py --threads` (run by `make bench`) is the other half:
dvalin's check --read-data and prune's repack on 1 and on 2 (all) threads
on a repository of about BENCH_PM_MB MB (default 1000) of incompressible
data on /work's disk (build/benchdata, removed at the end; the page cache
warm: the repository fits in RAM), medians of BENCH_RUNS runs (default 3)
with the thread counts alternating, and BENCH_BASELINE (say main's build)
beside them.  Its table goes to stdout and bench/results-parmaint.md.
"""
import json
import os
import random
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the same tools, measuring and work directory)

SNAPSHOTS = int(os.environ.get("BENCH_SNAPSHOTS", "20"))


def dvalin_ops(repo):
    d = bench.DVALIN
    return {
        "forget 10 + prune": [[d, "forget", "-q", "-r", repo, "--keep-last", "10"],
                              [d, "prune", "-q", "-r", repo]],
        "check (structure)": [[d, "check", "-q", "-r", repo]],
        "check --read-data": [[d, "check", "-q", "-r", repo, "--read-data"]],
    }


def restic_ops(repo):
    r = ["restic", "-q", "-r", repo]
    return {
        "forget 10 + prune": [r + ["forget", "--keep-last", "10", "--prune"]],
        "check (structure)": [r + ["check"]],
        "check --read-data": [r + ["check", "--read-data"]],
    }


def borg_ops(repo):
    return {
        "forget 10 + prune": [["borg", "prune", "--keep-last", "10", repo],
                              ["borg", "compact", repo]],
        "check (structure)": [["borg", "check", repo]],
        "check --read-data": [["borg", "check", "--verify-data", repo]],
    }


def measure_all(cmds):
    wall = cpu = rss = 0.0
    for c in cmds:
        w, u, m = bench.measure(c)
        wall, cpu, rss = wall + w, cpu + u, max(rss, m)
    return wall, cpu, rss


def main():
    tools = [bench.Dvalin("maint"), bench.Restic("maint"), bench.Borg("maint")]
    src, files, _ = bench.build_history("maint-tree", tools, SNAPSHOTS)
    sizes = {t.name: bench.du(t.repo) / 1e6 for t in tools}
    ops = {"dvalin": dvalin_ops, "restic": restic_ops, "borg": borg_ops}
    res = {t.name: {} for t in tools}
    for t in tools:
        for op, cmds in ops[t.name](t.repo).items():
            res[t.name][op] = measure_all(cmds)
    after = {t.name: bench.du(t.repo) / 1e6 for t in tools}
    out = []
    emit = out.append  # the table: printed and saved below
    emit(f"\n### maintenance: {SNAPSHOTS} snapshots of linux-source-6.1 "
          f"({len(files)} files), 1% of files changed between snapshots\n")
    emit("| operation | dvalin s | restic s | borg s | restic/dvalin | borg/dvalin "
          "| dvalin cpu s | dvalin MB RSS | restic MB RSS | borg MB RSS |")
    emit("|---|---|---|---|---|---|---|---|---|---|")
    for op in res["dvalin"]:
        d, r, b = res["dvalin"][op], res["restic"][op], res["borg"][op]
        emit(f"| {op} | {d[0]:.2f} | {r[0]:.2f} | {b[0]:.2f} | {r[0] / d[0]:.1f} | "
              f"{b[0] / d[0]:.1f} | {d[1]:.2f} | {d[2]:.0f} | {r[2]:.0f} | {b[2]:.0f} |")
    emit(f"| repository MB before / after | {sizes['dvalin']:.0f} / {after['dvalin']:.0f} | "
          f"{sizes['restic']:.0f} / {after['restic']:.0f} | "
          f"{sizes['borg']:.0f} / {after['borg']:.0f} | | | | | | |")
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(bench.HERE, "results-maintenance.md"), "w") as f:
        f.write("# make bench-maintenance\n" + text)
    shutil.rmtree(src, ignore_errors=True)


PM_MB = int(os.environ.get("BENCH_PM_MB", "1000"))
PM_ROUNDS = 10


def run_ok(cmd):
    p = subprocess.run(cmd, env=bench.ENV, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}): {p.stderr}")
    return p.stdout


def pm_history(src, repo):
    """PM_ROUNDS backups, each adding PM_MB / PM_ROUNDS MB of new files of
    2 MiB and keeping the even-numbered files of the round before: once the
    even rounds are forgotten, each of their packs is about half used
    (repacked), the odd rounds' packs wholly (kept)."""
    d = bench.DVALIN
    per = max(2, PM_MB // PM_ROUNDS // 2)
    rnd = random.Random(17)
    run_ok([d, "init", "-q", "-r", repo])
    ids, prev = [], []
    for k in range(PM_ROUNDS):
        for i, f in enumerate(prev):
            if i % 2:
                os.unlink(f)
        for f in os.listdir(src):
            if f.startswith(f"r{k - 2}-"):
                os.unlink(os.path.join(src, f))
        prev = []
        for i in range(per):
            f = os.path.join(src, f"r{k}-{i}")
            with open(f, "wb") as out:
                out.write(rnd.randbytes(2 << 20))
            prev.append(f)
        ids.append(json.loads(run_ok([d, "backup", "-q", "-r", repo, "--json", src]))["snapshot_id"])
    run_ok([d, "forget", "-q", "-r", repo] + ids[0::2])


def pm_median(rows):
    return tuple(statistics.median(r[i] for r in rows) if i < 2 else max(r[i] for r in rows)
                 for i in range(3))


def threads_main():
    base = os.path.join(bench.ROOT, "build", "benchdata", "parmaint")
    shutil.rmtree(base, ignore_errors=True)
    src, repo, work = (os.path.join(base, n) for n in ("src", "repo", "work"))
    os.makedirs(src)
    os.makedirs(bench.WORK, exist_ok=True)  # measure()'s RSS file
    try:
        pm_history(src, repo)
        shutil.rmtree(src)
        size = bench.du(repo) / 1e6
        npacks = sum(len(f) for _, _, f in os.walk(os.path.join(repo, "data")))
        plan = json.loads(run_ok([bench.DVALIN, "prune", "-r", repo, "--dry-run", "--json"]))
        ways = [("1 thread", bench.DVALIN, ["--threads", "1"]),
                (f"{bench.CORES} threads", bench.DVALIN, ["--threads", str(bench.CORES)])]
        if bench.BASELINE:
            ways.append((f"{bench.BASELINE_NAME}", bench.BASELINE, []))
        res = {}
        run_ok([bench.DVALIN, "check", "-q", "-r", repo, "--read-data"])  # warm the page cache
        for _ in range(bench.RUNS):
            for name, b, extra in ways:
                res.setdefault(("check --read-data", name), []).append(
                    bench.measure([b, "check", "-q", "-r", repo, "--read-data"] + extra))
                shutil.rmtree(work, ignore_errors=True)
                subprocess.run(["cp", "-a", "--reflink=auto", repo, work], check=True)
                subprocess.run(["sync"], check=True)
                res.setdefault(("prune (repack)", name), []).append(
                    bench.measure([b, "prune", "-q", "-r", work] + extra))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    out = []
    emit = out.append
    emit(f"\n### parallel maintenance: {size:.0f} MB repository, {npacks} packs, "
         f"{plan.get('packs_repacked', '?')} repacked by the prune; {bench.CORES} cores, "
         f"/work's disk, page cache warm, median of {bench.RUNS}\n")
    emit("| operation | threads | wall s | cpu s | MB RSS | speed-up over 1 thread |")
    emit("|---|---|---|---|---|---|")
    for op in ("check --read-data", "prune (repack)"):
        one = pm_median(res[(op, "1 thread")])
        for name, _, _ in ways:
            m = pm_median(res[(op, name)])
            emit(f"| {op} | {name} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.0f} | {one[0] / m[0]:.2f}x |")
    emit(f"\nload (1-minute average at the end): {os.getloadavg()[0]:.2f}")
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(bench.HERE, "results-parmaint.md"), "w") as f:
        f.write("# make bench: bench/maintenance.py --threads\n" + text)


if __name__ == "__main__":
    if sys.argv[1:] == ["--threads"]:
        threads_main()
    else:
        main()
