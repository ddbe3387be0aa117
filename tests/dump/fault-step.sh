#!/bin/bash
# fault-step.sh STEP DIR PID - dump PID with a failure injected at STEP
# (STASIS_FAULT; STEP@N: the Nth time) and check the failure is handled:
# exit status 1, the log names the step, and DIR holds no inventory (an
# unfinished dump).  FAULT_LOG=REGEX: and the log has a line matching it.  The
# runner that calls this then checks the program is still running, and the
# program checks its own state is untouched.
set -u
cd "$(dirname "$0")/../.."
step=$1 dir=$2 pid=$3
rm -rf "$dir"
STASIS_FAULT=$step build/stasis dump -t "$pid" -D "$dir" -v4 -o dump.log
rc=$?
if [ $rc -ne 1 ]; then
	echo "dump with a fault at $step exited $rc, not 1" >&2
	exit 1
fi
if ! grep -q "fault injected at step ${step%@*}" "$dir/dump.log"; then
	echo "the log does not name the failed step $step" >&2
	exit 1
fi
if [ -n "${FAULT_LOG:-}" ] && ! grep -q "$FAULT_LOG" "$dir/dump.log"; then
	echo "no line of $dir/dump.log matches \"$FAULT_LOG\"" >&2
	exit 1
fi
if [ -e "$dir/inventory.img" ]; then
	echo "a failed dump left an inventory behind" >&2
	exit 1
fi
