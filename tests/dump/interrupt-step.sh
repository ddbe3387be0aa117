#!/bin/bash
# interrupt-step.sh SIG MS DIR PID - dump -R PID and send stasis SIG after
# MS milliseconds.  Either the signal came after the dump had finished
# (exit status 0, a complete dump), or stasis stops: exit status 1, no
# inventory, the log saying which signal stopped it.  The runner then
# checks the program runs on, and the program checks its own state.
set -u
cd "$(dirname "$0")/../.."
sig=$1 ms=$2 dir=$3 pid=$4
rm -rf "$dir"
build/stasis dump -t "$pid" -D "$dir" -R -v4 -o dump.log >/dev/null &
stasis=$!
sleep "$(printf '0.%03d' "$ms")"
kill -"$sig" "$stasis"
wait "$stasis"
rc=$?
if [ $rc -gt 128 ] && [ ! -e "$dir/dump.log" ]; then
	echo "SIG$sig came before stasis began the dump" >&2
	exit 0
fi
if [ $rc -eq 0 ] && [ -e "$dir/inventory.img" ]; then
	echo "SIG$sig came after the dump had finished" >&2
	exit 0
fi
if [ $rc -ne 1 ]; then
	echo "dump stopped by SIG$sig after $ms ms exited $rc, not 1" >&2
	exit 1
fi
if ! grep -q "the dump stops at step" "$dir/dump.log"; then
	echo "the log does not say the dump was stopped: $(grep -m1 Error "$dir/dump.log")" >&2
	exit 1
fi
if [ -e "$dir/inventory.img" ]; then
	echo "a stopped dump left an inventory behind" >&2
	exit 1
fi
