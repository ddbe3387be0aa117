#!/bin/bash
# inet.sh - inet sockets with broken images, run by tests/restore/run.sh.
# tests/conformance/inet_sockets (which passes a plain dump and restore in
# run.sh's loop) is dumped with --skip-in-flight, and its files.img broken
# by inet-alter.py before the restore: addresses of the wrong length, an
# unknown family, a listening UDP socket, a socket filter too long, an
# ICMP filter of the wrong size, a TCP connection restored without
# --tcp-close.  Each restore must fail with its own clear error (the
# runner then reports the test FAIL and kills and reaps whatever is left).
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-restore-tests/inet
rm -rf "$W"
mkdir -p "$W"

pass() { echo "PASS: restore $T: $*"; }
fail() { echo "FAIL: restore $T: $*"; }

# refused MODE PATTERN: the restore of images broken by MODE says PATTERN.
refused() {
	local mode=$1 pattern=$2 out said
	T="refuses inet sockets: $mode"
	out=$($B/runner --timeout 20 --workdir "$W/$mode" --dump-opts --skip-in-flight \
		--alter "$PWD/tests/restore/inet-alter.py $mode" "$B/conformance/inet_sockets")
	said=$(grep -m1 -o "Error: .*" "$W/$mode/restore.log" 2>/dev/null)
	case $out in
	FAIL:*"restore failed"*)
		if grep -q -- "$pattern" <<<"$said"; then
			pass "$said"
		else
			fail "the first error does not say '$pattern': $said"
		fi ;;
	*) fail "the restore did not fail: $out" ;;
	esac
}

refused addr-len "an entry with addresses of the wrong length"
refused family "an entry of an unknown family"
refused listen-udp "an entry listening, but not TCP"
refused filter "a filter of 5000 instructions, over 4096"
refused icmp-filter "an ICMP filter of 3 words"
refused connection "is a TCP connection (established, port [0-9]* to 80): restore it with"
