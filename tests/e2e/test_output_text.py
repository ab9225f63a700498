# SPDX-License-Identifier: BSD-2-Clause
"""Text output a person reads (issue 18's cosmetic list): ls quotes names
that would break a line or a terminal, snapshots keeps its columns, dry runs
say "would", backup names its parent."""
import base64
import json
import os
import re

from conftest import run, snapshots


def unquote(line):
    """Reverses ls's quoting: C escapes inside double quotes."""
    if not line.startswith('"'):
        return line.encode()
    body, out, i = line[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        e = body[i + 1]
        if e == "x":
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
        elif e == "u":
            out += chr(int(body[i + 2:i + 6], 16)).encode()
            i += 6
        else:
            out += {"n": b"\n", "t": b"\t", "r": b"\r", '"': b'"', "\\": b"\\"}[e]
            i += 2
    return bytes(out)


def test_ls_quotes_names_with_control_bytes_and_keeps_them_recoverable(world, repo):
    src = os.path.join(world, "src").encode()
    os.makedirs(src)
    names = [b"plain", b"new\nline", b"tab\there", b"esc\x1b[31mred", b"bad\xff\xfe",
             b'"starts with quote', b"back\\slash", b"c1\xc2\x85next", "ünïcode".encode()]
    for n in names:
        open(os.path.join(src, n), "w").close()
    assert run(["backup", "-r", repo, os.fsdecode(src)]).rc == 0
    r = run(["ls", "-r", repo, "latest", os.fsdecode(src)])
    lines = r.out.rstrip("\n").split("\n")
    # one line per entry: the directory and each name
    assert len(lines) == len(names) + 1, lines
    got = {unquote(l) for l in lines[1:]}
    assert got == {os.path.join(src, n) for n in names}
    by_name = {unquote(l): l for l in lines[1:]}
    assert by_name[os.path.join(src, b"plain")] == src.decode() + "/plain"
    assert by_name[os.path.join(src, "ünïcode".encode())] == src.decode() + "/ünïcode"
    assert by_name[os.path.join(src, b"new\nline")] == f'"{src.decode()}/new\\nline"'
    assert by_name[os.path.join(src, b"bad\xff\xfe")] == f'"{src.decode()}/bad\\xff\\xfe"'
    assert "\x1b" not in r.out and "\x85" not in r.out
    # JSON keeps the exact bytes in path_raw
    # (split on "\n" only: str.splitlines also splits at U+0085, which JSON leaves raw)
    for l in run(["ls", "-r", repo, "latest", os.fsdecode(src), "--json"]).out.rstrip("\n").split("\n"):
        node = json.loads(l)
        raw = base64.b64decode(node["path_raw"]) if "path_raw" in node else node["path"].encode()
        if node["type"] == "file":
            assert raw in {os.path.join(src, n) for n in names}
    # -l quotes symlink targets the same way
    os.symlink(b"to\nthere", os.path.join(src, b"link"))
    assert run(["backup", "-r", repo, os.fsdecode(src)]).rc == 0
    r = run(["ls", "-r", repo, "latest", "-l", os.path.join(src, b"link").decode()])
    assert r.out.rstrip("\n").endswith(' -> "to\\nthere"'), r


def test_snapshots_columns_do_not_shift(world, repo):
    src = os.path.join(world, "s")
    os.makedirs(src)
    assert run(["backup", "-r", repo, src, "--host", "h"]).rc == 0
    assert run(["backup", "-r", repo, src, "--host", "a-much-longer-host-name",
                "--tag", "quite-a-long-tag,and-another"]).rc == 0
    assert run(["backup", "-r", repo, src, "--host", "h", "--tag", "t"]).rc == 0
    ids = [s["id"] for s in snapshots(repo)]
    assert run(["protect", "-r", repo, ids[0][:8]]).rc == 0
    out = run(["snapshots", "-r", repo]).out.splitlines()
    header, rows = out[0], out[1:4]
    for col in ("Time", "Host", "Tags", "Files", "Added", "Paths"):
        pos = header.index(col)
        for row in rows:
            # each column starts where its header does (left-aligned columns)
            # or ends there (right-aligned numbers)
            if col in ("Files", "Added"):
                continue
            assert row[pos - 1] == " " and row[pos] != " " or col == "Tags", (col, row)
    path_col = header.index("Paths")
    assert all(row[path_col:] == src for row in rows), rows
    assert rows[0].startswith(ids[0][:8] + "*") and rows[1].startswith(ids[1][:8] + " ")
    assert out[-1] == "3 snapshots, 1 protected (*)"


def test_prune_dry_run_says_would(world, repo):
    src = os.path.join(world, "s")
    os.makedirs(src)
    open(os.path.join(src, "f"), "wb").write(os.urandom(100000))
    assert run(["backup", "-r", repo, src]).rc == 0
    os.unlink(os.path.join(src, "f"))
    assert run(["backup", "-r", repo, src]).rc == 0
    assert run(["forget", "-r", repo, "--keep-last", "1"]).rc == 0
    r = run(["prune", "-r", repo, "--dry-run"])
    assert r.rc == 0
    assert "would delete:" in r.out and "deleted:" not in r.out.replace("would delete:", ""), r
    n = int(re.search(r"would condemn: (\d+) unused packs", r.out).group(1))
    assert n >= 1 and f"then the {n} packs condemned or repacked above" in r.out, r
    r = run(["prune", "-r", repo])
    assert f"deleted:     {n} packs" in r.out and "would" not in r.out, r


def test_forget_ids_dry_run_gives_the_reason(world, repo):
    src = os.path.join(world, "s")
    os.makedirs(src)
    assert run(["backup", "-r", repo, src]).rc == 0
    sid = snapshots(repo)[0]["id"]
    r = run(["forget", "-r", repo, sid[:8], "--dry-run"])
    assert r.rc == 0
    assert re.search(rf"^would remove {sid[:8]}  \S+  named on the command line$", r.out, re.M), r


def test_backup_names_its_parent(world, repo):
    src = os.path.join(world, "s")
    os.makedirs(src)
    r = run(["backup", "-r", repo, src])
    assert "parent:   none (no earlier snapshot of this host and these paths" in r.out
    first = snapshots(repo)[0]["id"]
    r = run(["backup", "-r", repo, src])
    assert f"parent:   {first[:8]} (files unchanged since it were not read again)" in r.out, r
    j = run(["backup", "-r", repo, src, "--json"]).json()
    assert j["parent"] == snapshots(repo)[1]["id"]
    r = run(["backup", "-r", repo, src, "--force"])
    assert "parent:   none (--force: every file was read)" in r.out, r
