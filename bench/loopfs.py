# SPDX-License-Identifier: BSD-2-Clause
"""A file system of the benchmark's own: a sparse image under build/,
formatted ext4 and loop-mounted (needs root), for trees too large for a
tmpfs (RAM) and, for bench/journal.py, so that no other process's events
reach the change journal.  The image takes disk space only as it is
written; everything is removed when the `with` block ends."""
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def loop_fs(prefix, size_bytes, inodes, inline_data=False):
    """Yields (mount point, work directory beside the image) of a new ext4
    of size_bytes with at least `inodes` inodes; unmounts and removes both
    afterwards."""
    if os.geteuid() != 0:
        sys.exit(f"bench: {prefix} needs root (mount of a loop-mounted ext4 image)")
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    base = tempfile.mkdtemp(prefix=prefix, dir=os.path.join(ROOT, "build"))
    mnt, image = os.path.join(base, "fs"), os.path.join(base, "fs.img")
    os.makedirs(mnt)
    mounted = False
    try:
        with open(image, "wb") as f:
            f.truncate(size_bytes)  # sparse
        opts = ["-O", "inline_data"] if inline_data else []
        subprocess.run(["mkfs.ext4", "-q", "-F", *opts, "-N", str(inodes), image], check=True)
        subprocess.run(["mount", "-o", "loop", image, mnt], check=True)
        mounted = True
        yield mnt, base
    finally:
        if mounted:
            subprocess.run(["umount", mnt])
        shutil.rmtree(base, ignore_errors=True)
