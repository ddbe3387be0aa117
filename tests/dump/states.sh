#!/bin/bash
# states.sh - dump -R a process holding signal, timer, limit and identity
# state (tests/dump/states-prog.c), check each is recorded in its core and
# fs images, and that the process carries on with its pending signal.
set -u
cd "$(dirname "$0")/../.."
. tests/dump/lib.sh
W=$B/states-test
T="dump state"
rm -rf "$W"
mkdir -p "$W/run"

need_tools "$B/stasis" "$B/crit" "$B/tests/spawn"
build_prog tests/dump/states-prog.c "$B/tests/states-prog"
"$B/tests/spawn" "$W/pid" -C "$W/run" -- "$B/tests/states-prog" &
spawner=$!
wait_ready "$W/run"
pid=$(cat "$W/pid")
if ! "$B/stasis" dump -t "$pid" -D "$W/img" -R -v4 -o dump.log; then
	fail "dump -R failed: $(grep -m1 Error "$W/img/dump.log")"
	kill "$spawner"
	wait "$spawner"
	exit 0
fi
core=$("$B/crit" decode -i "$W/img/core-$pid.img" | jq '.entries[0]')
fs=$("$B/crit" decode -i "$W/img/fs-$pid.img" | jq '.entries[0]')

# expect WHAT JQ-FILTER: the filter must yield true on the core image.
expect() {
	if [ "$(jq -r "$2" <<<"$core")" = true ]; then pass "$1"; else fail "$1 ($2)"; fi
}
expect "SIGUSR1 handler with SA_RESTART, masking SIGINT" \
	'.tc.sigactions[8] | .sigaction != 0 and (.flags / 268435456 | floor % 2 == 1) and .mask == 2'
expect "SIGQUIT ignored" '.tc.sigactions[2].sigaction == 1'
expect "blocked mask holds SIGUSR2 and SIGWINCH" '.tc.blk_sigset == (2048 + 134217728)'
expect "queued SIGUSR2 recorded as pending for the process" \
	'[.tc.signals_s.signals[]?, .thread_core.signals_p.signals[]?] | length == 1'
expect "sigaltstack of 64 KiB" '.thread_core.sas.ss_size == 65536 and .thread_core.sas.ss_sp != 0'
expect "ITIMER_VIRTUAL about 100 s" '.tc.timers.virt.vsec >= 98 and .tc.timers.virt.vsec <= 100'
expect "POSIX timer: CLOCK_MONOTONIC, SIGRTMIN+2, about 50 s" \
	'.tc.timers.posix[0] | .clock_id == 1 and .si_signo == 36 and .vsec >= 48 and .vsec <= 50'
expect "RLIMIT_NOFILE 512/4096" '.tc.rlimits.rlimits[7] | .cur == 512 and .max == 4096'
expect "RLIMIT_CORE 0" '.tc.rlimits.rlimits[4] | .cur == 0 and .max == 0'
expect "nice 5" '.thread_core.sched_nice == 5'
expect "credentials: root, full bounding set" '.thread_core.creds | .uid == 0 and .euid == 0 and .cap_bnd[0] > 0'
expect "name" '.tc.comm == "states-prog"'
if [ "$(jq -r '.umask' <<<"$fs")" = 23 ]; then pass "umask 027"; else fail "umask 027 (fs: $fs)"; fi

kill -TERM "$pid"
wait "$spawner"
verdict=$(cat "$W/run/state")
if [ "$verdict" = OK ]; then pass "the process runs on, its queued signal intact"; else fail "after the dump: $verdict"; fi
