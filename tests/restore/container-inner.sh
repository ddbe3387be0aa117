#!/bin/bash
# container-inner.sh W - the body of container.sh; writes PASS/FAIL lines to W/results.
set -u
cd "$(dirname "$0")/../.."
W=$1
T=container
. tests/lib/common.sh
pass() { echo "PASS: restore $T: $*" >>"$W/results"; }
fail() { echo "FAIL: restore $T: $*" >>"$W/results"; }

ip link del stxh0 2>/dev/null
mkdir -p "$W/box"
: >"$W/out"
STASIS_TEST_OUT=$W/out setsid unshare --pid --fork \
	build/tests/container "$W/box" </dev/null >/dev/null 2>&1 &
outer=$!
if ! wait_for "$W/out" "READY\|FAIL" 10 || grep -q FAIL "$W/out"; then
	fail "the container did not start: $(cat "$W/out")"
	exit 0
fi
pid=$(ps -o pid= --ppid "$outer" | tr -d ' ')
if ! ip link add stxh0 type veth peer name stxc0 netns "$pid" ||
	! nsenter -t "$pid" -n sh -c 'ip addr add 10.241.0.2/24 dev stxc0 && ip link set stxc0 up'; then
	fail "cannot give the container its veth"
	kill -9 "$pid"
	exit 0
fi

if ! build/stasis dump -t "$pid" -D "$W/img" -v4 -o dump.log; then
	fail "the dump failed: $(grep -m1 Error "$W/img/dump.log")"
	kill -9 "$pid"
	exit 0
fi
wait "$outer"
for _ in $(seq 50); do ip link show stxh0 >/dev/null 2>&1 || break; sleep 0.1; done
have=$(cd "$W/img" && ls utsns-*.img ipcns-shm-*.img ipcns-msg-*.img netns-*.img \
	mountpoints-*.img tmpfs-dev-*.tar.gz.img 2>/dev/null | sed 's/-[0-9]*\..*//' | sort -u |
	tr '\n' ' ')
check "the images hold each namespace: $have" \
	[ "$have" = "ipcns-msg ipcns-shm mountpoints netns tmpfs-dev utsns " ]
check "the host's veth peer went with the dumped tree" eval '! ip link show stxh0 >/dev/null 2>&1'

if ! build/stasis restore -D "$W/img" -d -v4 -o restore.log --pidfile "$W/rst.pid" \
	--external 'veth[stxc0]:stxh0'; then
	fail "the restore failed: $(grep -m1 Error "$W/img/restore.log")"
	exit 0
fi
pid=$(cat "$W/rst.pid")
check "the host sees its veth peer stxh0 again" ip link show stxh0
check "the restored root is init of its pid namespace" \
	grep -q "^NSpid:.*[[:space:]]1$" "/proc/$pid/status"
kill -TERM "$pid"
for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
if grep -q "^PASS" "$W/out" && ! grep -q "^FAIL" "$W/out"; then
	pass "after the restore the container finds all of its state"
else
	fail "after the restore: $(grep -v READY "$W/out" | tr '\n' ' ')"
fi
