# SPDX-License-Identifier: BSD-2-Clause
"""mount: snapshots as a read-only FUSE file system that rsync cannot tell from the source."""
import contextlib
import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import time

import pytest

from conftest import DVALIN, TOOLS, base_env, is_root, run
from treeutil import LONG, compare, make_awkward_tree

have_fuse = os.path.exists("/dev/fuse") and shutil.which("fusermount3")
needs_fuse = pytest.mark.skipif(not (is_root() and have_fuse),
                                reason="needs root and FUSE (/dev/fuse, fusermount3)")
SANITIZED = any(b in DVALIN for b in ("/asan/", "/tsan/"))


@contextlib.contextmanager
def mounted(repo, mp, *extra):
    """dvalin mount in the background until the mount is there; unmounted on the way out."""
    os.makedirs(mp, exist_ok=True)
    env = base_env()
    # a small quarantine, so ASan's own memory does not hide ours
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "detect_leaks=1") + ":quarantine_size_mb=8"
    p = subprocess.Popen([DVALIN, "mount", "-r", repo, mp, *extra], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.err = ""
    try:
        deadline = time.monotonic() + 60
        while not os.path.ismount(mp):
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline, "the mount did not appear"
            time.sleep(0.02)  # polling for the mount, not waiting a fixed time
        yield p
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if os.path.ismount(mp):
            subprocess.run(["fusermount3", "-u", mp])
        p.err = p.stderr.read()
        p.stderr.close()
        p.stdout.close()
        assert "Sanitizer" not in p.err, p.err


def only_snapshot(mp):
    names = os.listdir(os.path.join(mp, "snapshots"))
    assert len(names) == 1, names
    return os.path.join(mp, "snapshots", names[0])


def backup_one_file(world, repo, text, *args):
    """src/f holding text, backed up (args go to backup); returns src."""
    src = os.path.join(world, "src")
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, "f"), "w") as f:
        f.write(text)
    assert run(["backup", "-r", repo, src, *args]).rc == 0
    return src


def drop_deep(src):
    """rsync and GNU tar stop at PATH_MAX; the deep branch is compared apart."""
    shutil.rmtree(os.path.join(src, LONG.decode()))


@needs_fuse
def test_layout_hosts_tags_latest(world, repo):
    src = backup_one_file(world, repo, "one", "--host", "alpha", "--tag", "daily")
    backup_one_file(world, repo, "two", "--host", "beta", "--tag", "daily", "--tag", "extra")
    mp = os.path.join(world, "mnt")
    with mounted(repo, mp) as p:
        assert sorted(os.listdir(mp)) == ["hosts", "snapshots", "tags"]
        snaps = sorted(os.listdir(os.path.join(mp, "snapshots")))
        assert len(snaps) == 2 and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", s)
                                       for s in snaps), snaps
        assert sorted(os.listdir(os.path.join(mp, "hosts"))) == ["alpha", "beta"]
        assert sorted(os.listdir(os.path.join(mp, "tags"))) == ["daily", "extra"]
        daily = os.path.join(mp, "tags", "daily")
        assert len(os.listdir(daily)) == 3
        assert os.readlink(os.path.join(daily, "latest")) in os.listdir(daily)
        with open(os.path.join(daily, "latest") + src + "/f") as f:
            assert f.read() == "two"
        with open(os.path.join(mp, "hosts", "alpha", "latest") + src + "/f") as f:
            assert f.read() == "one"
        # read-only
        with pytest.raises(OSError):
            open(os.path.join(mp, "hosts", "alpha", "latest") + src + "/f", "w")
        with pytest.raises(OSError):
            os.mkdir(os.path.join(mp, "snapshots", "x"))
    assert p.returncode == 0 and "unmounted" in p.err, p.err


@needs_fuse
def test_rsync_finds_no_difference_from_the_source(world, repo):
    src = os.path.join(world, "src")
    make_awkward_tree(src, as_root=True)
    assert run(["backup", "-r", repo, src]).rc == 0
    flat = os.path.join(world, "flat")
    make_awkward_tree(flat, as_root=True)
    drop_deep(flat)
    assert run(["backup", "-r", repo, flat]).rc == 0
    mp = os.path.join(world, "mnt")
    with mounted(repo, mp):
        # two backups in one second are named "<time>-<short id>": find each by its path
        snaps = [os.path.join(mp, "snapshots", n) for n in os.listdir(os.path.join(mp, "snapshots"))]
        full = [d + src for d in snaps if os.path.isdir(d + src)][0]
        shown = [d + flat for d in snaps if os.path.isdir(d + flat)][0]
        cmd = ["rsync", "-aHAXS", "--numeric-ids", "--dry-run", "--itemize-changes", "--checksum"]
        r = subprocess.run(cmd + [shown + "/", flat + "/"], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout == "" and r.stderr == "", (r.stdout, r.stderr)
        # every attribute, the path beyond PATH_MAX and the sparse layout too
        assert compare(src, full) > 30
        # and rsync does see a difference when there is one
        os.chmod(os.path.join(flat, "plain.txt"), 0o600)
        r = subprocess.run(cmd + [shown + "/", flat + "/"], capture_output=True, text=True)
        assert r.returncode == 0 and "plain.txt" in r.stdout, r


@needs_fuse
def test_hard_links_are_one_inode(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(os.path.join(src, "d"))
    with open(os.path.join(src, "a"), "w") as f:
        f.write("linked")
    os.link(os.path.join(src, "a"), os.path.join(src, "d", "b"))
    os.link(os.path.join(src, "a"), os.path.join(src, "c"))
    with open(os.path.join(src, "alone"), "w") as f:
        f.write("x")
    assert run(["backup", "-r", repo, src]).rc == 0
    mp = os.path.join(world, "mnt")
    with mounted(repo, mp):
        root = only_snapshot(mp) + src
        a, b, c = (os.lstat(os.path.join(root, n)) for n in ("a", "d/b", "c"))
        assert a.st_ino == b.st_ino == c.st_ino and a.st_nlink == 3
        assert os.lstat(os.path.join(root, "alone")).st_ino != a.st_ino
        # inode numbers are stable, and readdir gives the ones stat gives
        entries = {e.name: e.inode() for e in os.scandir(root)}
        assert entries["a"] == a.st_ino
        assert entries["alone"] == os.lstat(os.path.join(root, "alone")).st_ino


@needs_fuse
def test_sparse_2g_file_reads_its_holes_without_fetching(world, repo):
    src = os.path.join(world, "src")
    os.makedirs(src)
    path = os.path.join(src, "sparse")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    blocks = [(0, os.urandom(4096)), (1 << 30, os.urandom(8192)), ((2 << 30) - 4096, os.urandom(4096))]
    for off, data in blocks:
        os.pwrite(fd, data, off)
    os.close(fd)
    assert os.path.getsize(path) == 2 << 30
    want = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            want.update(chunk)
    assert run(["backup", "-r", repo, src]).rc == 0
    mp = os.path.join(world, "mnt")
    with mounted(repo, mp) as p:
        mpath = only_snapshot(mp) + path
        st = os.stat(mpath)
        assert st.st_size == 2 << 30 and st.st_blocks * 512 < 1 << 20
        got = hashlib.sha256()
        with open(mpath, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                got.update(chunk)
            assert os.lseek(f.fileno(), 4096, os.SEEK_DATA) == 1 << 30
            assert os.lseek(f.fileno(), 1 << 30, os.SEEK_HOLE) >= (1 << 30) + 8192
        assert got.hexdigest() == want.hexdigest()
    m = re.search(r"(\d+) chunks fetched \((\d+) bytes", p.err)
    assert m, p.err
    assert int(m.group(2)) <= 16384, p.err  # the data blocks, not 2 GiB of zeros


@needs_fuse
def test_ls_of_100000_files_in_bounded_memory(world, repo):
    r = subprocess.run([os.path.join(TOOLS, "forge"), repo, "wide", "100", "1000"],
                       env=base_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    mp = os.path.join(world, "mnt")
    with mounted(repo, mp) as p:
        snap = only_snapshot(mp)
        r = subprocess.run(["ls", "-R", snap], capture_output=True, text=True)
        assert r.returncode == 0
        assert len([l for l in r.stdout.splitlines() if l.startswith("f")]) == 100000
        # every file looked up and stat'ed: the kernel holds 100,000 inodes of ours
        r = subprocess.run(["ls", "-lR", snap], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.count("\n-rw-r--r--") == 100000
        with open(f"/proc/{p.pid}/status") as f:
            peak = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) * 1024
    # caches of 64 MiB each and ~130 bytes per inode; sanitizers add shadow memory
    assert peak < (512 if SANITIZED else 128) << 20, peak


@needs_fuse
def test_kill_9_leaves_a_mount_fusermount_removes(world, repo):
    src = backup_one_file(world, repo, "x")
    mp = os.path.join(world, "mnt")
    with mounted(repo, mp) as p:
        with open(only_snapshot(mp) + src + "/f") as f:
            assert f.read() == "x"
        p.kill()  # SIGKILL: no chance to unmount
        p.wait()
        with pytest.raises(OSError):
            os.listdir(mp)  # "Transport endpoint is not connected"
        r = subprocess.run(["fusermount3", "-u", mp], capture_output=True, text=True)
        assert r.returncode == 0, r
        assert not os.path.ismount(mp) and os.listdir(mp) == []


@needs_fuse
def test_sigterm_unmounts_and_reports(world, repo):
    backup_one_file(world, repo, "")
    mp = os.path.join(world, "mnt")
    with mounted(repo, mp) as p:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=60) == 0
        assert not os.path.ismount(mp)
    assert "mounted at" in p.err and "unmounted" in p.err


@needs_fuse
def test_sigterm_with_a_file_and_a_directory_open_frees_them(world, repo):
    """The kernel never sends the release of a file or directory still open
    at unmount: the mount frees them itself (the sanitizer builds find a leak
    otherwise)."""
    src = backup_one_file(world, repo, "open at the end")
    mp = os.path.join(world, "mnt")
    with mounted(repo, mp) as p:
        f = open(only_snapshot(mp) + src + "/f")
        d = os.open(only_snapshot(mp) + src, os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert f.read() == "open at the end"
            assert os.listdir(d) == ["f"]
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=60) == 0
        finally:
            for close in (f.close, lambda: os.close(d)):
                try:
                    close()
                except OSError:
                    pass  # the connection is gone: "Transport endpoint is not connected"
    assert "unmounted" in p.err


@pytest.mark.skipif(not is_root() or not shutil.which("unshare"), reason="needs root and unshare")
def test_clear_error_where_fuse_is_missing(world, repo):
    mp = os.path.join(world, "mnt")
    os.makedirs(mp)
    # a mount namespace of our own whose /dev has no fuse device
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        f"mount -t tmpfs tmpfs /dev && exec {DVALIN} mount -r {repo} {mp}"],
                       env=base_env(), capture_output=True, text=True)
    assert r.returncode == 1, r
    assert r.stderr == "dvalin: FUSE is not available: there is no /dev/fuse (load the fuse kernel module, or run where FUSE is allowed)\n", r.stderr


@pytest.mark.skipif(not is_root() or not have_fuse, reason="needs root to become another user")
def test_user_without_fuse_access_is_told(world, repo):
    subprocess.run(["chown", "-R", "65534:65534", repo], check=True)
    mp = os.path.join(world, "umnt")
    os.makedirs(mp)
    os.chown(mp, 65534, 65534)
    if os.stat("/dev/fuse").st_mode & stat.S_IROTH:
        pytest.skip("/dev/fuse is open to every user here: nothing to refuse")
    r = run(["mount", "-r", repo, mp], user="nobody")
    assert r.rc == 1 and "not allowed to use FUSE: /dev/fuse (mode 0600)" in r.err, r


def test_mount_usage(world, repo):
    assert run(["mount", "-r", repo]).rc == 2
    r = run(["mount", "-r", repo, os.path.join(world, "nope")])
    assert r.rc == 1 and "cannot mount at" in r.err and "No such file" in r.err, r
