# SPDX-License-Identifier: BSD-2-Clause
"""Exit statuses: one meaning each (src/cli/cli.h, dvalin(1) EXIT STATUS,
`dvalin --help`), each produced here by a real run, and the three lists
kept in agreement with each other."""
import glob
import os
import re
import signal
import subprocess
import time

from conftest import DVALIN, ROOT, base_env, run

SMART = os.path.join(ROOT, "tests", "fixtures", "smart")
ZPOOL = os.path.join(ROOT, "tests", "fixtures", "zpool")

# The table, as cli.h defines it.
TABLE = {"EXIT_OK": 0, "EXIT_FAIL": 1, "EXIT_USAGE": 2, "EXIT_PARTIAL": 3, "EXIT_WARNING": 4,
         "EXIT_FAILING": 5, "EXIT_DAMAGE": 6, "EXIT_INTERRUPTED": 130}


def test_cli_h_man_page_and_help_agree():
    header = open(os.path.join(ROOT, "src", "cli", "cli.h")).read()
    found = dict((k, int(v)) for k, v in re.findall(r"\b(EXIT_[A-Z]+) = (\d+)", header))
    assert found == TABLE
    man = open(os.path.join(ROOT, "docs", "dvalin.1")).read()
    section = man.split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
    listed = [int(x) for x in re.findall(r"^\.IP \\fB(\d+)\\fR", section, re.M)]
    assert listed == sorted(TABLE.values()), section
    helptext = run(["--help"]).out.split("Exit status:", 1)[1]
    assert sorted(int(x) for x in re.findall(r"(?:^|\s)(\d+)\s{2,}\S", helptext)) == sorted(TABLE.values())


def test_0_ok_1_error_2_usage(world):
    assert run(["version"]).rc == 0
    assert run(["snapshots", "-r", os.path.join(world, "nope")]).rc == 1
    assert run(["snapshots", "--frobnicate"]).rc == 2
    assert run(["frobnicate"]).rc == 2
    # a missing repository is bad usage, not a failure of the command
    r = run(["snapshots"])
    assert r.rc == 2 and "no repository given" in r.err, r


def test_3_backup_incomplete(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    open(os.path.join(src, "ok"), "w").write("fine\n")
    open(os.path.join(src, "secret"), "w").write("no\n")
    os.chmod(os.path.join(src, "secret"), 0)
    as_nobody = os.geteuid() == 0
    if as_nobody:
        subprocess.run(["chown", "-R", "65534:65534", repo], check=True)
    r = run(["backup", "-r", repo, src], user="nobody" if as_nobody else None)
    assert r.rc == 3 and "secret" in r.err, r


def test_4_warning_5_failing_for_disks_and_pools():
    assert run(["disks", "--from", os.path.join(SMART, "scrutiny_nvme_intel660p_healthy.json")]).rc == 0
    warning = os.path.join(SMART, "scrutiny_nvme_samsung970evo_passed_media_errors7.json")
    assert run(["disks", "--from", warning]).rc == 4
    failing = os.path.join(SMART, "own_ata_end_to_end_184_failing_now_passed.json")
    assert run(["disks", "--from", failing]).rc == 5
    assert run(["disks", "--from", warning, failing]).rc == 5, "failing outranks a warning"
    degraded = os.path.join(ZPOOL, "zpoolexporter_degraded_unavail_cksum100980_was_path.txt")
    assert run(["zpool-check", "--from", degraded]).rc == 5


def test_6_damage_found_by_check(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    open(os.path.join(src, "big"), "wb").write(os.urandom(300000))
    assert run(["backup", "-r", repo, src]).rc == 0
    assert run(["check", "-r", repo]).rc == 0
    packs = [p for p in glob.glob(os.path.join(repo, "data", "*", "*")) if os.path.getsize(p) > 200000]
    os.unlink(packs[0])
    r = run(["check", "-r", repo])
    assert r.rc == 6, r
    # a check that cannot run at all is an error, not damage
    assert run(["check", "-r", os.path.join(world, "nope")]).rc == 1


def test_130_interrupted(world, repo):
    """dvalin dies of SIGINT, which a shell reports as 128 + 2 = 130 (and a
    calling shell script stops too).  The run waits in its password command."""
    env = base_env()
    del env["DVALIN_PASSWORD"]
    env["DVALIN_PASSWORD_COMMAND"] = "sleep 30; echo x"
    # its own process group, so that the sleep can be ended afterwards
    p = subprocess.Popen([DVALIN, "snapshots", "-r", repo], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=60)
        assert p.returncode == -signal.SIGINT
    finally:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
