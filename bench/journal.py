#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The change journal (docs/journal.md) against the full walk, on the
benchmark's many-small-files tree (bench/mktree.c, BENCH_FILES files,
default 1,000,000, of 0..BENCH_MAX bytes, default 64: the walk's cost does
not depend on the sizes, and so the tree and the repository stay small) on
an ext4 file system of its own (a sparse image under build/, loop-mounted,
so no other process's events reach the recorder and no RAM holds it): an
unchanged re-backup and one after changing about 100 files, each the
median of BENCH_RUNS runs (default 3), the two ways alternating, beside
the stat-walk bound (`find -printf '%s %T@ %i\\n'`).  Times include
opening the key (the repository's default KDF).  Needs root (fanotify,
mount).  Everything it creates is removed at the end.  Results go to
stdout and bench/results-journal.md."""
import os
import select
import signal
import statistics
import subprocess
import sys
import time

from loopfs import loop_fs

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DVALIN = os.path.join(ROOT, "dvalin")
MKTREE = os.path.join(ROOT, "build", "mktree")
QUICK = os.environ.get("BENCH_QUICK") == "1"  # as bench/bench.py: a smaller tree, one run
N = int(os.environ.get("BENCH_FILES", "100000" if QUICK else "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "1" if QUICK else "3"))
MAX = int(os.environ.get("BENCH_MAX", "64"))
ENV = dict(os.environ, DVALIN_PASSWORD="bench")


def timed(cmd, **kw):
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, **kw)
    wall = time.monotonic() - t0
    if p.returncode == 3:  # done, some files unreadable: say which, go on
        print(p.stderr, file=sys.stderr)
        return wall, p
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}): {p.stderr}")
    return wall, p


def main():
    for tool in (DVALIN, MKTREE):
        if not os.path.exists(tool):
            sys.exit(f"bench: {tool} is missing (make dvalin build/mktree)")
    # sized for inodes, directories and 100 changed files
    with loop_fs("journal-bench-", (N * 6 // 1000 + 256) << 20, N + N // 4 + 10000,
                 inline_data=True) as (mnt, base):
        run(mnt, base)


def run(mnt, base):
    rec = None
    try:
        src, repo, journal = os.path.join(mnt, "files"), os.path.join(base, "repo"), os.path.join(base, "journal")
        subprocess.run([MKTREE, src, str(N), str(MAX)], check=True)
        timed([DVALIN, "init", "-q", "-r", repo])
        rec = subprocess.Popen([DVALIN, "journal", journal, src], env=ENV, stdout=subprocess.PIPE,
                               text=True)
        r, _, _ = select.select([rec.stdout], [], [], 120)
        assert r and rec.stdout.readline().strip() == "recording"
        first, _ = timed([DVALIN, "backup", "-q", "-r", repo, src])
        rows = {k: [] for k in ("stat walk", "unchanged, full walk", "unchanged, journal",
                                "100 changed, full walk", "100 changed, journal")}
        for i in range(RUNS):
            w, _ = timed(["sh", "-c", f"find {src} -printf '%s %T@ %i\\n' >/dev/null"])
            rows["stat walk"].append(w)
            rows["unchanged, full walk"].append(timed([DVALIN, "backup", "-q", "-r", repo, src])[0])
            w, p = timed([DVALIN, "backup", "-r", repo, src, "--journal", journal])
            assert "journal:" in p.stdout, p.stderr
            rows["unchanged, journal"].append(w)
            subprocess.run([MKTREE, "-t", src, str(N), str(100 + 2 * i)], check=True)
            rows["100 changed, full walk"].append(timed([DVALIN, "backup", "-q", "-r", repo, src])[0])
            subprocess.run([MKTREE, "-t", src, str(N), str(101 + 2 * i)], check=True)
            w, p = timed([DVALIN, "backup", "-r", repo, src, "--journal", journal])
            assert "journal:" in p.stdout, p.stderr
            rows["100 changed, journal"].append(w)
        load = open("/proc/loadavg").read().split()[0]
        out = [f"# The change journal, {N} files (bench/journal.py)", "",
               f"{os.cpu_count()} cores, shared (load average {load} at the end); ext4 on a loop "
               f"device; files of 0-{MAX} bytes; "
               f"median of {RUNS} runs; first backup {first:.1f} s.", "",
               "| re-backup | wall s (median) | runs | × stat walk |", "|---|---|---|---|"]
        walk = statistics.median(rows["stat walk"])
        for k, v in rows.items():
            m = statistics.median(v)
            out.append(f"| {k} | {m:.2f} | {' '.join(f'{x:.2f}' for x in v)} | {m / walk:.2f} |")
        print("\n".join(out))
        with open(os.path.join(HERE, "results-journal.md"), "w") as f:
            f.write("\n".join(out) + "\n")
    finally:
        if rec:
            rec.send_signal(signal.SIGTERM)
            rec.wait()


if __name__ == "__main__":
    main()
