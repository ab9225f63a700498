#!/bin/sh
# Runs every test suite (unit under ASan/UBSan, the fuzz corpora replayed
# under ASan/UBSan, end-to-end on the release build and on the ASan/UBSan
# build, the layering check) and ends with one
# summary line: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
total_p=0; total_f=0; status=0

count() { # $1 = text with a "... N passed ... N failed" line
	p=$(printf '%s\n' "$1" | grep -Eo '[0-9]+ passed' | tail -n1 | grep -Eo '[0-9]+')
	f=$(printf '%s\n' "$1" | grep -Eo '[0-9]+ (failed|error)' | awk '{s+=$1} END {print s+0}')
	total_p=$((total_p + ${p:-0})); total_f=$((total_f + ${f:-0}))
}

echo "== unit tests (ASan/UBSan)"
out=$(sh tests/run-unit.sh build/tests/test_* 2>&1); rc=$?
printf '%s\n' "$out" | tail -n 20
count "$out"; [ $rc -eq 0 ] || status=1

echo "== fuzz corpus replay (ASan/UBSan)"
out=$(sh tests/fuzz/replay.sh build/replay/* 2>&1); rc=$?
printf '%s\n' "$out" | tail -n 20
count "$out"; [ $rc -eq 0 ] || status=1

for variant in release asan; do
	bin=$PWD/dvalin; [ $variant = asan ] && bin=$PWD/build/asan/dvalin
	echo "== end-to-end tests ($variant build)"
	out=$(DVALIN_BIN=$bin DVALIN_TOOLS=$PWD/build/tools \
	      ASAN_OPTIONS=detect_leaks=1 $PY -m pytest -q -p no:cacheprovider tests/e2e 2>&1); rc=$?
	printf '%s\n' "$out" | tail -n 25
	count "$out"
	if [ $rc -ne 0 ]; then status=1; [ -z "$(printf '%s' "$out" | grep -E '[0-9]+ failed')" ] && total_f=$((total_f + 1)); fi
done

echo "== threaded end-to-end tests (ThreadSanitizer build)"
out=$(DVALIN_BIN=$PWD/build/tsan/dvalin DVALIN_TOOLS=$PWD/build/tools \
      TSAN_OPTIONS="halt_on_error=1 exitcode=66" $PY -m pytest -q -p no:cacheprovider \
      tests/e2e/test_fidelity.py tests/e2e/test_incremental.py 2>&1); rc=$?
printf '%s\n' "$out" | tail -n 25
count "$out"
if [ $rc -ne 0 ]; then status=1; [ -z "$(printf '%s' "$out" | grep -E '[0-9]+ failed')" ] && total_f=$((total_f + 1)); fi

echo "== layering and style"
if sh tests/check-layers.sh; then total_p=$((total_p + 1)); else total_f=$((total_f + 1)); status=1; fi

echo "$total_p passed, $total_f failed"
exit $status
