# SPDX-License-Identifier: BSD-2-Clause
"""dvalin key: several key files, a password change that never leaves the
repository without one, and the paper copy of the master keys that brings
a repository back when every password is lost."""
import hashlib
import os

from conftest import PASSWORD, base_env, run


def pwfile(world, name, text):
    p = os.path.join(world, name)
    with open(p, "w") as f:
        f.write(text + "\n")
    return p


def as_pw(pw):
    return base_env(DVALIN_PASSWORD=pw)


def keys(repo, pw=PASSWORD):
    r = run(["key", "list", "-r", repo, "--json"], env=as_pw(pw))
    assert r.rc == 0, r
    return r.json()


def test_add_list_remove_passwd(world, repo):
    assert [k["current"] for k in keys(repo)] == [True]
    r = run(["key", "add", "-r", repo, "--new-password-file", pwfile(world, "p2", "second"),
             "--kdf-log-n", "10"])
    assert r.rc == 0 and r.out.startswith("added key "), r
    both = keys(repo)
    assert len(both) == 2 and sum(k["current"] for k in both) == 1
    assert [k["current"] for k in keys(repo, "second")].count(True) == 1
    mine = next(k for k in both if k["current"])
    other = next(k for k in both if not k["current"])
    # the key in use, and the last one, are never removed
    r = run(["key", "remove", "-r", repo, mine["short_id"]])
    assert r.rc == 1 and "it is the one this command was opened with" in r.err, r
    r = run(["key", "remove", "-r", repo, other["short_id"]])
    assert r.rc == 0 and f"removed key {other['short_id']}" in r.out
    assert run(["snapshots", "-r", repo], env=as_pw("second")).rc == 1
    # passwd: the new key first, then the old one goes
    r = run(["key", "passwd", "-r", repo, "--new-password-file", pwfile(world, "p3", "third"),
             "--kdf-log-n", "10"])
    assert r.rc == 0 and "password changed" in r.out, r
    assert run(["snapshots", "-r", repo]).rc == 1
    assert [k["current"] for k in keys(repo, "third")] == [True]
    r = run(["key", "list", "-r", repo], env=as_pw("third"))
    assert r.out.splitlines()[1].startswith("*") and r.out.endswith("1 key\n"), r
    r = run(["key", "add", "-r", repo, "--new-password-file", pwfile(world, "empty", "")],
            env=as_pw("third"))
    assert r.rc == 1 and "starts with an empty line" in r.err, r


def paper_line_check(no, b):
    h = hashlib.sha256(b"dvalin-paper-v1" + bytes([no]) + b).digest()
    return "%02x%02x" % (h[0], h[1])


def paper(repo_id, key_bytes):
    lines = ["dvalin paper key, version 1", "repository " + repo_id.hex()]
    for i in range(6):
        b = key_bytes[16 * i:16 * i + 16]
        groups = " ".join(b[k:k + 2].hex() for k in range(0, 16, 2))
        lines.append(f"{i + 1:2d}  {groups}  {paper_line_check(i + 1, b)}")
    whole = hashlib.sha256(repo_id + key_bytes).digest()[:4].hex()
    lines.append("check " + whole)
    return "\n".join(lines) + "\n"


def test_paper_key_brings_a_repository_back(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    open(os.path.join(src, "f"), "w").write("precious\n")
    assert run(["backup", "-r", repo, src]).rc == 0
    r = run(["key", "export", "-r", repo])
    assert r.rc == 0 and "they read everything in the repository without a password" in r.err
    text = r.out
    assert text.startswith("dvalin paper key, version 1\nrepository ")
    assert len(text.splitlines()) == 9
    # written to a file: created for its owner only, never over another file
    kf = os.path.join(world, "paper.txt")
    assert run(["key", "export", "-r", repo, "--file", kf]).rc == 0
    assert os.stat(kf).st_mode & 0o777 == 0o600 and open(kf).read() == text
    assert run(["key", "export", "-r", repo, "--file", kf]).rc == 1
    # every password lost
    for k in os.listdir(os.path.join(repo, "keys")):
        os.unlink(os.path.join(repo, "keys", k))
    assert run(["snapshots", "-r", repo]).rc == 1
    # a typo is found on its line; another repository's paper is refused
    lines = text.splitlines()
    first = lines[4].split()
    first[1] = "%04x" % (int(first[1], 16) ^ 1)
    lines[4] = " " + "  ".join([first[0], " ".join(first[1:9]), first[9]])
    bad = os.path.join(world, "typo.txt")
    open(bad, "w").write("\n".join(lines) + "\n")
    newpw = pwfile(world, "new", "brand new")
    r = run(["key", "import", "-r", repo, bad, "--new-password-file", newpw])
    assert r.rc == 1 and "line 3 does not match its check" in r.err, r
    # the right repository id, but keys of no one: they open no snapshot
    cfg_id = bytes.fromhex(text.splitlines()[1].split()[1])
    forged = os.path.join(world, "forged.txt")
    open(forged, "w").write(paper(cfg_id, bytes(range(96))))
    r = run(["key", "import", "-r", repo, forged, "--new-password-file", newpw])
    assert r.rc == 1 and "does not open the snapshots of this repository" in r.err, r
    other = os.path.join(world, "other")
    assert run(["init", "-r", other, "--kdf-log-n", "10"]).rc == 0
    r = run(["key", "import", "-r", other, kf, "--new-password-file", newpw])
    assert r.rc == 1 and "the paper key is for repository" in r.err, r
    # the right paper, typed back in (stdin; upper case, more blanks), opens it again
    typed = "  ".join(text.upper().split(" "))
    r = run(["key", "import", "-r", repo, "-", "--new-password-file", newpw, "--kdf-log-n", "10"],
            input="printed on 2026-12-01\n" + typed)
    assert r.rc == 0 and "imported the paper key" in r.out, r
    t = os.path.join(world, "t")
    assert run(["restore", "-r", repo, "latest", "-t", t], env=as_pw("brand new")).rc == 0
    assert open(t + src + "/f").read() == "precious\n"
    assert len(run(["snapshots", "-r", repo, "--json"], env=as_pw("brand new")).json()) == 1
