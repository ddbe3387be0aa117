#!/bin/bash
# spawned.sh WHAT SECONDS INNER - run INNER (servers-inner.sh, apps-inner.sh)
# on its work directory /tmp/stasis-restore-tests/WHAT under
# build/tests/spawn, a subreaper that reaps whatever is left, for SECONDS
# at most, and print its results.  A run killed by the timeout, one with
# no result, and with DONE=1 one that did not get to the end of INNER
# (it writes WORKDIR/done last), each fail, saying so.
set -u
cd "$(dirname "$0")/../.."
what=$1 secs=$2 inner=$3
W=/tmp/stasis-restore-tests/$what
rm -rf "$W"
mkdir -p "$W"
timeout -k 5 "$secs" build/tests/spawn "$W/spawn.pid" -S -- /bin/bash "$PWD/$inner" "$W"
rc=$?
# Killed by the timeout, it could not kill its programs: kill them here
# (only then: otherwise spawn reaped them all, and their pids may be reused).
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "FAIL: restore $what: killed after $secs s"
	while read -r p; do
		kill -KILL "$p" 2>/dev/null
	done < <(cat "$W/pids" 2>/dev/null)
elif [ "${DONE:-0}" = 1 ] && [ ! -e "$W/done" ]; then
	echo "FAIL: restore $what: stopped (status $rc) after: $(tail -n 1 "$W/results" 2>/dev/null)"
fi
if [ -s "$W/results" ]; then
	cat "$W/results"
else
	echo "FAIL: restore $what: the test gave no result"
fi
