#!/bin/sh
# Rewrites tests/golden/help/ from ./dvalin (or $DVALIN_BIN): run it after a
# deliberate change of a --help text and review the diff before committing.
cd "$(dirname "$0")/help" || exit 1
bin=${DVALIN_BIN:-../../../dvalin}
for f in *.txt; do
	name=${f%.txt}
	if [ "$name" = main ]; then "$bin" --help >"$f"; else "$bin" "$name" --help >"$f"; fi
done
