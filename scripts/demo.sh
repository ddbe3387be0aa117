#!/bin/bash
# demo.sh - stasis end to end: checkpoint a running counter (which kills
# it), restore it from the images, and watch it count on with the same
# pid; then restore a program from CRIU 4.2's own images.
set -eu
cd "$(dirname "$0")/.."
FIX=${FIXTURES:-$(cd .. && pwd)/shared/fixtures/criu-4.2}
T=$(mktemp -d /tmp/stasis-demo.XXXXXX)
SPAWNERS=()
KILL=()
cleanup() {
	# The restored programs live in sessions of their own: kill them by
	# pid; the spawners (child subreapers) then reap them and exit.
	kill -9 "${KILL[@]}" 2>/dev/null || true
	for s in "${SPAWNERS[@]}"; do
		kill "$s" 2>/dev/null || true
		wait "$s" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT

# spawn PIDFILE CMD...: run CMD under a child subreaper (PID 1 here reaps
# no orphans), so that whatever CMD leaves behind is reaped in the end.
spawn() {
	local pidfile=$1
	shift
	build/tests/spawn "$pidfile" -S -- "$@" &
	SPAWNERS+=($!)
	for _ in $(seq 100); do [ -s "$pidfile" ] && break; sleep 0.02; done
}

cc -O2 -o "$T/counter" scripts/counter.c
build/tests/spawn "$T/pid" -C "$T" -- "$T/counter" "$T/counter.log" &
SPAWNERS+=($!)
sleep 1.2
PID=$(cat "$T/pid")
KILL+=("$PID")
echo "### a counter is running as pid $PID; its log ends with: $(tail -1 "$T/counter.log")"
echo
echo "\$ stasis dump -t $PID -D $T/img      (checkpoint, then kill it, as CRIU does)"
build/stasis dump -t "$PID" -D "$T/img" -v4 -o dump.log
sleep 0.2
before=$(tail -1 "$T/counter.log")
[ -d /proc/"$PID" ] && echo "!!! pid $PID is still alive" || echo "### pid $PID is gone; its log stopped at $before"
grep -E "frozen_time|pages_written" <(build/crit show "$T/img/stats-dump") | sed 's/^ */    /'
echo
echo "\$ stasis-crit x $T/img ps"
build/crit x "$T/img" ps
sleep 1
echo
echo "\$ stasis restore -D $T/img -d"
spawn "$T/restore.pid" build/stasis restore -D "$T/img" -d -v4 -o restore.log
sleep 1.2
echo "### pid $PID is back: $(ps -o pid=,stat=,cmd= -p "$PID" || echo MISSING)"
echo "### its log after $before: $(grep -x -A3 "$before" "$T/counter.log" | tail -n 3 | tr '\n' ' ')... $(tail -n 1 "$T/counter.log")"
echo
echo "### CRIU 4.2 dumped this program; stasis restores it ($FIX/counter-static):"
"$FIX/stage.sh" counter-static >/dev/null
cp -a "$FIX/counter-static/img" "$T/criu-img"
KILL+=(31001)
echo "\$ stasis restore -D $T/criu-img -d"
spawn "$T/criu.pid" build/stasis restore -D "$T/criu-img" -d -v4 -o restore.log
sleep 1.5
grep -A2 "resumed" /tmp/stasis-fixtures/counter-static/counter-static.log | sed 's/^/    /'
echo
echo "### CRIU 4.2's images of a 4-process tree ($FIX/tree/img):"
build/crit x "$FIX/tree/img" ps
n=0
for f in "$FIX/tree/img"/*; do
	build/crit decode -i "$f" -o "$T/x.json"
	build/crit encode -i "$T/x.json" -o "$T/x.img"
	cmp -s "$f" "$T/x.img" || { echo "MISMATCH: $f"; exit 1; }
	n=$((n + 1))
done
echo "decoded to JSON and encoded back: $n images, identical bytes."
