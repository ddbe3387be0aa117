#!/bin/bash
# run.sh - CRIU's RPC, driven as runc and zdtm.py drive CRIU (rpc-client):
#  - over `stasis swrk FD` and over `stasis service --address`: VERSION,
#    FEATURE_CHECK, CHECK; a counter dumped (notifications pre-dump and
#    post-dump, in order, answered), and restored (rst_sibling: the
#    client is its parent; the answer carries its pid) counting on from
#    where it stopped; leave_running keeps it running;
#  - a "no" to post-dump and a field stasis lacks each fail clearly, naming
#    what, and leave the counter running; PRE_DUMP writes its pages and
#    leaves it running;
#  - shell_job and orphan_pts_master: a counter on a pty whose master is
#    outside comes back on a new pty, whose master the client is sent;
#  - --action-script on the command line runs at each hook in CRIU's
#    order, with CRTOOLS_SCRIPT_ACTION, CRTOOLS_IMAGE_DIR, CRTOOLS_INIT_PID;
#  - PAGE_SERVER and PAGE_SERVER_CHLD start a page server (on a port the
#    kernel picks), answer its pid and port, and a dump's pages sent there
#    restore the counter, which counts on;
#  - pidfd_store_sk taken (a datagram socket), refused on a stream one;
#  - several requests on one connection to a service with lists of its
#    own: valgrind sees no use of a freed list, a dump at the end runs the
#    service's action script;
#  - --exec-cmd and exec_cmd: stasis becomes the command once the tree runs;
#  - network-lock / network-unlock for a tree in a net namespace of its own
#    (over RPC and for --action-script), none for one in the host's;
#    status-ready when a page server takes connections.
set -u
cd "$(dirname "$0")/../.."
B=$PWD/build
T=rpc
W=/tmp/stasis-rpc-tests
CL=$B/tests/rpc-client
rm -rf "$W"
mkdir -p "$W"

# No run waits for ever, and none leaves a process behind: rpc-client and
# pspair.py give up (and kill what they started) after a minute or so,
# stasis run directly is under timeout, and every spawn started in the
# background (the subreaper of a counter, a service, a restore) is ended
# with SIGTERM, which kills what is under it, when the test ends.
SPAWNS=()
bg() {
	"$@" &
	SPAWNS+=($!)
}
cleanup() {
	local p left
	for p in "${SPAWNS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 100); do
		left=
		for p in "${SPAWNS[@]}"; do kill -0 "$p" 2>/dev/null && left=$p; done
		[ -z "$left" ] && break
		sleep 0.1
	done
	for p in "${SPAWNS[@]}"; do
		if kill -0 "$p" 2>/dev/null; then
			echo "FAIL: $T: a spawn ($p) did not end on SIGTERM"
			kill -KILL "$p"
		fi
		wait "$p" 2>/dev/null
	done
}
trap cleanup EXIT

pass() { echo "PASS: $T: $*"; }
fail() { echo "FAIL: $T: $*"; }
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

for t in "$CL" "$B/tests/rpc-counter" "$B/tests/spawn" "$B/stasis"; do
	[ -x "$t" ] || { fail "$t is not built"; exit 0; }
done

count() { sed 's/^0*//' "$1" 2>/dev/null; }
alive() { [ -d /proc/$1 ] && ! grep -q '^State:.*Z' /proc/$1/status 2>/dev/null; }

# start NAME: a counter under spawn (its subreaper); sets PID.
start() {
	rm -f "$W/$1.pid" "$W/$1.cnt"
	bg "$B/tests/spawn" "$W/$1.pid" -- "$B/tests/rpc-counter" "$W/$1.cnt"
	for _ in $(seq 100); do
		[ -s "$W/$1.pid" ] && [ -s "$W/$1.cnt" ] && break
		sleep 0.05
	done
	PID=$(cat "$W/$1.pid" 2>/dev/null)
}

# grows PID FILE: the counter runs as PID and its number goes up.
grows() {
	local a b
	a=$(count "$2")
	sleep 0.3
	b=$(count "$2")
	alive "$1" && [ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ]
}

stop() { kill -9 "$1" 2>/dev/null; sleep 0.1; }

# --- the requests that touch no process ---
for mode in swrk service; do
	if [ $mode = swrk ]; then
		via=(swrk "$B/stasis")
	else
		rm -f "$W/svc.sock" "$W/svc.pid"
		# Under spawn: the trees it restores are orphaned when its worker ends.
		bg "$B/tests/spawn" "$W/svc.spawn.pid" -S -- "$B/stasis" service --address "$W/svc.sock" \
			--pidfile "$W/svc.pid" -d -o "$W/svc.log" -v4
		for _ in $(seq 50); do [ -s "$W/svc.pid" ] && break; sleep 0.05; done
		via=(service "$W/svc.sock")
	fi
	o=$W/$mode.version
	"$CL" -o "$o" "${via[@]}" version >/dev/null
	check "$mode: VERSION answers 4.2 (go-criu's gates need >= 3.16)" \
		grep -q '^version 4.2 ' "$o"
	o=$W/$mode.features
	"$CL" -o "$o" "${via[@]}" features >/dev/null
	# Each as this kernel allows it (what check --feature says).
	mt=$("$B/stasis" check --feature mem_dirty_track >/dev/null 2>&1 && echo 1 || echo 0)
	lp=$("$B/stasis" check --feature uffd-noncoop >/dev/null 2>&1 && echo 1 || echo 0)
	ps=$("$B/stasis" check --feature pidfd_store >/dev/null 2>&1 && echo 1 || echo 0)
	check "$mode: FEATURE_CHECK answers each field asked: mem_track $mt, lazy_pages $lp, pidfd_store $ps as check says" \
		grep -q "^features mem_track=$mt lazy_pages=$lp pidfd_store=$ps" "$o"
	o=$W/$mode.check
	"$CL" -o "$o" "${via[@]}" check >/dev/null 2>&1
	check "$mode: CHECK succeeds on this kernel" grep -q 'success=1' "$o"
	o=$W/$mode.keep
	"$CL" -o "$o" "${via[@]}" check -k >/dev/null 2>&1
	check "$mode: keep_open: VERSION, then CHECK on the same connection" \
		bash -c "grep -q '^version 4.2' $o && grep -q '^answer 3 success=1' $o"

	# --- a counter dumped and restored ---
	start "$mode"
	D=$W/$mode.img
	mkdir -p "$D"
	o=$W/$mode.dump
	"$CL" -o "$o" -E "unix[12345]" "${via[@]}" dump -t "$PID" -D "$D" -N -l dump.log >/dev/null 2>&1
	before=$(count "$W/$mode.cnt")
	check "$mode: DUMP succeeds, the images and dump.log are in the client's directory" \
		bash -c "grep -q '^answer 1 success=1' $o && [ -s $D/inventory.img ] && [ -s $D/dump.log ]"
	check "$mode: DUMP notifies pre-dump, query-ext-files, post-dump (CRIU 4.2's order), each answered" \
		bash -c "[ \"\$(grep ^notify $o | cut -d' ' -f2 | tr '\n' ' ')\" = 'pre-dump query-ext-files post-dump ' ]"
	check "$mode: the external key answered to query-ext-files is taken" \
		grep -q 'query-ext-files: the RPC client adds the external unix\[12345\]' "$D/dump.log"
	sleep 0.2
	check "$mode: the dumped counter is gone (not leave_running)" bash -c "! kill -0 $PID 2>/dev/null"
	[ $mode = swrk ] && grep -q '^exit 0' "$o" && pass "swrk: exits 0 after its answer" ||
		{ [ $mode = swrk ] && fail "swrk: exits 0 after its answer"; }

	o=$W/$mode.restore
	sib=()
	[ $mode = swrk ] && sib=(-s)
	# Under spawn: whoever ends up the counter's parent, someone reaps it.
	bg "$B/tests/spawn" "$W/$mode.cl.pid" -S -- "$CL" -o "$o" "${via[@]}" restore -D "$D" \
		-N -l restore.log "${sib[@]}"
	for _ in $(seq 100); do grep -q '^answer' "$o" 2>/dev/null && break; sleep 0.05; done
	rpid=$(sed -n 's/^answer 2 success=1 pid=\([0-9]*\) .*/\1/p' "$o")
	check "$mode: RESTORE answers the restored pid ($rpid), the dumped one" \
		[ "$rpid" = "$PID" ]
	if [ $mode = swrk ]; then
		check "swrk: rst_sibling: the restored root is the client's child" \
			bash -c "grep '^parent' $o | awk '{ exit !(\$2 == \$4) }'"
	fi
	check "$mode: the restored counter counts on from where it stopped" \
		bash -c "$(declare -f count alive grows); a=\$(count $W/$mode.cnt); [ \"\$a\" -ge $before ] && grows $PID $W/$mode.cnt"
	want='pre-restore setup-namespaces post-setup-namespaces post-restore pre-resume post-resume '
	check "$mode: RESTORE notifies in CRIU's order, setup-namespaces and post-restore with the pid" \
		bash -c "[ \"\$(grep ^notify $o | cut -d' ' -f2 | tr '\n' ' ')\" = '$want' ] &&
			 grep -q '^notify setup-namespaces $PID' $o && grep -q '^notify post-restore $PID' $o"
	stop "$PID"

	# --- leave_running, and failures that must leave the counter running ---
	start "$mode.r"
	D=$W/$mode.r.img
	mkdir -p "$D"
	o=$W/$mode.r.dump
	"$CL" -o "$o" "${via[@]}" dump -t "$PID" -D "$D" -R >/dev/null 2>&1
	check "$mode: DUMP with leave_running: images written, the counter runs on" \
		bash -c "$(declare -f count alive grows); grep -q success=1 $o && [ -s $D/inventory.img ] && grows $PID $W/$mode.r.cnt"
	rm -rf "$D"; mkdir -p "$D"
	o=$W/$mode.no
	"$CL" -o "$o" -F post-dump "${via[@]}" dump -t "$PID" -D "$D" -N >/dev/null 2>&1
	check "$mode: a no to post-dump fails the dump and the counter runs on" \
		bash -c "$(declare -f count alive grows); grep -q '^answer 1 success=0.*post-dump' $o && grows $PID $W/$mode.r.cnt"
	o=$W/$mode.lp
	"$CL" -o "$o" "${via[@]}" dump -t "$PID" -D "$D" -x lazy_pages >/dev/null 2>&1
	check "$mode: a dump with lazy_pages but no port to serve its pages on is refused, saying so; the counter runs on" \
		bash -c "$(declare -f count alive grows); grep -q 'success=0.*msg=dump --lazy-pages needs --port' $o && grows $PID $W/$mode.r.cnt"
	rm -rf "$D"; mkdir -p "$D"
	o=$W/$mode.pre
	"$CL" -o "$o" "${via[@]}" pre-dump -t "$PID" -D "$D" >/dev/null 2>&1
	check "$mode: PRE_DUMP writes the counter's pages and it runs on" \
		bash -c "$(declare -f count alive grows); grep -q 'answer 4 success=1' $o && ls $D/pagemap-$PID.img >/dev/null && grows $PID $W/$mode.r.cnt"
	o=$W/$mode.pidfd
	"$CL" -o "$o" "${via[@]}" pre-dump -t "$PID" -D "$D" -x pidfd_store=dgram >/dev/null 2>&1
	check "$mode: PRE_DUMP with pidfd_store_sk (a datagram socket of the client's) is taken; the counter runs on" \
		bash -c "$(declare -f count alive grows); grep -q 'answer 4 success=1' $o && grows $PID $W/$mode.r.cnt"
	"$CL" -o "$o.bad" "${via[@]}" pre-dump -t "$PID" -D "$D" -x pidfd_store=stream >/dev/null 2>&1
	check "$mode: pidfd_store_sk on a stream socket is refused, saying so, as CRIU" \
		grep -q 'success=0.*msg=RPC field pidfd_store_sk: fd [0-9]* of the client is not a unix datagram socket' "$o.bad"
	stop "$PID"
	[ $mode = service ] && kill "$(cat "$W/svc.pid")" 2>/dev/null
done

# --- several requests on one connection (keep_open) to a service whose
# command line has lists of its own (--external, --cgroup-root,
# --action-script): each request starts again from the service's options,
# and what it adds to those lists is its own (valgrind sees no use of a
# freed list); a dump at the end still runs the service's action script ---
S=$W/keep-script.sh
printf '#!/bin/sh\necho $CRTOOLS_SCRIPT_ACTION >>%s\n' "$W/keep-script.out" >"$S"
chmod +x "$S"
X=()
for i in $(seq 20); do X+=(-x "cg_root=nosuch$i:/y" -x "external=unix[$i]"); done
SVC=(service --external 'unix[1]' --cgroup-root nosuch:/x --action-script "$S" -v4)
if command -v valgrind >/dev/null; then
	rm -f "$W/vg.sock"
	bg "$B/tests/spawn" "$W/vg.spawn.pid" -S -- "$(command -v valgrind)" --log-file="$W/vg.%p.log" \
		"$B/stasis" "${SVC[@]}" --address "$W/vg.sock" -o "$W/vg.log"
	for _ in $(seq 400); do [ -S "$W/vg.sock" ] && break; sleep 0.05; done
	"$CL" -o "$W/vg.out" service "$W/vg.sock" check -B check -B check -B check "${X[@]}" \
		>/dev/null 2>&1
	# The worker ends with the connection; valgrind then writes its summary.
	for _ in $(seq 200); do grep -q 'ERROR SUMMARY' "$W"/vg.*.log 2>/dev/null && break; sleep 0.05; done
	kill "$(cat "$W/vg.spawn.pid")" 2>/dev/null
	check "service under valgrind: four requests on one connection, each with 20 cg_root and external, all answered, no invalid use of the heap" \
		bash -c "[ \$(grep -c '^answer 3 ' $W/vg.out) = 4 ] && grep -q 'ERROR SUMMARY' $W/vg.*.log &&
			 ! grep -q 'Invalid \(read\|write\|free\)' $W/vg.*.log &&
			 ! grep 'ERROR SUMMARY' $W/vg.*.log | grep -vq ' 0 errors'"
else
	echo "SKIP: rpc: the service's heap across keep_open requests: valgrind is not installed (scripts/deps.sh)"
fi
rm -f "$W/keep.sock" "$W/keep.pid"
bg "$B/tests/spawn" "$W/keep.spawn.pid" -S -- "$B/stasis" "${SVC[@]}" --address "$W/keep.sock" \
	--pidfile "$W/keep.pid" -o "$W/keep.log"
for _ in $(seq 100); do [ -s "$W/keep.pid" ] && break; sleep 0.05; done
start keep
D=$W/keep.img
mkdir -p "$D"
"$CL" -o "$W/keep.out" service "$W/keep.sock" dump -B check -B check -B check -t "$PID" -D "$D" -R \
	"${X[@]}" >/dev/null 2>&1
check "service: three CHECKs then a DUMP on one connection, each with its lists: all answered, the dump made, the service's action script run at pre-dump and post-dump (and status-ready once it listened, as CRIU)" \
	bash -c "$(declare -f count alive grows); [ \$(grep -c '^answer 3 success=1' $W/keep.out) = 3 ] &&
		 grep -q '^answer 1 success=1' $W/keep.out && [ -s $D/inventory.img ] &&
		 [ \"\$(grep -v status-ready $W/keep-script.out | tr '\n' ' ')\" = 'pre-dump post-dump ' ] && grows $PID $W/keep.cnt"
stop "$PID"
kill "$(cat "$W/keep.pid")" 2>/dev/null

# --- orphan-pts-master: a terminal whose master was outside the tree ---
T=rpc
if command -v python3 >/dev/null; then
	rm -f "$W/pty.pid" "$W/pty.cnt"
	bg "$B/tests/spawn" "$W/pty.spawn" -S -- "$(command -v python3)" tests/rpc/ptyhold.py "$W/pty.pid" \
		"$B/tests/rpc-counter" "$W/pty.cnt" tty
	for _ in $(seq 100); do [ -s "$W/pty.pid" ] && [ -s "$W/pty.cnt" ] && break; sleep 0.05; done
	PID=$(cat "$W/pty.pid")
	D=$W/pty.img
	mkdir -p "$D"
	"$CL" -o "$W/pty.dump" swrk "$B/stasis" dump -t "$PID" -D "$D" -j >/dev/null 2>&1
	check "shell_job: a counter on a pty whose master is outside is dumped" \
		grep -q '^answer 1 success=1' "$W/pty.dump"
	# The pty's number is made again: wait until its holder let it go.
	for _ in $(seq 100); do kill -0 "$(cat "$W/pty.spawn")" 2>/dev/null || break; sleep 0.05; done
	o=$W/pty.restore
	bg "$B/tests/spawn" "$W/pty.cl.pid" -S -- "$CL" -o "$o" swrk "$B/stasis" restore -D "$D" \
		-j -P -N -s
	for _ in $(seq 100); do grep -q '^exit' "$o" 2>/dev/null && break; sleep 0.05; done
	check "orphan_pts_master: after pre-restore, the client gets a master by SCM_RIGHTS" \
		bash -c "grep ^notify $o | head -2 | tr '\n' ' ' | grep -q '^notify pre-restore 0 notify orphan-pts-master 0 fd'"
	check "orphan_pts_master: the restored counter writes on to that terminal" \
		bash -c "n=\$(sed -n 's/^pts read [0-9]* 0*\([0-9][0-9]*\)\$/\1/p' $o); [ -n \"\$n\" ] && [ \"\$n\" -gt 0 ]"
	stop "$PID"
else
	echo "SKIP: rpc: orphan_pts_master: python3 (which makes the pty) is not installed"
fi

# --- --action-script on the command line ---
S=$W/script.sh
cat >"$S" <<EOS
#!/bin/sh
echo "\$CRTOOLS_SCRIPT_ACTION \${CRTOOLS_INIT_PID:-0} \$CRTOOLS_IMAGE_DIR" >>$W/script.out
EOS
chmod +x "$S"
start act
D=$W/act.img
timeout -k 5 60 "$B/stasis" dump -t "$PID" -D "$D" --action-script "$S" -o dump.log -v4 2>/dev/null
bg "$B/tests/spawn" "$W/act.rst.pid" -S -- "$B/stasis" restore -D "$D" -d --action-script "$S" \
	-o restore.log -v4
for _ in $(seq 100); do grep -q post-resume "$W/script.out" 2>/dev/null && break; sleep 0.05; done
want="pre-dump post-dump pre-restore setup-namespaces post-setup-namespaces post-restore pre-resume post-resume "
check "--action-script runs at each hook in CRIU's order" \
	bash -c "[ \"\$(cut -d' ' -f1 $W/script.out | tr '\n' ' ')\" = '$want' ]"
# As CRIU: the pid is not known yet at pre-restore.
check "--action-script: CRTOOLS_INIT_PID and CRTOOLS_IMAGE_DIR as CRIU sets them" \
	bash -c "! grep -v \"^pre-restore 0 $D\$\" $W/script.out | grep -v \" $PID $D\$\" | grep -q . &&
		 [ \$(wc -l <$W/script.out) = 8 ]"
check "--action-script: the restored counter counts on" grows "$PID" "$W/act.cnt"
stop "$PID"
printf '#!/bin/sh\n[ "$CRTOOLS_SCRIPT_ACTION" != post-dump ]\n' >"$S"
start act2
timeout -k 5 60 "$B/stasis" dump -t "$PID" -D "$W/act2.img" --action-script "$S" >/dev/null 2>"$W/act2.err"
rc=$?
check "--action-script failing at post-dump: the dump fails (1), the counter runs on" \
	bash -c "$(declare -f count alive grows); [ $rc = 1 ] && grep -q 'post-dump' $W/act2.err && grows $PID $W/act2.cnt"
stop "$PID"

# --- --exec-cmd and the RPC's exec_cmd: once the tree runs, stasis
# becomes the command (same pid), whose child the restored root is ---
start exec
D=$W/exec.img
timeout -k 5 60 "$B/stasis" dump -t "$PID" -D "$D" -o dump.log 2>/dev/null
bg "$B/tests/spawn" "$W/exec.rst.pid" -S -- "$B/stasis" restore -D "$D" -o restore.log --exec-cmd -- \
	/bin/sh -c "echo \$\$ \$(cut -d' ' -f4 /proc/$PID/stat) >$W/exec.out"
for _ in $(seq 100); do [ -s "$W/exec.out" ] && break; sleep 0.05; done
check "--exec-cmd: the command runs as the restoring stasis, the restored counter its child, counting on" \
	bash -c "$(declare -f count alive grows); r=\$(cat $W/exec.rst.pid); [ \"\$(cat $W/exec.out)\" = \"\$r \$r\" ] && grows $PID $W/exec.cnt"
o=$W/exec.bad
timeout -k 5 60 "$B/stasis" restore -D "$D" -d --exec-cmd -- /bin/true 2>"$o"
check "--exec-cmd with --restore-detached is refused, as CRIU" \
	bash -c "grep -q 'exec-cmd and --restore-detached cannot go together' $o"
stop "$PID"
D=$W/exec-rpc.img
mkdir -p "$D"
start exec-rpc
timeout -k 5 60 "$B/stasis" dump -t "$PID" -D "$D" -o dump.log 2>/dev/null
o=$W/exec-rpc.out
bg "$B/tests/spawn" "$W/exec-rpc.cl.pid" -S -- "$CL" -o "$o" swrk "$B/stasis" restore -D "$D" -l restore.log \
	-x exec_cmd=/bin/sh -x exec_cmd=-c \
	-x "exec_cmd=echo exec-cmd here; cut -d' ' -f4 /proc/$PID/stat; exit 7"
for _ in $(seq 100); do grep -q '^exit' "$o" 2>/dev/null && break; sleep 0.05; done
check "RPC exec_cmd: after the answer swrk becomes the command (its status 7), its output in the log, the counter its child, counting on" \
	bash -c "$(declare -f count alive grows); grep -q '^answer 2 success=1' $o && grep -q '^exit 7' $o &&
		 grep -q '^exec-cmd here' $D/restore.log && sw=\$(awk '/^parent/ { print \$2 }' $o) &&
		 grep -qx \"\$sw\" $D/restore.log && grows $PID $W/exec-rpc.cnt"
stop "$PID"

# --- a tree in a net namespace of its own: network-lock and network-unlock
# at CRIU's places, for --action-script and the RPC client; status-ready
# when a page server takes connections ---
S=$W/net-script.sh
printf '#!/bin/sh\necho $CRTOOLS_SCRIPT_ACTION >>%s\n' "$W/net-script.out" >"$S"
chmod +x "$S"
# startnet NAME: a counter in a net namespace of its own; sets PID.
startnet() {
	rm -f "$W/$1.pid" "$W/$1.cnt"
	bg "$B/tests/spawn" "$W/$1.pid" -- "$(command -v unshare)" -n "$B/tests/rpc-counter" "$W/$1.cnt"
	for _ in $(seq 100); do [ -s "$W/$1.pid" ] && [ -s "$W/$1.cnt" ] && break; sleep 0.05; done
	PID=$(cat "$W/$1.pid" 2>/dev/null)
}
order() { tr '\n' ' ' <"$1" 2>/dev/null; }
if command -v unshare >/dev/null && command -v nft >/dev/null; then
	startnet net
	D=$W/net.img
	rm -f "$W/net-script.out"
	timeout -k 5 60 "$B/stasis" dump -t "$PID" -D "$D" -R --action-script "$S" -o dump.log 2>/dev/null
	check "--action-script, own net namespace, dump -R: pre-dump network-lock post-dump network-unlock" \
		bash -c "$(declare -f count alive grows); [ \"\$(tr '\n' ' ' <$W/net-script.out)\" = 'pre-dump network-lock post-dump network-unlock ' ] && grows $PID $W/net.cnt"
	rm -rf "$D" "$W/net-script.out"
	timeout -k 5 60 "$B/stasis" dump -t "$PID" -D "$D" --action-script "$S" -o dump.log 2>/dev/null
	bg "$B/tests/spawn" "$W/net.rst.pid" -S -- "$B/stasis" restore -D "$D" -d --action-script "$S" \
		-o restore.log
	for _ in $(seq 100); do grep -q post-resume "$W/net-script.out" 2>/dev/null && break; sleep 0.05; done
	want="pre-dump network-lock post-dump pre-restore setup-namespaces post-setup-namespaces post-restore network-unlock pre-resume post-resume "
	check "--action-script, own net namespace, dump then restore: each hook in CRIU's order, network-unlock after post-restore" \
		bash -c "$(declare -f count alive grows); [ \"\$(tr '\n' ' ' <$W/net-script.out)\" = '$want' ] && grows $PID $W/net.cnt"
	stop "$PID"
	startnet net-rpc
	D=$W/net-rpc.img
	mkdir -p "$D"
	o=$W/net-rpc.dump
	"$CL" -o "$o" swrk "$B/stasis" dump -t "$PID" -D "$D" -N -l dump.log >/dev/null 2>&1
	check "RPC, own net namespace: DUMP notifies pre-dump network-lock query-ext-files post-dump (CRIU 4.2's order)" \
		bash -c "[ \"\$(grep ^notify $o | cut -d' ' -f2 | tr '\n' ' ')\" = 'pre-dump network-lock query-ext-files post-dump ' ]"
	o=$W/net-rpc.restore
	bg "$B/tests/spawn" "$W/net-rpc.cl.pid" -S -- "$CL" -o "$o" swrk "$B/stasis" restore -D "$D" -N \
		-l restore.log -s
	for _ in $(seq 100); do grep -q '^answer' "$o" 2>/dev/null && break; sleep 0.05; done
	want='pre-restore setup-namespaces post-setup-namespaces post-restore network-unlock pre-resume post-resume '
	check "RPC, own net namespace: RESTORE notifies network-unlock after post-restore, as CRIU; the counter counts on" \
		bash -c "$(declare -f count alive grows); [ \"\$(grep ^notify $o | cut -d' ' -f2 | tr '\n' ' ')\" = '$want' ] && grows $PID $W/net-rpc.cnt"
	stop "$PID"
	startnet net-rpc-r
	D=$W/net-rpc-r.img
	mkdir -p "$D"
	o=$W/net-rpc-r.dump
	"$CL" -o "$o" swrk "$B/stasis" dump -t "$PID" -D "$D" -N -R -l dump.log >/dev/null 2>&1
	check "RPC, own net namespace, leave_running: network-unlock after post-dump; the counter runs on" \
		bash -c "$(declare -f count alive grows); [ \"\$(grep ^notify $o | cut -d' ' -f2 | tr '\n' ' ')\" = 'pre-dump network-lock query-ext-files post-dump network-unlock ' ] && grows $PID $W/net-rpc-r.cnt"
	stop "$PID"
else
	echo "SKIP: rpc: network-lock and network-unlock: unshare (util-linux) or nft (nftables) is not installed"
fi
start net-host
rm -f "$W/net-script.out"
timeout -k 5 60 "$B/stasis" dump -t "$PID" -D "$W/net-host.img" -R --action-script "$S" -o dump.log 2>/dev/null
check "--action-script, the host's net namespace: no network-lock nor network-unlock, as CRIU" \
	bash -c "[ \"\$(tr '\n' ' ' <$W/net-script.out)\" = 'pre-dump post-dump ' ]"
stop "$PID"
rm -f "$W/net-script.out"
mkdir -p "$W/ps-ready"
bg "$B/tests/spawn" "$W/ps-ready.pid" -S -- "$B/stasis" page-server -D "$W/ps-ready" --address 127.0.0.1 \
	--port 0 --action-script "$S" -o ps.log
for _ in $(seq 100); do [ -s "$W/net-script.out" ] && break; sleep 0.05; done
check "page-server: status-ready for --action-script once it takes connections" \
	bash -c "[ \"\$(cat $W/net-script.out)\" = status-ready ]"
kill -TERM "$(cat "$W/ps-ready.pid")" 2>/dev/null

# --- PAGE_SERVER (a daemon) and PAGE_SERVER_CHLD (swrk's child) ---
for req in page-server page-server-chld; do
	D=$W/$req.img
	o=$W/$req.out
	mkdir -p "$D"
	start "$req"
	# Under spawn: the server outlives swrk and is reaped there.
	bg "$B/tests/spawn" "$W/$req.cl.pid" -S -- "$CL" -o "$o" swrk "$B/stasis" "$req" -D "$D" \
		-x ps=127.0.0.1:0
	for _ in $(seq 100); do grep -q '^answer' "$o" 2>/dev/null && break; sleep 0.05; done
	port=$(sed -n 's/^page-server pid=[0-9]* port=\([0-9]*\)$/\1/p' "$o")
	timeout -k 5 60 "$B/stasis" dump -t "$PID" -D "$W/$req.dump" --page-server --address 127.0.0.1 \
		--port "${port:-1}" -o dump.log 2>/dev/null
	tar -C "$W/$req.dump" -cf - --exclude 'pages-*.img' --exclude 'pagemap-*.img' . |
		tar -C "$D" -xf -
	for _ in $(seq 50); do alive "$PID" || break; sleep 0.05; done
	bg "$B/tests/spawn" "$W/$req.rst.pid" -S -- "$B/stasis" restore -D "$D" -o restore.log
	for _ in $(seq 100); do alive "$PID" && break; sleep 0.05; done
	check "$req: a page server answered (port ${port:-none}) took a dump's pages; the counter restored from them counts on" \
		bash -c "grep -q 'answer \(5\|12\) success=1' $o && ls $D/pages-*.img >/dev/null && $(declare -f count alive grows); grows $PID $W/$req.cnt"
	stop "$PID"
done

# --- unprivileged (go-criu's users send it as root) ---
start unpriv
D=$W/unpriv.img
mkdir -p "$D"
o=$W/unpriv.dump
"$CL" -o "$o" swrk "$B/stasis" dump -t "$PID" -D "$D" -R -x unprivileged >/dev/null 2>&1
check "unprivileged with CAP_SYS_ADMIN: the dump is made, the counter runs on" \
	bash -c "$(declare -f count alive grows); grep -q '^answer 1 success=1' $o && [ -s $D/inventory.img ] && grows $PID $W/unpriv.cnt"
if command -v capsh >/dev/null; then
	capsh --drop=cap_sys_admin -- -c "'$CL' -o '$o.nocap' swrk '$B/stasis' dump -t $PID -D '$D' -R -x unprivileged" \
		>/dev/null 2>&1
	check "unprivileged without CAP_SYS_ADMIN is refused, saying so" \
		grep -q 'success=0.*msg=not supported yet: --unprivileged without CAP_SYS_ADMIN' "$o.nocap"
else
	echo "SKIP: rpc: unprivileged without CAP_SYS_ADMIN: capsh (libcap2-bin) is not installed"
fi
stop "$PID"

# --- a page server on a socket given: --ps-socket, the RPC's ps.fd ---
# psrun NAME SERVER... :: DUMPER...: a counter's pages go from the dumper to
# the server over a socket pair (fd 9 in each, tests/rpc/pspair.py); the
# counter is then restored from what the server wrote and must count on.
# DUMPER's "@PID@" is the counter's pid.
psrun() {
	local name=$1 D=$W/$1.img o=$W/$1.out
	shift
	mkdir -p "$D" "$W/$name.dump"
	start "$name"
	"$(command -v python3)" tests/rpc/pspair.py 9 "${@//@PID@/$PID}" >"$o" 2>&1
	tar -C "$W/$name.dump" -cf - --exclude 'pages-*.img' --exclude 'pagemap-*.img' . 2>/dev/null |
		tar -C "$D" -xf -
	for _ in $(seq 50); do alive "$PID" || break; sleep 0.05; done
	bg "$B/tests/spawn" "$W/$name.rst.pid" -S -- "$B/stasis" restore -D "$D" -o restore.log
	for _ in $(seq 100); do alive "$PID" && break; sleep 0.05; done
}
psok() {
	grep -q '^A rc=0' "$W/$1.out" && grep -q '^B rc=0' "$W/$1.out" &&
		ls "$W/$1.img"/pages-*.img >/dev/null 2>&1 && grows "$PID" "$W/$1.cnt"
}
if command -v python3 >/dev/null; then
	SRV=("$B/stasis" page-server -D @DIR@ --ps-socket 9 -o ps.log -v4)
	psrun ps-cli "${SRV[@]//@DIR@/$W/ps-cli.img}" :: "$B/stasis" dump -t @PID@ \
		-D "$W/ps-cli.dump" --page-server --ps-socket 9 -o dump.log -v4
	check "--ps-socket: a dump sends its pages over a socket given to a page server serving one; the counter counts on" \
		psok ps-cli
	stop "$PID"
	for mode in swrk service; do
		via=(swrk "$B/stasis")
		if [ $mode = service ]; then
			rm -f "$W/svc.sock" "$W/svc.pid"
			bg "$B/tests/spawn" "$W/svc.spawn.pid" -S -- "$B/stasis" service --address "$W/svc.sock" \
				--pidfile "$W/svc.pid" -d -o "$W/svc.log" -v4
			for _ in $(seq 50); do [ -s "$W/svc.pid" ] && break; sleep 0.05; done
			via=(service "$W/svc.sock")
		fi
		psrun "ps-$mode" "${SRV[@]//@DIR@/$W/ps-$mode.img}" :: "$CL" -o "$W/ps-$mode.rpc" \
			"${via[@]}" dump -t @PID@ -D "$W/ps-$mode.dump" -x ps_fd=9 -l dump.log
		check "$mode: DUMP with ps.fd: the pages go over the client's socket; the counter counts on" \
			psok "ps-$mode"
		stop "$PID"
		[ $mode = service ] && kill "$(cat "$W/svc.pid")" 2>/dev/null
	done
	# The other way: PAGE_SERVER_CHLD serving the client's socket.
	psrun ps-chld "$CL" -o "$W/ps-chld.rpc" swrk "$B/stasis" \
		page-server-chld -D "$W/ps-chld.img" -x ps_fd=9 :: "$B/stasis" dump -t @PID@ \
		-D "$W/ps-chld.dump" --page-server --ps-socket 9 -o dump.log -v4
	check "PAGE_SERVER_CHLD with ps.fd serves the client's socket: a dump's pages restore the counter, which counts on" \
		eval "grep -q 'answer 12 success=1' $W/ps-chld.rpc && psok ps-chld"
	stop "$PID"
	# Both ways with CRIU 4.2 (ZDTM's build), as tests/pages does.
	CRIU=${CRIU_REF:-/tmp/zdtm-criu/criu/criu}
	if [ -x "$CRIU" ] && "$CRIU" --version 2>/dev/null | grep -q "Version: 4"; then
		psrun ps-criu-srv "$CRIU" page-server -D "$W/ps-criu-srv.img" --ps-socket 9 \
			-o ps.log -v4 :: "$B/stasis" dump -t @PID@ -D "$W/ps-criu-srv.dump" \
			--page-server --ps-socket 9 -o dump.log -v4
		check "--ps-socket: stasis's dump to CRIU 4.2's page server on a socket given; the counter counts on" \
			psok ps-criu-srv
		stop "$PID"
		psrun ps-criu-dump "${SRV[@]//@DIR@/$W/ps-criu-dump.img}" :: "$CRIU" dump -t @PID@ \
			-D "$W/ps-criu-dump.dump" --page-server --ps-socket 9 -o dump.log -v4
		check "--ps-socket: CRIU 4.2's dump to stasis's page server on a socket given; the counter counts on" \
			psok ps-criu-dump
		stop "$PID"
	else
		echo "SKIP: rpc: --ps-socket with CRIU 4.2: no CRIU 4 at $CRIU (ZDTM's run.sh builds it)"
	fi
	o=$W/ps-bad.out
	timeout -k 5 60 "$B/stasis" page-server -D "$W/ps-bad" --ps-socket 0 </dev/null >/dev/null 2>"$o"
	check "--ps-socket on a fd that is no socket is refused, saying so" \
		grep -q 'ps-socket 0: not a stream socket' "$o"
else
	echo "SKIP: rpc: --ps-socket and ps.fd: python3 (which makes the socket pair) is not installed"
fi
exit 0
