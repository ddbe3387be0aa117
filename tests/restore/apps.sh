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
# apps-inner.sh does the work, run by spawned.sh.  A program that is not
# installed is skipped, saying so.
DONE=1 exec bash "$(dirname "$0")/spawned.sh" apps 240 tests/restore/apps-inner.sh
