#!/bin/bash
# mntns-root.sh - a tree in a mount namespace of its own, pivoted into a
# root of bind mounts (as a container runtime makes it), restored with
# --root into another directory; /usr and /dev come from outside as
# --external mounts.  Run by tests/restore/run.sh; the work is done by
# mntns-root-inner.sh under build/tests/spawn, a subreaper that reaps
# whatever the test leaves.
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-restore-tests/mntns-root
rm -rf "$W"
mkdir -p "$W"
timeout -k 5 90 $B/spawn "$W/spawn.pid" -S -- /bin/bash "$PWD/tests/restore/mntns-root-inner.sh" "$W"
if [ -s "$W/results" ]; then
	cat "$W/results"
else
	echo "FAIL: restore mount namespace --root: the test gave no result"
fi
