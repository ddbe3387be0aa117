#!/bin/bash
# migrate.sh - live migration (scripts/migrate.sh) between two network
# namespaces standing for two hosts, joined by a veth pair:
#  - a program writing 50 MB/s over 256 MiB of its memory (migrant.c) runs
#    in "src"; pre-dumps send its pages to page servers in "dst", each one
#    only what changed since the last; the final dump stops it; it is
#    restored in "dst";
#  - it runs there, in dst's network namespace, with the same pid, and
#    every page of its memory checks out (none lost, none older than the
#    last write it made before the final dump);
#  - the later pre-dumps sent fewer pages than the first;
#  - then it moves back, src <- dst, with --lazy: restored with
#    --lazy-pages, its memory filled by a lazy-pages daemon from the pages
#    the pre-dumps sent; the same checks, and the daemon ends with every
#    page in.
#  - each time the source's memory is freed after its pid (the final dump
#    makes a keeper of it), and nothing of the source is left after.
# The downtime it prints is for reading, not a limit: bench/migrate.sh runs
# this with MIGRANT_MIB=1024 and reports it.  MIGRANT_MIB (default 256) and
# MIGRANT_RATE (MB/s, default 50) size the program; MIGRATE_MODES (default
# "plain lazy") the migrations, alternately there and back; the reports of
# scripts/migrate.sh stay in $W/migrate-MODE.out.
set -u
cd "$(dirname "$0")/../.."
B=$PWD/build
T=migrate
W=/tmp/stasis-migrate-tests
SRC=stasis-mig-src DST=stasis-mig-dst

. tests/lib/common.sh

cleanup() {
	[ -n "${MPID:-}" ] && kill -KILL "$MPID" 2>/dev/null
	for f in "$W"/spawn-*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null
	ip netns del $SRC 2>/dev/null
	ip netns del $DST 2>/dev/null
}
trap cleanup EXIT
cleanup
rm -rf "$W"
mkdir -p "$W"

# Two "hosts": 10.213.0.1 (src) and 10.213.0.2 (dst).
if ! { ip netns add $SRC && ip netns add $DST &&
	ip link add stasis-mig0 netns $SRC type veth peer name stasis-mig1 netns $DST &&
	ip -n $SRC addr add 10.213.0.1/24 dev stasis-mig0 &&
	ip -n $DST addr add 10.213.0.2/24 dev stasis-mig1 &&
	ip -n $SRC link set stasis-mig0 up && ip -n $DST link set stasis-mig1 up &&
	ip -n $SRC link set lo up && ip -n $DST link set lo up; } 2>"$W/net.err"; then
	fail "cannot make the two network namespaces: $(head -1 "$W/net.err")"
	exit 0
fi
# nsenter, not `ip netns exec`: that one gives each command a mount
# namespace of its own, which the tree would then not share with stasis.
in_src() { nsenter --net=/run/netns/$SRC "$@"; }

in_src "$B/tests/spawn" "$W/spawn-src.pid" -- "$B/tests/migrant" "${MIGRANT_MIB:-256}" "${MIGRANT_RATE:-50}" \
	"$W/result" &
wait_for "$W/result" '^ready' 60 || { fail "the program did not start"; exit 0; }
MPID=$(awk '{ print $2 }' "$W/result")

# gone_soon PID: no process PID within a second (its parent here reaps it).
gone_soon() {
	for _ in $(seq 100); do
		[ -d "/proc/$1" ] || return 0
		sleep 0.01
	done
	return 1
}

# migrate MODE FROM TO ADDR: the tree moves from namespace FROM to TO (ADDR:
# TO's address), with --lazy when MODE is lazy.  The migration runs under
# spawn: the restored tree is orphaned there, and spawn, a subreaper, reaps
# it (and the lazy-pages daemon).
migrate() {
	local mode=$1 from=$2 to=$3 addr=$4 out=$W/migrate-$1.out opt=

	[ "$mode" = lazy ] && opt=--lazy
	"$B/tests/spawn" "$W/spawn-$mode.pid" -- /bin/bash -c \
		"exec nsenter --net=/run/netns/$from scripts/migrate.sh -t $MPID --src $W/$mode-src \
		--dst $W/$mode-dst --address $addr --port 27113 $opt ${MIGRATE_VERBOSITY:--v4} \
		--remote 'nsenter --net=/run/netns/$to' >$out 2>&1" &
	if ! wait_for "$out" '^total' 120; then
		fail "$mode: the migration failed: $(grep -m1 migrate: "$out")"
		return 1
	fi
	pass "$mode: migrated: $(grep -c '^pre-dump' "$out") pre-dumps, $(grep '^downtime' "$out")"

	first=$(sed -n 's/^pre-dump 1: \([0-9]*\) pages.*/\1/p' "$out")
	least=$(sed -n 's/^pre-dump [2-9]: \([0-9]*\) pages.*/\1/p' "$out" | sort -n | head -1)
	check "$mode: the later pre-dumps sent only what changed (${least:-?} of ${first:-?} pages)" \
		test -n "$least" -a -n "$first" -a "${least:-0}" -lt "$((first / 2))"
	check "$mode: it runs again with its pid ($MPID)" test -d "/proc/$MPID"
	# Its memory outlived its pid, held by a keeper the final dump made,
	# killed before the dump returned and gone soon after (the kernel frees
	# the memory while the dump goes on).
	keeper=$(sed -n 's/.*: keeper \([0-9]*\) holds its memory.*/\1/p' "$W/$mode-src/final/dump.log")
	check "$mode: the final dump freed the pid before the memory (keeper ${keeper:-none})" \
		test -n "$keeper"
	check "$mode: and nothing of the source is left soon after the dump" \
		gone_soon "$keeper"
	check "$mode: in $to's network namespace" \
		test "$(stat -L -c %i "/proc/$MPID/ns/net" 2>/dev/null)" = "$(stat -L -c %i /run/netns/$to)"
	rm -f "$W/result"
	kill -USR1 "$MPID" 2>/dev/null
	wait_for "$W/result" . 30
	check "$mode: every page of its memory checks out ($(cat "$W/result" 2>/dev/null))" \
		grep -q '^ok ' "$W/result"
	if [ "$mode" = lazy ]; then
		wait_for "$W/$mode-dst/final/lazy-pages.log" 'lazy-pages: done' 60
		check "lazy: the lazy-pages daemon ended with every page in" \
			grep -q 'lazy-pages: done' "$W/$mode-dst/final/lazy-pages.log"
	fi
}

from=$SRC to=$DST addr=10.213.0.2
for mode in ${MIGRATE_MODES:-plain lazy}; do
	migrate "$mode" $from $to $addr || exit 0
	if [ $from = $SRC ]; then
		from=$DST to=$SRC addr=10.213.0.1
	else
		from=$SRC to=$DST addr=10.213.0.2
	fi
done
exit 0
