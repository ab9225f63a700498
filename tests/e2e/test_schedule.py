# SPDX-License-Identifier: BSD-2-Clause
"""dvalin schedule: calendar expressions as systemd-analyze calendar shows
them, and the same table of expressions as the unit test compared live
with systemd-analyze where it is installed."""
import importlib.util
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, base_env, run

spec = importlib.util.spec_from_file_location(
    "calendar_table", os.path.join(ROOT, "tests", "unit", "calendar_table.py"))
table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(table)

BASE = "2026-03-28 12:00 UTC"  # @1774699200


def schedule(args, tz="UTC"):
    return run(["schedule"] + args, env=base_env(TZ=tz, LC_ALL="C"))


def without_from_now(text):
    return [line for line in text.splitlines() if not line.strip().startswith("From now:")]


def test_text_output_like_systemd_analyze():
    r = schedule(["Mon..Fri *-*-* 02:30", "--iterations", "3", "--base-time", BASE],
                 tz="Europe/Berlin")
    assert r.rc == 0, r
    assert without_from_now(r.out) == [
        "  Original form: Mon..Fri *-*-* 02:30",
        "Normalized form: Mon..Fri *-*-* 02:30:00",
        "    Next elapse: Mon 2026-03-30 02:30:00 CEST",
        "       (in UTC): Mon 2026-03-30 00:30:00 UTC",
        "       Iter. #2: Tue 2026-03-31 02:30:00 CEST",
        "       (in UTC): Tue 2026-03-31 00:30:00 UTC",
        "       Iter. #3: Wed 2026-04-01 02:30:00 CEST",
        "       (in UTC): Wed 2026-04-01 00:30:00 UTC",
    ]
    # the base time is in March 2026, long before the machine's clock
    assert re.search(r"       From now: \d+ (months?|years?) \d+ (days?|months?) ago\n", r.out)


def test_default_five_times_from_now_and_never():
    r = schedule(["minutely", "*-02-30"])
    assert r.rc == 0, r
    first, second = r.out.split("\n\n")
    assert first.count("Iter. #") == 4 and "Iter. #5:" in first
    assert re.search(r"Next elapse: .* UTC\n       From now: (\d+s|1min 0s) left\n", first)
    assert "(in UTC)" not in first
    assert second == "  Original form: *-02-30\nNormalized form: *-02-30 00:00:00\n    Next elapse: never\n"


def test_daylight_saving_time_in_the_table():
    # the March gap skips 02:30, the October repeat runs it once
    r = schedule(["02:30", "--iterations", "2", "--base-time", "@1774738800"], tz="Europe/Berlin")
    assert "    Next elapse: Mon 2026-03-30 02:30:00 CEST\n" in r.out
    r = schedule(["02:30", "--iterations", "2", "--base-time", "2026-10-25 00:00 Europe/Berlin"],
                 tz="Europe/Berlin")
    assert without_from_now(r.out)[2:] == [
        "    Next elapse: Sun 2026-10-25 02:30:00 CEST",
        "       (in UTC): Sun 2026-10-25 00:30:00 UTC",
        "       Iter. #2: Mon 2026-10-26 02:30:00 CET",
        "       (in UTC): Mon 2026-10-26 01:30:00 UTC",
    ]


def test_json():
    r = schedule(["--json", "daily Europe/Berlin", "--iterations=2", "--base-time=@1774699200",
                  "*:*:30.5", "Fri..Mon"])
    assert r.rc == 1
    assert r.err == ("dvalin: invalid calendar expression 'Fri..Mon': weekday range ends before it "
                     "starts (it cannot wrap past Sunday) (column 6)\n")
    doc = r.json()["schedules"]
    assert doc[0] == {
        "original": "daily Europe/Berlin", "normalized": "*-*-* 00:00:00 Europe/Berlin",
        "zone": "Europe/Berlin",
        "next": ["2026-03-28T23:00:00.000000000+00:00", "2026-03-29T22:00:00.000000000+00:00"]}
    assert doc[1]["zone"] is None and doc[1]["next"][0] == "2026-03-28T12:00:30.500000000+00:00"
    assert doc[2] == {"original": "Fri..Mon", "error": r.err[len("dvalin: "):-1]}
    # times carry the local zone's offset, never is an empty list
    r = schedule(["--json", "02:30", "2020-01-01", "--iterations=1", "--base-time=@1774699200"],
                 tz="Europe/Berlin")
    assert r.rc == 0 and [s["next"] for s in r.json()["schedules"]] == [
        ["2026-03-30T02:30:00.000000000+02:00"], []]


def test_errors():
    cases = [
        (["Mon..Fri 25:00"], 1,
         "dvalin: invalid calendar expression 'Mon..Fri 25:00': hour 25 out of range 0..23 (column 10)\n"),
        (["daily Mars/Olympus"], 1,
         "dvalin: invalid calendar expression 'daily Mars/Olympus': unknown time zone 'Mars/Olympus' "
         "(column 7)\n"),
        (["daily", "--base-time", "12:00"], 1,
         "dvalin: --base-time '12:00' is not one point in time (give a date and a time)\n"),
        (["daily", "--base-time", "yesterday"], 1,
         "dvalin: --base-time: invalid calendar expression 'yesterday': unexpected 'y', expected a "
         "number (column 1)\n"),
        (["daily", "--iterations", "many"], 2,
         "dvalin schedule: --iterations takes a number from 0 to 1000 (see 'dvalin schedule --help')\n"),
        ([], 2, "dvalin schedule: needs a calendar expression (see 'dvalin schedule --help')\n"),
    ]
    for args, rc, err in cases:
        r = schedule(args)
        assert (r.rc, r.err) == (rc, err), args
        assert r.out == "" or rc == 1


def test_base_time_forms_agree():
    outs = set()
    for base in ["@1774699200", "2026-03-28 12:00 UTC", "2026-03-28 13:00:00 Europe/Berlin",
                 "Sat 2026-03-28 08:00 America/New_York"]:
        r = schedule(["hourly", "--iterations", "1", "--base-time", base])
        assert r.rc == 0, (base, r)
        outs.add(tuple(without_from_now(r.out)))
    assert outs == {("  Original form: hourly", "Normalized form: *-*-* *:00:00",
                     "    Next elapse: Sat 2026-03-28 13:00:00 UTC")}


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
@pytest.mark.parametrize("tz,base", table.CONTEXTS)
def test_same_as_systemd_analyze_live(tz, base):
    """Every expression of the table, in one context: the whole output of
    systemd-analyze and of dvalin schedule, line by line (but for "From
    now", which counts from each program's own now)."""
    exprs = table.VALID + table.INVALID
    env = base_env(TZ=tz, LC_ALL="C")
    args = ["--iterations=3", f"--base-time=@{base}"] + exprs
    want = subprocess.run(["systemd-analyze", "calendar"] + args, env=env, capture_output=True,
                          text=True)
    got = run(["schedule"] + args, env=env)
    assert want.returncode != 0 and got.rc == 1  # the invalid ones
    assert without_from_now(got.out) == without_from_now(want.stdout)
    # every invalid expression is reported, each on one line
    assert len(got.err.splitlines()) == len(table.INVALID)
