#!/bin/bash
# hostile.sh - what a careless or hostile caller can do to a dump or a
# restore must give a clear error and harm nothing:
#  - numbers on the command line are read whole (no "12abc" as 12, no
#    4294967297 wrapped round to 1);
#  - a FIFO at an image's name neither blocks the dump nor the restore;
#  - a symlink at an image's name is not followed (what it points to
#    stays as it was);
#  - a failed dump leaves an earlier dump in the same directory intact,
#    and an empty directory as empty as it was (but for its log);
#  - a parent waiting in vfork keeps waiting, its child's sleep uncut;
#  - a failing dump leaves the tree running;
#  - a target killed in the middle of its dump does not hang stasis;
#  - a task in a user namespace of its own without a pid one is refused,
#    not dumped as if it were not; so is a child in another uts namespace
#    than the root's;
#  - a restore whose pidfile cannot be written fails and leaves nothing; one
#    from a read-only images directory succeeds without an error line.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/dump/lib.sh
W=/tmp/stasis-dump-hostile
T="dump hostile"
need_tools "$B/stasis" "$B/tests/spawn"
rm -rf "$W"
mkdir -p "$W"

# spawn_tree PIDFILE SPAWN-ARGS...: tests/spawn in the background (its pid
# in SPAWNED), back once the tree's root is in PIDFILE.
spawn_tree() {
	local pidfile=$1

	shift
	rm -f "$pidfile"
	"$B/tests/spawn" "$pidfile" "$@" &
	SPAWNED=$!
	for _ in $(seq 100); do [ -s "$pidfile" ] && break; sleep 0.05; done
}

SPAWN=
PID=
start_victim() {
	spawn_tree "$W/victim.pid" -- /bin/sleep 1000
	SPAWN=$SPAWNED
	PID=$(cat "$W/victim.pid")
}
stop_victim() {
	kill "$SPAWN" 2>/dev/null
	wait "$SPAWN" 2>/dev/null
}
trap stop_victim EXIT

# alive PID: running (not a zombie, not stopped).
alive() { [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = S ]; }

# --- numbers ---
for arg in 12abc 4294967297 -3 ""; do
	out=$("$B/stasis" dump -t "$arg" -D "$W/num" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && grep -q "is not a number" <<<"$out" && [ ! -e "$W/num/inventory.img" ]; then
		pass "-t '$arg' refused: $out"
	else
		fail "-t '$arg': exit status $rc: $out"
	fi
done
out=$("$B/stasis" dump -t 1 -D "$W/num" --timeout 5x 2>&1)
rc=$?
[ $rc -ne 0 ] && grep -q "is not a number" <<<"$out" && pass "--timeout 5x refused" ||
	fail "--timeout 5x: exit status $rc: $out"

# --ghost-limit: a size as CRIU reads one; an unlinked file over it is refused.
out=$("$B/stasis" dump -t 1 -D "$W/num" --ghost-limit 12x 2>&1)
[ $? -ne 0 ] && grep -q "is not a size" <<<"$out" && pass "--ghost-limit 12x refused" ||
	fail "--ghost-limit 12x: $out"
spawn_tree "$W/victim.pid" -C "$W" -- /bin/bash -c \
	'head -c 2097152 /dev/urandom >big && exec 7<big && rm big && exec sleep 1000'
gspawn=$SPAWNED
sleep 0.3
gpid=$(cat "$W/victim.pid")
"$B/stasis" dump -t "$gpid" -D "$W/ghost1" -R -v4 -o dump.log >/dev/null 2>&1
check "a 2 MiB unlinked file is over the default ghost limit" \
	grep -q "over the 1048576-byte ghost limit" "$W/ghost1/dump.log"
check "with --ghost-limit 4M it is dumped" \
	"$B/stasis" dump -t "$gpid" -D "$W/ghost2" -R --ghost-limit 4M -v4 -o dump.log
kill "$gspawn" 2>/dev/null
wait "$gspawn" 2>/dev/null

# zdtm.py's spelling, one dash: -verbosity=0 is -v0, as with CRIU.
"$B/stasis" check --feature openat2 >/dev/null 2>&1
want=$?
"$B/stasis" check --no-default-config -verbosity=0 --feature openat2 >/dev/null 2>&1
check "-verbosity=0 is read as CRIU reads it" [ $? -eq $want ]

# --- a FIFO where the pages image goes ---
# Images are written into a hidden directory of their own and moved to
# their names at the end: a FIFO or a symlink already at a name is
# replaced, never opened or followed.
start_victim
mkdir -p "$W/fifo"
mkfifo "$W/fifo/pages-1.img"
timeout 20 "$B/stasis" dump -t "$PID" -D "$W/fifo" -R -v4 -o dump.log >/dev/null
rc=$?
if [ $rc -eq 124 ]; then
	fail "a FIFO at pages-1.img: the dump blocked"
else
	check "a FIFO at pages-1.img: the dump succeeds (exit status $rc)" [ $rc -eq 0 ]
fi
check "a FIFO at pages-1.img: replaced by the pages image" [ -f "$W/fifo/pages-1.img" ]
check "a FIFO at pages-1.img: the tree runs on" alive "$PID"
check "a FIFO at pages-1.img: inventory.img written" [ -f "$W/fifo/inventory.img" ]

# --- a symlink where an image goes ---
echo precious >"$W/precious"
mkdir -p "$W/link"
ln -s "$W/precious" "$W/link/pstree.img"
timeout 20 "$B/stasis" dump -t "$PID" -D "$W/link" -R -v4 -o dump.log >/dev/null
rc=$?
check "a symlink at pstree.img: the dump succeeds (exit status $rc)" [ $rc -eq 0 ]
check "a symlink at pstree.img: the file it pointed to is untouched" \
	[ "$(cat "$W/precious")" = precious ]
check "a symlink at pstree.img: replaced by the image itself" \
	[ -f "$W/link/pstree.img" ] && [ ! -L "$W/link/pstree.img" ]
check "a symlink at pstree.img: the tree runs on" alive "$PID"

# --- a failed dump into a directory holding a good one ---
sums() { (cd "$1" && find . -maxdepth 1 -type f -name '*.img' | sort | xargs sha256sum); }
mkdir -p "$W/keep"
timeout 20 "$B/stasis" dump -t "$PID" -D "$W/keep" -R -o dump.log >/dev/null
good=$(sums "$W/keep")
for step in images stats publish; do
	STASIS_FAULT=$step timeout 20 "$B/stasis" dump -t "$PID" -D "$W/keep" -R \
		-o dump.log >/dev/null 2>&1
	rc=$?
	check "a dump failing at '$step' over a good dump: it fails (exit status $rc)" [ $rc -ne 0 ]
	check "a dump failing at '$step' over a good dump: the good dump is intact" \
		[ "$(sums "$W/keep")" = "$good" ]
	check "a dump failing at '$step': it leaves no hidden directory" \
		[ -z "$(find "$W/keep" -mindepth 1 -maxdepth 1 -name '.stasis-dump.*')" ]
done
check "the tree runs on after the failed dumps" alive "$PID"
# Into a directory that held nothing the images go in place; a failure
# takes back all it wrote, and only the log stays.
for step in images stats publish; do
	rm -rf "$W/empty"
	mkdir -p "$W/empty"
	STASIS_FAULT=$step timeout 20 "$B/stasis" dump -t "$PID" -D "$W/empty" -R -v4 \
		-o dump.log >/dev/null 2>&1
	rc=$?
	check "a dump failing at '$step' into an empty directory: it fails (exit status $rc)" \
		[ $rc -ne 0 ]
	check "a dump failing at '$step' into an empty directory: the images were in place" \
		grep -q "holds no dump" "$W/empty/dump.log"
	check "a dump failing at '$step' into an empty directory: only its log is left" \
		[ "$(ls -A "$W/empty")" = dump.log ]
done
# A stasis killed mid-dump leaves its hidden directory; the next dump removes it.
mkdir -p "$W/keep/.stasis-dump.999999999"
touch "$W/keep/.stasis-dump.999999999/pages-1.img"
timeout 20 "$B/stasis" dump -t "$PID" -D "$W/keep" -R -o dump.log >/dev/null
check "a dead stasis's hidden directory is removed by the next dump" \
	[ ! -e "$W/keep/.stasis-dump.999999999" ]

# --- a tree that forks all the time: a run that exits 0 logs no error ---
spawn_tree "$W/churn.pid" -- /bin/sh -c 'while :; do /bin/true & wait; done'
churn_spawn=$SPAWNED
churn=$(cat "$W/churn.pid")
ok=0 bad=""
for i in 1 2 3 4 5 6 7 8; do
	rm -rf "$W/churn"
	if "$B/stasis" dump -t "$churn" -D "$W/churn" -R -v4 -o dump.log >/dev/null 2>&1; then
		ok=$((ok + 1))
		grep -q "Error:" "$W/churn/dump.log" && bad="$bad $(grep -m1 'Error:' "$W/churn/dump.log")"
	fi
done
kill "$churn_spawn" 2>/dev/null
wait "$churn_spawn" 2>/dev/null
check "a tree forking all the time: $ok of 8 dumps exit 0, none of them logs an error${bad:+:$bad}" \
	[ -z "$bad" ]

# --- a parent waiting in vfork: it stays waiting until its child exits ---
build_prog tests/dump/vfork-prog.c "$W/vfork-prog"
rm -f "$W/vfork.out"
spawn_tree "$W/vfork.pid" -- "$W/vfork-prog" "$W/vfork.out"
vf_spawn=$SPAWNED
sleep 0.3
"$B/stasis" dump -t "$(cat "$W/vfork.pid")" -D "$W/vfork" -R -v4 -o dump.log >/dev/null 2>&1
rc=$?
wait "$vf_spawn"
read -r waited status <"$W/vfork.out" 2>/dev/null
check "a parent in vfork: dump -R exits 0 (status $rc)" [ "$rc" -eq 0 ]
check "a parent in vfork: it waited ${waited:-?} s (the child sleeps 2 s), child exited ${status:-?}" \
	awk -v w="${waited:-0}" -v s="${status:-0}" 'BEGIN { exit !(w >= 1.9 && s == 7) }'

# --- two processes of one address space (CLONE_VM), dumped and killed ---
# The first one's parasite, parked once it is dumped (it dies with the
# tree), is cured before the second is infected and read: its memory must
# not show the first one's parasite, nor lose it under a waiting thread.
build_prog tests/dump/clone-vm-prog.c "$W/clone-vm-prog"
spawn_tree "$W/clone-vm.pid" -- "$W/clone-vm-prog"
cv_spawn=$SPAWNED
sleep 0.3
cv_root=$(cat "$W/clone-vm.pid")
"$B/stasis" dump -t "$cv_root" -D "$W/clone-vm" -v4 -o dump.log >/dev/null 2>&1
rc=$?
wait "$cv_spawn"
check "two processes of one memory, dumped and killed: exit 0 (status $rc)" [ "$rc" -eq 0 ]
check "two processes of one memory: the first one's parked parasite cured before the second is read" \
	grep -q "pid $cv_root: cured before pid [0-9]*, which shares its memory" "$W/clone-vm/dump.log"
check "two processes of one memory: the second finds no parasite of the first to unmap" \
	bash -c "! grep -q 'unmapped the parasite' '$W/clone-vm/dump.log'"

# --- a task in namespaces of its own: refused where it cannot be restored ---
# (pid, net, mnt, user namespaces are dumped: tests/restore/pidns.sh, netns.sh,
# mntns-root.sh, the C/R of tests/conformance/user_ns; a user namespace needs a pid one)
for ns in user; do
	rm -f "$W/victim.pid"
	case $ns in
	user) flags=-U ;;
	esac
	# shellcheck disable=SC2086
	spawn_tree "$W/victim.pid" -- "$(command -v unshare)" $flags /bin/sleep 1000
	nsspawn=$SPAWNED
	sleep 0.2
	root=$(cat "$W/victim.pid")
	out=$("$B/stasis" dump -t "$root" -D "$W/ns-$ns" -v4 -o dump.log 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -q "unsupported: the root $root has a $ns namespace of its own but not a pid namespace" "$W/ns-$ns/dump.log"; then
		pass "a task in its own $ns namespace: refused"
	else
		fail "a task in its own $ns namespace: exit status $rc: $(grep -m1 Error "$W/ns-$ns/dump.log")"
	fi
	check "a task in its own $ns namespace: runs on" alive "$root"
	kill "$nsspawn" 2>/dev/null
	wait "$nsspawn" 2>/dev/null
done

# A child in another uts namespace than the root's: only the root's is dumped.
spawn_tree "$W/victim.pid" -- /bin/bash -c \
	"$(command -v unshare) -u /bin/sleep 1000 & exec /bin/sleep 1000"
nsspawn=$SPAWNED
sleep 0.3
root=$(cat "$W/victim.pid")
child=$(pgrep -P "$root" | head -n 1)
out=$("$B/stasis" dump -t "$root" -D "$W/ns-child" -v4 -o dump.log 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "unsupported: pid $child is in another uts namespace than the tree's root $root" \
	"$W/ns-child/dump.log"; then
	pass "a child in a uts namespace other than the root's: refused"
else
	fail "a child in a uts namespace other than the root's: exit status $rc: $(grep -m1 Error "$W/ns-child/dump.log")"
fi
check "a child in its own uts namespace: runs on" alive "$child"
kill "$nsspawn" 2>/dev/null
wait "$nsspawn" 2>/dev/null

# --- the target killed in the middle of its dump ---
build_prog tests/dump/busy-threads.c "$W/busy-threads" -pthread
for ms in 5 40; do
	spawn_tree "$W/victim.pid" -- "$W/busy-threads"
	busy=$SPAWNED
	sleep 0.3
	bpid=$(cat "$W/victim.pid")
	timeout 30 "$B/stasis" dump -t "$bpid" -D "$W/killed-$ms" -v4 -o dump.log >/dev/null &
	dumper=$!
	sleep "$(printf '0.%03d' "$ms")"
	kill -9 "$bpid"
	wait "$dumper"
	rc=$?
	if [ $rc -eq 124 ]; then
		fail "target killed $ms ms into its dump: stasis hung"
	elif [ $rc -eq 0 ]; then
		pass "target killed $ms ms into its dump: the dump had finished first"
	else
		pass "target killed $ms ms into its dump: stasis gave up (exit status $rc)"
	fi
	wait "$busy" 2>/dev/null
done

# --- restore: a pidfile that cannot be written; images on a read-only mount ---
stop_victim
start_victim
"$B/stasis" dump -t "$PID" -D "$W/pf" -v4 -o dump.log >/dev/null
wait "$SPAWN" 2>/dev/null
cp -a "$W/pf" "$W/pf-img"
out=$("$B/stasis" restore -D "$W/pf" -d --pidfile "$W/no/such/dir/pid" 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "cannot write the pidfile" <<<"$out" && [ ! -d "/proc/$PID" ]; then
	pass "an unwritable pidfile fails the restore, and nothing is left running"
else
	fail "an unwritable pidfile: exit status $rc, pid $PID $([ -d "/proc/$PID" ] && echo running): $out"
	kill -9 "$PID" 2>/dev/null
fi
mkdir -p "$W/ro"
if mount --bind "$W/pf-img" "$W/ro" && mount -o remount,bind,ro "$W/ro"; then
	out=$("$B/stasis" restore -D "$W/ro" -d 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -d "/proc/$PID" ] && ! grep -q "Error" <<<"$out"; then
		pass "images on a read-only mount restore, with a warning and no error"
	else
		fail "images on a read-only mount: exit status $rc: $out"
	fi
	kill -9 "$PID" 2>/dev/null
	umount "$W/ro"
else
	echo "SKIP: $T: images on a read-only mount: cannot make a read-only bind mount here"
fi

# --- a FIFO where the restore reads an image ---
start_victim
"$B/stasis" dump -t "$PID" -D "$W/good" -v4 -o dump.log >/dev/null
stop_victim
mm=$(ls "$W/good"/mm-*.img | head -n 1)
rm -f "$mm" && mkfifo "$mm"
out=$(timeout 20 "$B/stasis" restore -D "$W/good" -d 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "is not a regular file" <<<"$out"; then
	pass "a FIFO at $(basename "$mm"): the restore refuses it: $(grep -m1 Error <<<"$out")"
else
	fail "a FIFO at $(basename "$mm"): exit status $rc: $out"
fi
exit 0
