#!/bin/bash
# pidns.sh - a tree whose root is init (pid 1) of its own pid namespace,
# run by tests/restore/run.sh:
#  - tests/conformance/pidns_tree started by the runner with --pidns (pids,
#    groups, sessions, threads, a zombie, signals between tasks, all as the
#    tree sees them) passes two dumps and restores in a row, and the
#    restore's --pidfile holds the root's pid here, 1 inside;
#  - other conformance programs that look at no /proc/PID of their own
#    (the tree has no /proc of its namespace without a mount namespace)
#    pass under --pidns too;
#  - the images name each task by its pid inside (pstree.img, core-1.img);
#  - the dump refuses a task that is init of a nested pid namespace, a
#    root that is in a pid namespace of its own but not its init, and one
#    whose session leader is outside its pid namespace, and one in a user
#    namespace of its own without a pid one; the tree runs on.
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-restore-tests/pidns
rm -rf "$W"
mkdir -p "$W"

pass() { echo "PASS: restore $T: $*"; }
fail() { echo "FAIL: restore $T: $*"; }
label() { sed -u "s#^\(PASS\|FAIL\|SKIP\): #\1: restore pidns: #"; }

$B/runner --pidns --cycles 2 --timeout 20 --workdir "$W/tree" "$B/conformance/pidns_tree" | label

T="pidns images"
# R A B C E K O Z: A and B forked first; E, Z and O (an orphan R took in) are R's,
# C is B's, K is E's; the others' pids depend on who forked first.
pids=$(build/crit decode -i "$W/tree/img/pstree.img" 2>/dev/null |
	jq -c '[.entries[] | [.pid, .ppid]] | sort')
shape=$(jq -n --argjson p "${pids:-null}" '$p != null and ($p | length) == 8 and
	$p[0] == [1,0] and $p[1] == [2,1] and $p[2] == [3,1] and
	([$p[] | select(.[1] == 1)] | length) == 5 and ([$p[] | select(.[1] == 3)] | length) == 1')
if [ "$shape" = true ] && [ -f "$W/tree/img/core-1.img" ]; then
	pass "pstree.img lists the pids inside: $pids"
else
	fail "pstree.img lists $pids"
fi

for p in pgrp_session signals pty busy_threads unix_sockets epoll signalfd_timerfd; do
	$B/runner --pidns --timeout 20 --workdir "$W/conf-$p" "$B/conformance/$p" | label
done
$B/runner --pidns --timeout 20 --workdir "$W/conf-file_locks" --dump-opts --file-locks \
	"$B/conformance/file_locks" | label

# kids PID: the children of PID.
kids() { ps -o pid= --ppid "$1" | tr -d ' '; }

# refused NAME DEPTH PATTERN CMD...: CMD's tree, dumped from the task
# DEPTH generations below CMD, is refused saying PATTERN, and runs on.
refused() {
	local name=$1 depth=$2 pattern=$3 spawn root said
	shift 3
	T="pidns dump refuses $name"
	$B/spawn "$W/$name.pid" -- "$@" &
	spawn=$!
	for _ in $(seq 100); do
		root=$(cat "$W/$name.pid" 2>/dev/null)
		for _ in $(seq "$depth"); do root=$([ -n "$root" ] && kids "$root" | head -1); done
		[ -n "$root" ] && [ -n "$(kids "$(cat "$W/$name.pid")")" ] && break
		sleep 0.05
	done
	if build/stasis dump -t "$root" -D "$W" -o "$name.log" >/dev/null 2>&1; then
		fail "the dump of $root succeeded"
	else
		said=$(grep -m1 -o "Error: .*" "$W/$name.log")
		if ! grep -q -- "$pattern" <<<"$said"; then
			fail "the first error does not say '$pattern': $said"
		elif ! kill -0 "$root" 2>/dev/null || [ "$(ps -o stat= -p "$root" | cut -c1)" = T ]; then
			fail "the tree is not running after the refused dump"
		else
			pass "$said"
		fi
	fi
	kill "$spawn" 2>/dev/null
	wait "$spawn" 2>/dev/null
}

refused nested 0 "unsupported: pid [0-9]* is init of a nested pid namespace" \
	"$(command -v unshare)" --pid --fork sleep 1000
refused userns-no-pidns 0 "unsupported: the root [0-9]* has a user namespace of its own but not a pid namespace" \
	"$(command -v unshare)" --user --map-root-user sh -c 'sleep 1000 & wait'
refused not-init 2 "unsupported: the root [0-9]* is 2 in its own pid namespace, not its init" \
	"$(command -v unshare)" --pid --fork sh -c 'sleep 1000 & wait'
refused session-outside 1 "unsupported: the session leader of pid [0-9]* (1 in its pid namespace) is outside" \
	"$(command -v unshare)" --pid --fork sleep 1000
exit 0
