#!/bin/sh
# Layers may only include downward (docs/internals.md has the map).  Each
# folder lists the folders it may include besides itself; anything else is
# an error, so a new folder must be added here before it can be used.
# Disk health and notifications sit beside the repository stack, not on
# it: they may not include backend, repo or archive code.  report/ (the
# JSON encoders) sits above jobs/, whose results it encodes, and below
# cli/ (and later the server), which print with it.  daemon/ (schedules,
# the daemon: scheduler, history, web UI) uses everything below cli/, and
# cli/ uses it.  http/ (the HTTP server plumbing of the daemon and the
# repository server) needs only base/; server/ (the repository server: routes,
# rights, tokens, its file store) sits on the repository layer (for layout
# checks) and http/.
# Also bans unsafe string functions.
cd "$(dirname "$0")/../src" || exit 1
allowed() {
	case $1 in
	base) echo "";;
	core) echo "base";;
	notify) echo "base";;
	disks) echo "base";;
	backend) echo "base core";;
	repo) echo "base core backend";;
	archive) echo "base core backend repo";;
	jobs) echo "base core backend repo archive disks notify";;
	report) echo "base core backend repo archive disks notify jobs";;
	http) echo "base";;
	server) echo "base core backend repo http";;
	daemon) echo "base core backend repo archive disks notify jobs report http";;
	cli) echo "base core backend repo archive disks notify jobs report http server daemon";;
	*) echo "-";;
	esac
}
bad=0
for f in */*.c */*.h; do
	layer=${f%%/*}
	ok=$(allowed "$layer")
	if [ "$ok" = "-" ]; then
		echo "layering: folder '$layer' is not in tests/check-layers.sh"; bad=1; continue
	fi
	for inc in $(grep -Eo '#include "\.\./[a-z]+/' "$f" | sed 's|#include "\.\./||; s|/||'); do
		case " $ok " in
		*" $inc "*) ;;
		*) echo "layering: $f includes $inc/ (not allowed from $layer/)"; bad=1;;
		esac
	done
done
if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|alloca)\s*\(' */*.c */*.h; then
	echo "banned function used (see above)"; bad=1
fi
[ $bad -eq 0 ] && echo "layering and banned-function check: ok"
exit $bad
