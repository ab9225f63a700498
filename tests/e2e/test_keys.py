# SPDX-License-Identifier: BSD-2-Clause
"""Key files are untrusted until one opens: their scrypt parameters are
capped before the KDF runs, their names must be their SHA-256, and they are
tried cheapest first (docs/format.md, "Key file")."""
import glob
import hashlib
import os
import struct
import time

import pytest

from conftest import base_env, run, snapshots


def key_file(log_n, r, p, version=1, kdf=1):
    return (b"DVALKEY1" + struct.pack("<I", version) + bytes([kdf, log_n, r, p]) +
            os.urandom(32) + os.urandom(188 - 48))


def plant(repo, data, name=None):
    name = name or hashlib.sha256(data).hexdigest()
    path = os.path.join(repo, "keys", name)
    with open(path, "wb") as f:
        f.write(data)
    return "keys/" + name


def timed_snapshots(repo):
    t0 = time.monotonic()
    r = run(["snapshots", "-r", repo, "--json"])
    return r, time.monotonic() - t0


@pytest.mark.parametrize("params", [(22, 32, 16), (22, 8, 2), (23, 8, 1), (30, 8, 1),
                                    (22, 9, 1), (255, 255, 255)])
def test_key_file_over_the_cap_is_skipped_without_running_the_kdf(repo, params):
    planted = [plant(repo, key_file(*params)) for _ in range(3)]
    r, seconds = timed_snapshots(repo)
    assert r.rc == 0, r
    assert r.json() == []
    for name in planted:
        assert f"key file '{name}' asks for a costlier scrypt than dvalin writes" in r.err, r.err
    # (22, 32, 16) alone would need 16 GiB and minutes per attempt
    assert seconds < 30, seconds


def test_only_over_cap_keys_fail_fast_with_a_clear_message(repo):
    for k in glob.glob(os.path.join(repo, "keys", "*")):
        os.unlink(k)
    name = plant(repo, key_file(22, 32, 16))
    r, seconds = timed_snapshots(repo)
    assert r.rc == 1 and seconds < 30, (r, seconds)
    assert name in r.err and "no usable key" in r.err, r.err


def test_renamed_key_file_is_reported_and_skipped(repo):
    real = glob.glob(os.path.join(repo, "keys", "*"))[0]
    data = open(real, "rb").read()
    renamed = plant(repo, data, name="00" * 32)
    r, _ = timed_snapshots(repo)
    assert r.rc == 0, r
    want = "keys/" + os.path.basename(real)
    assert f"key file '{renamed}' is not named by its SHA-256" in r.err, r.err
    assert want in r.err
    # with only the renamed copy left the repository does not open, and says why
    os.unlink(real)
    r = run(["snapshots", "-r", repo])
    assert r.rc == 1 and renamed in r.err and "no usable key" in r.err, r


def test_damaged_and_foreign_files_in_keys_are_reported(repo):
    names = [plant(repo, b"short"),
             plant(repo, os.urandom(188)),
             plant(repo, key_file(15, 8, 1, version=9)),
             plant(repo, key_file(15, 8, 1, kdf=7)),
             plant(repo, key_file(9, 8, 1)),
             plant(repo, key_file(15, 0, 1))]
    with open(os.path.join(repo, "keys", "ff" * 32), "wb") as f:
        f.truncate(1 << 30)  # sparse: a reader that read it whole would use 1 GiB
    names.append("keys/" + "ff" * 32)
    r = run(["snapshots", "-r", repo])
    assert r.rc == 0, r
    for n in names:
        assert n in r.err, (n, r.err)
    assert len(r.err.splitlines()) == len(names), r.err


@pytest.mark.serial  # compares two timings
def test_keys_are_tried_cheapest_first(repo):
    """Costly but allowed keys that come first by name do not delay the
    opening: the real key (N = 2^10 here) is tried before them."""
    for _ in range(12):
        plant(repo, key_file(16, 8, 1))  # 64 MiB and a tenth of a second each
    t0 = time.monotonic()
    assert run(["snapshots", "-r", repo]).rc == 0
    right = time.monotonic() - t0
    t0 = time.monotonic()
    r = run(["snapshots", "-r", repo], env=base_env(DVALIN_PASSWORD="wrong"))
    wrong = time.monotonic() - t0
    assert r.rc == 1 and "wrong password" in r.err, r
    # a wrong password tries all 13; the right one stops at the first
    assert right * 4 < wrong, (right, wrong)
    assert snapshots(repo) == []
