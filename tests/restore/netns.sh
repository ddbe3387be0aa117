#!/bin/bash
# netns.sh - a tree in a net namespace of its own, beyond what the
# conformance program net_ns checks (run.sh's loop): the namespace given
# from outside (--external net[INO]:KEY at dump, --inherit-fd fd[N]:KEY at
# restore, as runc does), joined (--join-ns net:PID) after the dump left
# it locked whole, left empty for the caller (--empty-ns net), a
# link of a kind not supported refused by name with the tree left running,
# links of every kind stasis makes (bridge and port, macvlan, a veth into a
# bridge outside, a device moved in) back as they were, and CRIU 4.2 restoring stasis's images of a namespace with a veth to the
# host and the other way round.  Run by tests/restore/run.sh; the work is
# done by netns-inner.sh under build/tests/spawn, a subreaper that reaps
# whatever the test leaves.
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-restore-tests/netns
rm -rf "$W"
mkdir -p "$W"
timeout -k 5 120 $B/spawn "$W/spawn.pid" -S -- /bin/bash "$PWD/tests/restore/netns-inner.sh" "$W"
if [ -s "$W/results" ]; then
	cat "$W/results"
else
	echo "FAIL: restore net namespace: the test gave no result"
fi
