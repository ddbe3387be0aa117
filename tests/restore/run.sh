#!/bin/bash
# run.sh - the restore's acceptance, run by tests/run.sh:
#  - every conformance program passes start -> dump -> kill -> restore ->
#    check, and an altered pages image makes one report FAIL;
#  - a task with more than 16 MiB of pages has them read by several threads
#    of its restorer, one per core (mem_fill, whose checks then cover that path);
#  - CRIU 4.2's fixture images restore and the programs carry on, as
#    their logs show (the fixtures' own check-log.py); on a CPU that
#    cannot run them (no AVX-512) they are refused clearly instead;
#  - a truncated pages image, a missing core image, a PID already taken,
#    pagemap entries empty, unaligned or twice, areas unaligned or overlapping,
#    hugetlb memfds of a bad flag or size and a changed file each fail with a clear error, leaving nothing
#    running;
#  - images whose root has its own pid namespace without being its pid 1,
#    or a uts, ipc, net, mount or user one without its images, or a user
#    one without a pid one, are refused;
#  - a tree whose root is init of its own pid namespace (pidns.sh);
#  - a whole container: own pid, mount, net, ipc and uts namespaces, a
#    proc, a tmpfs, a veth to the host, SysV IPC, a child (container.sh);
#  - the vDSO: a layout other than this kernel's goes through the proxy,
#    a malformed one is refused (vdso.sh);
#  - AIO rings whose images do not add up are refused clearly (aio.sh);
#  - SysV segments of the host's removed while attached are refused at
#    dump, and ones gone by the restore refused there (shm-host.sh);
#  - cgroups come back, made again as --manage-cgroups says, or refused
#    as it says; CRIU 4.2 restores them from stasis's images and the other
#    way round (cgroup.sh);
#  - zombies, a stopped task, pidfds, inotify and fanotify marks and unix
#    sockets of conformance programs, dumped by one of stasis and CRIU 4.2
#    and restored by the other (cross.sh);
#  - files given with --inherit-fd stand for those the images name (inherit-fd.sh);
#  - a tree pivoted into a root of its own mount namespace comes back in
#    another directory given with --root, /usr and /dev as external mounts
#    (mntns-root.sh);
#  - netlink and packet sockets whose images do not add up are refused (sockets.sh);
#  - inet sockets whose entries make no sense are refused (inet.sh);
#  - a net namespace given from outside, left empty, with a link refused,
#    and CRIU 4.2 and stasis restoring each other's (netns.sh);
#  - a tree in two net namespaces, a socket made in one held from the
#    other, a veth pair between them, a tap (netns-sub.sh);
#  - a TCP connection to a peer outside the tree survives a dump and
#    restore, a dump with -R and a failed dump (tcp-peer.sh);
#  - real servers (python3's http.server, Debian's redis-server, PostgreSQL,
#    nginx, memcached) keep their state and their clients' connections
#    across a dump and restore (servers.sh);
#  - Go, asyncio, Perl and Ruby servers, sqlite3 in a transaction, bc, vim
#    and less in tmux, sleep infinity come back and carry on (apps.sh);
#  - a shell job moves to another terminal and takes its foreground, ^C
#    there interrupting it (shell-job.sh).
set -u
cd "$(dirname "$0")/../.."
FIX=${FIXTURES:-$(cd .. && pwd)/shared/fixtures/criu-4.2}
B=build/tests
W=/tmp/stasis-restore-tests
rm -rf "$W"
mkdir -p "$W"

pass() { echo "PASS: restore $T: $*"; }
fail() { echo "FAIL: restore $T: $*"; }
skip() { echo "SKIP: restore $T: $*"; }
. tests/lib/fixture.sh
label() { sed -u "s#^\(PASS\|FAIL\|SKIP\): #\1: restore $1: #"; }

# --- the conformance programs, through a real dump and restore ---
# A program that needs dump options of CRIU's names them here.
dump_opts() {
	case $1 in
	link_remap) echo "--link-remap --ghost-limit=4M" ;;
	user_ns2) echo "--link-remap" ;;
	file_locks) echo "--file-locks" ;;
	inet_sockets) echo "--skip-in-flight" ;;
	tcp_close) echo "--tcp-close" ;;
	tcp_established) echo "--tcp-established" ;;
	net_ns) echo "--tcp-established" ;;
	esac
}
restore_opts() {
	case $1 in
	tcp_close) echo "--tcp-close" ;;
	tcp_established) echo "--tcp-established" ;;
	net_ns) echo "--tcp-established --external veth[stnc0]:stnh0" ;;
	esac
}
# A program whose tree must be init of its own pid namespace.
runner_opts() {
	case $1 in
	user_ns | user_ns2 | user_mnt_ns) echo "--pidns" ;;	# a user namespace without one is refused
	esac
}
for p in "$B"/conformance/*; do
	[ -x "$p" ] || continue
	n=$(basename "$p")
	extra=()
	o=$(runner_opts "$n")
	[ -n "$o" ] && extra=($o)
	o=$(dump_opts "$n")
	[ -n "$o" ] && extra+=(--dump-opts "$o")
	o=$(restore_opts "$n")
	[ -n "$o" ] && extra+=(--restore-opts "$o")
	$B/runner --timeout 20 --workdir "$W/conf-$n" "${extra[@]}" "$p" | label "C/R"
	# The kernel frees a dead net namespace, and its veth pair, a little
	# later: the next program (netlink_sockets listens to link events)
	# must not hear the host's end go.
	if [ "$n" = net_ns ]; then
		for _ in $(seq 100); do ip link show stnh0 >/dev/null 2>&1 || break; sleep 0.05; done
		sleep 0.2
	fi
done

# Without --file-locks, a tree holding locks is refused, as CRIU refuses it.
T="C/R file locks"
out=$($B/runner --timeout 20 --workdir "$W/locks-refused" "$B/conformance/file_locks")
if [[ $out == FAIL:*"dump failed"* ]] &&
	grep -q "holds a file lock (dump it with --file-locks)" "$W/locks-refused/dump.log"; then
	pass "without --file-locks the dump is refused: $(grep -m1 -o 'unsupported:.*' "$W/locks-refused/dump.log")"
else
	fail "without --file-locks: $out"
fi

# TCP connections come back closed with --tcp-close at both ends; without
# it the dump refuses them, naming the fd, and so does the restore.
T="C/R --tcp-close"
if grep -qx "# closed" "$W/conf-tcp_close/out" 2>/dev/null; then
	pass "the connections came back closed"
else
	fail "the connections did not come back closed: $(cat "$W/conf-tcp_close/out" 2>/dev/null)"
fi
out=$($B/runner --timeout 20 --workdir "$W/tcp-refused" "$B/conformance/tcp_close")
if [[ $out == FAIL:*"dump failed"* ]] &&
	grep -q "unsupported: pid [0-9]* fd [0-9]* is a TCP connection (established.*--tcp-close" \
		"$W/tcp-refused/dump.log"; then
	pass "without --tcp-close the dump is refused: $(grep -m1 -o 'unsupported:.*' "$W/tcp-refused/dump.log")"
else
	fail "without --tcp-close at dump: $out"
fi
out=$($B/runner --timeout 20 --workdir "$W/tcp-rst-refused" --dump-opts --tcp-close \
	"$B/conformance/tcp_close")
if [[ $out == FAIL:*"restore failed"* ]] &&
	grep -q "is a TCP connection .*restore it with --tcp-established, or with --tcp-close" \
		"$W/tcp-rst-refused/restore.log"; then
	pass "without --tcp-close the restore is refused, naming the option"
else
	fail "without --tcp-close at restore: $out"
fi

# --network-lock: skip leaves the network alone.
T="C/R --network-lock"
out=$($B/runner --timeout 20 --workdir "$W/netlock-skip" --dump-opts \
	"--tcp-established --network-lock skip" --restore-opts "--tcp-established --network-lock skip" \
	"$B/conformance/tcp_established")
if [[ $out == PASS:* ]] && ! grep -q "network locked" "$W"/netlock-skip/*.log; then
	pass "skip: the connections are kept without a lock"
else
	fail "skip: $out"
fi
# iptables: the dump leaves two rules per connection (the peer's packets
# and ours dropped, but for libsoccr's mark), the restore takes the method
# from the inventory and removes them.
ipt_rules() { { iptables -w -S; ip6tables -w -S; } 2>/dev/null | grep -ci 'mark.*0xc114.*DROP'; }
before=$(ipt_rules)
out=$($B/runner --timeout 20 --workdir "$W/netlock-ipt" --dump-opts \
	"--tcp-established --network-lock iptables" --restore-opts "--tcp-established" \
	--alter tests/restore/ipt-locked.sh "$B/conformance/tcp_established")
locked=$(grep -ci 'mark.*0xc114.*DROP' "$W/netlock-ipt/ipt-locked.txt" 2>/dev/null)
if [[ $out == PASS:* ]] && [ "${locked:-0}" -ge 2 ] && [ "$(ipt_rules)" = "$before" ]; then
	pass "iptables: $locked rules while dumped, none left after the restore"
else
	fail "iptables: $out; $locked rules while dumped; $(ipt_rules) after, $before before"
fi

# A restore started with fds 0-2 closed (zdtm.py's RPC client does): the
# programs it runs (nft) must still get their input, or the network stays
# locked and the connection dead while the restore says it is unlocked.
T="C/R fds 0-2 closed"
nft_tables() { nft list tables 2>/dev/null | grep -c 'inet CRIU-'; }
before=$(nft_tables)
out=$(STASIS_REAL=$PWD/build/stasis $B/runner --timeout 20 --workdir "$W/closed-std" \
	--stasis tests/restore/closed-std.sh --dump-opts "--tcp-established" \
	--restore-opts "--tcp-established" "$B/conformance/tcp_established")
if [[ $out == PASS:* ]] && [ "$(nft_tables)" = "$before" ]; then
	pass "a TCP connection comes back alive, its lock gone"
else
	fail "a restore with fds 0-2 closed: $out; $(nft_tables) CRIU tables left, $before before"
fi

# An error is an error: a dump or restore that succeeded logs none.
T="C/R logs"
errs=$(grep -l "Error:" "$W"/conf-*/dump.log "$W"/conf-*/restore.log 2>/dev/null)
if [ -z "$errs" ]; then
	pass "no \"Error:\" line in the logs of the dumps and restores that succeeded"
else
	for f in $errs; do
		# A failed step's log may hold errors: only a passed program counts.
		grep -q "^PASS" "$(dirname "$f")/out" 2>/dev/null || continue
		fail "$f: $(grep -m1 'Error:' "$f")"
	done
fi

# mem_fill's pages (over 16 MiB) were read by several threads of its
# restorer, one per core, with TIDs of stasis's choosing (src/mem-fill.c):
# its checks above (holes, bytes, the process's own tids) are then those
# of that path.
T="C/R fill on several cores"
if [ "$(nproc)" -lt 2 ]; then
	skip "this machine lets stasis use one CPU: the fill is not cut"
elif grep -q "1 task(s) had their pages read by several threads" "$W/conf-mem_fill/restore.log" 2>/dev/null; then
	pass "mem_fill's pages were read by several threads: $(grep -o "pid [0-9]*: [0-9]* MiB of pages.*" "$W/conf-mem_fill/restore.log")"
else
	fail "mem_fill's restore did not read its pages with several threads (see $W/conf-mem_fill/restore.log)"
fi

T="checks bite"
out=$($B/runner --timeout 20 --workdir "$W/alter" --alter tests/restore/alter-pages.sh \
	"$B/conformance/sleeping")
case $out in
FAIL:*checksum*) pass "an altered page is seen: ${out#FAIL: }" ;;
*) fail "an altered pages image was not noticed: $out" ;;
esac

# Hugetlb memfds whose memfd.img entries do not add up; only where the
# program found huge pages to use.
T="hugetlb images"
if grep -q "^SKIP" "$W/conf-mem_hugetlb/out" 2>/dev/null; then
	echo "SKIP: restore $T: mem_hugetlb skipped: $(sed -n 's/^SKIP: //p' "$W/conf-mem_hugetlb/out")"
else
	for m in "flag:bad hugetlb_flag 0x8" "size:cannot make it 4097 bytes long"; do
		$B/runner --timeout 20 --workdir "$W/huge-${m%%:*}" \
			--alter "$PWD/tests/restore/alter-hugetlb.sh ${m%%:*}" \
			"$B/conformance/mem_hugetlb" >/dev/null
		if grep -q "${m#*:}" "$W/huge-${m%%:*}/restore.log" 2>/dev/null; then
			pass "$(grep -m1 -o 'Error.*' "$W/huge-${m%%:*}/restore.log")"
		else
			fail "memfd.img altered (${m%%:*}): no '${m#*:}' in $W/huge-${m%%:*}/restore.log"
		fi
	done
fi

# Dumped and restored twice: what a restore left in a task would be dumped
# as its own the second time, and the test would see it.
$B/runner --timeout 20 --cycles 2 --workdir "$W/twice" "$B/conformance/no_trace" |
	label "C/R twice"

# --- CRIU 4.2's images ---
. tests/lib/cpu.sh
LACKS=$(cpu_lacks_avx512)

# restore_in SPAWNPID_FILE DIR: restore DIR detached under a subreaper of
# our own (spawn), which reaps the tree when the test kills it.
restore_in() {
	$B/spawn "$1" -S -- build/stasis restore -D "$2" -d -v4 -o restore.log &
	SPAWN=$!
	for _ in $(seq 100); do [ -s "$1" ] && break; sleep 0.05; done
}

# stop_spawn PID...: kill what the restore made (in sessions of its own,
# out of spawn's reach), then the subreaper, which reaps them.
stop_spawn() {
	kill -9 "$@" 2>/dev/null
	kill "$SPAWN" 2>/dev/null
	wait "$SPAWN" 2>/dev/null
}

pids_of() {
	case $1 in
	counter-static) echo 31001 ;;
	threads-dynamic) echo 31101 ;;
	tree) echo 31201 31202 31203 31204 ;;
	fpu) echo 31301 ;;
	esac
}

# running PID...: the PIDs of the list that are running.
running() {
	local pid
	for pid in "$@"; do [ -d /proc/"$pid" ] && echo "$pid"; done | tr '\n' ' '
}

# refused_here SC: on a CPU that lacks what the fixture's registers hold,
# the restore must say so and create nothing.
refused_here() {
	local sc=$1 out rc left
	out=$(build/stasis restore -D "$W/$sc" -d 2>&1)
	rc=$?
	left=$(running $(pids_of "$sc"))
	if [ $rc -eq 1 ] && grep -qi xsave <<<"$out" && [ -z "$left" ]; then
		pass "refused on this CPU: $(grep -m1 Error <<<"$out")"
	else
		fail "exit status $rc, running: '$left': $out"
		kill -9 $left 2>/dev/null
	fi
	echo "SKIP: restore $T: restored and carrying on: its program runs AVX-512 code; this CPU lacks $LACKS"
}

for sc in counter-static threads-dynamic tree fpu; do
	T="fixture $sc"
	if [ ! -d "$FIX/$sc" ]; then
		fail "no fixture at $FIX/$sc"
		continue
	fi
	fixture_stage "$sc" "$W/stage-$sc.out" || continue
	rm -rf "$W/$sc" && cp -a "$FIX/$sc/img" "$W/$sc"
	if [ -n "$LACKS" ]; then
		refused_here "$sc"
		continue
	fi
	restore_in "$W/$sc.spawn" "$W/$sc"
	sleep 3
	alive=yes
	for pid in $(pids_of "$sc"); do
		[ -d /proc/"$pid" ] || alive="no ($pid missing)"
	done
	if [ "$alive" != yes ]; then
		fail "not running after restore: $alive; $(grep Error "$W/$sc/restore.log" | head -n 3)"
	elif python3 "$FIX/tools/check-log.py" "$sc" "/tmp/stasis-fixtures/$sc/$sc.log" \
		--min-resumes 1 >"$W/check-$sc.out" 2>&1; then
		pass "restored and carrying on: $(head -n 1 "$W/check-$sc.out")"
	else
		fail "its log: $(tail -n 3 "$W/check-$sc.out" | tr '\n' ' ')"
	fi
	if [ "$sc" = tree ]; then
		ppids=$(echo $(for pid in 31202 31203 31204; do ps -o ppid= -p $pid; done))
		[ "$ppids" = "31201 31201 31202" ] && pass "parents kept: 31202,31203<-31201, 31204<-31202" ||
			fail "parents after restore: $ppids"
		sids=$(echo $(for pid in 31201 31202 31203 31204; do ps -o sid=,pgid= -p $pid; done))
		[ "$sids" = "31201 31201 31201 31201 31201 31201 31201 31201" ] &&
			pass "session and group 31201 kept" || fail "sid/pgid after restore: $sids"
	fi
	if [ "$sc" = threads-dynamic ]; then
		tids=$(ls /proc/31101/task 2>/dev/null | tr '\n' ' ')
		[ "$tids" = "31101 31102 31103 31104 " ] && pass "thread ids kept: $tids" ||
			fail "threads after restore: $tids"
	fi
	stop_spawn $(pids_of "$sc")
done

# --- bad input: a clear error, exit status 1, nothing left running ---

# expect_error WHAT DIR PATTERN [OPT...]: restore DIR (with OPTs) must fail with PATTERN in its error.
expect_error() {
	local what=$1 dir=$2 pattern=$3 out rc
	T="refuses $what"
	out=$(build/stasis restore -D "$dir" -d "${@:4}" 2>&1)
	rc=$?
	if [ $rc -ne 1 ]; then
		fail "exit status $rc, not 1: $out"
	elif ! grep -q -- "$pattern" <<<"$out"; then
		fail "the error does not say '$pattern': $out"
	elif [ "$(cat /proc/31001/comm 2>/dev/null)" = counter-static ]; then
		fail "pid 31001 is running after the failed restore"
	else
		pass "$(grep Error <<<"$out" | head -n 1)"
	fi
}

sc=counter-static
"$FIX/stage.sh" $sc >/dev/null 2>&1
fresh() { rm -rf "$W/bad" && cp -a "$FIX/$sc/img" "$W/bad"; }

fresh
truncate -s 100000 "$W/bad/pages-1.img"
expect_error "a truncated pages image" "$W/bad" "pages-1.img is truncated"

fresh
rm "$W/bad/core-31001.img"
expect_error "a missing core image" "$W/bad" "core-31001.img) is missing"

fresh
head -c 40 "$FIX/$sc/img/pagemap-31001.img" >"$W/bad/pagemap-31001.img"
expect_error "a truncated pagemap" "$W/bad" "pagemap-31001.img: offset"

# alter IMG JQ: rewrite image IMG of $W/bad through crit and jq filter JQ.
alter() {
	build/crit decode -i "$W/bad/$1" | jq -c "$2" | build/crit encode -o "$W/bad/$1.new" &&
		mv "$W/bad/$1.new" "$W/bad/$1"
}
fresh
alter pagemap-31001.img '.entries[1].nr_pages = 0'
expect_error "a pagemap entry of no pages" "$W/bad" "is empty, unaligned or wraps"

fresh
alter pagemap-31001.img '.entries[1].vaddr += 16'
expect_error "an unaligned pagemap entry" "$W/bad" "is empty, unaligned or wraps"

fresh
alter pagemap-31001.img '.entries |= (.[0:2] + .[1:])'
truncate -s +4096 "$W/bad/pages-1.img"
expect_error "a pagemap entry given twice" "$W/bad" "overlaps the one before or is out of order"

# The root in namespaces of its own (ids-PID.img against the inventory's
# root_ids): uts, ipc, net, mount and user images that are missing,
# refused naming them; a user namespace without a pid one, refused.
fresh
alter ids-31001.img '.entries[0].net_ns_id = 20'
expect_error "a net namespace without its images" "$W/bad" "netns-20.img: missing"

fresh
alter ids-31001.img '.entries[0].pid_ns_id = 20'
expect_error "the root in its own pid namespace" "$W/bad" \
	"the root 31001 has its own pid namespace but is not its init (pid 1)"

fresh
alter ids-31001.img '.entries[0].uts_ns_id = 20'
expect_error "a uts namespace without its image" "$W/bad" "utsns-20.img: missing"

fresh
alter ids-31001.img '.entries[0].ipc_ns_id = 21'
expect_error "an ipc namespace without its images" "$W/bad" "ipcns-var-21.img"

fresh
alter ids-31001.img '.entries[0].mnt_ns_id = 22'
expect_error "a mount namespace without its image" "$W/bad" "mountpoints-22.img: missing"

fresh
alter ids-31001.img '.entries[0].user_ns_id = 23'
expect_error "a user namespace without its image" "$W/bad" "userns-23.img: missing"

# --root is a mount namespace's: refused for a tree without one.
fresh
expect_error "--root for a tree without its own mount namespace" "$W/bad" \
	"unsupported: --root /tmp for a tree without a mount namespace of its own" --root /tmp

fresh
alter mm-31001.img '.entries[0].vmas[1].start = .entries[0].vmas[0].start'
expect_error "overlapping areas" "$W/bad" "overlaps the one before or is out of order"

fresh
alter mm-31001.img '.entries[0].vmas[0].end += 100'
expect_error "an unaligned area" "$W/bad" "is empty or not page aligned"

fresh
cp /bin/true "/tmp/stasis-fixtures/$sc/$sc"
expect_error "a changed file" "$W/bad" "counter-static changed: size"
"$FIX/stage.sh" $sc >/dev/null 2>&1

# The tests below need images whose programs run on this CPU: the
# fixtures' programs, built here from their sources, run at their recorded
# paths and dumped by stasis.  PIDs are whatever this machine gave them.

# own_dump SC: dump SC's program into $W/own-SC; prints its pids, root first.
own_dump() {
	local sc=$1 own="" pid
	local d=$W/build-$sc img=$W/own-$sc dir=/tmp/stasis-fixtures/$sc
	rm -rf "$d" "$img" && cp -r "$FIX/$sc/src" "$d" || return 1
	make -s -C "$d" >"$d/build.log" 2>&1 || return 1
	mkdir -p "$dir" && cp "$d/$sc" "$dir/$sc" && rm -f "$dir/$sc.log"
	[ "$sc" = tree ] && own=-S	# it makes its own session
	$B/spawn "$W/own-$sc.pid" -C "$dir" $own -- "$dir/$sc" "$dir/$sc.log" &
	local spawner=$!
	sleep 1.5
	pid=$(cat "$W/own-$sc.pid")
	if ! build/stasis dump -t "$pid" -D "$img" -o dump.log; then
		kill "$spawner"
		wait "$spawner"
		return 1
	fi
	wait "$spawner"
	build/crit decode -i "$img/pstree.img" | jq -r '.entries[].pid' | tr '\n' ' '
}

T="our own images"
if ! ONE=$(own_dump counter-static) || [ -z "$ONE" ]; then
	fail "cannot build and dump counter-static (see $W/build-counter-static, $W/own-counter-static)"
	exit 0
fi
if ! TREE=$(own_dump tree) || [ -z "$TREE" ]; then
	fail "cannot build and dump tree (see $W/build-tree, $W/own-tree)"
	exit 0
fi
ONE=${ONE% }
own_fresh() { rm -rf "$W/$2" && cp -a "$W/own-$1" "$W/$2"; }

# A PID already taken: the program itself, restored once already.
own_fresh counter-static bad
own_fresh counter-static bad2
restore_in "$W/taken.spawn" "$W/bad2"
sleep 1
T="refuses a PID already taken"
if [ ! -d /proc/$ONE ]; then
	fail "the first restore did not bring back $ONE: $(grep -m1 Error "$W/bad2/restore.log")"
else
	out=$(build/stasis restore -D "$W/bad" -d 2>&1)
	rc=$?
	n=$(pgrep -c -f "^/tmp/stasis-fixtures/$sc/$sc" || true)
	if [ $rc -eq 1 ] && grep -q "$ONE: the PID is already taken" <<<"$out" && [ "$n" = 1 ]; then
		pass "$(grep Error <<<"$out" | head -n 1)"
	else
		fail "exit status $rc, $n copies running: $out"
	fi
fi
stop_spawn $ONE

# Without -d, stasis stays the root's parent and exits with its status.
T="without -d waits for the root"
own_fresh counter-static bad
$B/spawn "$W/attached.spawn" -S -- /bin/sh -c \
	"build/stasis restore -D $W/bad --pidfile $W/attached.pid; echo \$? >$W/attached.rc" &
SPAWN=$!
for _ in $(seq 100); do [ -s "$W/attached.pid" ] && break; sleep 0.05; done
ppid=$(ps -o ppid= -p $ONE | tr -d ' ')
pcomm=$(ps -o comm= -p "${ppid:-0}")
sleep 0.5
kill -TERM $ONE 2>/dev/null
for _ in $(seq 100); do [ -s "$W/attached.rc" ] && break; sleep 0.05; done
if [ "$(cat "$W/attached.pid" 2>/dev/null)" = $ONE ] && [ -n "$ppid" ] &&
	[ "$pcomm" = stasis ] && [ "$(cat "$W/attached.rc" 2>/dev/null)" = 143 ]; then
	pass "pidfile $ONE, parent stasis ($ppid), exit status 143 after SIGTERM"
else
	fail "pidfile '$(cat "$W/attached.pid" 2>/dev/null)', parent '$ppid' ($pcomm), status '$(cat "$W/attached.rc" 2>/dev/null)'"
fi
stop_spawn $ONE

# A failure once the tree is forked: everything created is killed.
own_fresh tree fault
T="a failure after the fork kills the tree"
STASIS_FAULT=ready $B/spawn "$W/fault.spawn" -S -- build/stasis restore -D "$W/fault" -d -o restore.log
rc=$?
out=$(cat "$W/fault/restore.log")
left=$(running $TREE)
if [ $rc -ne 0 ] && [ -z "$left" ] && grep -q "fault injected" <<<"$out"; then
	pass "exit status $rc, no task left"
else
	fail "exit status $rc, left running: '$left': $out"
fi

# A failure while the tree is held at its last rt_sigreturn: killed too.
own_fresh tree finish
T="a failure at the end of the restore kills the tree"
STASIS_FAULT=finish $B/spawn "$W/finish.spawn" -S -- build/stasis restore -D "$W/finish" -d -o restore.log
rc=$?
out=$(cat "$W/finish/restore.log")
left=$(running $TREE)
if [ $rc -ne 0 ] && [ -z "$left" ] && grep -q "fault injected at step finish" <<<"$out"; then
	pass "exit status $rc, no task left"
else
	fail "exit status $rc, left running: '$left': $out"
	kill -9 $left 2>/dev/null
fi

# stasis itself dying half way: every task dies with its parent.
own_fresh tree crash
T="stasis killed half way leaves no task"
STASIS_FAULT=crash timeout -k 5 20 $B/spawn "$W/crash.spawn" -S -- build/stasis restore -D "$W/crash" -d -o restore.log
rc=$?
left=$(running $TREE)
if [ $rc -ne 0 ] && [ -z "$left" ] && grep -q "fault injected at step crash" "$W/crash/restore.log"; then
	pass "exit status $rc, no task left"
else
	fail "exit status $rc, left running: '$left'"
	kill -9 $left 2>/dev/null
fi
bash tests/restore/vdso.sh
bash tests/restore/aio.sh
bash tests/restore/shm-host.sh
bash tests/restore/cgroup.sh
bash tests/restore/cross.sh
bash tests/restore/inherit-fd.sh
bash tests/restore/mntns-root.sh
bash tests/restore/sockets.sh
bash tests/restore/inet.sh
bash tests/restore/netns.sh
bash tests/restore/netns-sub.sh
bash tests/restore/tcp-peer.sh
bash tests/restore/servers.sh
bash tests/restore/apps.sh
bash tests/restore/shell-job.sh
bash tests/restore/pidns.sh
bash tests/restore/container.sh
exit 0
