#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Sync benchmark: copying a repository of 20 snapshots to a replica.

A copy of linux-source-6.1 is backed up 20 times by dvalin and by restic,
1% of the files getting new contents before each backup (as in
maintenance.py).  Then the dvalin repository is copied to an empty replica
by `dvalin sync` and, for comparison, by `cp -a` and `rsync -a` of its
directory; the restic repository by `restic copy` into a new repository
with the same chunker parameters (restic must decrypt and re-encrypt).
Each: wall seconds, CPU seconds, peak RSS, bytes written.  Then 1% of the
files change once more, both tools back up, and the incremental sync is
measured: bytes it read from the source ("sent") against the stored bytes
the new snapshot added to the source, and its time (restic copy too).

Medians of BENCH_RUNS runs (default 3), each into a fresh destination,
page cache warm.  `cp -a` leaves its copy in the page cache where dvalin
makes every file durable, so `cp -a` followed by `sync -f` is measured too.
Prints one table and writes bench/results-sync.md.  Run by `make bench`
(after bench.py) or alone: `python3 bench/sync.py`.

BENCH_SYNC_BASELINE=/path/to/an/older/dvalin adds its sync as a row
measured in the same runs (before/after a change, at the same load);
BENCH_SYNC_RESTIC=0 leaves restic out (its history and copies are most of
the time this takes).
"""
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the same tools, measuring and work directory)

SNAPSHOTS = int(os.environ.get("BENCH_SNAPSHOTS", "20"))
RUNS = bench.RUNS
BASELINE = os.environ.get("BENCH_SYNC_BASELINE")
RESTIC = os.environ.get("BENCH_SYNC_RESTIC", "1") != "0"


def measure_json(cmd):
    """Runs cmd (its stdout is JSON); returns (wall, cpu, rss MB, document)."""
    # peak RSS from /usr/bin/time, as bench.measure does (a child's own
    # ru_maxrss starts at this script's high-water mark)
    rss_file = os.path.join(bench.WORK, ".maxrss-sync")
    argv = [bench.TIME, "-f", "%M", "-o", rss_file] + cmd if bench.TIME else cmd
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=bench.ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{err.decode(errors='replace')}")
    rss = ru.ru_maxrss / 1024
    if bench.TIME:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1]) / 1024
        os.unlink(rss_file)
    return wall, ru.ru_utime + ru.ru_stime, rss, json.loads(out)


def fresh_replica(path, src, dvalin=bench.DVALIN):
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([dvalin, "init", "-q", "--replica-of", src, path], env=bench.ENV, check=True)


def fresh_restic_copy(path, src):
    shutil.rmtree(path, ignore_errors=True)
    env = dict(bench.ENV, RESTIC_FROM_PASSWORD=bench.PASSWORD)
    subprocess.run(["restic", "-q", "-r", path, "init", "--from-repo", src, "--copy-chunker-params"],
                   env=env, check=True, capture_output=True)


def restic_copy(dst, src):
    env = dict(bench.ENV, RESTIC_FROM_PASSWORD=bench.PASSWORD)
    t0 = time.monotonic()
    p = subprocess.Popen(["restic", "-q", "-r", dst, "copy", "--from-repo", src], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: restic copy failed:\n{err.decode(errors='replace')}")
    return time.monotonic() - t0, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def med(rows, i):
    return statistics.median(r[i] for r in rows)


def main():
    if RESTIC and not shutil.which("restic"):
        sys.exit("bench: restic is not installed (make bench installs it; BENCH_SYNC_RESTIC=0 leaves it out)")
    dv, rs = bench.Dvalin("sync", bench.WORK), bench.Restic("sync", bench.WORK)
    src, files, rnd = bench.build_history("sync-tree", [dv, rs] if RESTIC else [dv], SNAPSHOTS)
    repo_mb = bench.du(dv.repo) / 1e6
    dst = os.path.join(bench.WORK, "repos", "sync-replica")
    rdst = os.path.join(bench.WORK, "repos", "sync-restic-copy")
    names = ["dvalin sync"] + (["dvalin sync (baseline)"] if BASELINE else []) + \
        ["cp -a", "cp -a + sync -f", "rsync -a"] + (["restic copy"] if RESTIC else [])
    rows = {k: [] for k in names}
    written = {}
    docs = []
    loads = []
    for _ in range(RUNS):
        loads.append(os.getloadavg()[0])
        for name, dvalin in (("dvalin sync", bench.DVALIN), ("dvalin sync (baseline)", BASELINE)):
            if not dvalin:
                continue
            subprocess.run(["sync"])  # what an earlier copy left dirty is not this one's to write
            fresh_replica(dst, dv.repo, dvalin)
            w, c, m, doc = measure_json([dvalin, "sync", "--json", "--from", dv.repo, "--to", dst])
            rows[name].append((w, c, m))
            written[name] = bench.du(dst)
            if name == "dvalin sync":
                docs.append(doc)
        for name, cmd in (("cp -a", ["cp", "-a"]), ("rsync -a", ["rsync", "-a"]),
                          ("cp -a + sync -f", None)):
            out = dst + "-" + name[:2]
            shutil.rmtree(out, ignore_errors=True)
            subprocess.run(["sync"])
            if cmd is None:
                q = shlex.quote
                rows[name].append(bench.measure(f"cp -a {q(dv.repo)} {q(out)} && sync -f {q(out)}",
                                                shell=True))
            else:
                rows[name].append(bench.measure(cmd + [dv.repo + "/", out]
                                                if name == "rsync -a" else cmd + [dv.repo, out]))
            written[name] = bench.du(out)
            shutil.rmtree(out, ignore_errors=True)
        if RESTIC:
            fresh_restic_copy(rdst, rs.repo)
            rows["restic copy"].append(restic_copy(rdst, rs.repo))
            written["restic copy"] = bench.du(rdst)
    # the replica must be sound
    subprocess.run([bench.DVALIN, "check", "-q", "-r", dst, "--read-data"], env=bench.ENV, check=True)

    # incremental: 1% changed, one backup each, then sync / restic copy
    bench.change_one_percent(files, rnd)
    before = bench.du(os.path.join(dv.repo, "data"))
    dv.backup(src)
    if RESTIC:
        rs.backup(src)
    new_stored = bench.du(os.path.join(dv.repo, "data")) - before
    inc = []
    for k in range(RUNS):
        # the same starting point for each run: a copy of the replica before this snapshot
        base = dst + "-inc"
        shutil.rmtree(base, ignore_errors=True)
        subprocess.run(["cp", "-a", dst, base], check=True)
        inc.append(measure_json([bench.DVALIN, "sync", "--json", "--from", dv.repo, "--to", base]))
    rinc = [restic_copy(rdst, rs.repo)] if RESTIC else []
    doc = inc[-1][3]
    sent, wrote = doc["bytes_read"], doc["bytes_written"]
    shutil.rmtree(dst + "-inc", ignore_errors=True)

    cp = med(rows["cp -a"], 0)
    out = []
    emit = out.append
    d0 = docs[-1]
    emit(f"\n### sync: {SNAPSHOTS} snapshots of linux-source-6.1 ({len(files)} files), "
         f"repository {repo_mb:.0f} MB, to an empty local replica\n")
    emit(f"Machine: {bench.machine()}.  Medians of {RUNS} runs, page cache warm; "
         f"load average at the start of each run: {', '.join(f'{x:.1f}' for x in loads)} "
         f"(the 2 cores were shared with other work).\n")
    emit("| copy | wall s | cpu s | MB RSS | MB written | wall / cp -a |")
    emit("|---|---|---|---|---|---|")
    for name, r in rows.items():
        emit(f"| {name} | {med(r, 0):.2f} | {med(r, 1):.2f} | {med(r, 2):.0f} | "
             f"{written[name] / 1e6:.0f} | {med(r, 0) / cp:.2f} |")
    emit("")
    emit(f"dvalin sync: {d0['snapshots_copied']} snapshots, {d0['packs_reused']} packs copied whole, "
         f"{d0['packs_repacked']} repacked, {d0['trees_copied']} trees, {d0['blobs_copied']} data blobs; "
         f"{d0['bytes_read'] / 1e6:.0f} MB read, {d0['bytes_written'] / 1e6:.0f} MB written.")
    emit("")
    emit("| incremental after 1% changed | wall s | cpu s | MB RSS | sent MB | new stored MB | sent / new |")
    emit("|---|---|---|---|---|---|---|")
    emit(f"| dvalin sync | {med(inc, 0):.2f} | {med(inc, 1):.2f} | {med(inc, 2):.0f} | "
         f"{sent / 1e6:.2f} | {new_stored / 1e6:.2f} | {sent / new_stored:.3f} |")
    if rinc:
        emit(f"| restic copy | {rinc[0][0]:.2f} | {rinc[0][1]:.2f} | {rinc[0][2]:.0f} | | | |")
    emit("")
    emit(f"(dvalin wrote {wrote / 1e6:.2f} MB to the replica for that snapshot.)")
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(bench.HERE, "results-sync.md"), "w") as f:
        f.write("# make bench: sync\n" + text)
    shutil.rmtree(src, ignore_errors=True)
    for p in (dst, rdst):
        shutil.rmtree(p, ignore_errors=True)


if __name__ == "__main__":
    main()
