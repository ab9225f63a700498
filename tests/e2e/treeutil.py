# SPDX-License-Identifier: BSD-2-Clause
"""Build awkward file trees and compare two trees attribute by attribute.

Everything works relative to directory descriptors, so paths longer than
PATH_MAX are handled; names are bytes.
"""
import os
import stat

LONG = b"L" * 200  # 25 levels of this exceed PATH_MAX (4096)


def _xattrs(dirfd, name):
    path = f"/proc/self/fd/{dirfd}/".encode() + name
    try:
        keys = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for k in keys:
        out[k] = os.getxattr(path, k, follow_symlinks=False)
    return out


def _data_regions(fd, size):
    """The (offset, length) data extents, via SEEK_DATA/SEEK_HOLE."""
    out, off = [], 0
    while off < size:
        try:
            d = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            break
        h = os.lseek(fd, d, os.SEEK_HOLE)
        out.append((d, h - d))
        off = h
    return out


def scan(root):
    """Map relative path (bytes) -> dict of every attribute we restore."""
    result = {}
    inodes = {}

    def visit(dirfd, rel, name):
        st = os.lstat(name, dir_fd=dirfd)
        a = {
            "type": stat.S_IFMT(st.st_mode),
            "mode": stat.S_IMODE(st.st_mode),
            "uid": st.st_uid,
            "gid": st.st_gid,
            "mtime_ns": st.st_mtime_ns,
            "xattrs": _xattrs(dirfd, name),
        }
        if stat.S_ISREG(st.st_mode):
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dirfd)
            try:
                a["size"] = st.st_size
                chunks = []
                while True:
                    b = os.read(fd, 1 << 20)
                    if not b:
                        break
                    chunks.append(b)
                a["data"] = b"".join(chunks)
                a["sparse_bytes"] = st.st_blocks * 512
                a["regions"] = _data_regions(fd, st.st_size)
            finally:
                os.close(fd)
            if st.st_nlink > 1:
                inodes.setdefault(st.st_ino, []).append(rel)
        elif stat.S_ISLNK(st.st_mode):
            a["target"] = os.readlink(name, dir_fd=dirfd)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            a["rdev"] = st.st_rdev
        result[rel] = a
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dirfd)
            try:
                for child in sorted(os.fsencode(c) for c in os.listdir(fd)):
                    visit(fd, rel + b"/" + child, child)
            finally:
                os.close(fd)

    parent, base = os.path.split(os.fsencode(root))
    pfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        visit(pfd, b".", base)
    finally:
        os.close(pfd)
    links = sorted(sorted(v) for v in inodes.values())
    return result, links


def compare(src, dst, check_owner=True, check_sparse=True):
    """Asserts dst restores src exactly; returns the number of entries."""
    a, alinks = scan(src)
    b, blinks = scan(dst)
    assert sorted(a) == sorted(b), set(a) ^ set(b)
    for path in a:
        x, y = dict(a[path]), dict(b[path])
        if not check_owner:
            for k in ("uid", "gid"):
                x.pop(k), y.pop(k)
        xs, ys = x.pop("sparse_bytes", None), y.pop("sparse_bytes", None)
        if check_sparse and xs is not None and xs < x["size"] // 2:
            # a sparse source must stay sparse
            assert ys < x["size"] // 2, (path, xs, ys)
        if not check_sparse:
            x.pop("regions", None), y.pop("regions", None)
        assert x == y, (path, {k: (x.get(k), y.get(k)) for k in x if x.get(k) != y.get(k)})
    assert alinks == blinks, (alinks, blinks)
    return len(a)


def make_awkward_tree(root, as_root):
    """Every item of the fidelity list; returns nothing, raises on failure."""
    os.makedirs(root)
    j = lambda *p: os.path.join(root, *p)
    with open(j("plain.txt"), "w") as f:
        f.write("hello\n" * 1000)
    with open(j("big.bin"), "wb") as f:
        f.write(os.urandom(3 << 20) + b"\0" * (2 << 20) + os.urandom(1 << 20))
    # modes with setuid, setgid, sticky
    for name, mode in (("suid", 0o4755), ("sgid", 0o2750), ("sticky", 0o1777), ("none", 0o000)):
        open(j(name), "w").close()
        os.chmod(j(name), mode)
    os.mkdir(j("stickydir"))
    os.chmod(j("stickydir"), 0o1777)
    os.mkdir(j("readonly_dir"))
    open(j("readonly_dir", "inside"), "w").close()
    os.chmod(j("readonly_dir"), 0o555)
    # timestamps: ns precision, before 1970, after 2038
    for name, ns in (("old", -1234567890123456789), ("future", 4102444800123456789),
                     ("nanos", 1600000000000000001)):
        with open(j(name), "w") as f:
            f.write(name)
        os.utime(j(name), ns=(ns, ns))
    # names: newline, invalid UTF-8, spaces, a leading dash
    for name in (b"new\nline", b"bad\xff\xfeutf8", b"sp ace", b"-dash", b"\xe2\x98\x83 snow"):
        with open(os.path.join(os.fsencode(root), name), "wb") as f:
            f.write(name)
    # empty directories, nested
    os.makedirs(j("empty", "deeper", "deepest"))
    # symlinks: relative, absolute, dangling, to a directory; with own mtime
    os.symlink("plain.txt", j("rel_link"))
    os.symlink("/nonexistent/target", j("dangling"))
    os.symlink("empty", j("dir_link"))
    os.utime(j("dangling"), ns=(1500000000000000000, 1500000000000000000), follow_symlinks=False)
    # hard links, also across directories
    os.mkdir(j("links"))
    with open(j("links", "a"), "w") as f:
        f.write("linked content\n")
    os.link(j("links", "a"), j("links", "b"))
    os.link(j("links", "a"), j("hardlink_top"))
    # sparse file: holes at the start, middle and end
    fd = os.open(j("sparse"), os.O_WRONLY | os.O_CREAT, 0o644)
    os.pwrite(fd, b"data in the middle" * 100, 64 << 20)
    os.pwrite(fd, b"more", 200 << 20)
    os.ftruncate(fd, 300 << 20)
    os.close(fd)
    # fifo
    os.mkfifo(j("fifo"), 0o640)
    # xattrs and ACLs
    os.setxattr(j("plain.txt"), "user.comment", b"a \x00 binary value")
    os.setxattr(j("empty"), "user.dir", b"on a directory")
    import subprocess
    subprocess.run(["setfacl", "-m", "u:1234:rwx,g:5678:r", j("plain.txt")], check=True)
    subprocess.run(["setfacl", "-d", "-m", "u:1234:rx", j("empty")], check=True)
    # a path longer than PATH_MAX, built relative to directory descriptors
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(25):
        os.mkdir(LONG, dir_fd=fd)
        nfd = os.open(LONG, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    wfd = os.open(b"deep_file", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
    os.write(wfd, b"deep down\n")
    os.close(wfd)
    os.close(fd)
    if as_root:
        os.mknod(j("chardev"), 0o620 | stat.S_IFCHR, os.makedev(1, 3))
        os.mknod(j("blockdev"), 0o660 | stat.S_IFBLK, os.makedev(7, 200))
        with open(j("owned"), "w") as f:
            f.write("owned by someone else")
        os.chown(j("owned"), 1234, 5678)
        os.chown(j("dangling"), 4321, 8765, follow_symlinks=False)
        os.chown(j("links", "a"), 1111, 2222)
        os.setxattr(j("owned"), "trusted.secret", b"root only")
        os.chown(j("stickydir"), 1234, 5678)
        os.chmod(j("stickydir"), 0o1777)
        os.chown(j("suid"), 1234, 5678)
        os.chmod(j("suid"), 0o4755)
        os.chown(j("sgid"), 1234, 5678)
        os.chmod(j("sgid"), 0o2750)
    # directory mtimes last (creating entries changes them)
    os.utime(j("empty", "deeper"), ns=(1000000000123456789, 1000000000123456789))
    os.utime(j("readonly_dir"), ns=(1100000000000000000, 1100000000000000000))
