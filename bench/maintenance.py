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
"""
import os
import shutil
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


if __name__ == "__main__":
    main()
