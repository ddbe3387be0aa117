#!/bin/bash
# tcp-peer.sh - --tcp-established with the peer outside the tree: a
# program echoing a connection to a peer that is not dumped is dumped and
# killed, then restored, while the peer keeps sending; the peer sees every
# byte come back once, never a reset (tcp-peer-inner.sh does the work,
# under build/tests/spawn, a subreaper that reaps whatever is left).
set -u
cd "$(dirname "$0")/../.."
W=/tmp/stasis-restore-tests/tcp-peer
rm -rf "$W"
mkdir -p "$W"
timeout -k 5 120 build/tests/spawn "$W/spawn.pid" -S -- /bin/bash "$PWD/tests/restore/tcp-peer-inner.sh" "$W"
if [ -s "$W/results" ]; then
	cat "$W/results"
else
	echo "FAIL: restore --tcp-established, outside peer: the test gave no result"
fi
