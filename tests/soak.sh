#!/bin/bash
# soak.sh [CYCLES] - `make soak`: dump each of a few conformance programs
# with -R CYCLES times in a row (default 1000, or $SOAK_CYCLES) while it
# runs; then the program checks that nothing it can see has changed: pipes
# and their bytes, timers still armed and not early, pending and blocked
# signals, a thread asleep in nanosleep, signalfd/timerfd/epoll state,
# seccomp filters, unix sockets with their queues and connections, ptys
# with their queued bytes, settings and sessions, AIO contexts with their
# unreaped events, netlink and packet sockets (port ids, groups, a mapped
# ring), inet sockets with their options and filter, TCP connections with
# bytes queued both ways (--tcp-established).
# Prints PASS/FAIL per program and "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
B=build/tests
CYCLES=${1:-${SOAK_CYCLES:-1000}}
W=/tmp/stasis-soak
# A copy: a rebuild while the soak runs must not pull the binary away.
STASIS=$W/stasis
rm -rf "$W"
mkdir -p "$W"
cp build/stasis "$STASIS" || exit 1
passed=0 failed=0
for p in pipes_fifos timers signals sleeping threads_tls signalfd_timerfd epoll seccomp \
	unix_sockets unix_conns pty aio netlink_sockets packet_sockets inet_sockets \
	tcp_established; do
	mkdir -p "$W/$p/img"
	# A listener with a connection not yet accepted is dumped with this.
	opts=
	[ "$p" = inet_sockets ] && opts=--skip-in-flight
	[ "$p" = tcp_established ] && opts=--tcp-established
	t0=$(date +%s)
	out=$($B/runner --timeout $((CYCLES + 60)) --workdir "$W/$p" \
		--between "$PWD/tests/soak-between.sh $CYCLES $STASIS $W/$p/img $opts" \
		"$B/conformance/$p")
	echo "$out ($CYCLES dumps -R in $(($(date +%s) - t0)) s)"
	case $out in
	PASS:*) passed=$((passed + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
