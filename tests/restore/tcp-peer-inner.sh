#!/bin/bash
# tcp-peer-inner.sh W - the body of tcp-peer.sh; writes PASS/FAIL lines to W/results.
set -u
cd "$(dirname "$0")/../.."
W=$1
T="--tcp-established, outside peer"
PY=tests/restore/tcp-peer.py
pass() { echo "PASS: restore $T: $*" >>"$W/results"; }
fail() { echo "FAIL: restore $T: $*" >>"$W/results"; }
locks() { nft list tables 2>/dev/null | grep -c "CRIU-"; }

if ! command -v nft >/dev/null || ! nft list tables >/dev/null 2>&1; then
	echo "SKIP: restore $T: no nft to lock the network with" >>"$W/results"
	exit 0
fi
locks0=$(locks)

# A peer and the echoing tree in case directory D; the tree's pid in $tree.
start() {
	local d=$1
	mkdir -p "$d"
	python3 $PY peer "$d" &
	for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.05; done
	setsid python3 $PY echo "$(cat "$d/port")" </dev/null >/dev/null 2>"$d/echo.err" &
	tree=$!
	for _ in $(seq 100); do [ "$(cat "$d/progress" 2>/dev/null || echo 0)" -gt 100 ] && break; sleep 0.05; done
}

# Let the peer run a little more, then stop it: its verdict, or why none.
finish() {
	local d=$1 what=$2
	sleep 1.5
	touch "$d/stop"
	for _ in $(seq 200); do [ -s "$d/peer-result" ] && break; sleep 0.05; done
	kill -KILL -- "-$tree" 2>/dev/null
	case $(cat "$d/peer-result" 2>/dev/null) in
	PASS*) pass "$what: $(cut -d' ' -f2- "$d/peer-result")" ;;
	FAIL*) fail "$what: $(cut -d' ' -f2- "$d/peer-result")" ;;
	*) fail "$what: the peer gave no verdict" ;;
	esac
}

# Dumped and killed, kept locked while gone, restored: the peer never notices.
D=$W/kill
start "$D"
if ! build/stasis dump -t "$tree" -D "$D" -o dump.log -v4 --tcp-established; then
	fail "the dump failed: $(grep -m1 Error "$D/dump.log")"
	exit 0
fi
if [ "$(locks)" -eq $((locks0 + 1)) ]; then
	pass "the network stays locked while the tree is gone"
else
	fail "no lock table while the tree is gone"
fi
sleep 1
if ! build/stasis restore -D "$D" -d -o restore.log -v4 --tcp-established; then
	fail "the restore failed: $(grep -m1 Error "$D/restore.log")"
	exit 0
fi
[ "$(locks)" -eq "$locks0" ] || fail "the lock table is left after the restore"
finish "$D" "dumped, killed and restored"

# With -R the connection runs on, unlocked.
D=$W/leave
start "$D"
if build/stasis dump -t "$tree" -D "$D" -o dump.log -v4 --tcp-established -R; then
	[ "$(locks)" -eq "$locks0" ] || fail "-R: the lock table is left after the dump"
	finish "$D" "dumped with -R"
else
	fail "-R: the dump failed: $(grep -m1 Error "$D/dump.log")"
fi

# A dump that fails after the connection is saved leaves it running, unlocked.
D=$W/fault
start "$D"
if STASIS_FAULT=images build/stasis dump -t "$tree" -D "$D" -o dump.log -v4 --tcp-established; then
	fail "the dump did not fail at the fault injected"
else
	[ "$(locks)" -eq "$locks0" ] || fail "a failed dump left the lock table"
	finish "$D" "a failed dump"
fi
