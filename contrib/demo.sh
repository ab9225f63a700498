#!/bin/sh
# The `make run` demo: back up a sample tree into a local repository,
# change it, back it up again, list and restore it, and show it is exact;
# then the same to a backup server on loopback, and the daemon for a minute.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dv="$here/dvalin"
demo=${DEMO_DIR:-$here/build/demo}
rm -rf "$demo"
mkdir -p "$demo/data"
export DVALIN_REPOSITORY="$demo/repo"
export DVALIN_PASSWORD="demo password (use DVALIN_PASSWORD_FILE for real repositories)"

# logged_port LOG PID SED: the port a background process PID writes to LOG
# (the sed expression picks it out); waits up to 30 s while PID lives.
logged_port() {
	for _ in $(seq 300); do
		p=$(sed -n "$3" "$1" | head -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	cat "$1" >&2
	return 1
}

# sample data: this project's sources and docs, plus a sparse image and links
cp -a "$here/src" "$here/docs" "$demo/data/"
truncate -s 256M "$demo/data/disk.img"
printf 'a few bytes in the middle of a sparse image\n' |
	dd of="$demo/data/disk.img" bs=1 seek=$((100 << 20)) conv=notrunc status=none
ln -s src/cli "$demo/data/cli-link"
ln "$demo/data/src/cli/main.c" "$demo/data/main-hardlink.c"

echo "== dvalin init"
"$dv" init
echo "== dvalin backup (first)"
"$dv" backup "$demo/data" --tag demo
echo "== change one file, back up again (unchanged files are not read)"
echo "// edited" >> "$demo/data/src/cli/main.c"
"$dv" backup "$demo/data" --tag demo
echo "== dvalin snapshots"
"$dv" snapshots
echo "== dvalin ls latest (first lines)"
"$dv" ls -l latest "$demo/data/src/cli" | head -n 6
echo "== dvalin restore latest"
"$dv" restore latest --target "$demo/restore"
echo "== compare the restore with the original"
if diff -r --no-dereference "$demo/data" "$demo/restore$demo/data" >/dev/null; then
	echo "restore is identical to the source"
else
	echo "restore differs from the source" >&2
	exit 1
fi
echo "sparse image: $(du -k "$demo/data/disk.img" | cut -f1) KiB on disk before, $(du -k "$demo/restore$demo/data/disk.img" | cut -f1) KiB after restore (256 MiB apparent)"
echo "repository: $(du -sh "$demo/repo" | cut -f1) in $demo/repo"
echo "== dvalin forget --keep-last 1 --prune, then check --read-data"
"$dv" forget --keep-last 1 --prune
"$dv" check --read-data
echo "== dvalin stats"
"$dv" stats

# ---------- a backup server on loopback ----------
# The same data to a `dvalin server` (throwaway data directory, a port the
# kernel picks, its self-signed certificate pinned), through an append-only
# token: a backup and a restore work, deleting a snapshot is refused.
echo "== dvalin server on 127.0.0.1: init, repo add, an append-only token"
srv="$demo/server"
as_user=""
[ "$(id -u)" -ne 0 ] || as_user="--user nobody" # it never runs as root
chmod 755 "$demo"
"$dv" server init --data "$srv" $as_user | sed -n 's/^fingerprint:/server certificate:/p'
"$dv" server repo add demo --data "$srv" $as_user
"$dv" server token add --repo demo --rights append --name demo-nightly --data "$srv" $as_user \
	> "$demo/demo.token"
"$dv" server run --listen 127.0.0.1:0 --data "$srv" $as_user > "$demo/server.log" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null || true' EXIT INT TERM
sport=$(logged_port "$demo/server.log" $spid 's/.*serving .* port \([0-9]*\) (HTTPS.*/\1/p')
url="https://127.0.0.1:$sport/demo"
echo "server: $url (pid $spid)"
(
	export DVALIN_REPOSITORY="$url" DVALIN_TOKEN_FILE="$demo/demo.token" XDG_CACHE_HOME="$demo/cache"
	DVALIN_FINGERPRINT=$("$dv" server fingerprint --data "$srv" $as_user)
	export DVALIN_FINGERPRINT
	echo "== dvalin -r $url init, backup, restore"
	"$dv" init -q
	"$dv" backup -q "$demo/data" --tag demo
	"$dv" snapshots
	"$dv" restore -q latest --target "$demo/restore-https"
	if diff -r --no-dereference "$demo/data" "$demo/restore-https$demo/data" >/dev/null; then
		echo "restore over HTTPS is identical to the source"
	else
		echo "restore over HTTPS differs from the source" >&2
		exit 1
	fi
	echo "== dvalin forget latest with the append-only token (must be refused)"
	if "$dv" forget latest; then
		echo "the append-only token could delete a snapshot" >&2
		exit 1
	fi
	echo "refused, as it should be: the snapshot is still there"
	"$dv" snapshots
)
kill -TERM $spid
wait $spid || true
trap - EXIT INT TERM
echo "== the server's log (last lines)"
tail -n 3 "$demo/server.log"

# ---------- the daemon, for a minute ----------
# A demo configuration: the sample data backed up every 20 seconds with a
# retention, a check, the disks; the web UI on a free loopback port (user
# "demo", password "demo"); then SIGTERM, as systemctl stop would send.
seconds=${DEMO_DAEMON_SECONDS:-60}
echo "== dvalin daemon for ${seconds} s"
hash=$(printf 'demo\n' | "$dv" daemon --hash-password)
cat > "$demo/dvalin.conf" <<CONF
[daemon]
state-dir = $demo/state

[repository demo]
location = $demo/repo

[backup data]
repository = demo
path = $demo/data
schedule = *:*:0/20
keep-last = 3
max-age = 1h

[check demo]
repository = demo
schedule = *:0/5
read-data-subset = 10%

[disks]
schedule = hourly

[web]
listen = 127.0.0.1:0
user = demo $hash
restore-root = $demo/restores
CONF
"$dv" daemon --check-config --config "$demo/dvalin.conf"
"$dv" daemon --config "$demo/dvalin.conf" > "$demo/daemon.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT INT TERM
port=$(logged_port "$demo/daemon.log" $pid 's/.*web UI on .* (port \([0-9]*\)).*/\1/p')
echo "web UI: http://127.0.0.1:$port/  (user demo, password demo), /metrics, for ${seconds} s"
echo "        from another terminal: $dv jobs --config $demo/dvalin.conf"
sleep "$seconds"
echo "== dvalin jobs, dvalin jobs history"
"$dv" jobs --config "$demo/dvalin.conf"
"$dv" jobs history --config "$demo/dvalin.conf"
kill -TERM $pid
wait $pid || true
trap - EXIT INT TERM
echo "== the daemon's log"
cat "$demo/daemon.log"
