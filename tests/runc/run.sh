#!/bin/bash
# run.sh - runc checkpoints and restores a container with stasis as its criu
# (`runc --criu build/stasis`), as a runc user does:
#  - a busybox container counting into a bind-mounted file and printing
#    each number to its stdout, a pipe read outside; `runc run -d`;
#  - `runc checkpoint`: the container is gone, the images are CRIU's
#    (Debian's crit decodes them);
#  - `runc restore -d` under a new id: runc lists it running, it counts on
#    from where it stopped, its stdout reaches the new pipe, its init is
#    pid 1 of its own pid namespace, its hostname and root are its own;
#  - `runc checkpoint --leave-running` leaves it counting;
#  - `runc checkpoint --pre-dump` leaves it counting, `checkpoint
#    --parent-path` on it takes the pages it wrote (PE_PARENT), and the
#    restore of that counts on (skipped for a criu that cannot track memory);
#  - a failure inside stasis (STASIS_FAULT) leaves it running and thawed,
#    and runc names the log;
#  - the same container in an external network namespace (`ip netns`,
#    runc's `path`): restored into that namespace.
# Needs runc and busybox-static (scripts/deps.sh).  CRIU=/path/to/criu runs
# the same checks with another criu (the harness against CRIU 4.2; the
# STASIS_FAULT check is stasis's own and left out then).
set -u
cd "$(dirname "$0")/../.."
B=$PWD/build
T=runc
W=/tmp/stasis-runc-tests
ID=stasis-runc-test
NETNS=stasis-runc-ns

. tests/lib/common.sh

RUNC=$(command -v runc)
BUSYBOX=/bin/busybox
if [ -z "$RUNC" ] || [ ! -x "$BUSYBOX" ]; then
	fail "runc or busybox is missing (scripts/deps.sh installs them)"
	exit 0
fi
CRIU=${CRIU:-$B/stasis}
runc_() { "$RUNC" --criu "$CRIU" "$@"; }

ids="$ID $ID-2 $ID-3 $ID-net $ID-net2"
cleanup() {
	for i in $ids; do
		"$RUNC" kill "$i" KILL >/dev/null 2>&1
		"$RUNC" delete -f "$i" >/dev/null 2>&1
	done
	for f in "$W"/spawn-*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null
	ip netns del $NETNS 2>/dev/null
}
trap cleanup EXIT
cleanup
rm -rf "$W"
mkdir -p "$W/bundle/rootfs/bin" "$W/bundle/rootfs/data" "$W/bundle/rootfs/proc" \
	"$W/bundle/rootfs/dev" "$W/bundle/rootfs/sys" "$W/data"
cp "$BUSYBOX" "$W/bundle/rootfs/bin/busybox"

# config NETNS_PATH: the container, 5 numbers a second into /data/count (a
# bind mount of $W/data) and to stdout; its network namespace runc's own,
# or the one at NETNS_PATH.
config() {
	(cd "$W/bundle" && rm -f config.json && "$RUNC" spec) || return 1
	python3 - "$W/bundle/config.json" "$W/data" "$1" <<'EOF'
import json, sys
p, data, netns = sys.argv[1:4]
c = json.load(open(p))
c['process']['terminal'] = False
c['process']['args'] = ['/bin/busybox', 'sh', '-c',
	'i=0; while true; do i=$((i+1)); echo $i > /data/count; echo $i; /bin/busybox sleep 0.2; done']
c['root']['readonly'] = False
c['hostname'] = 'stasis-ct'
c['mounts'].append({'destination': '/data', 'type': 'bind', 'source': data,
		    'options': ['rbind', 'rw']})
if netns:
	for ns in c['linux']['namespaces']:
		if ns['type'] == 'network':
			ns['path'] = netns
json.dump(c, open(p, 'w'), indent=1)
EOF
}

# The container rewrites the file (truncate, then write): an empty read is
# a moment between the two, read again.
count() {
	local n
	for _ in $(seq 20); do
		n=$(cat "$W/data/count" 2>/dev/null)
		[ -n "$n" ] && break
		sleep 0.02
	done
	echo "$n"
}
state() { "$RUNC" list 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
ct_pid() { "$RUNC" list 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }
# It counts on: within 5 s, a number above the one it showed first.
counting() { grows count; }
# Nothing of a checkpointed container runs: runc forgets it, or (when its
# init was still exiting as runc looked) lists it stopped.
gone() {
	local st
	for _ in $(seq 50); do
		st=$(state "$1")
		[ -z "$st" ] || [ "$st" = stopped ] && return 0
		sleep 0.1
	done
	return 1
}
wait_running() {
	for _ in $(seq 100); do [ "$(state "$1")" = running ] && return 0; sleep 0.1; done
	return 1
}
first_errors() { grep -m3 Error "$1" 2>/dev/null | tr '\n' ' ' | cut -c1-300; }

# under ID CMD: CMD run by spawn, a subreaper (PID 1 here reaps no orphans):
# the container's init, orphaned once runc returns, is reaped there when
# the checkpoint kills it, and runc then forgets the container.
under() {
	local id=$1
	shift
	"$B/tests/spawn" "$W/spawn-$id.pid" -- /bin/sh -c "cd '$W/bundle' && $*" &
}

# run ID OUT: start the container, its output a pipe read into OUT.
run() {
	under "$1" "'$RUNC' run -d '$1' </dev/null 2>&1 | cat >'$2'"
	wait_running "$1"
}

# checkpoint ID DIR [OPTION...]: runc checkpoint into DIR (its work dir DIR.work).
checkpoint() {
	local id=$1 dir=$2
	shift 2
	(cd "$W/bundle" && runc_ checkpoint "$@" --image-path "$dir" --work-path "$dir.work" "$id") \
		>"$dir.out" 2>&1
}

# restore ID DIR OUT: runc restore -d from DIR under ID, its output into OUT.
restore() {
	under "$1" "'$RUNC' --criu '$CRIU' restore -d --image-path '$2' --work-path '$2.rwork' '$1' \
		</dev/null 2>&1 | cat >'$3'"
	for _ in $(seq 150); do [ -n "$(state "$1")" ] && break; sleep 0.1; done
	sleep 0.3
	[ "$(state "$1")" = running ]
}

config "" || { fail "runc spec"; exit 0; }
run "$ID" "$W/out1.log" || { fail "runc run: $(cat "$W/out1.log")"; exit 0; }
sleep 0.5
check "the container runs and counts" counting

# --- a failure inside stasis: the container runs on, thawed ---
if [ "$CRIU" = "$B/stasis" ]; then
	STASIS_FAULT=images checkpoint "$ID" "$W/fault"
	check "a checkpoint failing inside stasis fails (runc names the log)" \
		sh -c "! grep -q . '$W/fault/inventory.img' 2>/dev/null && grep -q 'log file' '$W/fault.out'"
	check "and the container is still running, thawed, counting" \
		sh -c "[ \"\$($RUNC list | awk '\$1 == \"$ID\" { print \$3 }')\" = running ] && \
		! grep -q FROZEN /sys/fs/cgroup/freezer/$ID/freezer.state 2>/dev/null"
	counting || fail "it counts on after the failed checkpoint"
fi

# --- checkpoint, restore under a new id ---
before=$(count)
if checkpoint "$ID" "$W/img"; then
	pass "runc checkpoint with $(basename "$CRIU")"
else
	fail "runc checkpoint: $(first_errors "$W/img.work/dump.log")"
	exit 0
fi
stopped=$(count)
check "nothing of the container runs after the checkpoint" gone "$ID"
sleep 0.5
check "it counted no further once checkpointed ($stopped)" test "$(count)" = "$stopped"
check "the images are CRIU's: Debian's crit decodes pstree.img" \
	sh -c "crit decode -i '$W/img/pstree.img' >/dev/null 2>&1"
"$RUNC" delete -f "$ID" >/dev/null 2>&1
if restore "$ID-2" "$W/img" "$W/out2.log"; then
	pass "runc restore with $(basename "$CRIU") under a new id"
else
	fail "runc restore: $(first_errors "$W/img.rwork/restore.log")"
	exit 0
fi
after=$(count)
check "it counts on from where it stopped ($stopped -> $after)" \
	sh -c "[ -n '$after' ] && [ '$after' -ge '$stopped' ] && [ '$stopped' -ge '${before:-0}' ]"
check "and goes on counting" counting
check "its stdout reaches the new pipe" \
	sh -c "n=\$(tail -1 '$W/out2.log'); [ -n \"\$n\" ] && [ \"\$n\" -gt '$stopped' ]"
p=$(ct_pid "$ID-2")
check "its init is pid 1 of its own pid namespace" \
	sh -c "grep -q '^NSpid:.*[[:space:]]1\$' /proc/$p/status"
check "its hostname is the container's" \
	sh -c "[ \"\$(nsenter -t $p -u hostname)\" = stasis-ct ]"
check "its root is the bundle's rootfs" \
	sh -c "[ -e /proc/$p/root/bin/busybox ] && [ ! -e /proc/$p/root/etc/debian_version ]"

# --- checkpoint, leaving it running ---
if checkpoint "$ID-2" "$W/img2" --leave-running; then
	pass "runc checkpoint --leave-running"
else
	fail "runc checkpoint --leave-running: $(first_errors "$W/img2.work/dump.log")"
fi
check "it runs on after --leave-running" counting

# --- pre-dump (memory tracked without soft-dirty), then a dump on top ---
# pre_dumps ID: runc checkpoint --pre-dump, then --parent-path, restored as ID-3.
pre_dumps() {
	if checkpoint "$1" "$W/pre" --pre-dump; then
		pass "runc checkpoint --pre-dump"
	elif grep -q "missing features" "$W/pre.out"; then
		# CRIU 4.2 tracks memory with soft-dirty bits only.
		skip "runc checkpoint --pre-dump: $(basename "$CRIU") cannot track memory here"
		return
	else
		fail "runc checkpoint --pre-dump: $(first_errors "$W/pre.work/dump.log")"
		return
	fi
	check "it runs on after the pre-dump" counting
	if ! checkpoint "$1" "$W/img4" --parent-path ../pre; then
		fail "runc checkpoint --parent-path: $(first_errors "$W/img4.work/dump.log")"
		return
	fi
	pass "runc checkpoint --parent-path (after the pre-dump)"
	stopped=$(count)
	check "the dump names the pre-dump as its parent" test -e "$W/img4/parent"
	check "and takes pages from it (pagemap entries PE_PARENT)" \
		sh -c "crit show '$W/img4/pagemap-1.img' 2>/dev/null | grep -q PE_PARENT"
	check "nothing of the container runs after that checkpoint" gone "$1"
	"$RUNC" delete -f "$1" >/dev/null 2>&1
	if ! restore "$ID-3" "$W/img4" "$W/out5.log"; then
		fail "runc restore on a pre-dump: $(first_errors "$W/img4.rwork/restore.log")"
		return
	fi
	pass "runc restore of the dump made on a pre-dump"
	after=$(count)
	check "it counts on from where it stopped ($stopped -> $after)" \
		sh -c "[ -n '$after' ] && [ -n '$stopped' ] && [ '$after' -ge '$stopped' ]"
	check "and goes on counting after the restore on a pre-dump" counting
	"$RUNC" delete -f "$ID-3" >/dev/null 2>&1
}
pre_dumps "$ID-2"
"$RUNC" delete -f "$ID-2" >/dev/null 2>&1

# --- the container in an external network namespace ---
ip netns add $NETNS && ip -n $NETNS link set lo up || { fail "ip netns add"; exit 0; }
config /run/netns/$NETNS || { fail "runc spec"; exit 0; }
run "$ID-net" "$W/out3.log" || { fail "runc run in $NETNS: $(cat "$W/out3.log")"; exit 0; }
sleep 0.5
if checkpoint "$ID-net" "$W/img3"; then
	pass "runc checkpoint of a container in an external network namespace"
else
	fail "runc checkpoint in $NETNS: $(first_errors "$W/img3.work/dump.log")"
	exit 0
fi
"$RUNC" delete -f "$ID-net" >/dev/null 2>&1
if restore "$ID-net2" "$W/img3" "$W/out4.log"; then
	pass "runc restore into the external network namespace"
else
	fail "runc restore in $NETNS: $(first_errors "$W/img3.rwork/restore.log")"
	exit 0
fi
p=$(ct_pid "$ID-net2")
check "it is in that namespace and counts" \
	sh -c "[ \"\$(stat -L -c %i /proc/$p/ns/net)\" = \"\$(stat -L -c %i /run/netns/$NETNS)\" ]"
counting || fail "it counts in the external network namespace"
exit 0
