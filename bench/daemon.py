#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The daemon's own cost: memory (RSS, PSS) and CPU of `dvalin daemon` while
idle (with its web UI up and a scrape of /metrics every 5 s, as Prometheus
would) and while one of its jobs backs up a tree (the backup runs in a
child process, measured apart).

    /usr/bin/python3 bench/daemon.py [SOURCE] [IDLE_SECONDS]

SOURCE defaults to /usr/share.  Everything lives in a temporary directory
that is removed at the end."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DVALIN = os.environ.get("DVALIN_BIN", os.path.join(os.path.dirname(HERE), "dvalin"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def memory_kib(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Rss", "Pss"):
                out[k] = int(v.split()[0])
    return out


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "/usr/share"
    idle = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    tmp = tempfile.mkdtemp(prefix="dvalin-daemon-bench-")
    env = dict(os.environ, DVALIN_PASSWORD="bench")
    try:
        repo = os.path.join(tmp, "repo")
        subprocess.run([DVALIN, "init", "-r", repo, "--kdf-log-n", "10"], env=env, check=True,
                       capture_output=True)
        h = subprocess.run([DVALIN, "daemon", "--hash-password"], input="bench\n", text=True,
                           capture_output=True, check=True).stdout.strip()
        conf = os.path.join(tmp, "dvalin.conf")
        with open(conf, "w") as f:
            f.write(f"[daemon]\nstate-dir = {tmp}/state\n\n[repository r]\nlocation = {repo}\n\n"
                    f"[backup tree]\nrepository = r\npath = {source}\nmax-age = 26h\n\n"
                    f"[check r]\nrepository = r\nschedule = yearly\n\n"
                    f"[web]\nlisten = 127.0.0.1:0\nuser = bench {h}\n")
        log = open(os.path.join(tmp, "daemon.log"), "w")
        p = subprocess.Popen([DVALIN, "daemon", "--config", conf], env=env, stdout=log, stderr=log)
        port = None
        for _ in range(200):
            m = re.search(r"\(port (\d+)\)", open(log.name).read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.05)
        time.sleep(2)  # the first repository measurement
        c0, t0 = cpu_seconds(p.pid), time.time()
        peak = {"Rss": 0, "Pss": 0}
        while time.time() - t0 < idle:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read()
            m = memory_kib(p.pid)
            peak = {k: max(peak[k], m[k]) for k in peak}
            time.sleep(5)
        idle_cpu = (cpu_seconds(p.pid) - c0) / (time.time() - t0)
        idle_mem = memory_kib(p.pid)
        sock = os.path.join(tmp, "state", "control.sock")
        subprocess.run(["curl", "-s", "-X", "POST", "--unix-socket", sock, "http://localhost/api/jobs/tree/run"],
                       check=True, capture_output=True)
        c0, t0 = cpu_seconds(p.pid), time.time()
        dpeak = {"Rss": 0, "Pss": 0}
        cpeak, ccpu = 0, {}
        while True:
            m = memory_kib(p.pid)
            dpeak = {k: max(dpeak[k], m[k]) for k in dpeak}
            for c in children(p.pid):
                try:
                    cpeak = max(cpeak, memory_kib(c)["Rss"])
                    ccpu[c] = cpu_seconds(c)
                except OSError:
                    pass
            out = subprocess.run(["curl", "-s", "--unix-socket", sock, "http://localhost/api/jobs"],
                                 capture_output=True, text=True).stdout
            job = [j for j in json.loads(out)["jobs"] if j["name"] == "tree"][0]
            if not job["running"] and not job["queued"] and job["last_run"]:
                break
            time.sleep(0.2)
        wall = time.time() - t0
        busy_cpu = cpu_seconds(p.pid) - c0
        last = job["last_run"]
        p.send_signal(signal.SIGTERM)
        p.wait(60)
        print(f"source {source}: {last['summary']['files']} files, "
              f"{last['summary']['bytes_read'] / 1e6:.0f} MB read, run status {last['status']}")
        print("| | daemon RSS | daemon PSS | daemon CPU | backup child |")
        print("|---|---|---|---|---|")
        print(f"| idle {idle} s, /metrics every 5 s | {idle_mem['Rss'] / 1024:.1f} MiB (peak {peak['Rss'] / 1024:.1f}) "
              f"| {idle_mem['Pss'] / 1024:.1f} MiB | {idle_cpu * 100:.3f} % of a core | - |")
        print(f"| backup, {wall:.1f} s | peak {dpeak['Rss'] / 1024:.1f} MiB | peak {dpeak['Pss'] / 1024:.1f} MiB "
              f"| {busy_cpu:.2f} s ({busy_cpu / wall * 100:.2f} % of a core) "
              f"| peak RSS {cpeak / 1024:.0f} MiB, {sum(ccpu.values()):.1f} s CPU |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
