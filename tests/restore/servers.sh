#!/bin/bash
# servers.sh - real servers a user would checkpoint, dumped and restored
# with their listening sockets, their state checked after the restore:
# python3's http.server counting hits (servers.py), and Debian's
# redis-server holding data written before the dump, PostgreSQL (a
# postmaster, its workers, a client's backend in a transaction), nginx (a
# master and its workers) and memcached (threads holding items); clients
# outside the tree hold connections across --tcp-established dumps.
# servers-inner.sh does the work, under build/tests/spawn, a subreaper
# that reaps whatever is left.
set -u
cd "$(dirname "$0")/../.."
W=/tmp/stasis-restore-tests/servers
rm -rf "$W"
mkdir -p "$W"
timeout -k 5 120 build/tests/spawn "$W/spawn.pid" -S -- /bin/bash "$PWD/tests/restore/servers-inner.sh" "$W"
rc=$?
# Killed by the timeout, it could not kill its servers: kill them here
# (only then: otherwise spawn reaped them all, and their pids may be reused).
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "FAIL: restore servers: killed after 120 s"
	while read -r p; do
		kill -KILL "$p" 2>/dev/null
	done < <(cat "$W/pids" 2>/dev/null)
fi
if [ -s "$W/results" ]; then
	cat "$W/results"
else
	echo "FAIL: restore servers: the test gave no result"
fi
