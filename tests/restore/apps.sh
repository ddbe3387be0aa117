#!/bin/bash
# apps.sh - programs a user checkpoints, beyond the servers of servers.sh,
# dumped, killed and restored as a user would, their state and their
# connections checked after: HTTP servers in Go (apps.go: goroutines
# preempted with SIGURG, many threads, timers), python3's asyncio
# (apps-asyncio.py), Perl (apps.pl) and Ruby (apps.rb), each with a
# client's keep-alive connection across --tcp-established, a dump with
# -R, and a second dump of the restored tree; the sqlite3 shell in the
# middle of a transaction (its locks kept with --file-locks); bc, vim and
# less in a tmux server (their terminals); `sleep infinity` under setsid.
# apps-inner.sh does the work, under build/tests/spawn, a subreaper that
# reaps whatever is left.  A program that is not installed is skipped,
# saying so.
set -u
cd "$(dirname "$0")/../.."
W=/tmp/stasis-restore-tests/apps
rm -rf "$W"
mkdir -p "$W"
timeout -k 5 240 build/tests/spawn "$W/spawn.pid" -S -- /bin/bash "$PWD/tests/restore/apps-inner.sh" "$W"
rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "FAIL: restore apps: killed after 240 s"
	while read -r p; do
		kill -KILL "$p" 2>/dev/null
	done < <(cat "$W/pids" 2>/dev/null)
fi
# Every part reports, or this says where it stopped.
if [ ! -e "$W/done" ] && [ $rc -ne 124 ] && [ $rc -ne 137 ]; then
	echo "FAIL: restore apps: stopped (status $rc) after: $(tail -n 1 "$W/results" 2>/dev/null)"
fi
if [ -s "$W/results" ]; then
	cat "$W/results"
else
	echo "FAIL: restore apps: the test gave no result"
fi
