#!/bin/bash
# cross.sh - conformance programs with one tool dumping and the other
# restoring: CRIU 4.2 restores stasis's images of them, stasis restores
# CRIU's.  Each program holds what the two tools once wrote or read
# differently (scripts/zdtm-cross.sh found them over ZDTM):
#  - zombie: a zombie's task state (2, as CRIU's TASK_DEAD) and, in
#    CRIU's pstree.img, whatever thread id CRIU leaves for it;
#  - stopped: a stopped task's state (3), and its pending stop signals,
#    which the next SIGCONT would discard, not written;
#  - pidfd: a pidfd's flags without the access mode (CRIU hands them to
#    pidfd_open() as they are);
#  - inotify, fanotify: each watch's or mark's path beside its handle
#    (CRIU opens a bare handle only through a mount it dumped);
#  - unix_peer_order, unix_sockets, unix_conns, unix_rebound: each socket's entry after its
#    peer's (CRIU finds a peer only among the entries before).
# Where CRIU 4.2 cannot do it from its own images either, that way is left
# out (said below).
# Skipped, saying so, without CRIU 4.2 (the one ZDTM's run.sh builds, or
# $CRIU_REF).  Run by tests/restore/run.sh.
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-restore-tests/cross
CRIU=${CRIU_REF:-/tmp/zdtm-criu/criu/criu}
PROGS="zombie stopped pidfd inotify fanotify unix_peer_order unix_sockets unix_conns unix_rebound"
rm -rf "$W"
mkdir -p "$W"

if [ ! -x "$CRIU" ]; then
	for p in $PROGS; do
		echo "SKIP: restore across tools: $p: no CRIU 4.2 at $CRIU (CRIU_REF)"
	done
	exit 0
fi
# via DUMPER RESTORER: a criu-like binary that hands each step to one.
via() {
	printf '#!/bin/sh\n[ "$1" = restore ] && exec %s "$@"\nexec %s "$@"\n' "$2" "$1" >"$W/$3"
	chmod +x "$W/$3"
}
via "$PWD/build/stasis" "$CRIU" stasis-criu
via "$CRIU" "$PWD/build/stasis" criu-stasis
# inotify: CRIU 4.2 loses IN_ONESHOT, IN_EXCL_UNLINK and the watch on an
# unlinked file even from its own images of the program, so what is checked
# of stasis's is that each watch on a named inode keeps its path.
named_watches() {
	build/crit decode -i "$1/files.img" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["entries"]:
    for w in e.get("ify", {}).get("wd", []):
        if w["wd"] in (1, 3): print(w["wd"], w["f_handle"].get("path", "none"))'
}
inotify_paths() {
	local d=$W/stasis-inotify out got want
	out=$($B/runner --timeout 20 --workdir "$d" "$B/conformance/inotify" 2>&1)
	got=$(named_watches "$d/img" | sort | tr '\n' ' ')
	want="1 $d/out.d 3 $d/out.d/file "
	if [[ $out == PASS:* ]] && [ "$got" = "$want" ]; then
		echo "PASS: restore across tools: inotify: each watch on a named inode keeps its path for CRIU 4.2"
	else
		echo "FAIL: restore across tools: inotify: $out; watches and paths \"$got\", want \"$want\""
	fi
}
for p in $PROGS; do
	for way in stasis-criu criu-stasis; do
		case $way-$p in
		stasis-criu-inotify) inotify_paths; continue ;;
		criu-stasis-unix_sockets) continue ;;	# CRIU 4.2 refuses the SCM_RIGHTS it queues
		stasis-criu-unix_rebound) continue ;;	# CRIU 4.2 leaves a removed directory made again, from its own images too
		esac
		case $way in
		stasis-criu) what="CRIU 4.2 restores stasis's images" ;;
		*) what="stasis restores CRIU 4.2's images" ;;
		esac
		out=$($B/runner --timeout 20 --workdir "$W/$way-$p" --stasis "$W/$way" \
			"$B/conformance/$p" 2>&1)
		# CRIU 4.2 opens a file under another task's /proc/PID/ without
		# waiting for that task to have it (fanotify's /proc/PID/fdinfo/N):
		# a race of its own, from its own images too.  Again, twice at most.
		d=$W/$way-$p
		for again in 1 2 3; do
			[[ $out == FAIL:* ]] && [ $way = stasis-criu ] &&
				grep -q "Can't open file proc/[0-9]*/" "$d/restore.log" 2>/dev/null || break
			if [ $again = 3 ]; then
				out="SKIP: $p: CRIU 4.2 lost the race of its restore on another task's /proc/PID/ file three times"
				break
			fi
			echo "# restore across tools: $p: CRIU 4.2 lost its /proc race, run again"
			d=$W/$way-$p-$again
			out=$($B/runner --timeout 20 --workdir "$d" --stasis "$W/$way" "$B/conformance/$p" 2>&1)
		done
		case $out in
		PASS:*) echo "PASS: restore across tools: $p: $what" ;;
		SKIP:*) echo "SKIP: restore across tools: $p: ${out#SKIP: }" ;;
		*)
			err=$(grep -h -m1 "Error" "$d"/*.log 2>/dev/null | grep -v RLIMIT_NOFILE | head -1)
			echo "FAIL: restore across tools: $p: $what: $out ${err:+($err)}"
			;;
		esac
	done
done
