#!/bin/sh
# Regenerates the seed inputs of every fuzz target from real files: a
# small repository that the real binary creates (two backups of a tree of
# every kind of entry, a forged hostile snapshot, a forget and a prune)
# and contrib/alerts.conf.example.  Seeds
# are added to tests/fuzz/<target>/corpus under the first 40 hex digits of
# their SHA-256; a repository's keys are random, so every run adds new
# files: run `make fuzz-merge` afterwards to keep only what adds coverage.
set -eu
cd "$(dirname "$0")/../.."
make -s -j2 dvalin build/tools/fuzzseeds build/tools/forge
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export DVALIN_PASSWORD=dvalin-fuzz # FUZZ_PASSPHRASE in tests/fuzz/fuzz.h
repo=$tmp/repo
src=$tmp/src

add() { # add TARGET FILE...
	t=$1; shift
	mkdir -p "tests/fuzz/$t/corpus"
	for f in "$@"; do
		h=$(sha256sum "$f" | cut -c1-40)
		cp "$f" "tests/fuzz/$t/corpus/$h"
	done
}

# Every kind of entry, kept small so the packs stay a few KiB.
mkdir -p "$src/dir/sub" "$src/empty"
printf 'hello\n' >"$src/dir/a.txt"
: >"$src/dir/zero"
head -c 20000 /dev/urandom >"$src/dir/random"
yes 'compressible line' | head -n 2000 >"$src/dir/sub/text"
truncate -s 1M "$src/dir/sparse" && printf 'tail' >>"$src/dir/sparse"
ln "$src/dir/a.txt" "$src/dir/hardlink"
ln -s a.txt "$src/dir/symlink"
ln -s "$(printf 'target\twith\001bytes')" "$src/dir/odd-link"
mkfifo "$src/dir/fifo"
printf 'x' >"$src/dir/$(printf 'name\nwith\377bytes')"
chmod 4750 "$src/dir/a.txt"
setfattr -n user.comment -v 'a value' "$src/dir/a.txt" 2>/dev/null || true

./dvalin init -r "$repo" --kdf-log-n 10 >/dev/null
./dvalin backup -r "$repo" --tag first --time "2024-01-02 03:04:05" "$src" >/dev/null
printf 'changed\n' >>"$src/dir/sub/text"
./dvalin backup -r "$repo" --tag second,weekly "$src/dir" "$src/empty" >/dev/null
./dvalin backup -r "$repo" "$src" >/dev/null
build/tools/forge "$repo" traversal >/dev/null
build/tools/forge "$repo" badlink >/dev/null
add index "$repo"/index/*
add pack "$repo"/data/*/*
# the first snapshot goes: prune repacks and writes one index
./dvalin forget -r "$repo" --keep-last 4 --prune --max-unused 0% >/dev/null

add config "$repo/config"
add key "$repo"/keys/*
add index "$repo"/index/*
add pack "$repo"/data/*/*
mkdir "$tmp/seeds"
build/tools/fuzzseeds "$repo" "$tmp/seeds"
for t in tree snapshot_file snapshot_body blob gcrec lease; do
	add "$t" "$tmp/seeds/$t"/*
done

# (the SMART and zpool fixtures are read in place: see tests/fuzz/*/also)
add alerts contrib/alerts.conf.example
# one section of each kind alone, as the example's sections are
awk '/^\[/ { n++ } { print > (dir "/alerts-" n) }' dir="$tmp" contrib/alerts.conf.example
add alerts "$tmp"/alerts-[1-9]*
add ini contrib/alerts.conf.example "$tmp"/alerts-[1-9]*
for t in tests/fuzz/*/corpus; do
	echo "$t: $(ls "$t" | wc -l) files, $(du -sk "$t" | cut -f1) KiB"
done
