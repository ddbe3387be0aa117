#!/bin/bash
# ext-unix.sh - a datagram socket connected to a named socket outside the
# tree (tests/dump/ext-unix-prog.c; the outside one is a python3 reader):
# dump and restore refuse it without --ext-unix-sk, saying so; with it the
# restored program's socket reaches the outside socket again by its name.
set -u
cd "$(dirname "$0")/../.."
. tests/dump/lib.sh
W=$B/ext-unix-test
T="dump --ext-unix-sk"
rm -rf "$W"
mkdir -p "$W/run"

need_tools "$B/stasis" "$B/tests/spawn"
build_prog tests/dump/ext-unix-prog.c "$B/tests/ext-unix-prog"
if ! command -v python3 >/dev/null; then
	fail "python3 is not installed"
	exit 0
fi
# The outside socket: every datagram it gets, one line each, in a file.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2] + ".up", "w").close()
while True:
    with open(sys.argv[2], "a") as f:
        f.write(s.recv(100).decode() + "\n")
' "$W/log.sock" "$W/got" &
reader=$!
for _ in $(seq 100); do [ -e "$W/got.up" ] && break; sleep 0.05; done
got() { grep -qx "$1" "$W/got" 2>/dev/null; }

"$B/tests/spawn" "$W/pid" -C "$W/run" -- "$B/tests/ext-unix-prog" "$W/log.sock" &
spawner=$!
wait_ready "$W/run"
pid=$(cat "$W/pid")
if "$B/stasis" dump -t "$pid" -D "$W/img0" -v4 -o dump.log; then
	fail "a dump without --ext-unix-sk succeeded"
else
	check "without --ext-unix-sk the dump is refused, naming the option" \
		grep -q "unsupported: .*outside the tree (--ext-unix-sk" "$W/img0/dump.log"
fi
if "$B/stasis" dump -t "$pid" -D "$W/img" --ext-unix-sk -v4 -o dump.log; then
	pass "dump with --ext-unix-sk"
	wait "$spawner"
	# Restores run under spawn, the subreaper the restored task ends up with.
	if "$B/tests/spawn" "$W/rpid" -S -- "$B/stasis" restore -d -D "$W/img" -v4 \
		-o restore.log; then
		fail "a restore without --ext-unix-sk succeeded"
	else
		check "without --ext-unix-sk the restore is refused, naming the option" \
			grep -q "restore with --ext-unix-sk" "$W/img/restore.log"
	fi
	"$B/tests/spawn" "$W/rpid" -S -- "$B/stasis" restore -d -D "$W/img" --ext-unix-sk \
		-v4 -o restore.log &
	spawner=$!
	for _ in $(seq 100); do [ -d "/proc/$pid" ] && break; sleep 0.05; done
	sleep 0.2
	kill -USR1 "$pid"
	for _ in $(seq 100); do got after && break; sleep 0.05; done
	check "the restored socket reaches the outside socket by its name" got after
	kill -9 "$pid"
	wait "$spawner"
	rc=$?
	check "restore with --ext-unix-sk exits 0 (spawn gives its status)" [ $rc -eq 0 ]
else
	fail "dump with --ext-unix-sk: $(grep -m1 Error "$W/img/dump.log")"
	kill "$spawner"
	wait "$spawner"
fi
check "the outside socket got the message sent before the dump" got before
kill "$reader"
wait "$reader" 2>/dev/null
exit 0
