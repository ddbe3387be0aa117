#!/bin/bash
# kill-step.sh SIG MS DIR PID - dump -R PID and send stasis SIG after MS
# milliseconds.  SIGKILL leaves no stasis to clean up: the tasks find
# their own way back (compel/guard.c).  SIGTERM lets stasis stop at its
# next step and cure them.  Either way the program must run on as before,
# which a second dump -R must find: no stasis left attached, nothing half
# done.  The runner then dumps and restores it (--then-cr), and the
# program checks its memory, its floating-point registers and that every
# thread still makes progress.
set -u
cd "$(dirname "$0")/../.."
sig=$1 ms=$2 dir=$3 pid=$4
rm -rf "$dir"
mkdir -p "$dir"
build/stasis dump -t "$pid" -D "$dir/first" -R -v4 -o dump.log >/dev/null 2>&1 &
stasis=$!
sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
kill -"$sig" "$stasis"
wait "$stasis"
rc=$?
case "$sig:$rc" in
KILL:137 | KILL:0 | TERM:0 | TERM:1 | TERM:143) ;;
*)
	echo "dump sent SIG$sig after $ms ms exited $rc" >&2
	exit 1
	;;
esac
if [ "$sig" = TERM ] && [ $rc -eq 1 ] && ! grep -q "the dump stops at step" "$dir/first/dump.log"; then
	echo "stopped by SIGTERM, the log does not say so: $(grep -m1 Error "$dir/first/dump.log")" >&2
	exit 1
fi
# The inventory is written last: only a dump killed after its images were
# complete (its log went on to the post-dump hook) may leave one.
if [ $rc -ne 0 ] && [ -e "$dir/first/inventory.img" ] &&
	! grep -q 'hook post-dump\|dump of tree .* finished' "$dir/first/dump.log"; then
	echo "an interrupted dump left an inventory behind" >&2
	exit 1
fi
# A dead tracer lets go of its tasks as it exits; give them a moment.
for _ in $(seq 50); do
	grep -h '^TracerPid:' /proc/"$pid"/task/*/status | grep -qv '[[:space:]]0$' || break
	sleep 0.02
done
if ! build/stasis dump -t "$pid" -D "$dir/again" -R -v4 -o dump.log; then
	echo "a second dump -R after SIG$sig at $ms ms failed: $(grep -m1 Error "$dir/again/dump.log")" >&2
	exit 1
fi
# What a task that cured itself keeps, the parasite's mapping, is gone too.
if grep -q ' rwxs .*/dev/zero (deleted)' /proc/"$pid"/maps; then
	echo "a parasite mapping is left after the second dump: $(grep ' rwxs ' /proc/"$pid"/maps)" >&2
	exit 1
fi
