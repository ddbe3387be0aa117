#!/bin/bash
# netns-inner.sh W - the body of netns.sh; writes PASS/FAIL/SKIP lines to W/results.
set -u
cd "$(dirname "$0")/../.."
W=$1
CRIU=${CRIU_REF:-/tmp/zdtm-criu/criu/criu}
pass() { echo "PASS: restore net namespace: $T: $*" >>"$W/results"; }
fail() { echo "FAIL: restore net namespace: $T: $*" >>"$W/results"; }
skip() { echo "SKIP: restore net namespace: $T: $*" >>"$W/results"; }

# sleeper: a sleep in a session and net namespace of its own; its pid in $pid.
sleeper() {
	setsid unshare -n sleep 600 </dev/null >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		[ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
		sleep 0.01
	done
}
inside() { nsenter -t "$pid" -n "$@"; }
ino() { stat -L -c %i "/proc/$1/ns/net"; }
# gone: wait until the killed $pid is reaped by spawn (its PID comes back).
gone() {
	for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.01; done
}
finish() { kill -KILL "$pid" 2>/dev/null; gone; }

# --- given from outside: the root joins it ---
T="--external net[INO]:KEY with --inherit-fd"
sleeper
inside sh -c 'ip link set lo up && ip addr add 10.88.0.1/32 dev lo'
exec 9<"/proc/$pid/ns/net"
held=$(stat -L -c %i /proc/self/fd/9)
mkdir -p "$W/ext"
if ! build/stasis dump -t "$pid" -D "$W/ext" -o dump.log --external "net[$held]:extnet"; then
	fail "the dump failed: $(grep -m1 Error "$W/ext/dump.log")"
elif [ "$(build/crit decode -i "$W/ext/netns-"*.img | jq -c '.entries')" != '[{"ext_key":"extnet"}]' ] ||
	ls "$W/ext"/netdev-*.img >/dev/null 2>&1; then
	fail "netns-ID.img is not the key alone: $(build/crit decode -i "$W/ext/netns-"*.img | jq -c .)"
else
	gone
	if ! build/stasis restore -D "$W/ext" -d -o restore.log 2>/dev/null; then
		said=$(grep -m1 -o "Error: .*" "$W/ext/restore.log")
		if [[ $said != *"give it with --inherit-fd fd[N]:extnet"* ]]; then
			fail "without --inherit-fd: $said"
		elif ! build/stasis restore -D "$W/ext" -d -o restore.log --inherit-fd "fd[9]:extnet"; then
			fail "the restore failed: $(grep -m1 Error "$W/ext/restore.log")"
		elif [ "$(ino "$pid")" != "$held" ]; then
			fail "the root is in namespace $(ino "$pid"), not the given $held"
		elif ! inside ip -o addr show dev lo | grep -q "10.88.0.1/32"; then
			fail "the given namespace lost its address"
		else
			pass "only the key kept; without the fd refused ($said); with it the root joined it"
		fi
	else
		fail "the restore without --inherit-fd did not fail"
	fi
fi
exec 9<&-
finish

# --- --join-ns net:PID: locked whole between dump and restore, joined ---
T="--join-ns net, the namespace locked whole meanwhile"
sleeper
nsenter -t "$pid" -n sleep 600 </dev/null >/dev/null 2>&1 &
holder=$!
for _ in $(seq 100); do [ "$(ino $holder)" = "$(ino "$pid")" ] && break; sleep 0.01; done
mkdir -p "$W/join"
if ! build/stasis dump -t "$pid" -D "$W/join" -o dump.log; then
	fail "the dump failed: $(grep -m1 Error "$W/join/dump.log")"
elif ! nsenter -t "$holder" -n nft list ruleset 2>/dev/null | grep -q "policy drop"; then
	fail "the namespace is not locked after the dump"
else
	gone
	if ! build/stasis restore -D "$W/join" -d -o restore.log --join-ns "net:$holder"; then
		fail "the restore failed: $(grep -m1 Error "$W/join/restore.log")"
	elif [ "$(ino "$pid")" != "$(ino $holder)" ]; then
		fail "the root is not in the namespace given"
	elif nsenter -t "$holder" -n nft list ruleset 2>/dev/null | grep -q "policy drop"; then
		fail "the namespace is still locked after the restore"
	else
		pass "locked (nft, policy drop) after the dump, joined and unlocked by the restore"
	fi
fi
kill -KILL "$holder" 2>/dev/null
finish

# --- --empty-ns net: made, left empty ---
T="--empty-ns net"
sleeper
before=$(ino "$pid")
inside sh -c 'ip link set lo up && ip addr add 10.88.0.1/32 dev lo'
mkdir -p "$W/empty"
if ! build/stasis dump -t "$pid" -D "$W/empty" -o dump.log --empty-ns net; then
	fail "the dump failed: $(grep -m1 Error "$W/empty/dump.log")"
elif ls "$W/empty"/netdev-*.img "$W/empty"/ifaddr-*.img >/dev/null 2>&1; then
	fail "links or addresses were written"
else
	gone
	if ! build/stasis restore -D "$W/empty" -d -o restore.log --empty-ns net; then
		fail "the restore failed: $(grep -m1 Error "$W/empty/restore.log")"
	elif [ "$(ino "$pid")" = "$before" ] || [ "$(ino "$pid")" = "$(ino $$)" ]; then
		fail "the root is not in a new net namespace"
	elif inside ip -o addr | grep -q "10.88.0.1"; then
		fail "the namespace was filled"
	else
		pass "a new namespace, left empty"
	fi
fi
finish

# --- a link of a kind not supported: refused by name, the tree runs on ---
T="a vxlan refused"
sleeper
mkdir -p "$W/vxlan"
if ! inside ip link add stvx0 type vxlan id 42 dstport 4789 2>/dev/null; then
	skip "this kernel makes no vxlan"
elif build/stasis dump -t "$pid" -D "$W/vxlan" -o dump.log; then
	fail "the dump did not fail"
elif ! grep -q "unsupported: net namespace link [0-9]* (stvx0) is a vxlan" "$W/vxlan/dump.log"; then
	fail "the error does not name the link: $(grep -m1 Error "$W/vxlan/dump.log")"
elif ! kill -0 "$pid" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$pid/stat")" != S ]; then
	fail "the tree does not run on"
else
	pass "$(grep -m1 -o 'unsupported: .*' "$W/vxlan/dump.log"), and the tree runs on"
fi
finish

# --- every kind of link: bridge and port, macvlan, veth into a bridge outside, a device moved in ---
# Inside: bridge stbr0 (10.94.0.1/24, up) with port stpa0 of the pair stpa0/stpb0; macvlan
# stmv0 (mode bridge) on the host's stmvp0; veth stvi0 whose peer stvo0 is the host's; veth
# stmi0 whose peer is the host's stmo0.  Restored with --veth-pair stvi0=stvo0@stobr0
# (CRIU's older spelling of --external veth[stvi0]:stvo0@stobr0: the host's bridge), macvlan[stmv0]:stmvp0 and netdev[stmi0]:stmn0, a device the host made
# meanwhile: it moves in as stmi0, with stmi0's index.
T="bridge, port, macvlan, a veth into a bridge outside, a device moved in"
ifindex() { inside ip -o link show "$1" 2>/dev/null | cut -d: -f1; }
links_clean() { for l in stobr0 stmvp0 stvo0 stmo0 stmn0; do ip link del "$l" 2>/dev/null; done; }
links_setup() {
	links_clean
	ip link add stobr0 type bridge && ip link add stmvp0 type veth peer name stmvq0 &&
		ip link add stvo0 type veth peer name stvi0 netns "$pid" &&
		ip link add stmo0 type veth peer name stmi0 netns "$pid" &&
		ip link add stmv0 link stmvp0 type macvlan mode bridge &&
		ip link set stmv0 netns "$pid" &&
		inside sh -c 'ip link add stbr0 type bridge && ip link add stpa0 type veth peer name stpb0 &&
			ip link set stpa0 master stbr0 && ip link set stbr0 up &&
			ip addr add 10.94.0.1/24 dev stbr0 && ip addr add 10.95.0.2/24 dev stmv0'
}
links_check() {
	inside ip -d link show stbr0 | grep -q "bridge " || echo "the bridge stbr0"
	inside ip -o addr show dev stbr0 | grep -q "10.94.0.1/24" || echo "stbr0's address"
	inside ip link show stpa0 | grep -q "master stbr0" || echo "stpa0 a port of stbr0"
	inside ip -d link show stmv0 | grep -q "macvlan mode bridge" || echo "the macvlan stmv0"
	inside ip -o addr show dev stmv0 | grep -q "10.95.0.2/24" || echo "stmv0's address"
	ip link show stvo0 | grep -q "master stobr0.*" || echo "stvo0 a port of the host's stobr0"
	ip link show stvo0 | grep -q "UP" || echo "stvo0 up"
	[ "$(ifindex stmi0)" = "$1" ] ||
		echo "stmi0 moved in with index $1"
	! ip link show stmn0 >/dev/null 2>&1 || echo "stmn0 gone from the host"
}
sleeper
mkdir -p "$W/links"
if ! links_setup 2>"$W/links/setup.err"; then
	skip "this kernel lacks a kind of link: $(head -1 "$W/links/setup.err")"
elif ! index=$(ifindex stmi0) || [ -z "$index" ] ||
	! build/stasis dump -t "$pid" -D "$W/links" -o dump.log; then
	fail "the dump failed: $(grep -m1 Error "$W/links/dump.log")"
else
	gone
	for _ in $(seq 500); do ip link show stvo0 >/dev/null 2>&1 || break; sleep 0.01; done
	ip link add stmn0 type veth peer name stmn1
	if ! build/stasis restore -D "$W/links" -d -o restore.log --veth-pair "stvi0=stvo0@stobr0" \
		--external "macvlan[stmv0]:stmvp0" --external "netdev[stmi0]:stmn0"; then
		fail "the restore failed: $(grep -m1 Error "$W/links/restore.log")"
	else
		missing=$(links_check "$index" | paste -sd, -)
		if [ -n "$missing" ]; then
			fail "lost: $missing"
		else
			pass "all back, each as it was"
		fi
	fi
fi
finish
links_clean
ip link del stmn1 2>/dev/null

# --- CRIU 4.2 and stasis, each restoring the other's images ---
# setup: a veth stnx0 (inside) to stnxh0 (the host), an address, a route, a
# sysctl, an iptables rule; check: all of it there after the restore.
# With the host's end down, the route is saved "linkdown", which the kernel
# refuses in a new route: CRIU 4.2 fails there, stasis clears the flag; so
# the host's end is up for CRIU's restore, and down for stasis's.
setup() {
	ip link del stnxh0 2>/dev/null
	inside sh -c 'ip link set lo up && ip addr add 10.89.0.1/32 dev lo' &&
		ip link add stnxh0 type veth peer name stnx0 netns "$pid" &&
		inside sh -c 'ip link set stnx0 mtu 1400 up && ip addr add 10.90.0.2/24 dev stnx0 &&
			ip route add 10.91.0.0/16 via 10.90.0.1 dev stnx0 onlink &&
			sysctl -q -w net.ipv4.conf.stnx0.rp_filter=2 &&
			iptables -A INPUT -p tcp --dport 7778 -j DROP'
}
check() {
	inside ip -o addr show dev lo | grep -q "10.89.0.1/32" || echo "lo's address"
	inside ip -o link show stnx0 | grep -q "mtu 1400" || echo "stnx0's MTU"
	inside ip -o addr show dev stnx0 | grep -q "10.90.0.2/24" || echo "stnx0's address"
	inside ip route show 10.91.0.0/16 | grep -q "via 10.90.0.1" || echo "the route"
	[ "$(inside cat /proc/sys/net/ipv4/conf/stnx0/rp_filter)" = 2 ] || echo "rp_filter"
	inside iptables -S INPUT | grep -q "dport 7778 -j DROP" || echo "the iptables rule"
	ip link show stnxh0 >/dev/null 2>&1 || echo "the host's peer stnxh0"
}
# cross NAME DUMPER RESTORER up|down
cross() {
	local d="$W/$1" missing
	T="$1"
	if ! [ -x "$CRIU" ] || ! "$CRIU" --version 2>/dev/null | grep -q "Version: 4"; then
		skip "no CRIU 4 at $CRIU (ZDTM's run.sh builds it)"
		return
	fi
	sleeper
	mkdir -p "$d"
	if ! setup || ! ip link set stnxh0 "$4"; then
		fail "the namespace could not be set up"
	elif ! $2 dump -t "$pid" -D "$d" -v4 -o dump.log; then
		fail "the dump failed: $(grep -m1 Error "$d/dump.log")"
	else
		gone
		# The kernel frees the dumped namespace, and the pair, a little later.
		for _ in $(seq 500); do ip link show stnxh0 >/dev/null 2>&1 || break; sleep 0.01; done
		if ! $3 restore -D "$d" -d -v4 -o restore.log --external "veth[stnx0]:stnxh0"; then
			fail "the restore failed: $(grep Error "$d/restore.log" | grep -v RLIMIT | head -1)"
		else
			missing=$(check | paste -sd, -)
			if [ -n "$missing" ]; then
				fail "lost: $missing"
			else
				pass "links, addresses, route, sysctl, iptables rule and the host's peer back"
			fi
		fi
	fi
	finish
}
cross "stasis's images restored by CRIU 4.2" build/stasis "$CRIU" up
cross "CRIU 4.2's images restored by stasis, a route saved linkdown" "$CRIU" build/stasis down
ip link del stnxh0 2>/dev/null
exit 0
