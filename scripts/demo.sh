#!/bin/bash
# demo.sh - what stasis does today: checkpoint a running counter, look
# inside the images, and see the counter carry on (restore comes next);
# then read real CRIU 4.2 images and rewrite them byte for byte.
set -eu
cd "$(dirname "$0")/.."
FIX=${FIXTURES:-$(cd .. && pwd)/shared/fixtures/criu-4.2}
T=$(mktemp -d /tmp/stasis-demo.XXXXXX)
SPAWNER=
cleanup() {
	if [ -n "$SPAWNER" ]; then
		kill "$SPAWNER" 2>/dev/null || true
		wait "$SPAWNER" 2>/dev/null || true	# it reports the counter's death
	fi
	rm -rf "$T"
}
trap cleanup EXIT

cc -O2 -o "$T/counter" scripts/counter.c
build/tests/spawn "$T/pid" -C "$T" -- "$T/counter" "$T/counter.log" &
SPAWNER=$!
sleep 1
PID=$(cat "$T/pid")
echo "### a counter is running as pid $PID; its log ends with: $(tail -1 "$T/counter.log")"
echo
echo "\$ stasis dump -t $PID -D $T/img --leave-running"
build/stasis dump -t "$PID" -D "$T/img" --leave-running -v4 -o dump.log
grep -E "frozen_time|pages_written" <(build/crit show "$T/img/stats-dump") | sed 's/^ */    /'
echo
echo "\$ stasis-crit x $T/img ps"
build/crit x "$T/img" ps
echo
echo "\$ stasis-crit x $T/img mems"
build/crit x "$T/img" mems
echo
echo "\$ stasis-crit show $T/img/core-$PID.img   (where it stopped)"
build/crit show "$T/img/core-$PID.img" | grep -E '"(ip|sp|orig_ax)"|"comm"' | head -4
sleep 1
echo
echo "### the counter carried on: its log now ends with $(tail -1 "$T/counter.log")"
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
