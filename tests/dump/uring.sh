#!/bin/bash
# uring.sh - a program with an io_uring (tests/dump/uring.c) is refused by
# the dump, which names the ring's fd, and runs on untraced: with SQPOLL
# (its kernel thread iou-sqp is listed among the program's threads but
# never stops for a tracer: found while the tree is frozen, before any
# remote call) and without (found with the fds).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/dump/lib.sh
W=/tmp/stasis-dump-uring
T="dump io_uring"
need_tools "$B/stasis" "$B/tests/spawn"
build_prog tests/dump/uring.c "$B/tests/uring"
rm -rf "$W"
mkdir -p "$W"

count() { cat "$1/count" 2>/dev/null; }

for mode in sqpoll plain; do
	d=$W/$mode
	mkdir -p "$d"
	"$B/tests/spawn" "$d/pid" -- "$B/tests/uring" "$mode" "$d" &
	spawner=$!
	if ! wait_ready "$d"; then
		# A kernel built without io_uring, or with it switched off
		# (kernel.io_uring_disabled), has nothing to refuse.
		case $(cat "$d/state" 2>/dev/null) in
		"io_uring_setup: "*)
			skip "$mode: this kernel makes no io_uring ($(cat "$d/state"))" ;;
		*)
			fail "$mode: the program did not start: $(cat "$d/state" 2>/dev/null)" ;;
		esac
		kill "$spawner" 2>/dev/null
		wait "$spawner" 2>/dev/null
		continue
	fi
	pid=$(cat "$d/pid")
	fd=$(cat "$d/fd")
	out=$(timeout 30 "$B/stasis" dump -t "$pid" -D "$d/img" -v4 -o dump.log 2>&1)
	rc=$?
	said=$(grep -m1 -o "Error: .*" "$d/img/dump.log" 2>/dev/null)
	if [ $rc -eq 1 ] && grep -q "unsupported: pid $pid fd $fd is an io_uring" <<<"$said"; then
		pass "$mode: refused: $said"
	else
		fail "$mode: exit status $rc (124: it hung): $said $out"
	fi
	tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	if [ "$tracer" = 0 ] && grows count "$d"; then
		pass "$mode: the program runs on, untraced"
	else
		fail "$mode: after the dump: tracer '$tracer', counting: $(count "$d")"
	fi
	kill -KILL "$pid" 2>/dev/null
	wait "$spawner" 2>/dev/null
done
