#!/bin/sh
# Runs every test suite (unit under ASan/UBSan, the fuzz corpora replayed
# under ASan/UBSan, end-to-end on the release build and on the ASan/UBSan
# build, the layering check) and ends with one
# summary line: "N passed, N failed".  E2E_WORKERS=1 runs the end-to-end
# tests without pytest-xdist.
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
total_p=0; total_f=0; status=0
# The names of whatever failed, printed again just before the summary: a CI
# log is often cut to its last lines, and those must say what broke.
failures=$(mktemp); trap 'rm -f "$failures"' EXIT

count() { # $1 = text with a "... N passed ... N failed" line
	p=$(printf '%s\n' "$1" | grep -Eo '[0-9]+ passed' | tail -n1 | grep -Eo '[0-9]+')
	f=$(printf '%s\n' "$1" | grep -Eo '[0-9]+ (failed|error)' | awk '{s+=$1} END {print s+0}')
	total_p=$((total_p + ${p:-0})); total_f=$((total_f + ${f:-0}))
	printf '%s\n' "$1" | grep -E '^(FAIL|FAILED|ERROR) |: crashed or printed no summary|^not ok ' \
		| sed "s|^|[$section] |" >>"$failures"
}
nameless_failure() { # a part failed without naming a test
	total_f=$((total_f + 1)); echo "[$section] $1" >>"$failures"
}

section="unit tests (ASan/UBSan)"; echo "== unit tests (ASan/UBSan)"
out=$(sh tests/run-unit.sh build/tests/test_* 2>&1); rc=$?
printf '%s\n' "$out" | tail -n 20
count "$out"; [ $rc -eq 0 ] || status=1

section="unit tests (clang ASan/UBSan)"; echo "== unit tests (clang ASan/UBSan)"
out=$(sh tests/run-unit.sh build/clang/tests/test_* 2>&1); rc=$?
printf '%s\n' "$out" | tail -n 20
count "$out"; [ $rc -eq 0 ] || status=1

# base/ordq's own test once more under ThreadSanitizer: its workers and
# the caller share the slots (prune's repack and check --read-data use it)
section="unit tests (ThreadSanitizer)"; echo "== unit tests (ThreadSanitizer)"
out=$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" sh tests/run-unit.sh build/tsan/tests/test_ordq 2>&1); rc=$?
printf '%s\n' "$out" | tail -n 20
count "$out"; [ $rc -eq 0 ] || status=1

section="fuzz corpus replay (ASan/UBSan)"; echo "== fuzz corpus replay (ASan/UBSan)"
out=$(sh tests/fuzz/replay.sh build/replay/* 2>&1); rc=$?
printf '%s\n' "$out" | tail -n 20
count "$out"; [ $rc -eq 0 ] || status=1

# The backend contract (backend.h), on every backend there is: a local
# directory (on disk, by path; on tmpfs, by file: URL, where fsync is
# free for the slower ThreadSanitizer build) and mem:.  Every operation
# may be called from any thread: the TSan run checks that too.
shm=/dev/shm; [ -d $shm ] && [ -w $shm ] || shm=${TMPDIR:-/tmp}
for variant in asan tsan; do
	d=$(mktemp -d)
	if [ $variant = asan ]; then bin=build/tests/backend_conformance; dir="$d/repo"
	else bin=build/tsan/tests/backend_conformance; dir="file:$(mktemp -d -p $shm)"; fi
	section="backend conformance ($variant build)"; echo "== backend conformance ($variant build): $dir mem:conformance"
	out=$(TSAN_OPTIONS="halt_on_error=1 exitcode=66" $bin "$dir" mem:conformance 2>&1); rc=$?
	rm -rf "$d" "${dir#file:}"
	printf '%s\n' "$out" | grep -v '^ok ' | tail -n 20
	count "$out"
	if [ $rc -ne 0 ]; then status=1; [ -z "$(printf '%s' "$out" | grep -E '[1-9][0-9]* failed')" ] && nameless_failure "exit $rc"; fi
done

# End-to-end tests: the parallel part on E2E_WORKERS pytest-xdist workers
# (each with its own services, ports and directories), then the tests
# marked serial (timing, kill -9, a full file system) alone.  A missing
# service program fails here instead of skipping: make test installs them.
export E2E_REQUIRE_SERVICES=1
xdist=""
if $PY -c 'import xdist' 2>/dev/null && [ "${E2E_WORKERS:-2}" -gt 1 ]; then
	xdist="-n ${E2E_WORKERS:-2} --dist loadgroup"
fi
e2e() { # the caller sets DVALIN_BIN and sanitizer options; $@ = test paths
	for part in parallel serial; do
		if [ $part = parallel ]; then sel="not serial"; par=$xdist; else sel="serial"; par=""; fi
		t0=$(date +%s)
		out=$(DVALIN_TOOLS=$PWD/build/tools $PY -m pytest -q -p no:cacheprovider \
		      -m "$sel" $par "$@" 2>&1); rc=$?
		# a failure's assertion lines first: the tail below is its summary only
		[ $rc -ne 0 ] && [ $rc -ne 5 ] && printf '%s\n' "$out" | grep -E '^(E  |_{3,} .* _{3,}$)' | head -n 80
		printf '%s\n' "$out" | tail -n 25
		echo "   ($part part: $(( $(date +%s) - t0 )) s)"
		[ $rc -eq 5 ] && continue  # nothing selected
		count "$out"
		if [ $rc -ne 0 ]; then status=1; [ -z "$(printf '%s' "$out" | grep -E '[0-9]+ failed')" ] && nameless_failure "$part part, pytest exit $rc"; fi
	done
}

section="end-to-end tests (release build)"; echo "== end-to-end tests (release build)"
DVALIN_BIN=$PWD/dvalin e2e tests/e2e
section="end-to-end tests (asan build)"; echo "== end-to-end tests (asan build)"
DVALIN_BIN=$PWD/build/asan/dvalin ASAN_OPTIONS=detect_leaks=1 e2e tests/e2e
section="threaded end-to-end tests (ThreadSanitizer build)"; echo "== threaded end-to-end tests (ThreadSanitizer build)"
DVALIN_BIN=$PWD/build/tsan/dvalin TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
	e2e tests/e2e/test_fidelity.py tests/e2e/test_incremental.py tests/e2e/test_mount.py \
	tests/e2e/test_drill.py tests/e2e/test_daemon_web.py tests/e2e/test_parallel_maint.py \
	tests/e2e/test_restore_large.py

section="layering and style"; echo "== layering and style"
if sh tests/check-layers.sh; then total_p=$((total_p + 1)); else nameless_failure "check-layers.sh"; status=1; fi

if [ -s "$failures" ]; then echo "== what failed"; cat "$failures"; fi
echo "$total_p passed, $total_f failed"
exit $status
