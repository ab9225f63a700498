#!/bin/sh
# Runs each unit-test binary; prints one total line.
passed=0; failed=0; status=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	echo "$out" | grep -v '^ok ' 
	line=$(echo "$out" | tail -n 1)
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then echo "$t: crashed or printed no summary (exit $rc)"; failed=$((failed+1)); status=1; continue; fi
	passed=$((passed+p)); failed=$((failed+f))
	[ "$rc" -eq 0 ] || status=1
done
echo "unit: $passed passed, $failed failed"
exit $status
