#!/bin/bash
# run.sh - pages in motion, run by tests/run.sh:
#  - a dump whose pages go to a page server (stasis's, and CRIU 4.2's),
#    then a restore from what the server wrote: the programs find their
#    memory (private and shared) as it was;
#  - CRIU 4.2's dump into stasis's page server, restored by stasis;
#  - a dump whose page server is not there fails before freezing anything,
#    and one whose server goes away fails with the tree resumed.
# CRIU 4.2 is the one ZDTM builds (/tmp/zdtm-criu/criu/criu, or $CRIU_REF):
# without it those runs are skipped, and say so.
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-pages-tests
S=$PWD/build/stasis
WRAP=$PWD/tests/pages/ps-wrap.sh
CRIU=${CRIU_REF:-/tmp/zdtm-criu/criu/criu}
rm -rf "$W"
mkdir -p "$W"
. tests/lib/common.sh
fds_close
export PS_PORT=${PS_PORT:-27027}

label() { sed -u "s#^\(PASS\|FAIL\|SKIP\): #\1: pages $1: #"; }

# run NAME [ENV=VALUE...] PROGRAM: one C/R through the wrapper.
run() {
	local name=$1 prog
	shift
	prog=${*: -1}
	env STASIS="$S" "${@:1:$#-1}" $B/runner --stasis "$WRAP" --timeout 30 \
		--workdir "$W/$name-$(basename "$prog")" "$prog" | label "$name"
}

for p in sleeping mem_kinds mem_sparse threads_tls; do
	run "stasis dump to stasis page-server" $B/conformance/$p
done

criu_ok=
if [ -x "$CRIU" ] && "$CRIU" --version 2>/dev/null | grep -q "Version: 4"; then
	criu_ok=1
fi
for p in sleeping mem_kinds; do
	if [ -z "$criu_ok" ]; then
		echo "SKIP: pages stasis dump to CRIU's page-server: $p: no CRIU 4 at $CRIU (ZDTM's run.sh builds it)"
		echo "SKIP: pages CRIU's dump to stasis page-server: $p: no CRIU 4 at $CRIU (ZDTM's run.sh builds it)"
		continue
	fi
	run "stasis dump to CRIU's page-server" PS_SERVER="$CRIU" $B/conformance/$p
	run "CRIU's dump to stasis page-server" PS_DUMPER="$CRIU" $B/conformance/$p
done

# No server: refused before the freeze, the program runs on untouched.
T="no page server"
setsid $B/conformance/sleeping >"$W/noserver.out" 2>&1 </dev/null &
pid=$!
for _ in $(seq 50); do grep -q READY "$W/noserver.out" 2>/dev/null && break; sleep 0.1; done
if "$S" dump -t "$pid" -D "$W/noserver" --page-server --address 127.0.0.1 --port "$PS_PORT" \
	-v4 -o dump.log >/dev/null 2>&1; then
	echo "FAIL: pages $T: the dump succeeded"
elif ! grep -q "cannot connect to the page server" "$W/noserver/dump.log"; then
	echo "FAIL: pages $T: the dump did not say why it failed"
elif [ "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" != S ]; then
	echo "FAIL: pages $T: the program is not asleep as it was"
elif [ -e "$W/noserver/inventory.img" ]; then
	echo "FAIL: pages $T: a failed dump left an inventory"
else
	echo "PASS: pages $T: the dump fails, saying why, and the program runs on"
fi
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

# A server that takes the connection and goes away at once.
T="page server gone"
setsid $B/conformance/sleeping >"$W/gone.out" 2>&1 </dev/null &
pid=$!
for _ in $(seq 50); do grep -q READY "$W/gone.out" 2>/dev/null && break; sleep 0.1; done
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); c.close()' "$PS_PORT" &
fake=$!
# Listening before the dump connects (python starts slowly on a busy machine).
for _ in $(seq 100); do
	ss -Hltn "sport = :$PS_PORT" | grep -q . && break
	sleep 0.1
done
if "$S" dump -t "$pid" -D "$W/gone" --page-server --address 127.0.0.1 --port "$PS_PORT" \
	-v4 -o dump.log >/dev/null 2>&1; then
	echo "FAIL: pages $T: the dump succeeded"
elif grep -q "cannot connect" "$W/gone/dump.log"; then
	echo "FAIL: pages $T: the dump never reached the server that goes away"
elif ! grep -q "page server" "$W/gone/dump.log"; then
	echo "FAIL: pages $T: the dump did not say the page server failed"
elif ! kill -0 "$pid" 2>/dev/null || [ "$(cut -d' ' -f3 /proc/$pid/stat)" = Z ]; then
	echo "FAIL: pages $T: the program did not survive the failed dump"
else
	echo "PASS: pages $T: the dump fails, saying why, and the program runs on"
fi
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
# Gone by now unless the dump never reached it (a FAIL above): not waited on forever.
kill "$fake" 2>/dev/null
wait "$fake" 2>/dev/null
exit 0
