# SPDX-License-Identifier: BSD-2-Clause
"""dvalin disks and zpool-check: verdicts on real smartctl and zpool outputs
(tests/fixtures/*/SOURCES.md), every rule, growth between readings, exit
codes, the JSON shape, live runs through a stand-in smartctl."""
import copy
import json
import os
import stat

import pytest

from conftest import ROOT, base_env, run

SMART = os.path.join(ROOT, "tests", "fixtures", "smart")
ZPOOL = os.path.join(ROOT, "tests", "fixtures", "zpool")

# fixture -> (dvalin's verdict, smartctl's own overall assessment)
SMART_VERDICTS = {
    "exporter_ata_hdd_hgst_passed_icrc_errlog12_crc199.json": ("warning", "PASSED"),
    "exporter_ata_hdd_seagate_st3000nm0033_packed_raw188_realloc1.json": ("warning", "PASSED"),
    "exporter_ata_hdd_seagate_st3200820as_passed_errlog98_100k_hours.json": ("warning", "PASSED"),
    "exporter_ata_hdd_seagate_st3500418as_passed_realloc304.json": ("failing", "PASSED"),
    "exporter_ata_ssd_micron5300_e2e184_raw1_value99.json": ("warning", "PASSED"),
    "exporter_nvme_intel_p4510_passed_percentage_used75.json": ("ok", "PASSED"),
    "exporter_nvme_samsung_mzwll3t2_failed_critical_warning_0x10.json": ("failing", "FAILED"),
    "exporter_scsi_seagate_st373453lc_grown260_uncorrected_write535.json": ("failing", "PASSED"),
    "libblockdev_ata_hdd_hgst_passed_realloc1040_pending878_uncorr1272.json": ("failing", "PASSED"),
    "libblockdev_scsi_sas_ssd_hgst_husmr3280_healthy.json": ("ok", "PASSED"),
    "netdata_ata_hdd_wd181kryz_healthy.json": ("ok", "PASSED"),
    "netdata_ata_ssd_wd_red_sa500_healthy.json": ("ok", "PASSED"),
    "scrutiny_ata_hdd_hitachi_usbjmicron_failed_realloc5_failing_now.json": ("failing", "FAILED"),
    "scrutiny_ata_hdd_wd140edfz_EDITED_counters10_trend.json": ("failing", "PASSED"),
    "scrutiny_ata_hdd_wd140edfz_healthy.json": ("ok", "PASSED"),
    "scrutiny_ata_hdd_wd4000fyyx_megaraid_passed_realloc387.json": ("failing", "PASSED"),
    "scrutiny_ata_ssd_samsung840_crc199_108_scrutiny_failed.json": ("warning", "PASSED"),
    "scrutiny_ata_ssd_samsung860evo_healthy_xall.json": ("ok", "PASSED"),
    "scrutiny_nvme_corsair_mp510_passed_errlog_entries8382.json": ("ok", "PASSED"),
    "scrutiny_nvme_intel660p_healthy.json": ("ok", "PASSED"),
    "scrutiny_nvme_samsung970evo_passed_media_errors7.json": ("warning", "PASSED"),
    "scrutiny_scsi_seagate_st1200mm0088_healthy.json": ("ok", "PASSED"),
    "scrutiny_scsi_seagate_st4000nm0043_grown56.json": ("warning", "PASSED"),
    "starosdev_ata_ssd_micron_m4_healthy_xall.json": ("ok", "PASSED"),
    "telegraf_nvme_sabrent_rocket4_healthy_smartctl74.json": ("ok", "PASSED"),
    "telegraf_scsi_sas_seagate_healthy_smartctl74.json": ("ok", "PASSED"),
    "pyprobe_text_ata_hdd_samsung_hd204ui_failed_spinup3_failing_now.txt": ("failing", "FAILED"),
    "pyprobe_text_ata_hdd_seagate_st31500341as_failed_realloc4095.txt": ("failing", "FAILED"),
    "pyprobe_text_ata_hdd_seagate_st9160821a_passed_pending2_selftest_read_failure.txt": ("failing", "PASSED"),
    "pyprobe_text_ata_hdd_wd2001fass_failed_realloc927_pending338.txt": ("failing", "FAILED"),
    "pyprobe_text_ata_ssd_stec_pata_failed_many_failing_now.txt": ("failing", "FAILED"),
    "own_ata_end_to_end_184_failing_now_passed.json": ("failing", "PASSED"),
}
EXIT = {"ok": 0, "warning": 4, "failing": 5}  # dvalin(1), EXIT STATUS


def disks(*args, env=None):
    return run(["disks", "--json", *args], env=env)


def one(path, *args):
    r = disks("--from", path, *args)
    assert r.rc in (0, 4, 5), r
    d = r.json()["disks"]
    assert len(d) == 1
    return r.rc, d[0]


def codes(disk, *sev):
    return {f["code"] for f in disk["findings"] if not sev or f["severity"] in sev}


def test_every_fixture_is_listed():
    files = {f for f in os.listdir(SMART) if f.endswith((".json", ".txt"))}
    assert files == set(SMART_VERDICTS)


@pytest.mark.parametrize("name", sorted(SMART_VERDICTS))
def test_fixture_verdict(name):
    want, smartctl_says = SMART_VERDICTS[name]
    rc, d = one(os.path.join(SMART, name))
    assert d["verdict"] == want, d["findings"]
    assert rc == EXIT[want]
    if d["smart_passed"] is not None:
        assert d["smart_passed"] == (smartctl_says == "PASSED")


def test_the_184_story_is_failing_although_passed():
    rc, d = one(os.path.join(SMART, "own_ata_end_to_end_184_failing_now_passed.json"))
    assert rc == EXIT["failing"] and d["smart_passed"] is True and d["verdict"] == "failing"
    f = [x for x in d["findings"] if x["code"] == "ata-attr-184"][0]
    assert f["severity"] == "failing" and "failing now" in f["message"]
    assert "value 1, worst 1, thresh 99" in f["source"] and "raw 420" in f["source"]
    assert {"ata-count-184", "ata-error-log", "smartctl-error-log"} <= codes(d)


def test_json_shape():
    r = disks("--from", os.path.join(SMART, "netdata_ata_hdd_wd181kryz_healthy.json"),
              os.path.join(SMART, "exporter_ata_hdd_seagate_st3500418as_passed_realloc304.json"))
    doc = r.json()
    assert r.rc == EXIT["failing"] and len(doc["disks"]) == 2
    for d in doc["disks"]:
        assert {"device", "model", "serial", "verdict", "findings"} <= set(d)
        assert d["verdict"] in ("ok", "warning", "failing")
        for f in d["findings"]:
            assert set(f) == {"severity", "code", "message", "source"}
            assert f["severity"] in ("advice", "warning", "failing")
    text = run(["disks", "--from", os.path.join(SMART, "exporter_ata_hdd_seagate_st3500418as_passed_realloc304.json")])
    assert text.rc == EXIT["failing"] and "failing" in text.out and "Reallocated_Sector_Ct is 304" in text.out


def test_unreadable_input_is_exit_1_and_named(world):
    bad = os.path.join(world, "bad.json")
    open(bad, "w").write('{"nope": 1}')
    r = run(["disks", "--from", bad])
    assert r.rc == 1 and bad in r.err and "not smartctl" in r.err, r
    r = run(["disks", "--from", os.path.join(world, "missing.json")])
    assert r.rc == 1 and "cannot read" in r.err and "missing.json" in r.err, r
    # a failing disk outranks an unreadable file
    r = run(["disks", "--from", bad, os.path.join(SMART, "own_ata_end_to_end_184_failing_now_passed.json")])
    assert r.rc == EXIT["failing"]


# ---------- every rule, on inputs derived from healthy real outputs ----------

def derived(world, base, change, name="x.json"):
    doc = json.load(open(os.path.join(SMART, base)))
    change(doc)
    path = os.path.join(world, name)
    json.dump(doc, open(path, "w"))
    return path


def attr(doc, i):
    return [a for a in doc["ata_smart_attributes"]["table"] if a["id"] == i][0]


ATA = "scrutiny_ata_hdd_wd140edfz_healthy.json"
NVME = "scrutiny_nvme_intel660p_healthy.json"
SCSI = "scrutiny_scsi_seagate_st1200mm0088_healthy.json"


def set_raw(i, v):
    def f(doc):
        attr(doc, i)["raw"] = {"value": v, "string": str(v)}
    return f


def nvme_set(**kw):
    def f(doc):
        doc["nvme_smart_health_information_log"].update(kw)
    return f


@pytest.mark.parametrize("base,change,code,severity", [
    (ATA, lambda d: attr(d, 5).update(when_failed="past"), "ata-attr-5", "warning"),
    (ATA, lambda d: attr(d, 1).update(value=1), "ata-attr-1", "failing"),  # pre-fail at thresh (1)
    (ATA, set_raw(5, 3), "ata-count-5", "warning"),
    (ATA, set_raw(5, 100), "ata-count-5", "failing"),
    (ATA, set_raw(10, 1), "ata-count-10", "warning"),
    (ATA, set_raw(196, 2), "ata-count-196", "warning"),
    (ATA, set_raw(197, 10), "ata-count-197", "failing"),
    (ATA, set_raw(198, 1), "ata-count-198", "warning"),
    (ATA, set_raw(199, 5), "ata-crc-199", "warning"),
    (ATA, lambda d: d["ata_smart_attributes"]["table"].append(
        {"id": 188, "name": "Command_Timeout", "value": 100, "worst": 99, "thresh": 0, "when_failed": "",
         "flags": {"prefailure": False}, "raw": {"value": 17180131332, "string": "17180131332"}}),
     "ata-count-188", "warning"),  # Seagate's packed 3x16 bits: 4 timeouts, not 17 billion
    (ATA, lambda d: d["ata_smart_error_log"]["summary"].update(count=3), "ata-error-log", "warning"),
    (ATA, lambda d: d["ata_smart_self_test_log"]["standard"]["table"].insert(0, {
        "type": {"value": 2, "string": "Extended offline"},
        "status": {"value": 121, "string": "Completed: read failure", "passed": False},
        "lifetime_hours": 1700, "lba": 123456}), "selftest-read-failure", "failing"),
    (ATA, lambda d: d["smartctl"].update(exit_status=0x40), "smartctl-error-log", "warning"),
    (ATA, lambda d: d["smartctl"].update(exit_status=0x08), "smartctl-disk-failing", "failing"),
    (ATA, lambda d: d["smartctl"].update(exit_status=0x10), "smartctl-prefail", "failing"),
    (ATA, lambda d: d["smartctl"].update(exit_status=0x80), "smartctl-selftest-log", "warning"),
    (ATA, lambda d: d["smart_status"].update(passed=False), "smart-status-failed", "failing"),
    (ATA, lambda d: d["temperature"].update(current=61), "temperature", "warning"),
    (NVME, nvme_set(critical_warning=1), "nvme-critical-warning", "failing"),
    (NVME, nvme_set(critical_warning=2), "nvme-critical-warning", "failing"),
    (NVME, nvme_set(critical_warning=4), "nvme-critical-warning", "failing"),
    (NVME, nvme_set(critical_warning=8), "nvme-critical-warning", "failing"),
    (NVME, nvme_set(available_spare=10, available_spare_threshold=10), "nvme-spare", "failing"),
    (NVME, nvme_set(percentage_used=90), "nvme-wear", "warning"),
    (NVME, nvme_set(percentage_used=100), "nvme-wear", "failing"),
    (NVME, nvme_set(media_errors=1), "nvme-media-errors", "warning"),
    (NVME, lambda d: d["temperature"].update(current=75), "temperature", "warning"),
    (SCSI, lambda d: d.update(scsi_grown_defect_list=3), "scsi-grown-defects", "warning"),
    (SCSI, lambda d: d.setdefault("scsi_error_counter_log", {}).setdefault("verify", {}).update(
        total_uncorrected_errors=1), "scsi-uncorrected-verify", "failing"),
])
def test_rule(world, base, change, code, severity):
    rc, d = one(derived(world, base, change))
    got = {f["code"]: f["severity"] for f in d["findings"]}
    assert got.get(code) == severity, d["findings"]
    assert d["verdict"] == severity and rc == EXIT[severity]


def test_healthy_bases_have_no_findings():
    for base in (ATA, NVME, SCSI):
        rc, d = one(os.path.join(SMART, base))
        assert rc == 0 and codes(d, "warning", "failing") == set(), (base, d["findings"])


def test_old_self_test_is_advice_only(world):
    def old(d):
        d["power_on_time"]["hours"] = 20000
        d["ata_smart_self_test_log"]["standard"]["table"][0]["lifetime_hours"] = 100
    rc, d = one(derived(world, ATA, old))
    assert rc == 0 and d["verdict"] == "ok" and "selftest-old" in codes(d, "advice")


# ---------- growth between readings ----------

def test_growth_between_two_readings_is_failing(world):
    state = os.path.join(world, "state", "disks.db")
    first = os.path.join(SMART, "scrutiny_ata_hdd_wd140edfz_healthy.json")
    later = os.path.join(SMART, "scrutiny_ata_hdd_wd140edfz_EDITED_counters10_trend.json")
    rc, d = one(first, "--state", state)
    assert rc == 0
    rc, d = one(later, "--state", state)
    f = {x["code"]: x for x in d["findings"]}
    assert rc == EXIT["failing"] and f["ata-count-197"]["severity"] == "failing"
    assert "grew from 0 to 10" in f["ata-count-197"]["message"]
    assert "cable" in f["ata-crc-199"]["message"]


@pytest.mark.parametrize("base,change1,change2,code", [
    (NVME, nvme_set(media_errors=1), nvme_set(media_errors=2), "nvme-media-errors"),
    (SCSI, lambda d: d.update(scsi_grown_defect_list=3), lambda d: d.update(scsi_grown_defect_list=4),
     "scsi-grown-defects"),
    (ATA, lambda d: d["ata_smart_error_log"]["summary"].update(count=3),
     lambda d: d["ata_smart_error_log"]["summary"].update(count=4), "ata-error-log"),
])
def test_growth_rules(world, base, change1, change2, code):
    state = os.path.join(world, "s.db")
    rc, d = one(derived(world, base, change1, "a.json"), "--state", state)
    assert {x["code"]: x["severity"] for x in d["findings"]}[code] == "warning"
    rc, d = one(derived(world, base, change2, "b.json"), "--state", state)
    assert {x["code"]: x["severity"] for x in d["findings"]}[code] == "failing" and rc == EXIT["failing"]


def test_nvme_error_log_growth_is_a_warning_only(world):
    state = os.path.join(world, "s.db")
    one(derived(world, NVME, nvme_set(num_err_log_entries=5), "a.json"), "--state", state)
    rc, d = one(derived(world, NVME, nvme_set(num_err_log_entries=9), "b.json"), "--state", state)
    assert rc == EXIT["warning"] and {x["code"]: x["severity"] for x in d["findings"]}["nvme-error-log"] == "warning"


def test_bad_state_file_is_an_error(world):
    bad = os.path.join(world, "state.db")
    open(bad, "w").write("this is not sqlite" * 100)
    r = run(["disks", "--from", os.path.join(SMART, ATA), "--state", bad])
    assert r.rc == 1 and "disk state" in r.err and bad in r.err, r


# ---------- live runs through a stand-in smartctl ----------

def fake_smartctl(world, devices, outputs):
    """A smartctl that answers --scan-open with devices and -x with outputs[name]."""
    bindir = os.path.join(world, "bin")
    os.makedirs(bindir, exist_ok=True)
    spec = os.path.join(world, "fake.json")
    json.dump({"devices": devices, "outputs": outputs}, open(spec, "w"))
    script = os.path.join(bindir, "smartctl")
    open(script, "w").write(f"""#!/usr/bin/python3
import json, sys
spec = json.load(open({spec!r}))
if "--scan-open" in sys.argv:
    print(json.dumps({{"smartctl": {{"exit_status": 0}}, "devices": spec["devices"]}}))
    sys.exit(0)
out = spec["outputs"][sys.argv[-1]]
sys.stdout.write(open(out).read())
sys.exit(json.load(open(out)).get("smartctl", {{}}).get("exit_status", 0))
""")
    os.chmod(script, 0o755)
    return base_env(PATH=bindir + ":/usr/bin:/bin")


def test_no_smart_capable_disks(world):
    env = fake_smartctl(world, [], {})
    r = run(["disks", "--no-state"], env=env)
    assert r.rc == 0 and "no SMART-capable disks found" in r.out, r
    r = run(["disks", "--no-state", "--json"], env=env)
    assert r.json()["disks"] == []


def test_smartctl_missing_is_exit_1(world):
    empty = os.path.join(world, "empty")
    os.mkdir(empty)
    r = run(["disks", "--no-state"], env=base_env(PATH=empty))
    assert r.rc == 1 and "smartctl not found" in r.err, r


def test_live_scan_and_show(world):
    devs = [{"name": "/dev/sda", "type": "sat"}, {"name": "/dev/nvme0", "type": "nvme"}]
    outs = {"/dev/sda": os.path.join(SMART, "own_ata_end_to_end_184_failing_now_passed.json"),
            "/dev/nvme0": os.path.join(SMART, NVME)}
    env = fake_smartctl(world, devs, outs)
    r = run(["disks", "--no-state"], env=env)
    assert r.rc == EXIT["failing"] and "STORY184" in r.out and "failing" in r.out, r
    r = run(["disks", "--state", os.path.join(world, "s.db"), "show", "/dev/nvme0"], env=env)
    assert r.rc == 0 and "/dev/nvme0" in r.out and "STORY184" not in r.out, r


# ---------- zpool ----------

ZPOOL_VERDICTS = {
    "freebsd_handbook_scrub_repaired_66M_cksum_2.72K.txt": "warning",
    "jc_online_mirrors_sdX_names_spare_avail.txt": "warning",
    "jc_solaris_unavail_pool_insufficient_replicas_permanent_errors.txt": "failing",
    "jc_three_single_disk_pools_no_redundancy.txt": "warning",
    "kneutron_commented_rpool_ashift9_nonnative_block_size.txt": "warning",
    "kneutron_draid_degraded_6_unavail_sdX_spares_inuse.txt": "failing",
    "openzfsdocs_ZFS-8000-2Q_degraded_sdb_faulted_cannot_open.txt": "failing",
    "openzfsdocs_ZFS-8000-8A_stripe_sda_sdb_cksum_permanent_errors.txt": "failing",
    "openzfsdocs_ZFS-8000-9P_replacing_resilver_in_progress.txt": "failing",
    "openzfsdocs_ZFS-8000-HC_faulted_io_failures.txt": "failing",
    "zpoolexporter_degraded_device_removed.txt": "failing",
    "zpoolexporter_degraded_mirror_unavail_corrupted_label_loopdevs.txt": "failing",
    "zpoolexporter_degraded_unavail_cksum100980_was_path.txt": "failing",
    "zpoolexporter_online_data_corruption_scrub_1_error.txt": "failing",
    "checkzpools_json_degraded_faulted_err_exceeded.txt": "failing",
}


def zcheck(path, *extra):
    r = run(["zpool-check", "--json", "--from", path, *extra])
    assert r.rc in (0, 4, 5), r
    return r.rc, r.json()["pools"]


def test_every_zpool_fixture_is_listed():
    assert {f for f in os.listdir(ZPOOL) if f.endswith(".txt")} == set(ZPOOL_VERDICTS)


@pytest.mark.parametrize("name", sorted(ZPOOL_VERDICTS))
def test_zpool_fixture_verdict(name):
    rc, pools = zcheck(os.path.join(ZPOOL, name))
    worst = max((p["verdict"] for p in pools), key=["ok", "warning", "failing"].index)
    assert worst == ZPOOL_VERDICTS[name], pools
    assert rc == EXIT[worst]


def pool_codes(pools):
    return {f["code"] for p in pools for f in p["findings"]}


def test_zpool_specific_findings():
    _, p = zcheck(os.path.join(ZPOOL, "jc_online_mirrors_sdX_names_spare_avail.txt"))
    assert "zpool-unstable-names" in pool_codes(p)
    assert "zpool-mixed-redundancy" not in pool_codes(p), "a spare is not a data vdev"
    _, p = zcheck(os.path.join(ZPOOL, "openzfsdocs_ZFS-8000-8A_stripe_sda_sdb_cksum_permanent_errors.txt"))
    assert {"zpool-data-errors", "zpool-no-redundancy", "zpool-device-errors"} <= pool_codes(p)
    _, p = zcheck(os.path.join(ZPOOL, "openzfsdocs_ZFS-8000-9P_replacing_resilver_in_progress.txt"))
    assert "zpool-resilvering" in pool_codes(p)
    _, p = zcheck(os.path.join(ZPOOL, "kneutron_commented_rpool_ashift9_nonnative_block_size.txt"))
    assert "zpool-ashift-low" in pool_codes(p)
    _, p = zcheck(os.path.join(ZPOOL, "freebsd_handbook_scrub_repaired_66M_cksum_2.72K.txt"))
    errs = [f for f in p[0]["findings"] if f["code"] == "zpool-device-errors"]
    # 2.72K: zpool counts in powers of 1024 (zfs_nicenum), 2.72 * 1024 = 2785
    assert "2785 checksum errors" in errs[0]["message"] and "zpool-scrub-old" in pool_codes(p)


HEALTHY = """  pool: tank
 state: ONLINE
  scan: scrub repaired 0B in 00:10:01 with 0 errors on {date}
config:

\tNAME                                   STATE     READ WRITE CKSUM
\ttank                                   ONLINE       0     0     0
\t  mirror-0                             ONLINE       0     0     0
\t    /dev/disk/by-id/ata-DISK_A-part1   ONLINE       0     0     0
\t    /dev/disk/by-id/ata-DISK_B-part1   ONLINE       0     0     0
{extra}
errors: No known data errors
"""


def write_status(world, extra="", days_ago=3):
    import time
    date = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(time.time() - days_ago * 86400))
    path = os.path.join(world, "status.txt")
    open(path, "w").write(HEALTHY.format(date=date, extra=extra))
    return path


def test_zpool_healthy_recently_scrubbed_is_ok(world):
    rc, p = zcheck(write_status(world))
    assert rc == 0 and p[0]["verdict"] == "ok" and p[0]["findings"] == [], p


def test_zpool_old_scrub_and_mixed_vdevs(world):
    rc, p = zcheck(write_status(world, days_ago=40))
    assert rc == EXIT["warning"] and pool_codes(p) == {"zpool-scrub-old"}
    single = "\t  /dev/disk/by-id/ata-DISK_C-part1     ONLINE       0     0     0\n"
    rc, p = zcheck(write_status(world, extra=single))
    assert rc == EXIT["warning"] and pool_codes(p) == {"zpool-mixed-redundancy"}, p


def test_zpool_mixed_ashift_from_zdb(world):
    zdb = os.path.join(world, "zdb.txt")
    open(zdb, "w").write("tank:\n    version: 5000\n    vdev_tree:\n        type: 'root'\n"
                         "        children[0]:\n            type: 'mirror'\n            ashift: 12\n"
                         "        children[1]:\n            type: 'mirror'\n            ashift: 9\n")
    rc, p = zcheck(write_status(world), "--zdb", zdb)
    assert rc == EXIT["warning"] and "zpool-mixed-ashift" in pool_codes(p), p


def test_smart_json_with_unsigned_64_bit_values_is_read(world):
    """smartctl writes unsigned 64-bit counters; one above 2^63 made the
    whole reading unparsable (jansson's int64), a huge temperature wrapped."""
    path = os.path.join(world, "big.json")
    with open(os.path.join(SMART, "scrutiny_ata_hdd_wd140edfz_healthy.json")) as f:
        doc = json.load(f)
    doc["temperature"]["current"] = 4294967336  # 2^32 + 40
    for a in doc["ata_smart_attributes"]["table"]:
        if a["id"] == 5:
            a["raw"]["value"] = 18446744073709551615
            a["raw"]["string"] = "18446744073709551615"
    with open(path, "w") as f:
        json.dump(doc, f)
    rc, d = one(path)
    assert d["temperature"] != 40, d
    assert rc in (4, 5) and d["findings"], d  # 2^64 - 1 reallocated sectors is judged


@pytest.mark.parametrize("count,expect", [
    ("1.5P", 1688849860263936),       # P and E were not decoded (1.5P read as 1)
    ("2E", 2 << 60),
    ("17E", 18446744073709551615),     # saturates
])
def test_zpool_counts_decode_every_suffix(world, count, expect):
    bad = "\t  /dev/disk/by-id/ata-DISK_B-part1     ONLINE       0     0  %s\n" % count
    rc, p = zcheck(write_status(world, extra=bad))
    errs = [f for f in p[0]["findings"] if f["code"] == "zpool-device-errors"]
    assert rc == 4 and errs and "and %d checksum errors" % expect in errs[0]["message"], p


@pytest.mark.parametrize("count", ["nan", "inf", "1e999", "-1", "12Q", "0x10"])
def test_zpool_garbage_count_is_unparsable(world, count):
    """NaN became 2^63 and a huge count 0: garbage is an error, not a number."""
    bad = "\t  /dev/disk/by-id/ata-DISK_B-part1     ONLINE       0     %s  0\n" % count
    path = write_status(world, extra=bad)
    r = run(["zpool-check", "--from", path])
    assert r.rc == 1 and "cannot parse the error counts" in r.err and count in r.err, r


def test_zpool_bad_input(world):
    bad = os.path.join(world, "x.txt")
    open(bad, "w").write("hello\n")
    r = run(["zpool-check", "--from", bad])
    assert r.rc == 1 and bad in r.err and "zpool status" in r.err, r
    r = run(["zpool-check"], env=base_env(PATH=world))
    assert r.rc == 1 and "zpool not found" in r.err, r


def test_systemd_units_verify(world):
    import shutil
    import subprocess
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    dest = os.path.join(world, "pkg")
    p = subprocess.run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}", "PREFIX=/usr"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    unit_dir = os.path.join(dest, "usr", "lib", "systemd", "system")
    svc = os.path.join(unit_dir, "dvalin-disks.service")
    text = open(svc).read()
    assert "ExecStart=/usr/bin/dvalin disks" in text and "SuccessExitStatus=4 5" in text
    open(svc, "w").write(text.replace("/usr/bin/dvalin", os.path.join(dest, "usr", "bin", "dvalin")))
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", svc,
                        os.path.join(unit_dir, "dvalin-disks.timer")], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr.strip() == "", p.stderr
