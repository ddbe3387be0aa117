#!/bin/bash
# dedup.sh - --auto-dedup and `stasis dedup` (tests/dump/run.sh): a program
# rewriting part of its memory (migrant.c) pre-dumped, then pre-dumped and
# dumped again with --auto-dedup:
#  - the parent's pages image gives up (a punched hole) about the pages the
#    next dump holds again, and keeps its size (offsets stay valid);
#  - a restore of the last dump brings every page back right (the program
#    checks its whole memory);
#  - `stasis dedup` on a chain already deduplicated frees nothing more, and
#    one on a directory with no parent is a no-op, not an error;
#  - the same chain over page servers, `page-server --auto-dedup`: the
#    server's parent images give up the pages that come again, before the
#    dumper is answered, and a restore from the server's images brings
#    every page back right.
set -u
cd "$(dirname "$0")/../.."
. tests/dump/lib.sh
T="dedup"
B=$PWD/build
W=/tmp/stasis-dedup-tests
S=$B/stasis
rm -rf "$W"
mkdir -p "$W"

blocks() { stat -c %b "$1" 2>/dev/null || echo 0; }
cleanup() {
	for f in "$W/spawn.pid" "$W/spawn-r.pid" "$W/spawn2.pid" "$W/spawn2-r.pid"; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null
}
trap cleanup EXIT

# restored_ok SPAWNFILE RESULT DIR: restore DIR under a subreaper; the program finds every page right.
restored_ok() {
	"$B/tests/spawn" "$1" -S -- "$S" restore -D "$3" -o restore.log &
	for _ in $(seq 100); do [ -d "/proc/$pid" ] && break; sleep 0.05; done
	rm -f "$2"
	sleep 0.2
	kill -USR1 "$pid" 2>/dev/null
	wait_for "$2" . 20
	grep -q '^ok ' "$2"
}

# 64 MiB, 20 MB/s rewritten round-robin: each pass after the first has
# a few thousand pages the one before it also had.
"$B/tests/spawn" "$W/spawn.pid" -- "$B/tests/migrant" 64 20 "$W/result" &
wait_for "$W/result" '^ready' 30 || { fail "the program did not start"; exit 0; }
pid=$(awk '{ print $2 }' "$W/result")

$S pre-dump -t "$pid" -D "$W/1" -o pre.log || { fail "pre-dump 1: $(grep -m1 Error "$W/1/pre.log")"; exit 0; }
p1=$W/1/$(cd "$W/1" && ls pages-*.img | head -1)
before=$(blocks "$p1")
size=$(stat -c %s "$p1")
sleep 0.5
$S pre-dump -t "$pid" -D "$W/2" --prev-images-dir ../1 --auto-dedup -v4 -o pre.log ||
	{ fail "pre-dump 2: $(grep -m1 Error "$W/2/pre.log")"; exit 0; }
after=$(blocks "$p1")
n2=$(dec "$W/2/stats-dump" | jq '.entries[0].dump.pages_written')
# Each page written again frees 8 blocks of 512 bytes in the parent.
check "the parent gave up the pages written again ($before -> $after blocks, $n2 pages again)" \
	test "$after" -lt "$before" -a $((before - after)) -ge $(((n2 - 64) * 8))
check "the parent's pages image keeps its size" test "$(stat -c %s "$p1")" = "$size"
grep -q "pages of .* parent images freed" "$W/2/pre.log"
check "the log says how many pages were freed" test $? -eq 0

sleep 0.3
$S dump -t "$pid" -D "$W/3" --prev-images-dir ../2 --auto-dedup -o dump.log ||
	{ fail "dump: $(grep -m1 Error "$W/3/dump.log")"; exit 0; }
for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
b1=$(blocks "$p1")
$S dedup -D "$W/3" -o "$W/dedup.log"
check "stasis dedup on a deduplicated chain succeeds, frees nothing more" \
	test $? -eq 0 -a "$(blocks "$p1")" = "$b1"
$S dedup -D "$W/1" -o "$W/dedup1.log"
check "stasis dedup without a parent is a no-op" test $? -eq 0

restored_ok "$W/spawn-r.pid" "$W/result" "$W/3"
check "after the restore every page is right ($(cat "$W/result" 2>/dev/null))" test $? -eq 0
kill "$pid" 2>/dev/null

T="dedup on the page server"
P=$W/ps
PORT=27031
"$B/tests/spawn" "$W/spawn2.pid" -- "$B/tests/migrant" 64 20 "$W/result2" &
wait_for "$W/result2" '^ready' 30 || { fail "the program did not start"; exit 0; }
pid=$(awk '{ print $2 }' "$W/result2")
# step N [PREV] [dump]: a pre-dump (or the dump) N through a page server into P/N.
step() {
	local n=$1 prev=${2:-} action=${3:-pre-dump}
	mkdir -p "$P/$n"
	[ -n "$prev" ] && ln -s "../$prev" "$P/$n/parent"
	$S page-server -D "$P/$n" --address 127.0.0.1 --port $PORT -d --auto-dedup -v4 \
		-o ps.log || return 1
	$S $action -t "$pid" -D "$W/s$n" --page-server --address 127.0.0.1 --port $PORT \
		${prev:+--prev-images-dir "../s$prev"} -o $action.log
}
step 1 || { fail "pre-dump 1: $(grep -m1 Error "$W/s1/pre-dump.log")"; exit 0; }
s1=$P/1/$(cd "$P/1" && ls pages-*.img | head -1)
before=$(blocks "$s1")
sleep 0.5
step 2 1 || { fail "pre-dump 2: $(grep -m1 Error "$W/s2/pre-dump.log")"; exit 0; }
after=$(blocks "$s1")
check "the server's parent gave up the pages written again ($before -> $after blocks)" \
	test "$after" -lt "$before"
check "the server logs how many pages it freed" grep -q "pages of .* parent images freed" "$P/2/ps.log"
sleep 0.3
step 3 2 dump || { fail "dump: $(grep -m1 Error "$W/s3/dump.log")"; exit 0; }
for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
tar -C "$W/s3" -cf - --exclude 'pages-*.img' --exclude 'pagemap-*.img' --exclude parent . |
	tar -C "$P/3" -xf -
check "after a restore from the server's deduplicated chain every page is right" \
	restored_ok "$W/spawn2-r.pid" "$W/result2" "$P/3"
kill "$pid" 2>/dev/null
exit 0
