# SPDX-License-Identifier: BSD-2-Clause
"""Large files are restored in parts by several workers at once (issue 17:
a VM image restored on one core took 1.9x restic's time).  The parts must
add up to the exact file, holes included, with its metadata set once every
part is written; a damaged chunk in one part fails that file once, by
name, and the rest of the restore goes on."""
import hashlib
import os

from conftest import run, flip_byte

MIB = 1 << 20


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def make_image(src):
    """A 'disk image' of 150 MiB: 60 MiB of data, a 40 MiB hole, 50 MiB of
    data and an odd tail; and a small file beside it."""
    os.makedirs(src)
    img = os.path.join(src, "vm.img")
    with open(img, "wb") as f:
        f.write(os.urandom(60 * MIB))
        f.seek(40 * MIB, os.SEEK_CUR)
        f.write(os.urandom(50 * MIB + 12345))
    os.utime(img, (1_600_000_000, 1_600_000_000))
    os.chmod(img, 0o640)
    with open(os.path.join(src, "notes.txt"), "w") as f:
        f.write("small\n")
    return img


def test_a_large_file_is_restored_exactly_by_parts(world, repo):
    src = os.path.join(world, "src")
    img = make_image(src)
    assert run(["backup", "-r", repo, src]).rc == 0
    for threads in ("1", "2", "4"):
        target = os.path.join(world, "t" + threads)
        r = run(["restore", "-r", repo, "latest", "--target", target, "--threads", threads])
        assert r.rc == 0, r
        out = os.path.join(target, os.path.relpath(img, "/"))
        st, want = os.stat(out), os.stat(img)
        assert st.st_size == want.st_size
        assert sha(out) == sha(img)
        # the metadata is set after the last part: a part written later
        # would have moved the mtime again
        assert st.st_mtime_ns == want.st_mtime_ns and (st.st_mode & 0o7777) == 0o640
        # the hole stays a hole (no part writes zeros into it)
        assert st.st_blocks * 512 < want.st_size - 30 * MIB


def test_a_damaged_chunk_in_one_part_fails_that_file_once(world, repo):
    src = os.path.join(world, "src")
    img = make_image(src)
    assert run(["backup", "-r", repo, src]).rc == 0
    packs = []
    for d, _, files in os.walk(os.path.join(repo.dir, "data")):
        packs += [os.path.join(d, f) for f in files if not f.startswith(".")]
    biggest = max(packs, key=os.path.getsize)
    flip_byte(biggest, os.path.getsize(biggest) // 2)
    target = os.path.join(world, "t")
    r = run(["restore", "-r", repo, "latest", "--target", target, "--threads", "2"])
    assert r.rc != 0
    named = [line for line in r.err.splitlines() if "vm.img" in line]
    assert len(named) == 1, r.err
    assert "cannot restore" in named[0]
    # the other file is restored all the same
    with open(os.path.join(target, os.path.relpath(src, "/"), "notes.txt")) as f:
        assert f.read() == "small\n"
