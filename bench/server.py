#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Backups to another machine, on loopback: dvalin over HTTPS (its own
`dvalin server`, self-signed certificate pinned, an append token) and over
SSH (`dvalin serve --stdio` behind a throwaway sshd) against dvalin to a
local directory, restic over SFTP and borg over SSH (`borg serve`), the
same data in the same run: first backup, unchanged re-backup, restore.

The data is Debian's linux-source-6.1 unpacked (as in bench.py); each
number is the median of BENCH_RUNS runs (default 3), tools alternating, a
fresh repository for each first backup.  Wall seconds and the client's CPU
seconds (the server side's CPU is not counted: the tools split work
differently between the two ends).  Bytes sent: for ssh transports what ssh
itself reports ("Transferred: sent N"; encrypted, with framing), for HTTPS
the request bodies dvalin counted (without TLS and HTTP headers).  The
sshd, the dvalin server and every repository live under BENCH_DIR (a tmpfs
when there is room) and are removed at the end; the sshd and the server
are stopped by PID; BENCH_SERVER_SRC names another source tree.  Prints
one table, the issue's goals met or missed,
and writes bench/results-server.md.  Run by `make bench` (after sync.py) or
alone: `/usr/bin/python3 bench/server.py`.
"""
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
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))
import bench  # noqa: E402  (work directory, environment, machine line)
import services  # noqa: E402  (the sshd and the dvalin server the e2e tests use)

RUNS = bench.RUNS
DVALIN = os.path.abspath(os.environ.get("DVALIN_BIN", bench.DVALIN))
SCRATCH = os.path.join(bench.WORK, "server")
SSH_LOG = "BENCH_SSH_LOG"
OPS = ("first backup", "unchanged re-backup", "restore")


def timed(cmd, env, cwd=None):
    """Runs cmd: (wall s, its CPU s, stdout); wait4 gives the CPU time."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as errf:  # a file: a chatty stderr cannot block stdout
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=errf)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.stdout.close()
        errf.seek(0)
        err = errf.read()
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}):\n"
                 f"{err.decode(errors='replace')[-3000:]}")
    return wall, ru.ru_utime + ru.ru_stime, out


def ssh_sent(log):
    """Bytes ssh sent, summed over the connections logged to log."""
    if not os.path.exists(log):
        return None
    with open(log, errors="replace") as f:
        sent = [int(m.group(1)) for m in re.finditer(r"Transferred: sent (\d+), received \d+ bytes", f.read())]
    os.unlink(log)
    return sum(sent) if sent else None


class Tool:
    label = ""

    def __init__(self, env):
        self.env = env
        self.n = 0

    def op(self, cmd, cwd=None):
        """(wall, cpu, bytes sent or None, requests or None) of one command."""
        log = os.path.join(SCRATCH, "ssh.log")
        env = dict(self.env, **{SSH_LOG: log})
        wall, cpu, out = timed(cmd, env, cwd)
        return (wall, cpu, *self.sent(out, log))

    def sent(self, out, log):
        return ssh_sent(log), None

    def restore(self, target):
        os.makedirs(target, exist_ok=True)
        return self.op(self.restore_cmd(target), cwd=target)


class Dvalin(Tool):
    def __init__(self, env, label):
        super().__init__(env)
        self.label = label

    def url(self):
        raise NotImplementedError

    def fresh(self):
        self.n += 1
        subprocess.run([DVALIN, "init", "-q", "-r", self.url()], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def backup(self, src):
        return self.op([DVALIN, "backup", "--json", "-r", self.url(), src])

    def restore_cmd(self, target):
        return [DVALIN, "restore", "--json", "-r", self.url(), "latest", "--target", target]


class DvalinLocal(Dvalin):
    def __init__(self, env):
        super().__init__(env, "dvalin local")

    def url(self):
        return os.path.join(SCRATCH, "repos", f"local-{self.n}")

    def fresh(self):
        shutil.rmtree(self.url(), ignore_errors=True)
        super().fresh()

    def sent(self, out, log):
        return None, None


class DvalinHttps(Dvalin):
    """A new repository on the server for each first backup, reached with an
    append token for every repository (what a nightly client has)."""

    def __init__(self, env, server):
        super().__init__(server.client_env(env, server.add_token("bench", "append")), "dvalin https")
        self.server = server

    def url(self):
        return self.server.url(f"r{self.n}")

    def fresh(self):
        if self.n:
            shutil.rmtree(self.server.repo_dir(f"r{self.n}"), ignore_errors=True)
        self.server.add_repo(f"r{self.n + 1}")
        super().fresh()

    def sent(self, out, log):
        doc = json.loads(out)
        return doc["request_bytes"]["sent"], doc["requests"]


class DvalinSsh(Dvalin):
    def __init__(self, env, sshd, ssh):
        super().__init__(dict(env, DVALIN_SSH_COMMAND=ssh), "dvalin ssh")
        self.sshd = sshd

    def url(self):
        return self.sshd.url(os.path.join(SCRATCH, "repos", f"ssh-{self.n}"))

    def fresh(self):
        shutil.rmtree(os.path.join(SCRATCH, "repos", f"ssh-{self.n}"), ignore_errors=True)
        super().fresh()

    def sent(self, out, log):
        return ssh_sent(log), json.loads(out)["requests"]


class ResticSftp(Tool):
    label = "restic sftp"

    def __init__(self, env, sshd, ssh):
        super().__init__(env)
        self.sshd, self.ssh = sshd, ssh

    def path(self):
        return os.path.join(SCRATCH, "repos", f"restic-{self.n}")

    def args(self):
        return ["restic", "-q", "-r", f"sftp:{self.sshd.alias}:{self.path()}",
                "-o", f"sftp.command={self.ssh} {self.sshd.alias} -s sftp"]

    def fresh(self):
        shutil.rmtree(self.path(), ignore_errors=True)
        self.n += 1
        subprocess.run(self.args() + ["init"], env=self.env, check=True, capture_output=True)

    def backup(self, src):
        return self.op(self.args() + ["backup", src])

    def restore_cmd(self, target):
        return self.args() + ["restore", "latest", "--target", target]


class BorgSsh(Tool):
    label = "borg ssh"

    def __init__(self, env, sshd, ssh):
        super().__init__(dict(env, BORG_RSH=ssh))
        self.sshd = sshd
        self.archives = 0

    def path(self):
        return os.path.join(SCRATCH, "repos", f"borg-{self.n}")

    def url(self):
        return f"ssh://{self.sshd.alias}{self.path()}"

    def fresh(self):
        shutil.rmtree(self.path(), ignore_errors=True)
        self.n += 1
        subprocess.run(["borg", "init", "-e", "repokey-blake2", self.url()], env=self.env, check=True,
                       capture_output=True)

    def backup(self, src):
        self.archives += 1
        return self.op(["borg", "create", "-C", "zstd,3", f"{self.url()}::a{self.archives}", src])

    def restore_cmd(self, target):
        return ["borg", "extract", f"{self.url()}::a{self.archives}"]


def ssh_wrapper(sshd):
    """An ssh that uses the test sshd's client config and logs (with -v, to
    the file $BENCH_SSH_LOG) the "Transferred: sent N" line at its exit."""
    path = os.path.join(SCRATCH, "bin", "ssh-bench")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\n[ -z \"${{{SSH_LOG}:-}}\" ] || "
                f"exec /usr/bin/ssh -F {sshd.config} -v -E \"${SSH_LOG}\" \"$@\"\n"
                f"exec /usr/bin/ssh -F {sshd.config} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def mb(b):
    return f"{b / 1e6:.1f}" if b is not None else "–"


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    for tool in ("restic", "borg"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed (make bench installs it)")
    if not os.path.exists("/usr/sbin/sshd"):
        sys.exit("bench: /usr/sbin/sshd is missing (apt-get install openssh-server)")
    src = os.path.abspath(os.environ["BENCH_SERVER_SRC"]) if os.environ.get("BENCH_SERVER_SRC") \
        else bench.prepare_tree()
    shutil.rmtree(SCRATCH, ignore_errors=True)
    os.makedirs(os.path.join(SCRATCH, "repos"))
    os.chmod(SCRATCH, 0o755)
    env = dict(bench.ENV, XDG_CACHE_HOME=os.path.join(SCRATCH, "cache"),
               RESTIC_CACHE_DIR=os.path.join(SCRATCH, "cache", "restic"),
               BORG_BASE_DIR=os.path.join(SCRATCH, "cache", "borg"))
    remote_path = os.path.dirname(DVALIN) + ":/usr/local/bin:/usr/bin:/bin"
    sshd = services.Sshd(remote_env={"PATH": remote_path}).start()
    server = None
    try:
        # the server's data on the same file system as the local repository
        server = services.DvalinServer(DVALIN, state_base=SCRATCH).start()
        ssh = ssh_wrapper(sshd)
        tools = [DvalinLocal(env), DvalinHttps(env, server), DvalinSsh(env, sshd, ssh),
                 ResticSftp(env, sshd, ssh), BorgSsh(env, sshd, ssh)]
        res = {t.label: {op: [] for op in OPS} for t in tools}
        # warm-up: the page cache holds the source
        subprocess.run(f"tar cf - -C '{os.path.dirname(src)}' '{os.path.basename(src)}' | cat > /dev/null",
                       shell=True, check=True)
        for _ in range(RUNS):
            for t in tools:
                t.fresh()
                res[t.label]["first backup"].append(t.backup(src))
        for _ in range(RUNS):
            for t in tools:
                res[t.label]["unchanged re-backup"].append(t.backup(src))
        target = os.path.join(SCRATCH, "restore")
        for _ in range(RUNS):
            for t in tools:
                shutil.rmtree(target, ignore_errors=True)
                res[t.label]["restore"].append(t.restore(target))
                shutil.rmtree(target, ignore_errors=True)
        sizes = {"dvalin local": bench.du(tools[0].url()),
                 "dvalin https": bench.du(server.repo_dir(f"r{tools[1].n}")),
                 "dvalin ssh": bench.du(os.path.join(SCRATCH, "repos", f"ssh-{tools[2].n}")),
                 "restic sftp": bench.du(tools[3].path()), "borg ssh": bench.du(tools[4].path())}
    finally:
        if server:
            server.stop(check=False)
        sshd.stop(check=False)
        cmd = f"du -sb '{src}' | cut -f1; find '{src}' -type f | wc -l"
        size, nfiles = subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.split()
        shutil.rmtree(SCRATCH, ignore_errors=True)
    report(src, int(size), int(nfiles), res, sizes)


def median(rows, i):
    vals = [r[i] for r in rows if r[i] is not None]
    return statistics.median(vals) if vals else None


def report(src, size, nfiles, res, sizes):
    labels = list(res)
    out = [f"### server: {os.path.basename(src)} ({nfiles} files, {size / 1e9:.2f} GB) over loopback", "",
           f"Machine: {bench.machine()}; OpenSSH {ssh_version()}.  Medians of {RUNS} runs, tools "
           "alternating, page cache warm; wall seconds (client CPU seconds), MB sent.", "",
           "| operation | " + " | ".join(labels) + " | https / local | ssh / local | restic sftp / https |",
           "|---" * (len(labels) + 4) + "|"]
    med = {lb: {op: (median(res[lb][op], 0), median(res[lb][op], 1), median(res[lb][op], 2))
                for op in OPS} for lb in labels}
    for op in OPS:
        cells = [f"{med[lb][op][0]:.2f} ({med[lb][op][1]:.1f})" for lb in labels]
        loc, https, sh, rs = (med[x][op][0] for x in ("dvalin local", "dvalin https", "dvalin ssh",
                                                       "restic sftp"))
        out.append(f"| {op} | " + " | ".join(cells) +
                   f" | {ratio(https, loc):.2f} | {ratio(sh, loc):.2f} | {ratio(rs, https):.1f} |")
    for op in OPS:
        out.append(f"| MB sent, {op} | " + " | ".join(mb(med[lb][op][2]) for lb in labels) + " | | | |")
    out.append("| repository MB | " + " | ".join(f"{sizes[lb] / 1e6:.0f}" for lb in labels) + " | | | |")
    out.append("")
    for lb in ("dvalin https", "dvalin ssh"):
        out.append(f"Requests of {lb} (the last run): " + "; ".join(
            f"{op} " + ", ".join(f"{k} {v}" for k, v in (res[lb][op][-1][3] or {}).items() if v)
            for op in OPS) + ".")
    out.append("")
    m = {op: {lb: med[lb][op][0] for lb in labels} for op in OPS}
    goals = [
        ("HTTPS first backup within 1.3x of local", ratio(m["first backup"]["dvalin https"],
                                                          m["first backup"]["dvalin local"]), 1.3, "<="),
        ("HTTPS restore within 1.3x of local", ratio(m["restore"]["dvalin https"],
                                                     m["restore"]["dvalin local"]), 1.3, "<="),
        ("HTTPS unchanged re-backup within 1.5x of local",
         ratio(m["unchanged re-backup"]["dvalin https"], m["unchanged re-backup"]["dvalin local"]), 1.5, "<="),
        ("HTTPS unchanged re-backup at least 5x faster than restic over SFTP",
         ratio(m["unchanged re-backup"]["restic sftp"], m["unchanged re-backup"]["dvalin https"]), 5, ">="),
    ]
    out.append("| goal (issue 10) | measured | met |")
    out.append("|---|---|---|")
    for name, val, lim, how in goals:
        ok = val <= lim if how == "<=" else val >= lim
        out.append(f"| {name} | {val:.2f}x | {'yes' if ok else 'NO'} |")
    out.append("")
    text = "\n".join(out) + "\n"
    sys.stdout.write("\n" + text)
    with open(os.path.join(HERE, "results-server.md"), "w") as f:
        f.write("# make bench: server\n\n" + text)


def ssh_version():
    p = subprocess.run(["/usr/bin/ssh", "-V"], capture_output=True, text=True)
    return (p.stderr or p.stdout).strip().split(",")[0].replace("OpenSSH_", "")


if __name__ == "__main__":
    main()
