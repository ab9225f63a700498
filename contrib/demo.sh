#!/bin/sh
# The `make run` demo: back up a sample tree into a local repository,
# change it, back it up again, list and restore it, and show it is exact.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dv="$here/dvalin"
demo=${DEMO_DIR:-$here/build/demo}
rm -rf "$demo"
mkdir -p "$demo/data"
export DVALIN_REPOSITORY="$demo/repo"
export DVALIN_PASSWORD="demo password (use DVALIN_PASSWORD_FILE for real repositories)"

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
port=""
for _ in $(seq 100); do
	port=$(sed -n 's/.*web UI on .* (port \([0-9]*\)).*/\1/p' "$demo/daemon.log" | head -n 1)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { cat "$demo/daemon.log" >&2; exit 1; }
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
