# SPDX-License-Identifier: BSD-2-Clause
"""dvalin generate: completion that bash, zsh and fish really run (made from
the command table and the --help texts, so every command and option is in
it), the man page built into the binary, and `make install` putting all of
them in place."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, run


def gen(world, kind):
    path = os.path.join(world, kind)
    r = run(["generate", f"--{kind}", path])
    assert r.rc == 0, r
    return path


def every_option(cmd):
    """The long options a command's --help lists at the start of a line."""
    out = run([cmd, "--help"]).out
    opts = set()
    for line in out.splitlines():
        s = line.lstrip()
        if line.startswith(" ") and s.startswith("-"):
            for tok in s.replace(",", " ").split():
                if tok.startswith("--"):
                    opts.add(tok)
                elif not tok.startswith("-"):
                    break
    return opts


def commands():
    out = run(["--help"]).out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [l.split()[0] for l in out.splitlines()]


def bash_complete(script, line):
    """COMPREPLY of the generated function for the words of line (the last one being typed)."""
    words = line.split(" ")
    prog = (f"source {script}\nCOMP_WORDS=({' '.join(repr(w) for w in words)})\n"
            f"COMP_CWORD={len(words) - 1}\n_dvalin\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    p = subprocess.run(["bash", "-c", prog], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return [l for l in p.stdout.splitlines() if l]


def test_bash_completes_commands_options_and_values(world):
    script = gen(world, "bash-completion")
    assert "restore" in bash_complete(script, "dvalin res")
    assert bash_complete(script, "dvalin -r /x res") == ["restore"]
    assert set(bash_complete(script, "dvalin restore --")) >= every_option("restore")
    assert bash_complete(script, "dvalin restore --overwrite if") == ["if-changed", "if-newer"]
    assert bash_complete(script, "dvalin cat sn") == ["snapshot"]
    assert bash_complete(script, "dvalin jobs h") == ["history"]
    assert "--check-config" in bash_complete(script, "dvalin daemon --check")
    # every command, and every option of each
    assert set(bash_complete(script, "dvalin ")) == set(commands())
    for cmd in commands():
        assert set(bash_complete(script, f"dvalin {cmd} --")) >= every_option(cmd), cmd
    # after an option that takes a value, the shell's own file completion
    assert bash_complete(script, "dvalin backup --exclude-file ") == []


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed")
def test_fish_completes_commands_options_and_values(world):
    script = gen(world, "fish-completion")

    def complete(line):
        p = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C {line!r}"],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return [l.split("\t")[0] for l in p.stdout.splitlines()]
    assert "restore" in complete("dvalin rest")
    assert complete("dvalin restore --overwrite ") == ["always", "if-changed", "if-newer", "never"]
    assert "--exclude-caches" in complete("dvalin backup --exclude-c")
    assert set(complete("dvalin forget --keep")) >= {"--keep-last", "--keep-daily", "--keep-tag"}


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed")
def test_zsh_function_offers_the_same(world):
    script = gen(world, "zsh-completion")
    # the completion builtins, stubbed to print what they are offered
    stubs = ("compadd() { [[ $1 == -- ]] && shift; print -l -- \"$@\" }\n"
             "_describe() { local -a c; c=(\"${(@P)2}\"); print -l -- ${c%%:*} }\n"
             "_files() { print FILES }\n")

    def complete(line):
        words = line.split(" ")
        prog = (f"{stubs}words=({' '.join(repr(w) for w in words)}); CURRENT={len(words)}\n"
                f"source {script}\n")
        p = subprocess.run(["zsh", "-f", "-c", prog], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return [l for l in p.stdout.splitlines() if l]
    assert "restore" in complete("dvalin ")
    assert set(complete("dvalin restore --")) >= every_option("restore")
    assert complete("dvalin restore --overwrite ") == ["if-changed", "always", "if-newer", "never"]
    assert complete("dvalin backup ") == ["FILES"]


def test_man_page_is_the_one_of_the_source_tree(world):
    r = run(["generate", "--man", world])
    assert r.rc == 0, r
    with open(os.path.join(world, "dvalin.1"), "rb") as a, \
            open(os.path.join(ROOT, "docs", "dvalin.1"), "rb") as b:
        assert a.read() == b.read()
    assert run(["generate"]).rc == 2
    r = run(["generate", "--man", os.path.join(world, "no", "such", "dir")])
    assert r.rc == 1 and "cannot write" in r.err


def test_make_install_installs_completion(world):
    # (make test has built ./dvalin already: install only copies and generates)
    dest = os.path.join(world, "dest")
    env = dict(os.environ, DESTDIR=dest, PREFIX="/usr")
    p = subprocess.run(["make", "-s", "-C", ROOT, "install"], env=env, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    for path in ("usr/share/bash-completion/completions/dvalin",
                 "usr/share/zsh/site-functions/_dvalin",
                 "usr/share/fish/vendor_completions.d/dvalin.fish",
                 "usr/share/man/man1/dvalin.1", "usr/bin/dvalin"):
        assert os.path.getsize(os.path.join(dest, path)) > 0, path
    assert subprocess.run(["bash", "-n", os.path.join(dest, "usr/share/bash-completion/completions/dvalin")]).returncode == 0


def test_man_page_covers_every_command_and_option():
    """Each command of the table (what --help lists) has an entry in dvalin(1),
    and each long option its --help lists appears there, so a command or
    option added to the table without its page fails here."""
    with open(os.path.join(ROOT, "docs", "dvalin.1")) as f:
        man = f.read()

    def roff(s):
        return s.replace("-", "\\-")
    missing = []
    for cmd in commands():
        entry = re.compile(r"^\.B (.*\\fB)?" + re.escape(roff(cmd)) + r"(\\fR|\s|$)", re.M)
        if not entry.search(man):
            missing.append(cmd)
        usage = run([cmd, "--help"]).out
        for opt in re.findall(r"^\s+(?:-\w, )?--([a-z][a-z0-9-]*)", usage, re.M):
            if roff("--" + opt) not in man:
                missing.append(f"{cmd} --{opt}")
    assert missing == [], missing
