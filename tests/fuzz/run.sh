#!/bin/sh
# make fuzz / make fuzz-merge (tests/fuzz/README.md).
#   run.sh fuzz SECONDS NAME...   fuzz each target for SECONDS, niced, from
#       its corpus and the directories tests/fuzz/NAME/also lists; new
#       corpus entries go to build/fuzz/corpus/NAME, crashes (and hangs,
#       out-of-memory inputs) to tests/fuzz/NAME/crashes; prints a table.
#   run.sh merge 0 NAME...        minimizes tests/fuzz/NAME/corpus together
#       with build/fuzz/corpus/NAME (libFuzzer -merge=1) in place.
# Fuzzer options can be added with FUZZ_FLAGS (e.g. -jobs=2 -workers=2).
set -u
cd "$(dirname "$0")/../.." || exit 1
mode=$1; secs=$2; shift 2
bin=build/fuzz/bin
work=build/fuzz/corpus
logs=build/fuzz/logs
mkdir -p "$work" "$logs"
status=0

if [ "$mode" = merge ]; then
	for t in "$@"; do
		mkdir -p "$work/$t" "tests/fuzz/$t/corpus"
		new=build/fuzz/merge-$t
		rm -rf "$new"; mkdir -p "$new"
		if nice -n 10 "$bin/$t" -merge=1 -rss_limit_mb=2048 ${FUZZ_FLAGS:-} "$new" "tests/fuzz/$t/corpus" \
		     "$work/$t" >"$logs/$t.merge" 2>&1; then
			rm -rf "tests/fuzz/$t/corpus"; mv "$new" "tests/fuzz/$t/corpus"
			echo "$t: $(ls "tests/fuzz/$t/corpus" | wc -l) files, $(du -sk "tests/fuzz/$t/corpus" | cut -f1) KiB"
		else
			echo "$t: merge failed, see $logs/$t.merge"; status=1
		fi
	done
	exit $status
fi

printf '%-14s %12s %8s %8s %6s  %s\n' target execs cov ft secs result
for t in "$@"; do
	mkdir -p "$work/$t" "tests/fuzz/$t/crashes"
	dict=""; [ -f "tests/fuzz/$t/dict" ] && dict="-dict=tests/fuzz/$t/dict"
	also=""; [ -f "tests/fuzz/$t/also" ] && also=$(grep -v '^#' "tests/fuzz/$t/also" | tr '\n' ' ')
	log=$logs/$t.log
	start=$(date +%s)
	# shellcheck disable=SC2086
	nice -n 10 "$bin/$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="tests/fuzz/$t/crashes/" $dict ${FUZZ_FLAGS:-} \
		"$work/$t" "tests/fuzz/$t/corpus" $also >"$log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	last=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -n 1)
	cov=$(printf '%s' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	art=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
	if [ $rc -eq 0 ]; then result=ok
	else result="FAILED (exit $rc${art:+: $art}; see $log)"; status=1; fi
	printf '%-14s %12s %8s %8s %6s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$took" "$result"
done
exit $status
