# SPDX-License-Identifier: BSD-2-Clause
"""--help texts and the wording of key errors are pinned: changing them is a
deliberate act (regenerate tests/golden/help/ and say so in the commit)."""
import os

import pytest

from conftest import ROOT, base_env, run

HELP = os.path.join(ROOT, "tests", "golden", "help")


@pytest.mark.parametrize("name", sorted(f[:-4] for f in os.listdir(HELP)))
def test_help_text_is_pinned(name):
    r = run(["--help"] if name == "main" else [name, "--help"])
    assert r.rc == 0
    assert r.out == open(os.path.join(HELP, name + ".txt")).read()


def test_error_texts(world, repo):
    cases = [
        (["snapshots", "-r", os.path.join(world, "nope")],
         f"dvalin: cannot open repository '{world}/nope': No such file or directory\n"),
        (["snapshots", "-r", world], f"dvalin: '{world}' is not a dvalin repository (no config file)\n"),
        (["restore", "-r", repo, "latest", "--target", os.path.join(world, "t")],
         f"dvalin: no snapshot in repository '{repo}'\n"),
        (["backup", "-r", repo, "/does/not/exist"],
         "dvalin: cannot back up '/does/not/exist': No such file or directory\n"),
        (["frobnicate"], "dvalin: unknown command 'frobnicate' (see 'dvalin --help')\n"),
    ]
    for args, want in cases:
        r = run(args)
        assert r.rc in (1, 2) and r.err == want, (args, r.err)
