#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""dvalin against restic and borg, on the same data, in one run.

Workloads: Debian's linux-source-6.1 unpacked (many small files) and a few
large files (an ext4 image of the same tree, sparse where empty, plus 1 GiB
of random data).  For each workload and tool: first backup, unchanged
re-backup, re-backup after touching 1% of the files, full restore; each the
median of BENCH_RUNS runs (default 3), tools alternating, with the page
cache warm.  Physical bounds (a stat walk, reading every byte, tar x) are
measured on the same machine in the same run.  Results go to stdout and to
bench/results.md.

Environment: BENCH_DIR (work directory; default a tmpfs under /dev/shm when
it has room, else bench/work), BENCH_RUNS, BENCH_WORKLOADS (tree,big).
"""
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DVALIN = os.path.join(ROOT, "dvalin")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
WORKLOADS = os.environ.get("BENCH_WORKLOADS", "tree,big").split(",")
PASSWORD = "bench password"


def pick_workdir():
    if os.environ.get("BENCH_DIR"):
        return os.environ["BENCH_DIR"]
    st = os.statvfs("/dev/shm") if os.path.isdir("/dev/shm") else None
    if st and st.f_bavail * st.f_frsize > 16 << 30:
        return "/dev/shm/dvalin-bench"
    return os.path.join(HERE, "work")


WORK = pick_workdir()
ENV = dict(os.environ, DVALIN_PASSWORD=PASSWORD, RESTIC_PASSWORD=PASSWORD,
           BORG_PASSPHRASE=PASSWORD, RESTIC_CACHE_DIR=os.path.join(WORK, "cache", "restic"),
           BORG_BASE_DIR=os.path.join(WORK, "cache", "borg"),
           BORG_RELOCATED_REPO_ACCESS_IS_OK="yes", BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes")


def measure(cmd, cwd=None, shell=False):
    """Runs cmd; returns (wall seconds, cpu seconds, peak RSS in MB)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=cwd, env=ENV, shell=shell, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(cmd) if not shell else cmd} failed:\n{err}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def du(path):
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout
    return int(out.split()[0])


class Tool:
    name = ""

    def __init__(self, workload):
        self.repo = os.path.join(WORK, "repos", f"{self.name}-{workload}")
        self.n = 0

    def fresh(self):
        shutil.rmtree(self.repo, ignore_errors=True)
        os.makedirs(os.path.dirname(self.repo), exist_ok=True)
        subprocess.run(self.init_cmd(), env=ENV, check=True, capture_output=True)


class Dvalin(Tool):
    name = "dvalin"

    def init_cmd(self):
        return [DVALIN, "init", "-q", "-r", self.repo]

    def backup(self, src):
        return measure([DVALIN, "backup", "-q", "-r", self.repo, src])

    def restore(self, target):
        return measure([DVALIN, "restore", "-q", "-r", self.repo, "latest", "--target", target])


class Restic(Tool):
    name = "restic"

    def init_cmd(self):
        return ["restic", "init", "-q", "--repo", self.repo]

    def backup(self, src):
        return measure(["restic", "-q", "-r", self.repo, "backup", src])

    def restore(self, target):
        return measure(["restic", "-q", "-r", self.repo, "restore", "latest", "--target", target])


class Borg(Tool):
    name = "borg"

    def init_cmd(self):
        return ["borg", "init", "-e", "repokey-blake2", self.repo]

    def backup(self, src):
        self.n += 1
        return measure(["borg", "create", "-C", "zstd,3", f"{self.repo}::a{self.n}", src])

    def restore(self, target):
        os.makedirs(target, exist_ok=True)
        return measure(["borg", "extract", f"{self.repo}::a{self.n}"], cwd=target)


def prepare_tree():
    src = os.path.join(WORK, "linux-source-6.1")
    if not os.path.isdir(src):
        subprocess.run(["tar", "xf", "/usr/src/linux-source-6.1.tar.xz", "-C", WORK], check=True)
    return src


def prepare_big(tree):
    d = os.path.join(WORK, "big")
    if not os.path.isdir(d):
        os.makedirs(d)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-d", tree, os.path.join(d, "vm-disk.img"), "4G"],
                       check=True)
        with open(os.path.join(d, "random.bin"), "wb") as f:
            for _ in range(1024):
                f.write(os.urandom(1 << 20))
    return d


def files_of(src):
    out = []
    for dp, _, fs in os.walk(src):
        out.extend(os.path.join(dp, f) for f in fs)
    return sorted(out)


def change_one_percent(files, rnd):
    """Appends new bytes to 1% of the files (new contents, as edits make)."""
    for f in rnd.sample(files, max(1, len(files) // 100)):
        with open(f, "ab") as fh:
            fh.write(rnd.randbytes(rnd.randrange(100, 20000)))


def build_history(name, tools, snapshots):
    """A private copy of linux-source at WORK/name backed up `snapshots` times
    by each tool (fresh repositories), 1% of the files changed before each
    backup but the first.  Returns the copy, its files and the random
    generator (for changes after these)."""
    os.makedirs(WORK, exist_ok=True)
    src = os.path.join(WORK, name)
    shutil.rmtree(src, ignore_errors=True)
    subprocess.run(["cp", "-a", prepare_tree(), src], check=True)
    files = files_of(src)
    for t in tools:
        t.fresh()
    rnd = random.Random(7)
    for i in range(snapshots):
        if i:
            change_one_percent(files, rnd)
        for t in tools:
            t.backup(src)
    return src, files, rnd


def touch_one_percent(files, rnd):
    for f in rnd.sample(files, max(1, len(files) // 100)):
        os.utime(f)


def median(rows):
    return tuple(statistics.median(r[i] for r in rows) for i in range(3))


def bounds(src):
    rows = {"stat walk": [], "read all": [], "tar x": []}
    for _ in range(RUNS):
        rows["stat walk"].append(measure(f"find '{src}' -printf '%s %T@ %i\\n' > /dev/null", shell=True))
        rows["read all"].append(measure(f"tar cf - -C '{os.path.dirname(src)}' '{os.path.basename(src)}' | cat > /dev/null", shell=True))
        t = os.path.join(WORK, "tarx")
        shutil.rmtree(t, ignore_errors=True)
        os.makedirs(t)
        rows["tar x"].append(measure(f"tar cf - -C '{os.path.dirname(src)}' '{os.path.basename(src)}' | tar xf - -C '{t}'", shell=True))
        shutil.rmtree(t, ignore_errors=True)
    return {k: median(v) for k, v in rows.items()}


def run_workload(name, src):
    tools = [Dvalin(name), Restic(name), Borg(name)]
    res = {t.name: {} for t in tools}
    files = files_of(src)
    # warm-up: the page cache holds the source
    measure(f"tar cf - -C '{os.path.dirname(src)}' '{os.path.basename(src)}' | cat > /dev/null", shell=True)
    first = {t.name: [] for t in tools}
    for i in range(RUNS):
        for t in tools:
            t.fresh()
            first[t.name].append(t.backup(src))
    for t in tools:
        res[t.name]["first backup"] = median(first[t.name])
        res[t.name]["repository MB"] = du(t.repo) / 1e6
    for op in ("unchanged re-backup", "1% touched re-backup", "full restore"):
        rows = {t.name: [] for t in tools}
        rnd = random.Random(42)
        for i in range(RUNS):
            if op.startswith("1%"):
                touch_one_percent(files, rnd)
            for t in tools:
                if op == "full restore":
                    target = os.path.join(WORK, "restore")
                    shutil.rmtree(target, ignore_errors=True)
                    rows[t.name].append(t.restore(target))
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    rows[t.name].append(t.backup(src))
        for t in tools:
            res[t.name][op] = median(rows[t.name])
    return res


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except OSError:
        return "?"


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    fs = subprocess.run(["df", "-T", WORK], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Linux {platform.release()}, "
            f"work directory on {fs}; {version([DVALIN, 'version'])}, "
            f"{version(['restic', 'version'])}, {version(['borg', '--version'])}")


def fmt_ratio(a, b):
    return f"{a / b:.2f}" if b else "-"


def table(name, res, bnd):
    lines = [f"### {name}", "",
             "| operation | dvalin s | restic s | borg s | dvalin/restic | dvalin/borg | bound s | dvalin/bound | dvalin cpu s | restic cpu s | borg cpu s | dvalin MB RSS | restic MB RSS | borg MB RSS |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    bound_of = {"first backup": "read all", "unchanged re-backup": "stat walk",
                "1% touched re-backup": "stat walk", "full restore": "tar x"}
    for op in ("first backup", "unchanged re-backup", "1% touched re-backup", "full restore"):
        d, r, b = res["dvalin"][op], res["restic"][op], res["borg"][op]
        bd = bnd.get(bound_of[op], (0, 0, 0))[0]
        lines.append(f"| {op} | {d[0]:.2f} | {r[0]:.2f} | {b[0]:.2f} | {fmt_ratio(d[0], r[0])} | "
                     f"{fmt_ratio(d[0], b[0])} | {bd:.2f} | {fmt_ratio(d[0], bd)} | {d[1]:.2f} | "
                     f"{r[1]:.2f} | {b[1]:.2f} | {d[2]:.0f} | {r[2]:.0f} | {b[2]:.0f} |")
    sz = {t: res[t]["repository MB"] for t in res}
    lines.append(f"| repository size MB | {sz['dvalin']:.0f} | {sz['restic']:.0f} | {sz['borg']:.0f} | "
                 f"{fmt_ratio(sz['dvalin'], sz['restic'])} | {fmt_ratio(sz['dvalin'], sz['borg'])} | | | | | | | | |")
    lines.append("")
    lines.append("Bounds (median): " + ", ".join(f"{k} {v[0]:.2f} s" for k, v in bnd.items()))
    lines.append("")
    return lines


def main():
    for tool in ("restic", "borg"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed (make bench installs it)")
    os.makedirs(WORK, exist_ok=True)
    tree = prepare_tree()
    out = ["# dvalin benchmark", "", f"Machine: {machine()}.", "",
           f"Each number is the median of {RUNS} runs with a warm page cache; tools alternate. "
           "restic uses its defaults, borg `-C zstd,3` with `repokey-blake2`, dvalin its defaults "
           "(one thread per core). CPU is user+system time; RSS is the peak resident set.", ""]
    if "tree" in WORKLOADS:
        bnd = bounds(tree)
        res = run_workload("tree", tree)
        out += table(f"linux-source-6.1 ({len(files_of(tree))} files, {du(tree) / 1e9:.2f} GB)", res, bnd)
        print("\n".join(out), flush=True)
    if "big" in WORKLOADS:
        big = prepare_big(tree)
        bnd = bounds(big)
        res = run_workload("big", big)
        out += table("large files (4 GiB ext4 image of the tree, sparse; 1 GiB random)", res, bnd)
    text = "\n".join(out) + "\n"
    print(text)
    with open(os.path.join(HERE, "results.md"), "w") as f:
        f.write(text)
    shutil.rmtree(os.path.join(WORK, "repos"), ignore_errors=True)


if __name__ == "__main__":
    main()
