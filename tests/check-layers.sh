#!/bin/sh
# Layers may only include downward (DESIGN.md): base < core < backend <
# repo < archive < jobs < cli.  Also bans unsafe string functions.
cd "$(dirname "$0")/../src" || exit 1
rank() {
	case $1 in base) echo 0;; core) echo 1;; backend) echo 2;; repo) echo 3;;
	archive) echo 4;; jobs) echo 5;; cli) echo 6;; *) echo 99;; esac
}
bad=0
for f in */*.c */*.h; do
	layer=${f%%/*}; mine=$(rank "$layer")
	for inc in $(grep -Eo '#include "\.\./[a-z]+/' "$f" | sed 's|#include "\.\./||; s|/||'); do
		if [ "$(rank "$inc")" -gt "$mine" ]; then
			echo "layering: $f includes $inc (upward)"; bad=1
		fi
	done
done
if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|alloca)\s*\(' */*.c */*.h; then
	echo "banned function used (see above)"; bad=1
fi
[ $bad -eq 0 ] && echo "layering and banned-function check: ok"
exit $bad
