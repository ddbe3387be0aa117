#!/bin/bash
# run.sh - runc checkpoints and restores a container with stasis as its criu
# (`runc --criu build/stasis`), as a runc user does:
#  - a busybox container counting into a file of its rootfs, started with
#    `runc run -d`, its output a pipe read outside (what runc hands over as
#    an external file);
#  - `runc checkpoint`: the container is gone, the images are CRIU's
#    (Debian's crit decodes them);
#  - `runc restore -d`: the container runs again, is runc's (runc list),
#    counts on from where it stopped, its init is pid 1 of its own pid
#    namespace, its hostname and mounts are its own;
#  - `runc checkpoint --leave-running` leaves it counting.
# Needs runc and busybox-static (scripts/deps.sh).  CRIU=/path/to/criu runs
# the same checks with another criu (the harness against CRIU 4.2).
set -u
cd "$(dirname "$0")/../.."
B=$PWD/build
T=runc
W=/tmp/stasis-runc-tests
ID=stasis-runc-test

pass() { echo "PASS: $T: $*"; }
fail() { echo "FAIL: $T: $*"; }
skip() { echo "SKIP: $T: $*"; }
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

RUNC=$(command -v runc)
BUSYBOX=$(command -v busybox || true)
[ -x /bin/busybox ] && BUSYBOX=/bin/busybox
if [ -z "$RUNC" ] || [ -z "$BUSYBOX" ]; then
	fail "runc or busybox is missing (scripts/deps.sh installs them)"
	exit 0
fi
CRIU=${CRIU:-$B/stasis}
runc_() { "$RUNC" --criu "$CRIU" "$@"; }

cleanup() {
	"$RUNC" kill "$ID" KILL >/dev/null 2>&1
	"$RUNC" delete -f "$ID" >/dev/null 2>&1
	[ -n "${HOLD:-}" ] && kill "$HOLD" 2>/dev/null
	[ -n "${HOLD2:-}" ] && kill "$HOLD2" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT
cleanup
rm -rf "$W"
mkdir -p "$W/bundle/rootfs/bin" "$W/bundle/rootfs/tmp" "$W/bundle/rootfs/proc" \
	"$W/bundle/rootfs/dev" "$W/bundle/rootfs/sys"
cp "$BUSYBOX" "$W/bundle/rootfs/bin/busybox"

# The container: a counter, 5 a second, into /tmp/count of its rootfs.
(cd "$W/bundle" && "$RUNC" spec) || { fail "runc spec"; exit 0; }
python3 - "$W/bundle/config.json" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c['process']['terminal'] = False
c['process']['args'] = ['/bin/busybox', 'sh', '-c',
	'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; /bin/busybox sleep 0.2; done']
c['root']['readonly'] = False
c['hostname'] = 'stasis-ct'
json.dump(c, open(p, 'w'), indent=1)
EOF

count() { cat "$W/bundle/rootfs/tmp/count" 2>/dev/null; }
state() { "$RUNC" list 2>/dev/null | awk -v id="$ID" '$1 == id { print $3 }'; }
ct_pid() { "$RUNC" list 2>/dev/null | awk -v id="$ID" '$1 == id { print $2 }'; }
counting() {
	local a b
	a=$(count)
	sleep 0.6
	b=$(count)
	[ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ]
}

# stdio: a pipe whose other end a reader outside holds, as under a runtime.
(cd "$W/bundle" && "$RUNC" run -d "$ID" </dev/null 2>&1 | cat >"$W/out.log") &
HOLD=$!
for _ in $(seq 50); do [ "$(state)" = running ] && break; sleep 0.1; done
[ "$(state)" = running ] || { fail "runc run: $(cat "$W/out.log")"; exit 0; }
sleep 0.5
check "the container runs and counts" counting

# --- checkpoint ---
before=$(count)
if (cd "$W/bundle" && runc_ checkpoint --image-path "$W/img" --work-path "$W/work" "$ID") \
	>"$W/ckpt.out" 2>&1; then
	pass "runc checkpoint with $(basename "$CRIU")"
else
	fail "runc checkpoint with $(basename "$CRIU"): $(grep -m3 Error "$W/work/dump.log" 2>/dev/null | tr '\n' ' ')"
	exit 0
fi
stopped=$(count)
check "the container is gone after the checkpoint" test -z "$(state)"
sleep 0.5
check "it counted no further once checkpointed ($stopped)" test "$(count)" = "$stopped"
check "the images are CRIU's: Debian's crit decodes pstree.img" \
	sh -c "crit decode -i '$W/img/pstree.img' >/dev/null 2>&1"

# --- restore ---
# Its output a pipe again, read outside; runc hands it over (inherit_fd).
(cd "$W/bundle" && runc_ restore -d --image-path "$W/img" --work-path "$W/work-r" "$ID" \
	</dev/null 2>&1 | cat >"$W/rst.out") &
HOLD2=$!
for _ in $(seq 100); do [ -n "$(state)" ] && break; sleep 0.1; done
sleep 0.3
if [ "$(state)" = running ]; then
	pass "runc restore with $(basename "$CRIU")"
else
	fail "runc restore with $(basename "$CRIU"): $(grep -m3 Error "$W/work-r/restore.log" 2>/dev/null | tr '\n' ' ')"
	exit 0
fi
after=$(count)
check "it counts on from where it stopped ($stopped -> $after)" \
	sh -c "[ '$after' -ge '$stopped' ] && [ '$stopped' -ge '${before:-0}' ]"
check "and goes on counting" counting
p=$(ct_pid)
check "its init is pid 1 of its own pid namespace" \
	sh -c "grep -q '^NSpid:.*[[:space:]]1\$' /proc/$p/status"
check "its hostname is the container's" \
	sh -c "[ \"\$(nsenter -t $p -u hostname)\" = stasis-ct ]"
check "its root is the bundle's rootfs" \
	sh -c "[ -e /proc/$p/root/bin/busybox ] && [ ! -e /proc/$p/root/etc/debian_version ]"

# --- checkpoint, leaving it running ---
if (cd "$W/bundle" && runc_ checkpoint --leave-running --image-path "$W/img2" \
	--work-path "$W/work2" "$ID") >/dev/null 2>&1; then
	pass "runc checkpoint --leave-running"
else
	fail "runc checkpoint --leave-running: $(grep -m3 Error "$W/work2/dump.log" 2>/dev/null | tr '\n' ' ')"
fi
check "it runs on after --leave-running" counting
exit 0
