#!/bin/bash
# netns-sub-inner.sh W - the body of netns-sub.sh; writes PASS/FAIL/SKIP lines to W/results.
# The environment names the programs: DUMPER, RESTORER, and LABEL for the lines.
set -u
cd "$(dirname "$0")/../.."
W=$1
say() { echo "$1: restore net namespaces of a tree ($LABEL): $T: ${*:2}" >>"$W/results"; }
pass() { say PASS "$@"; }
fail() { say FAIL "$@"; }
skip() { say SKIP "$@"; }
ino() { stat -L -c %i "/proc/$1/ns/net"; }
in_ns() { local p=$1; shift; nsenter -t "$p" -n "$@"; }
# gone PID...: wait until each is reaped by spawn (the restore takes the PIDs again).
gone() {
	for p in "$@"; do
		for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.01; done
	done
}
# A datagram from the root's namespace to A's, over the veth, arrives.
across() {
	rm -f "$W/got"
	in_ns "$a" timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.89.0.2", 5599))
open(sys.argv[1], "w").write(s.recv(64).decode())' "$W/got" &
	local rx=$!
	for _ in $(seq 40); do
		in_ns "$root" bash -c 'echo -n across >/dev/udp/10.89.0.2/5599' 2>/dev/null
		[ -s "$W/got" ] && break
		sleep 0.1
	done
	wait $rx 2>/dev/null
	[ "$(cat "$W/got" 2>/dev/null)" = across ]
}

T="a child in another net namespace, a socket made there held from the root's, a veth between them, a tap"
if ! [ -c /dev/net/tun ]; then
	skip "no /dev/net/tun here"
	exit 0
fi
host_links=$(ip -o link | wc -l)
setsid unshare -n python3 tests/restore/netns-sub-tree.py "$W" </dev/null >"$W/tree.log" 2>&1 &
for _ in $(seq 500); do [ -s "$W/root" ] && [ -s "$W/a" ] && [ -s "$W/b" ] && break; sleep 0.01; done
if ! [ -s "$W/b" ]; then
	fail "the tree did not start: $(tail -1 "$W/tree.log")"
	exit 0
fi
root=$(cat "$W/root") a=$(cat "$W/a") b=$(cat "$W/b")
in_ns "$root" ip link add stvr0 type veth peer name stva0 netns "$a" &&
	in_ns "$root" ip addr add 10.89.0.1/24 dev stvr0 && in_ns "$root" ip link set stvr0 up &&
	in_ns "$a" ip addr add 10.89.0.2/24 dev stva0 && in_ns "$a" ip link set stva0 up
if ! across; then
	fail "no datagram over the veth before the dump"
	kill -KILL "$root" "$a" "$b"
	exit 0
fi
mkdir -p "$W/d"
if ! $DUMPER dump -t "$root" -D "$W/d" -o dump.log; then
	fail "the dump failed: $(grep -m1 Error "$W/d/dump.log")"
	kill -KILL "$root" "$a" "$b"
	exit 0
fi
gone "$root" "$a" "$b"
nets=$(ls "$W/d"/netns-*.img | wc -l)
if ! $RESTORER restore -D "$W/d" -d -o restore.log; then
	fail "the restore failed: $(grep -m1 Error "$W/d/restore.log")"
elif [ "$nets" != 2 ]; then
	fail "$nets netns-ID.img written, not 2"
elif [ "$(ino "$root")" = "$(ino $$)" ] || [ "$(ino "$a")" = "$(ino "$root")" ] ||
	[ "$(ino "$b")" != "$(ino "$root")" ]; then
	fail "namespaces: root $(ino "$root"), A $(ino "$a"), B $(ino "$b"), the host $(ino $$)"
elif ! in_ns "$a" ss -xap | grep "@stasis-sub-b" | grep -q "pid=$b,"; then
	fail "B's socket is not in A's namespace: $(in_ns "$a" ss -xap | grep stasis-sub | tr '\n' ' ')"
elif ! in_ns "$a" ss -xap | grep "@stasis-sub-a" | grep -q "pid=$a,"; then
	fail "A's own socket is not in A's namespace"
elif in_ns "$root" ss -xa | grep -q stasis-sub; then
	fail "a socket of A's namespace is bound in the root's"
elif ! in_ns "$a" ip -o addr show dev stva0 | grep -q "10.89.0.2/24"; then
	fail "A's end of the veth lost its address: $(in_ns "$a" ip -o link | tr '\n' ' ')"
elif ! across; then
	fail "no datagram over the veth after the restore: $(in_ns "$root" nft list tables | tr '\n' ' ')"
elif ! in_ns "$root" ip -d link show sttap0 | grep -q "tun type tap pi off vnet_hdr off persist off"; then
	fail "the tap is not back as it was: $(in_ns "$root" ip -d link show sttap0 | grep -o 'tun .*persist [a-z]*')"
elif ! grep -qs "iff:.sttap0" /proc/"$root"/fdinfo/*; then
	fail "the root's file is not on the tap"
elif [ "$(ip -o link | wc -l)" != "$host_links" ]; then
	fail "the host has $(ip -o link | wc -l) links, not $host_links: $(ip -o link | tail -2 | tr '\n' ' ')"
else
	pass "each task in its namespace, the sockets in theirs, the veth carries datagrams, the tap attached"
fi
kill -KILL "$root" "$a" "$b" 2>/dev/null
gone "$root" "$a" "$b"
