#!/bin/bash
# netns-sub.sh - a tree in more than one net namespace: its root in one
# of its own, a child that unshared another, a grandchild back in the
# root's holding a unix socket made in its parent's, a veth pair between
# the two namespaces, a tap device the root holds a file of.  After a dump
# and restore each task is in its own namespace again, each socket bound
# in the one it was made in, the veth carries a datagram from one to the
# other, the tap is back (not persistent) with the root's file on it, and
# the host got no link.  Run by tests/restore/run.sh; the work is done by
# netns-sub-inner.sh under build/tests/spawn, a subreaper that reaps
# whatever the test leaves.
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-restore-tests/netns-sub
rm -rf "$W"
mkdir -p "$W"
timeout -k 5 120 $B/spawn "$W/spawn.pid" -S -- /bin/bash "$PWD/tests/restore/netns-sub-inner.sh" "$W"
if [ -s "$W/results" ]; then
	cat "$W/results"
else
	echo "FAIL: restore net namespaces of a tree: the test gave no result"
fi
