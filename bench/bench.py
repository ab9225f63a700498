#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""dvalin against restic and borg, on the same data, in one run.

Workloads (BENCH_WORKLOADS, comma-separated):
  files1m    1,000,000 files of 0-8 KiB in ~3,000 directories, some nested
             12 deep, generated deterministically by bench/mktree.c
  files200k  the same generator, 200,000 files
  files3m    3,000,000 files of 0-1 KiB: dvalin only, for its memory
  linux      Debian's linux-source-6.1 unpacked (78k files)
  random     one file of BENCH_BIG_GB GiB of random data (incompressible)
  tar        the first BENCH_BIG_GB GiB of a tar of /usr (compressible)
For each workload and tool: first backup, unchanged re-backup, re-backup
after changing 1% of the files, full restore; each the median of
BENCH_RUNS runs (default 3), tools alternating, page cache warm, nothing
left dirty (a `sync` before each), with wall time, CPU time (user+system),
peak RSS and the repository size.
Bounds are measured in the same run on the same machine: a stat walk
(`find -printf '%s %T@ %i\\n'`), reading every byte, `tar x`, and for the
large files what the primitives allow on all cores: `openssl speed`
(HMAC-SHA-256, AES-256-GCM), `zstd -b3` and build/chunk_bench (the chunk
boundary search).  dvalin with the change journal gets its own rows where
the journal can run here.

BENCH_QUICK=1 is the development mode: files100k, random and tar at
1 GiB, one run, tools that are not installed are left out.

BENCH_BASELINE=/path/to/dvalin adds another dvalin build (main's, say) as
a tool of its own, named by BENCH_BASELINE_NAME (default "baseline"):
measured in the same run, alternating with the others, so that what a
branch changed is seen under the same load.

Environment: BENCH_DIR (work directory; default a tmpfs under /dev/shm when
it has room, else bench/work), BENCH_RUNS, BENCH_WORKLOADS, BENCH_BIG_GB,
BENCH_QUICK, BENCH_BASELINE, BENCH_BASELINE_NAME, BENCH_OTHERS (the other
tools to run, default "restic,borg"; empty for dvalin alone), BENCH_OPS
(the small-file operations to run, comma-separated, default all four) and
BENCH_RESULTS (the file name under bench/ for the results),
BENCH_ONE_REPO=1 (one tool's repository at a time for every workload, not
only for large files on a tmpfs: for a tmpfs without room for several),
BENCH_LOOP (the small-file workloads whose tree and repositories go on an
ext4 file system of their own, a sparse image under build/ loop-mounted as
bench/journal.py does, needs root; default "files1m,files3m": their ~4 GB
trees and repositories of several GB do not belong on a tmpfs, which is
RAM; empty for none).  Results go to stdout and bench/results.md
(bench/results-quick.md in the quick mode).
"""
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

from loopfs import loop_fs

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DVALIN = os.path.join(ROOT, "dvalin")
MKTREE = os.path.join(ROOT, "build", "mktree")
CHUNK_BENCH = os.path.join(ROOT, "build", "chunk_bench")
QUICK = os.environ.get("BENCH_QUICK") == "1"
RUNS = int(os.environ.get("BENCH_RUNS", "1" if QUICK else "3"))
WORKLOADS = os.environ.get(
    "BENCH_WORKLOADS",
    "files100k,random,tar" if QUICK else "files1m,files200k,files3m,linux,random,tar").split(",")
BIG_GB = float(os.environ.get("BENCH_BIG_GB", "1" if QUICK else "8"))
OTHERS = os.environ.get("BENCH_OTHERS", "restic,borg").split(",")
BASELINE = os.environ.get("BENCH_BASELINE")
BASELINE_NAME = os.environ.get("BENCH_BASELINE_NAME", "baseline")
LOOP = [w for w in os.environ.get("BENCH_LOOP", "files1m,files3m").split(",") if w]
PASSWORD = "bench password"
CORES = os.cpu_count() or 1


def pick_workdir():
    if os.environ.get("BENCH_DIR"):
        return os.environ["BENCH_DIR"]
    st = os.statvfs("/dev/shm") if os.path.isdir("/dev/shm") else None
    if st and st.f_bavail * st.f_frsize > 16 << 30:
        return "/dev/shm/dvalin-bench"
    return os.path.join(HERE, "work")


WORK = pick_workdir()
DISK_WORK = os.path.join(HERE, "work")
ENV = dict(os.environ, DVALIN_PASSWORD=PASSWORD, RESTIC_PASSWORD=PASSWORD,
           BORG_PASSPHRASE=PASSWORD, RESTIC_CACHE_DIR=os.path.join(WORK, "cache", "restic"),
           BORG_BASE_DIR=os.path.join(WORK, "cache", "borg"),
           BORG_RELOCATED_REPO_ACCESS_IS_OK="yes", BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes")


TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def measure(cmd, cwd=None, shell=False):
    """Runs cmd, after a sync; returns (wall seconds, cpu seconds, peak RSS in MB).

    The peak RSS comes from /usr/bin/time, not from our own wait4: a child
    started by this process inherits our high-water mark at exec (Linux
    keeps the old mm's peak in the process's ru_maxrss), so with the file
    list of a million-file tree in memory every tool would have measured
    at least this script's size (about 130 MB)."""
    rss_file = os.path.join(WORK, ".maxrss")
    argv = ["sh", "-c", cmd] if shell else list(cmd)
    if TIME:
        argv = [TIME, "-f", "%M", "-o", rss_file] + argv
    # what the previous run left dirty is not this one's to write back: a
    # tool that writes through the page cache otherwise slows the next
    # one down (tools alternate), by seconds per GiB on some disks
    subprocess.run(["sync"])
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(cmd) if not shell else cmd} failed:\n{err}")
    rss = ru.ru_maxrss / 1024
    if TIME:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1]) / 1024
        os.unlink(rss_file)
    return wall, ru.ru_utime + ru.ru_stime, rss


def du(path):
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout
    return int(out.split()[0])


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class Tool:
    name = ""

    def __init__(self, workload, base):
        self.repo = os.path.join(base, "repos", f"{self.name}-{workload}")
        self.n = 0

    def fresh(self):
        self.drop()
        os.makedirs(os.path.dirname(self.repo), exist_ok=True)
        subprocess.run(self.init_cmd(), env=ENV, check=True, capture_output=True)

    def drop(self):
        shutil.rmtree(self.repo, ignore_errors=True)


class Dvalin(Tool):
    name = "dvalin"
    bin = DVALIN

    def init_cmd(self):
        return [self.bin, "init", "-q", "-r", self.repo]

    def backup(self, src):
        return measure([self.bin, "backup", "-q", "-r", self.repo, src])

    def restore(self, target):
        return measure([self.bin, "restore", "-q", "-r", self.repo, "latest", "--target", target])


class Baseline(Dvalin):
    """Another dvalin build (BENCH_BASELINE), e.g. main's."""
    name = BASELINE_NAME
    bin = BASELINE


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


def tools_for(workload, base, dvalin_only=False):
    out = [Dvalin(workload, base)]
    if BASELINE:
        out.append(Baseline(workload, base))
    if dvalin_only:
        return out
    for cls, cmd in ((Restic, "restic"), (Borg, "borg")):
        if cmd not in OTHERS:
            continue
        if shutil.which(cmd):
            out.append(cls(workload, base))
        elif not QUICK:
            sys.exit(f"bench: {cmd} is not installed (make bench installs it)")
    return out


# ---------- workloads ----------

def prepare_files(base, n, maxsize=8192):
    src = os.path.join(base, f"files-{n}-{maxsize}")
    if not os.path.isdir(src):
        subprocess.run([MKTREE, src, str(n), str(maxsize)], check=True)
    return src


def prepare_linux(base):
    src = os.path.join(base, "linux-source-6.1")
    if not os.path.isdir(src):
        subprocess.run(["tar", "xf", "/usr/src/linux-source-6.1.tar.xz", "-C", base], check=True)
    return src


def prepare_tree():
    """linux-source unpacked once in WORK: the tree the history workloads copy."""
    return prepare_linux(WORK)


def prepare_random(base, size):
    d = os.path.join(base, f"random-{size >> 20}m")
    f = os.path.join(d, "random.bin")
    if not os.path.exists(f):
        os.makedirs(d, exist_ok=True)
        subprocess.run(f"head -c {size} /dev/urandom > '{f}.tmp' && mv '{f}.tmp' '{f}'",
                       shell=True, check=True)
    return d


def prepare_tar(base, size):
    d = os.path.join(base, f"tar-usr-{size >> 20}m")
    f = os.path.join(d, "usr.tar")
    if not os.path.exists(f):
        os.makedirs(d, exist_ok=True)
        subprocess.run(f"tar cf - -C / usr 2>/dev/null | head -c {size} > '{f}.tmp'; "
                       f"mv '{f}.tmp' '{f}'", shell=True, check=True)
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


def change_or_touch_one_percent(src, files, rnd):
    """Changes 1% of the files: new contents for half of them, a new mtime for the rest."""
    for i, f in enumerate(rnd.sample(files, max(1, len(files) // 100))):
        if i % 2:
            with open(f, "ab") as fh:
                fh.write(b"x")
        else:
            os.utime(f)


def median(rows):
    return tuple(statistics.median(r[i] for r in rows) for i in range(3))


def read_all_cmd(src):
    return f"tar cf - -C '{os.path.dirname(src)}' '{os.path.basename(src)}' | cat > /dev/null"


def bounds(src, base, tarx=True):
    rows = {"stat walk": [], "read all": []} | ({"tar x": []} if tarx else {})
    for _ in range(RUNS):
        rows["stat walk"].append(measure(f"find '{src}' -printf '%s %T@ %i\\n' > /dev/null", shell=True))
        rows["read all"].append(measure(read_all_cmd(src), shell=True))
        if not tarx:
            continue
        t = os.path.join(base, "tarx")
        shutil.rmtree(t, ignore_errors=True)
        os.makedirs(t)
        rows["tar x"].append(measure(f"tar cf - -C '{os.path.dirname(src)}' '{os.path.basename(src)}' | tar xf - -C '{t}'", shell=True))
        shutil.rmtree(t, ignore_errors=True)
    return {k: median(v) for k, v in rows.items()}


OPS = ("first backup", "unchanged re-backup", "1% changed re-backup", "full restore")
SMALL_OPS = tuple(o for o in OPS if not os.environ.get("BENCH_OPS")
                  or o in os.environ["BENCH_OPS"].split(","))
ONE_REPO = os.environ.get("BENCH_ONE_REPO") == "1"


def run_workload(name, src, base, dvalin_only=False, one_repo_at_a_time=False, ops=OPS):
    """Every op for every tool.  With one_repo_at_a_time (large files on a
    tmpfs without room for three repositories) each tool's repository is
    made, measured and removed before the next tool's."""
    tools = tools_for(name, base, dvalin_only)
    res = {t.name: {} for t in tools}
    files = files_of(src)
    measure(read_all_cmd(src), shell=True)  # warm the page cache
    rnd = random.Random(42)
    groups = [[t] for t in tools] if one_repo_at_a_time else [tools]
    first = "first backup" in ops
    for group in groups:
        rows = {t.name: {op: [] for op in ops} for t in group}
        # the re-backups and the restore need a repository with a first
        # backup in it, measured or not (BENCH_OPS may leave it out)
        for i in range(RUNS if first else 1):
            for t in group:
                t.fresh()
                m = t.backup(src)
                if first:
                    rows[t.name]["first backup"].append(m)
        for t in group:
            res[t.name]["repository MB"] = du(t.repo) / 1e6
        for op in ops:
            if op == "first backup":
                continue
            for i in range(RUNS):
                if op.startswith("1%"):
                    change_or_touch_one_percent(src, files, rnd)
                for t in group:
                    if op == "full restore":
                        target = os.path.join(base, "restore")
                        shutil.rmtree(target, ignore_errors=True)
                        rows[t.name][op].append(t.restore(target))
                        shutil.rmtree(target, ignore_errors=True)
                    else:
                        rows[t.name][op].append(t.backup(src))
        for t in group:
            for op in ops:
                res[t.name][op] = median(rows[t.name][op])
            if one_repo_at_a_time:
                t.drop()
    for t in tools:
        t.drop()
    return res


# ---------- the primitives' bound ----------

def openssl_speed(args):
    """Bytes per second at 16 KiB blocks, one core."""
    out = subprocess.run(["openssl", "speed", "-seconds", "2"] + args, capture_output=True,
                         text=True).stdout
    for line in out.splitlines()[::-1]:
        m = re.match(r"^\S+\s+([\d.]+)k\s+([\d.]+)k\s+([\d.]+)k\s+([\d.]+)k\s+([\d.]+)k\s+([\d.]+)k", line)
        if m:
            return float(m.group(6)) * 1000
    return 0.0


def zstd_speed(sample):
    """(compression bytes/s at level 3 on one core, ratio) of a sample file."""
    out = subprocess.run(["zstd", "-b3", "-e3", "-i3", sample], capture_output=True, text=True)
    text = out.stdout + out.stderr
    m = re.findall(r"\(x?\s*([\d.]+)\),\s*([\d.]+)\s*MB/s", text)
    if not m:
        return 0.0, 1.0
    ratio, mbs = m[-1]
    return float(mbs) * 1e6, float(ratio)


def chunk_speed():
    out = subprocess.run([CHUNK_BENCH], capture_output=True, text=True).stdout
    m = re.search(r"scan ([\d.]+) GB/s", out)
    return float(m.group(1)) * 1e9 if m else 0.0


def primitives(tar_sample=None):
    p = {"hmac": openssl_speed(["-hmac", "sha256"]),
         "gcm": openssl_speed(["-evp", "aes-256-gcm"]),
         "chunk": chunk_speed()}
    if tar_sample:
        p["zstd3"], p["ratio"] = zstd_speed(tar_sample)
    return p


def primitive_bound(size, p, compress):
    """Seconds the primitives need for size bytes on every core: the keyed
    hash and the chunk search over every byte, zstd over every byte of
    compressible data, AES-GCM over what is stored."""
    if not p["hmac"] or not p["gcm"] or not p["chunk"]:
        return 0.0
    per_byte = 1 / p["hmac"] + 1 / p["chunk"]
    if compress and p.get("zstd3"):
        per_byte += 1 / p["zstd3"] + 1 / (p["gcm"] * p["ratio"])
    else:
        per_byte += 1 / p["gcm"]
    return size * per_byte / CORES


# ---------- output ----------

def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    fs = subprocess.run(["df", "-T", WORK], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    load = os.getloadavg()[0]
    return (f"{CORES} cores ({cpu}), {mem:.0f} GiB, Linux {platform.release()}, "
            f"work directory on {fs}, load average {load:.1f} at the start; "
            f"{version([DVALIN, 'version'])}, {version(['restic', 'version'])}, "
            f"{version(['borg', '--version'])}"
            + (f"; {BASELINE_NAME} is {BASELINE}" if BASELINE else ""))


def fmt_ratio(a, b):
    return f"{a / b:.2f}" if b else "-"


def cell(res, tool, op, i, fmt):
    v = res.get(tool, {}).get(op)
    return fmt.format(v[i]) if v else "-"


def table(name, res, bnd, bound_of, extra=None):
    """One row per operation: each tool's wall time, dvalin against each
    other tool, the bound, then each tool's CPU time and peak RSS."""
    names = [t for t in ["dvalin", BASELINE_NAME if BASELINE else None, "restic", "borg"]
             if t and t in res]
    others = names[1:]
    head = ([f"{t} s" for t in names] + [f"dvalin/{t}" for t in others] + ["bound s", "dvalin/bound"]
            + [f"{t} cpu s" for t in names] + [f"{t} MB RSS" for t in names])
    lines = [f"### {name}", "", "| operation | " + " | ".join(head) + " |",
             "|---" * (len(head) + 1) + "|"]
    for op in OPS:
        if op not in res["dvalin"]:
            continue
        d = res["dvalin"][op]
        bd = bnd.get(bound_of.get(op, ""), (0, 0, 0))[0]
        row = ([cell(res, t, op, 0, "{:.2f}") for t in names]
               + [fmt_ratio(d[0], res[t][op][0]) if op in res[t] else "-" for t in others]
               + [f"{bd:.2f}", fmt_ratio(d[0], bd)]
               + [cell(res, t, op, 1, "{:.2f}") for t in names]
               + [cell(res, t, op, 2, "{:.0f}") for t in names])
        lines.append(f"| {op} | " + " | ".join(row) + " |")
    sz = {t: res[t]["repository MB"] for t in names}
    row = ([f"{sz[t]:.0f}" for t in names] + [fmt_ratio(sz["dvalin"], sz[t]) for t in others]
           + [""] * (2 + 2 * len(names)))
    lines.append("| repository size MB | " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Bounds (median): " + ", ".join(f"{k} {v[0]:.2f} s ({v[2]:.0f} MB RSS)"
                                                 for k, v in bnd.items()))
    if extra:
        lines.append("")
        lines.extend(extra)
    lines.append("")
    return lines


SMALL_BOUNDS = {"first backup": "read all", "unchanged re-backup": "stat walk",
                "1% changed re-backup": "stat walk", "full restore": "tar x"}


def small_files(out, label, name, src, base, dvalin_only=False):
    bnd = bounds(src, base, "full restore" in SMALL_OPS)
    res = run_workload(name, src, base, dvalin_only=dvalin_only, one_repo_at_a_time=ONE_REPO,
                       ops=SMALL_OPS)
    out += table(f"{label} ({len(files_of(src))} files, {du(src) / 1e9:.2f} GB)", res, bnd,
                 SMALL_BOUNDS)
    print("\n".join(out), flush=True)


def big_file(out, label, name, src, base, size, prims, compress):
    bnd = bounds(src, base)
    prim = primitive_bound(size, prims, compress)
    bnd["primitives"] = (prim, 0, 0)
    tmpfs = base.startswith("/dev/shm")
    res = run_workload(name, src, base, one_repo_at_a_time=tmpfs or ONE_REPO,
                       ops=("first backup", "unchanged re-backup", "full restore"))
    d = res["dvalin"]["first backup"]
    extra = [f"Primitives per core: HMAC-SHA-256 {prims['hmac'] / 1e9:.2f} GB/s, AES-256-GCM "
             f"{prims['gcm'] / 1e9:.2f} GB/s, chunk search {prims['chunk'] / 1e9:.2f} GB/s"
             + (f", zstd -3 {prims['zstd3'] / 1e6:.0f} MB/s (ratio {prims['ratio']:.2f})"
                if compress and prims.get("zstd3") else "")
             + f"; the bound is their sum over every byte on {CORES} cores: {prim:.2f} s. "
             f"dvalin's first backup: {size / d[0] / 1e6:.0f} MB/s, {d[1] / (size / 2**30):.2f} s of "
             f"CPU per GiB, {fmt_ratio(d[0], prim)}x the primitives' bound."]
    if BASELINE:
        e = res[BASELINE_NAME]["first backup"]
        extra.append(f"{BASELINE_NAME}'s first backup: {size / e[0] / 1e6:.0f} MB/s, "
                     f"{e[1] / (size / 2**30):.2f} s of CPU per GiB, {fmt_ratio(e[0], prim)}x the bound.")
    bound_of = {"first backup": "primitives", "unchanged re-backup": "stat walk",
                "full restore": "tar x"}
    out += table(f"{label} ({size / 2**30:.1f} GiB)", res, bnd, bound_of, extra)
    print("\n".join(out), flush=True)


def many_files(out, w):
    """A small-file workload, in WORK or, for those in BENCH_LOOP, on an
    ext4 image of its own sized for the tree and every tool's repository."""
    n = 3000000 if w == "files3m" else int(w[5:].replace("k", "000").replace("m", "000000"))
    maxsize = 1024 if w == "files3m" else 8192
    if w == "files3m":
        label, dvalin_only = "3,000,000 small files (0-1 KiB): dvalin's memory at scale", True
    else:
        label, dvalin_only = f"{n} small files (0-{maxsize // 1024} KiB, bench/mktree.c)", False

    def run_in(base):
        src = prepare_files(base, n, maxsize)
        small_files(out, label, w, src, base, dvalin_only=dvalin_only)
        shutil.rmtree(src, ignore_errors=True)

    if w not in LOOP:
        return run_in(WORK)
    # a 4 KiB block per file at least; the tree again per repository, for tar x
    # and the restore; and room
    ntools = 1 + bool(BASELINE) + (0 if dvalin_only else len([o for o in OTHERS if o]))
    label += ", on a loop-mounted ext4 image"
    blocks = n * (4096 + maxsize // 2)
    with loop_fs(f"bench-{w}-", blocks * (2 + ntools) + (4 << 30), n * 5 // 4 + 100000) as (mnt, _):
        run_in(mnt)


def big_base(size):
    """tmpfs when it holds the source and one repository, else disk."""
    if WORK.startswith("/dev/shm") and free_bytes("/dev/shm") > 2.3 * size + (2 << 30):
        return WORK
    os.makedirs(DISK_WORK, exist_ok=True)
    return DISK_WORK


def main():
    for tool in (MKTREE, CHUNK_BENCH, DVALIN) + ((BASELINE,) if BASELINE else ()):
        if not os.path.exists(tool):
            sys.exit(f"bench: {tool} is missing (make bench builds it)")
    os.makedirs(WORK, exist_ok=True)
    out = ["# dvalin benchmark", "", f"Machine: {machine()}.", "",
           f"Each number is the median of {RUNS} run(s) with a warm page cache; tools alternate. "
           "restic uses its defaults, borg `-C zstd,3` with `repokey-blake2`, dvalin its defaults "
           "(one thread per core). CPU is user+system time; RSS is the peak resident set "
           "(ru_maxrss: heap and mapped pages alike).", ""]
    size = int(BIG_GB * 2**30)
    for w in WORKLOADS:
        if w.startswith("files"):
            many_files(out, w)
        elif w == "linux":
            src = prepare_linux(WORK)
            small_files(out, "linux-source-6.1", w, src, WORK)
        elif w == "random":
            base = big_base(size)
            src = prepare_random(base, size)
            big_file(out, "one file of random data", w, src, base, size, primitives(), False)
            shutil.rmtree(src, ignore_errors=True)
        elif w == "tar":
            base = big_base(size)
            src = prepare_tar(base, size)
            sample = os.path.join(src, "sample")
            subprocess.run(f"head -c {256 << 20} '{src}/usr.tar' > '{sample}'", shell=True,
                           check=True)
            prims = primitives(sample)
            os.unlink(sample)
            big_file(out, "a tar of /usr (compressible)", w, src, base, size, prims, True)
            shutil.rmtree(src, ignore_errors=True)
        else:
            sys.exit(f"bench: unknown workload '{w}'")
    text = "\n".join(out) + "\n"
    print(text)
    res_name = os.environ.get("BENCH_RESULTS", "results-quick.md" if QUICK else "results.md")
    with open(os.path.join(HERE, res_name), "w") as f:
        f.write(text)
    shutil.rmtree(os.path.join(WORK, "repos"), ignore_errors=True)


if __name__ == "__main__":
    main()
