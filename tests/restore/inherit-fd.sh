#!/bin/bash
# inherit-fd.sh - --inherit-fd, as runc uses it for a container's stdio:
# a counter whose stdout and stdin are pipes to the outside is dumped; the
# restore is given new pipes for them (--inherit-fd fd[N]:pipe:[INO]) and
# the counter counts on into the new one.  Run by tests/restore/run.sh;
# the work is done by inherit-fd-inner.sh under build/tests/spawn, a
# subreaper that reaps whatever the test leaves.
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-restore-tests/inherit-fd
rm -rf "$W"
mkdir -p "$W"
timeout -k 5 60 $B/spawn "$W/spawn.pid" -S -- /bin/bash "$PWD/tests/restore/inherit-fd-inner.sh" "$W"
if [ -s "$W/results" ]; then
	cat "$W/results"
else
	echo "FAIL: restore --inherit-fd: the test gave no result"
fi
