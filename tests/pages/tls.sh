#!/bin/bash
# tls.sh - the page server under TLS (--tls), run by tests/run.sh, with
# certificates made afresh by tests/pages/tls-certs.sh:
#  - dumps over TLS to a page server, restored from what it wrote: stasis
#    to stasis, stasis to CRIU 4.2's server, CRIU 4.2's dump to stasis's
#    server (CRIU 4.2 is built with GnuTLS); a pre-dump then a dump of only
#    what changed, both over TLS; each end's log says the session was TLS;
#  - refused, each with a clear error and the program left running as it
#    was (the handshake comes before the freeze): a client certificate of
#    another CA, a server certificate the client's CA did not sign, a server
#    certificate for another name, a missing certificate file, TLS on one
#    side only (either side);
#  - --tls-no-cn-verify takes the certificate for another name;
#  - over RPC: a dump whose ps and tls fields send its pages under TLS.
# (Lazy pages over TLS are in tests/pages/lazy.sh.)  Built without GnuTLS,
# stasis refuses --tls, and every run here is skipped, saying so.
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-tls-tests
S=$PWD/build/stasis
WRAP=$PWD/tests/pages/ps-wrap.sh
CRIU=${CRIU_REF:-/tmp/zdtm-criu/criu/criu}
C=$W/certs
export PS_PORT=27031
rm -rf "$W"
mkdir -p "$W"
for fd in $(ls /proc/$$/fd); do
	[ "$fd" -gt 2 ] && eval "exec $fd>&-"
done 2>/dev/null

if "$S" page-server --tls --port -1 2>&1 | grep -q "built without GnuTLS"; then
	echo "SKIP: pages over TLS: stasis was built without GnuTLS (libgnutls28-dev)"
	exit 0
fi
if ! bash tests/pages/tls-certs.sh "$C" 2>"$W/certs.err"; then
	echo "SKIP: pages over TLS: openssl cannot make the certificates: $(head -1 "$W/certs.err")"
	exit 0
fi
TLS="--tls --tls-cacert $C/ca.pem"
SERVER="$TLS --tls-cert $C/server.pem --tls-key $C/server.key"
CLIENT="$TLS --tls-cert $C/client.pem --tls-key $C/client.key"
# What each tool logs once its session is up.
SAID="tls: session with the \|tls: TLS handshake completed"

# run NAME [ENV=VALUE...] PROGRAM: one C/R through ps-wrap.sh over TLS; both
# logs must say TLS.
run() {
	local name=$1 prog dir out
	shift
	prog=${*: -1}
	dir=$W/$name-$(basename "$prog")
	out=$(env STASIS="$S" PS_SERVER_OPTS="$SERVER" PS_DUMP_OPTS="$CLIENT" "${@:1:$#-1}" \
		$B/runner --stasis "$WRAP" --timeout 30 --workdir "$dir" "$prog")
	if [ "${out%%:*}" != PASS ]; then
		echo "FAIL: pages over TLS $name: $out"
	elif ! grep -q "$SAID" "$dir/img/page-server.log" ||
		! grep -q "$SAID" "$dir/dump.log" "$dir/img/dump.log" 2>/dev/null; then
		echo "FAIL: pages over TLS $name: $(basename "$prog"): a log does not say TLS"
	else
		echo "PASS: pages over TLS $name: $(basename "$prog")"
	fi
}

for p in sleeping mem_kinds threads_tls; do
	run "stasis dump to stasis page-server" $B/conformance/$p
done
if [ -x "$CRIU" ] && "$CRIU" --version 2>/dev/null | grep -q "Version: 4"; then
	run "stasis dump to CRIU's page-server" PS_SERVER="$CRIU" $B/conformance/mem_kinds
	run "CRIU's dump to stasis page-server" PS_DUMPER="$CRIU" $B/conformance/mem_kinds
else
	echo "SKIP: pages over TLS with CRIU: no CRIU 4 at $CRIU (ZDTM's run.sh builds it)"
fi
run "pre-dump then dump" PS_PRE=1 $B/conformance/mem_kinds
if ! grep -q "$SAID" "$W/pre-dump then dump-mem_kinds/pre/pre-dump.log" 2>/dev/null; then
	echo "FAIL: pages over TLS pre-dump: its log does not say TLS"
fi
# The name is not checked: the server's certificate is for 10.9.9.9.
SERVER="$TLS --tls-cert $C/misnamed.pem --tls-key $C/misnamed.key" \
	CLIENT="$CLIENT --tls-no-cn-verify" run "--tls-no-cn-verify" $B/conformance/sleeping

# refused NAME SERVER-OPTS DUMP-OPTS PATTERN [SERVER-PATTERN]: the dump fails
# and its log says PATTERN (the server's, SERVER-PATTERN); the program runs
# on, asleep as it was; the server ends.
refused() {
	local name=$1 sopts=$2 dopts=$3 pat=$4 spat=${5:-} d=$W/refused-$RANDOM pid ps
	mkdir -p "$d"
	setsid $B/conformance/sleeping >"$d/prog.out" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 50); do grep -q READY "$d/prog.out" 2>/dev/null && break; sleep 0.1; done
	# shellcheck disable=SC2086
	"$S" page-server -D "$d" --address 127.0.0.1 --port "$PS_PORT" -v4 -o page-server.log \
		$sopts >/dev/null 2>&1 &
	ps=$!
	for _ in $(seq 50); do grep -q "listening on" "$d/page-server.log" 2>/dev/null && break; sleep 0.1; done
	# shellcheck disable=SC2086
	if "$S" dump -t "$pid" -D "$d" --page-server --address 127.0.0.1 --port "$PS_PORT" \
		-v4 -o dump.log $dopts >/dev/null 2>&1; then
		echo "FAIL: pages over TLS refuses $name: the dump succeeded"
	elif ! grep -q "$pat" "$d/dump.log"; then
		echo "FAIL: pages over TLS refuses $name: the dump did not say why: $(grep -m1 Error "$d/dump.log")"
	elif [ "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" != S ]; then
		echo "FAIL: pages over TLS refuses $name: the program is not asleep as it was"
	elif [ -e "$d/inventory.img" ]; then
		echo "FAIL: pages over TLS refuses $name: a failed dump left an inventory"
	elif [ -n "$spat" ] && ! grep -q "$spat" "$d/page-server.log"; then
		echo "FAIL: pages over TLS refuses $name: the server did not say why: $(grep -m1 Error "$d/page-server.log")"
	else
		echo "PASS: pages over TLS refuses $name: $(grep -m1 -o "Error: .*" "$d/dump.log")"
	fi
	# A server still waiting (a handshake that never came) is ended here.
	for _ in $(seq 50); do kill -0 "$ps" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$ps" "$pid" 2>/dev/null
	wait "$ps" "$pid" 2>/dev/null
}

SERVER="$TLS --tls-cert $C/server.pem --tls-key $C/server.key"

# Over RPC (swrk): the ps field names the page server, the tls fields are
# --tls and its options; restored here, the program checks its memory.
T="pages over TLS through RPC"
d=$W/rpc
mkdir -p "$d"
STASIS_TEST_OUT=$d/out $B/spawn "$d/prog.pid" -- "$PWD/$B/conformance/mem_kinds" &
sp=$!
for _ in $(seq 100); do grep -q READY "$d/out" 2>/dev/null && break; sleep 0.05; done
pid=$(cat "$d/prog.pid" 2>/dev/null)
# shellcheck disable=SC2086
"$S" page-server -D "$d" --address 127.0.0.1 --port "$PS_PORT" -d --pidfile "$d/ps.pid" \
	-v4 -o page-server.log $SERVER
$B/rpc-client -o "$d/rpc.out" swrk "$S" dump -t "$pid" -D "$d" -l dump.log \
	-x ps=127.0.0.1:$PS_PORT -x tls -x tls_cacert="$C/ca.pem" -x tls_cert="$C/client.pem" \
	-x tls_key="$C/client.key" >/dev/null 2>&1
rc=$?
wait "$sp"
if [ "$rc" -ne 0 ]; then
	echo "FAIL: $T: the dump failed: $(grep -m1 answer "$d/rpc.out") $(grep -m1 Error "$d/dump.log")"
elif ! grep -q "tls: session with the page server" "$d/dump.log" ||
	! ls "$d"/pages-6553[7-9].img >/dev/null 2>&1; then
	echo "FAIL: $T: the pages did not go to the page server under TLS"
else
	$B/spawn "$d/rst.pid" -S -- "$S" restore -D "$d" -d -v4 -o restore.log &
	rp=$!
	for _ in $(seq 200); do
		grep -q "restore of tree .* finished\|Error" "$d/restore.log" 2>/dev/null && break
		sleep 0.05
	done
	kill -TERM "$pid" 2>/dev/null
	wait "$rp"
	if grep -q "^PASS" "$d/out" && ! grep -q "^FAIL" "$d/out"; then
		echo "PASS: $T: dumped to a page server under TLS, restored, memory checked"
	else
		echo "FAIL: $T: the restored program: $(grep -m1 FAIL "$d/out") $(grep -m1 Error "$d/restore.log")"
	fi
fi

refused "a client certificate of another CA" "$SERVER" \
	"$TLS --tls-cert $C/rogue.pem --tls-key $C/rogue.key" \
	"tls: the page server ended the session after the handshake" \
	"tls: the client's certificate is refused: .*issuer is unknown"
refused "a server certificate of another CA" "$SERVER" \
	"--tls --tls-cacert $C/other-ca.pem --tls-cert $C/client.pem --tls-key $C/client.key" \
	"tls: the page server's certificate is refused: .*issuer is unknown"
refused "a server certificate for another name" \
	"$TLS --tls-cert $C/misnamed.pem --tls-key $C/misnamed.key" "$CLIENT" \
	"tls: the page server's certificate is refused: .*does not match"
refused "a missing certificate" "$SERVER" \
	"$TLS --tls-cert $W/none.pem --tls-key $C/client.key" \
	"tls: the certificate $W/none.pem with the key"
refused "a plain server" "" "$CLIENT" "tls: the handshake with the page server failed"
refused "a plain dump" "$SERVER" "" "page server" \
	"tls: the handshake with the client failed"

# GnuTLS is loaded on the first --tls, not linked: stasis starts without it,
# and a library that is not GnuTLS is refused by name, not followed blindly.
if ldd "$S" | grep -q gnutls; then
	echo "FAIL: pages over TLS: stasis is linked with GnuTLS: $(ldd "$S" | grep -m1 gnutls)"
else
	echo "PASS: pages over TLS: stasis is not linked with GnuTLS (it loads it for --tls)"
fi
mkdir -p "$W/fakelib"
if echo 'int not_gnutls;' | cc -shared -fPIC -x c -o "$W/fakelib/libgnutls.so.30" - 2>/dev/null; then
	out=$(LD_LIBRARY_PATH=$W/fakelib "$S" page-server --tls --port -1 2>&1)
	rc=$?
	if [ "$rc" -eq 1 ] && echo "$out" | grep -q "unsupported: --tls: libgnutls.so.30 has no gnutls_"; then
		echo "PASS: pages over TLS: a libgnutls.so.30 without GnuTLS in it is refused by name"
	else
		echo "FAIL: pages over TLS: a fake libgnutls.so.30: exit $rc: $out"
	fi
else
	echo "SKIP: pages over TLS: no C compiler to build a fake libgnutls.so.30"
fi
exit 0
