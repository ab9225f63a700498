#!/bin/sh
# Replays every checked-in input of each fuzz target given (build/replay/
# <name>): tests/fuzz/<name>/corpus and tests/fuzz/<name>/crashes, and the
# directories tests/fuzz/<name>/also lists.  One
# line per target, then "fuzz replay: N passed, N failed" (one per target).
cd "$(dirname "$0")/../.." || exit 1
passed=0; failed=0
# tests/fuzz/<name>/also: more directories of real inputs (fixtures), one a line
also() { [ -f "tests/fuzz/$1/also" ] && grep -v '^#' "tests/fuzz/$1/also" | tr '\n' ' '; }
for bin in "$@"; do
	name=$(basename "$bin")
	dirs=""
	for d in corpus crashes; do
		[ -d "tests/fuzz/$name/$d" ] && dirs="$dirs tests/fuzz/$name/$d"
	done
	[ -z "$dirs" ] || dirs="$dirs $(also "$name")"
	if [ -z "$dirs" ]; then
		echo "FAIL $name: no tests/fuzz/$name/corpus"; failed=$((failed+1)); continue
	fi
	# shellcheck disable=SC2086
	out=$(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	      "$bin" $dirs 2>&1); rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $name: $(printf '%s\n' "$out" | tail -n 1)"; passed=$((passed+1))
	else
		printf '%s\n' "$out" | tail -n 40
		echo "FAIL $name (exit $rc)"; failed=$((failed+1))
	fi
done
echo "fuzz replay: $passed passed, $failed failed"
[ $failed -eq 0 ]
