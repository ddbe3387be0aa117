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
W=/tmp/stasis-restore-tests/inet
rm -rf "$W"
mkdir -p "$W"
ALTER=tests/restore/inet-alter.py
. tests/restore/refused.sh

# refused MODE PATTERN: the restore of images broken by MODE says PATTERN.
refused() {
	T="refuses inet sockets: $1"
	refused_as inet_sockets "$@" --dump-opts --skip-in-flight
}

refused addr-len "an entry with addresses of the wrong length"
refused family "an entry of an unknown family"
refused listen-udp "an entry listening, but not TCP"
refused filter "a filter of 5000 instructions, over 4096"
refused icmp-filter "an ICMP filter of 3 words"
refused connection "is a TCP connection (established, port [0-9]* to 80): restore it with"
