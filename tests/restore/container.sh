#!/bin/bash
# container.sh - a whole container (issue 14's acceptance), run by
# tests/restore/run.sh: tests/restore/container.c as init of its own pid
# namespace, in its own mount, net, ipc and uts namespaces (a proc of its
# own, a tmpfs with an open file, a veth whose peer is the host's, SysV
# shm and messages, a host name, a child), dumped and restored; the host
# sees its veth peer again, and the program finds all of it.  The work is
# done by container-inner.sh under build/tests/spawn, a subreaper that
# reaps whatever the test leaves.
set -u
cd "$(dirname "$0")/../.."
W=/tmp/stasis-restore-tests/container
rm -rf "$W"
mkdir -p "$W"
timeout -k 5 90 build/tests/spawn "$W/spawn.pid" -S -- /bin/bash "$PWD/tests/restore/container-inner.sh" "$W"
if [ -s "$W/results" ]; then
	cat "$W/results"
else
	echo "FAIL: restore container: the test gave no result"
fi
ip link del stxh0 2>/dev/null
exit 0
