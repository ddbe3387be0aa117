#!/bin/sh
# run.sh - run conformance test programs through the runner without
# checkpoint/restore (--no-cr), the baseline until stasis can dump and
# restore.  Prints the runner's one line per program (PASS/FAIL/SKIP).
#
#   tests/conformance/run.sh [PROGRAM...]   default: build/tests/conformance/*
#
# Environment: RUNNER (default build/tests/runner), RUNNER_ARGS (passed on,
# e.g. "--timeout 10").  Exit status 0 only when nothing failed.
#
# The runner kills and reaps everything it starts.  This script runs it in
# the foreground and only traps signals, so that it stays alive until the
# runner has exited and never leaves it behind as an unreaped orphan.
root=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
RUNNER=${RUNNER:-$root/build/tests/runner}

stop=
trap 'stop=1' INT TERM HUP

if [ $# -eq 0 ]; then
	for p in "$root"/build/tests/conformance/*; do
		[ -x "$p" ] && set -- "$@" "$p"
	done
fi
if [ $# -eq 0 ]; then
	echo "FAIL: conformance: no test programs in build/tests/conformance"
	exit 1
fi

rc=0
for p in "$@"; do
	# shellcheck disable=SC2086 # RUNNER_ARGS is meant to split
	"$RUNNER" --no-cr ${RUNNER_ARGS:-} "$p" || rc=1
	[ -n "$stop" ] && exit 1
done
exit $rc
