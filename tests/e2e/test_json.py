# SPDX-License-Identifier: BSD-2-Clause
"""One JSON shape per object (docs/json.md): `cat` agrees with `snapshots`
and `ls`, names that are not UTF-8 stay recoverable, times are RFC 3339 with
nanoseconds, and every --json output is one valid document."""
import base64
import datetime
import json
import os
import re

from conftest import ROOT, base_env, run

SMART = os.path.join(ROOT, "tests", "fixtures", "smart")
ZPOOL = os.path.join(ROOT, "tests", "fixtures", "zpool")
TIME_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d")
TIME_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z")


def ns_of(text):
    """Nanoseconds since the epoch of an RFC 3339 time with 9 digits."""
    head, frac = text[:19], text[20:29]
    tz = text[29:]
    t = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
    off = 0 if tz == "Z" else (1 if tz[0] == "+" else -1) * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    epoch = datetime.datetime(1970, 1, 1)
    return (int((t - epoch).total_seconds()) - off) * 10**9 + int(frac)


def test_cat_snapshot_is_the_snapshots_object(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    env = base_env(TZ="Asia/Kolkata")
    assert run(["backup", "-r", repo, src, "--tag", "a", "--time", "2026-01-02 03:04:05"], env=env).rc == 0
    assert run(["backup", "-r", repo, src], env=env).rc == 0
    snaps = run(["snapshots", "-r", repo, "--json"]).json()
    assert run(["protect", "-r", repo, snaps[0]["id"]]).rc == 0
    snaps = run(["snapshots", "-r", repo, "--json"]).json()
    assert [s["protected"] for s in snaps] == [True, False]
    for s in snaps:
        assert run(["cat", "-r", repo, "snapshot", s["short_id"]]).json() == s
        assert TIME_OFFSET.fullmatch(s["time"]), s["time"]
        assert set(s) == {"id", "short_id", "time", "host", "user", "paths", "tags", "parent",
                          "tree", "protected", "damaged_paths", "summary"}
    assert snaps[0]["time"] == "2026-01-02T03:04:05.000000000+05:30"
    assert snaps[1]["parent"] == snaps[0]["id"] and snaps[0]["damaged_paths"] == []


def test_ls_node_is_the_cat_tree_node(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(os.path.join(src, "d"))
    open(os.path.join(src, "d", "f"), "w").write("hello\n")
    os.symlink("d/f", os.path.join(src, "l"))
    os.mkfifo(os.path.join(src, "p"))
    assert run(["backup", "-r", repo, src]).rc == 0
    listing = [json.loads(l) for l in run(["ls", "-r", repo, "latest", src, "--json"]).out.splitlines()]
    by_path = {n["path"]: n for n in listing}
    # walk the trees with cat down to src and compare each node
    tree = run(["cat", "-r", repo, "tree", "latest"]).json()
    path = ""
    for comp in src.strip("/").split("/"):
        node = [n for n in tree["nodes"] if n["name"] == comp][0]
        path += "/" + comp
        tree = run(["cat", "-r", repo, "tree", node["subtree"]]).json()
    storage = {"subtree", "content", "xattrs"}
    for node in tree["nodes"]:
        ls_node = dict(by_path[path + "/" + node["name"]])
        del ls_node["path"]
        assert {k: v for k, v in node.items() if k not in storage} == ls_node
    f = by_path[src + "/d/f"]
    st = os.stat(os.path.join(src, "d", "f"))
    assert TIME_UTC.fullmatch(f["mtime"]) and ns_of(f["mtime"]) == st.st_mtime_ns
    assert ns_of(f["ctime"]) == st.st_ctime_ns and f["inode"] == st.st_ino and f["nlink"] == 1
    assert by_path[src + "/l"]["type"] == "symlink" and by_path[src + "/l"]["link_target"] == "d/f"
    assert by_path[src + "/p"]["type"] == "fifo" and "link_target" not in by_path[src + "/p"]


def test_names_that_are_not_utf8_are_recoverable(world, repo):
    src = os.path.join(world, "caf\udce9")  # the byte 0xe9: Latin-1, not UTF-8
    os.makedirs(src)
    open(os.path.join(src, "\udcff\udcfe"), "w").write("x")
    open(os.path.join(src, "grüße"), "w").write("y")
    os.symlink(b"t\xe0rget", os.fsencode(os.path.join(src, "link")))
    assert run(["backup", "-r", repo, src]).rc == 0
    snap = run(["snapshots", "-r", repo, "--json"]).json()[0]
    assert snap["paths"] == [src.replace("\udce9", "\ufffd")]
    assert [base64.b64decode(p) for p in snap["paths_raw"]] == [os.fsencode(src)]
    listing = [json.loads(l) for l in run(["ls", "-r", repo, "latest", "--json"]).out.splitlines()]
    names = {}
    for n in listing:
        raw = base64.b64decode(n["name_raw"]) if "name_raw" in n else n["name"].encode()
        assert ("name_raw" in n) == ("\ufffd" in n["name"]), n
        path = base64.b64decode(n["path_raw"]) if "path_raw" in n else n["path"].encode()
        assert path.endswith(b"/" + raw)
        names[raw] = n
    assert {b"\xff\xfe", "grüße".encode(), b"link", os.fsencode(os.path.basename(src))} <= set(names)
    assert "name_raw" not in names["grüße".encode()]
    link = names[b"link"]
    assert base64.b64decode(link["link_target_raw"]) == b"t\xe0rget"


def test_every_json_output_is_one_document(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    open(os.path.join(src, "f"), "w").write("data\n")
    docs = {}

    def one(name, args, rc=0):
        r = run(args)
        assert r.rc == rc, (name, r)
        docs[name] = json.loads(r.out)
        return docs[name]

    one("init", ["init", "-r", os.path.join(world, "r2"), "--kdf-log-n", "10", "--json"])
    sid = one("backup", ["backup", "-r", repo, src, "--json"])["snapshot_id"]
    one("snapshots", ["snapshots", "-r", repo, "--json"])
    one("restore", ["restore", "-r", repo, "latest", "--target", os.path.join(world, "t"), "--json"])
    one("check", ["check", "-r", repo, "--json"])
    one("stats", ["stats", "-r", repo, "--json"])
    one("prune", ["prune", "-r", repo, "--dry-run", "--json"])
    one("forget", ["forget", "-r", repo, "--keep-last", "1", "--dry-run", "--json"])
    one("repair_index", ["repair", "-r", repo, "index", "--json"])
    one("repair_snapshots", ["repair", "-r", repo, "snapshots", "--json"])
    one("config", ["cat", "-r", repo, "config", "--json"])
    one("disks", ["disks", "--json", "--from", os.path.join(SMART, "scrutiny_nvme_intel660p_healthy.json")])
    one("zpool", ["zpool-check", "--json", "--from",
                  os.path.join(ZPOOL, "zpoolexporter_degraded_unavail_cksum100980_was_path.txt")], rc=5)
    v = one("version", ["version", "--json"])
    assert v["json_format"] == 1 and v["repository_format"] == 1
    assert docs["forget"]["groups"][0]["snapshots"][0]["snapshot"]["id"] == sid
    assert docs["check"]["ok"] is True and docs["check"]["error"] is None
    assert docs["disks"]["verdict"] == "ok" and docs["disks"]["disks"][0]["error"] is None
    assert docs["zpool"]["verdict"] == "failing"


def test_an_unreadable_disk_has_the_same_fields(world):
    bad = os.path.join(world, "bad.json")
    open(bad, "w").write('{"nope": 1}')
    good = os.path.join(SMART, "scrutiny_nvme_intel660p_healthy.json")
    r = run(["disks", "--json", "--from", bad, good])
    assert r.rc == 1, r
    d_bad, d_good = r.json()["disks"]
    assert set(d_bad) == set(d_good)
    assert d_bad["verdict"] == "unknown" and bad in d_bad["error"] and d_bad["model"] is None
