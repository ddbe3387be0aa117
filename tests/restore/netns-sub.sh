#!/bin/bash
# netns-sub.sh - a tree in more than one net namespace: its root in one
# of its own, a child that unshared another, a grandchild back in the
# root's holding a unix socket made in its parent's, a veth pair between
# the two namespaces, a tap device the root holds a file of.  After a dump
# and restore each task is in its own namespace again, each socket bound
# in the one it was made in, the veth carries a datagram from one to the
# other, the tap is back (not persistent) with the root's file on it, and
# the host got no link.  So too when CRIU 4.2 restores stasis's images,
# and stasis CRIU's.  Run by tests/restore/run.sh; the work is done by
# netns-sub-inner.sh under build/tests/spawn, a subreaper that reaps
# whatever the test leaves.
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-restore-tests/netns-sub
CRIU=${CRIU_REF:-/tmp/zdtm-criu/criu/criu}
rm -rf "$W"
# run LABEL DUMPER RESTORER
run() {
	mkdir -p "$W/$1"
	DUMPER=$2 RESTORER=$3 LABEL=$1 timeout -k 5 120 $B/spawn "$W/$1/spawn.pid" -S -- \
		/bin/bash "$PWD/tests/restore/netns-sub-inner.sh" "$W/$1"
	if [ -s "$W/$1/results" ]; then
		cat "$W/$1/results"
	else
		echo "FAIL: restore net namespaces of a tree ($1): the test gave no result"
	fi
}
run stasis build/stasis build/stasis
if ! [ -x "$CRIU" ] || ! "$CRIU" --version 2>/dev/null | grep -q "Version: 4"; then
	echo "SKIP: restore net namespaces of a tree (CRIU 4.2 and stasis): no CRIU 4 at $CRIU (ZDTM's run.sh builds it)"
	exit 0
fi
run "stasis's images restored by CRIU 4.2" build/stasis "$CRIU"
run "CRIU 4.2's images restored by stasis" "$CRIU" build/stasis
