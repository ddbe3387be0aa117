#!/bin/bash
# tty.sh - a shell job's terminal (tests/dump/tty-job.c plays the shell
# and the terminal): without --shell-job the dump is refused, naming the
# fd, and the job runs on; with -j the terminal goes to files.img and
# tty-info.img as CRIU 4.2 records it, and after dump -R the job finds
# its terminal as it left it.  Then what CRIU refuses too (two terminals,
# /dev/tty where the pty is not), and a dump that kills the job.
#
#   bash tests/dump/tty.sh      (from anywhere; after make)
#
# Uses build/stasis, build/crit and jq; builds build/tests/tty-job.
# Prints PASS:/FAIL: lines; leaves no process behind.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/dump/lib.sh
W=$B/tty-test
JOB=$B/tests/tty-job
T="dump tty"

need_tools "$B/stasis" "$B/crit"
build_prog tests/dump/tty-job.c "$JOB"
rm -rf "$W"
mkdir -p "$W"

LAUNCHER=
PID=
TTY=

# stop_launcher: make sure the launcher and all it started are gone.
stop_launcher() {
	local i
	[ -n "$LAUNCHER" ] || return 0
	for i in $(seq 100); do
		kill -0 "$LAUNCHER" 2>/dev/null || break
		[ "$i" -eq 40 ] && kill -TERM "$LAUNCHER" 2>/dev/null
		sleep 0.05
	done
	kill -KILL "$LAUNCHER" 2>/dev/null
	wait "$LAUNCHER" 2>/dev/null
	LAUNCHER=
}
trap 'kill -TERM "$LAUNCHER" 2>/dev/null; stop_launcher' EXIT

# start NAME [-2] -- ARGS...: tty-job launch in $W/NAME, wait for "ready".
start() {
	local dir=$W/$1
	shift
	mkdir -p "$dir"
	"$JOB" launch "$dir" "$@" &
	LAUNCHER=$!
	wait_ready "$dir"
	local ok=$?
	PID=$(cat "$dir/pid" 2>/dev/null)
	TTY=$(cat "$dir/tty" 2>/dev/null)
	return $ok
}

# finish NAME: ask the job to check its terminal; print its verdict.
finish() {
	ask_verdict "$W/$1" "$PID"
	stop_launcher
}

# ticks NAME: how many lines the job has written to its terminal so far.
ticks() { grep -c '^tick' "$W/$1/out" 2>/dev/null; }

# runs_on NAME: the job still writes to its terminal.
runs_on() {
	local n
	n=$(ticks "$1")
	sleep 0.3
	[ "$(ticks "$1")" -gt "$n" ]
}


# --- without --shell-job: refused ---

if start plain -- "$JOB" prog; then
	IMG=$W/plain-img
	mkdir -p "$IMG"
	if "$B/stasis" dump -t "$PID" -D "$IMG" -R -v4 -o dump.log 2>/dev/null; then
		fail "no -j: dump succeeded"
	elif grep -qF "unsupported: pid $PID fd 0 is $TTY, a terminal whose master is not in the tree (use --shell-job)" "$IMG/dump.log"; then
		pass "no -j: refused: fd 0 is $TTY, its master outside (use --shell-job)"
	else
		fail "no -j: refused without saying why: $(grep -m1 Error "$IMG/dump.log")"
	fi
	check "no -j: no inventory.img" [ ! -e "$IMG/inventory.img" ]
	check "no -j: the job writes to its terminal after the failed dump" runs_on plain
	verdict=$(finish plain)
	check "no -j: the job finds its terminal as it was" [ "$verdict" = OK ]
	[ "$verdict" = OK ] || echo "  (it says: $verdict)" >&2
else
	fail "no -j: tty-job did not start: $(cat "$W/plain/state" 2>/dev/null)"
	stop_launcher
fi

# --- with --shell-job: recorded, and the job runs on (-R) ---

IMG=$W/job-img
if ! start job -- "$JOB" prog fork devtty; then
	fail "-j: tty-job did not start: $(cat "$W/job/state" 2>/dev/null)"
	stop_launcher
	exit 0
fi
mkdir -p "$IMG"
# The terminal's node goes when the launcher closes the master: look now.
TTYSTAT=$(stat -c '%d %u %g' "$TTY")
if "$B/stasis" dump -t "$PID" -D "$IMG" -R -j -v4 -o dump.log; then
	pass "-j: dump -R succeeds"
else
	fail "-j: dump -R failed: $(grep -m1 Error "$IMG/dump.log")"
fi
check "-j: the job writes to its terminal after the dump" runs_on job
verdict=$(finish job)
check "-j: the job finds its terminal as it was (settings, session, foreground, /dev/tty)" \
	[ "$verdict" = OK ]
[ "$verdict" = OK ] || echo "  (it says: $verdict)" >&2

N=${TTY#/dev/pts/}
SEEN=$(cat "$W/job/seen")
FILES=$(dec "$IMG/files.img")
INFO=$(dec "$IMG/tty-info.img")
FILES_ID=$(dec "$IMG/ids-$PID.img" | jq '.entries[0].files_id')
FDINFO=$(dec "$IMG/fdinfo-$FILES_ID.img")

# id FD: the files.img id of fd FD; file FD: its files.img entry.
id() { jq ".entries[] | select(.fd == $1) | .id" <<<"$FDINFO"; }
file() { jq -c ".entries[] | select(.id == $(id "$1"))" <<<"$FILES"; }
entry() { jq -c ".entries[] | select(.id == $1)" <<<"$FILES"; }
info() { jq -c ".entries[] | select(.id == $1)" <<<"$INFO"; }
is() { [ "$(jq -r "$2" <<<"$1")" = "$3" ]; }

check "fdinfo: fds 0-4 are TTY" \
	is "$FDINFO" '[.entries[] | select(.type == "TTY") | .fd] | tostring' '[0,1,2,3,4]'
check "fdinfo: stdio is one open file, the second open of the terminal another" \
	[ "$(id 0)" = "$(id 1)" -a "$(id 0)" = "$(id 2)" -a "$(id 4)" != "$(id 0)" ]
f=$(file 0)
check "files: fd 0 is a TTY entry of terminal $((2 * N)) (index $N * 2), O_RDWR|O_LARGEFILE" \
	is "$f" '"\(.type) \(.tty.tty_info_id) \(.tty.flags)"' "TTY $((2 * N)) 32770"
check "files: its path entry comes right after it (regf_id = id + 1): REG $TTY, a char device" \
	is "$(entry "$(jq .tty.regf_id <<<"$f")")" '"\(.id - 1) \(.type) \(.reg.name) \(.reg.mode / 4096 | floor)"' \
	"$(id 0) REG $TTY 2"
f4=$(file 4)
check "files: the second open is another TTY entry of the same terminal, with its own path entry" \
	[ "$(jq .tty.tty_info_id <<<"$f4")" = "$((2 * N))" -a \
	  "$(jq .tty.regf_id <<<"$f4")" != "$(jq .tty.regf_id <<<"$f")" ]
check "files: /dev/tty is a TTY entry of the CTTY terminal (2012), its path entry /dev/tty" \
	[ "$(jq .tty.tty_info_id <<<"$(file 3)")" = 2012 -a \
	  "$(entry "$(jq .tty.regf_id <<<"$(file 3)")" | jq -r .reg.name)" = /dev/tty ]

check "tty-info: one entry per terminal: the pty and /dev/tty" \
	is "$INFO" '[.entries[] | "\(.id) \(.type)"] | tostring' "[\"$((2 * N)) PTY\",\"2012 CTTY\"]"
p=$(info $((2 * N)))
check "tty-info: the pty: index $N, rdev 136:$N, devpts dev, its owner" \
	is "$p" '"\(.pty.index) \(.rdev) \(.dev) \(.uid) \(.gid)"' \
	"$N $(((136 << 8) | N)) $TTYSTAT"
check "tty-info: session and foreground group are the job's ($PID)" \
	is "$p" '"\(.sid) \(.pgrp)"' "$PID $PID"
check "tty-info: exclusive (TIOCEXCL), not locked, not in packet mode" \
	is "$p" '"\(.exclusive) \(.locked) \(.packet_mode)"' "true false false"
check "tty-info: termios as the job sees it (c_cc four to a word, as CRIU stores them)" \
	[ "$(jq -c '.termios | [.c_iflag, .c_oflag, .c_cflag, .c_lflag, .c_line, .c_cc]' <<<"$p")" = \
	  "$(jq -c '[.c_iflag, .c_oflag, .c_cflag, .c_lflag, .c_line, .c_cc]' <<<"$SEEN")" ]
check "tty-info: window size 37x111 (555x666 pixels), as the launcher set it" \
	[ "$(jq -c '.winsize' <<<"$p")" = \
	  "$(jq -c '{ws_row, ws_col, ws_xpixel, ws_ypixel}' <<<"$SEEN")" -a \
	  "$(jq -c '[.winsize.ws_row, .winsize.ws_col]' <<<"$p")" = "[37,111]" ]
check "tty-info: locked termios present (19 control words)" \
	is "$p" '.termios_locked.c_cc | length' 19
c=$(info 2012)
check "tty-info: /dev/tty: CTTY, rdev 5:0, the job's session, no pty index" \
	is "$c" '"\(.type) \(.rdev) \(.sid) \(.pgrp) \(has("pty"))"' "CTTY 1280 $PID $PID false"
check "no tty-data.img (the master is outside the dump), no tty.img" \
	[ ! -e "$IMG/tty-data.img" -a ! -e "$IMG/tty.img" ]

CHILD_FDINFO=$(for f in "$IMG"/fdinfo-*.img; do
	[ "$f" = "$IMG/fdinfo-$FILES_ID.img" ] || dec "$f"
done)
check "forked child: its terminal fds share the parent's entries" \
	is "$CHILD_FDINFO" '[.entries[] | .id] | tostring' "[$(id 0),$(id 0),$(id 0),$(id 3),$(id 4)]"
check "pstree: the job's session and group stay as they are ($PID)" \
	is "$(dec "$IMG/pstree.img")" '[.entries[] | "\(.sid) \(.pgid)"] | unique | tostring' "[\"$PID $PID\"]"

if command -v crit >/dev/null; then
	bad=
	for f in "$IMG"/*.img; do
		case $f in */pages-*) continue ;; esac
		crit decode -i "$f" >/dev/null 2>&1 || bad="$bad $(basename "$f")"
	done
	check "Debian's crit decodes every image${bad:+ (not:$bad)}" [ -z "$bad" ]
fi

# --- two terminals: a shell job has one ---

if start two -2 -- "$JOB" prog; then
	IMG=$W/two-img
	mkdir -p "$IMG"
	if "$B/stasis" dump -t "$PID" -D "$IMG" -R -j -v4 -o dump.log 2>/dev/null; then
		fail "two terminals: dump succeeded"
	elif grep -qE "unsupported: pid $PID fd 5 is /dev/pts/[0-9]+, a second terminal" "$IMG/dump.log"; then
		pass "two terminals: refused, naming fd 5"
	else
		fail "two terminals: refused without saying why: $(grep -m1 Error "$IMG/dump.log")"
	fi
	check "two terminals: the job runs on" runs_on two
	verdict=$(finish two)
	check "two terminals: the job finds its terminal as it was" [ "$verdict" = OK ]
else
	fail "two terminals: tty-job did not start: $(cat "$W/two/state" 2>/dev/null)"
	stop_launcher
fi

# --- /dev/tty opened in a task that does not hold the pty: CRIU cannot restore it ---

if start childtty -- "$JOB" prog childtty; then
	IMG=$W/childtty-img
	mkdir -p "$IMG"
	child=$(cat "/proc/$PID/task/$PID/children" 2>/dev/null)
	child=${child% }
	if "$B/stasis" dump -t "$PID" -D "$IMG" -R -j -v4 -o dump.log 2>/dev/null; then
		fail "/dev/tty in a child: dump succeeded"
	elif grep -qF "unsupported: pid $child fd 3 is /dev/tty of session $PID, whose pty is in pid $PID (fd 0), not here" "$IMG/dump.log"; then
		pass "/dev/tty in a child: refused, naming it"
	else
		fail "/dev/tty in a child: refused without saying why: $(grep -m1 Error "$IMG/dump.log")"
	fi
	check "/dev/tty in a child: the job runs on" runs_on childtty
	verdict=$(finish childtty)
	check "/dev/tty in a child: the job finds its terminal as it was" [ "$verdict" = OK ]
else
	fail "/dev/tty in a child: tty-job did not start"
	stop_launcher
fi

# --- a dump that ends the job (no -R) ---

if start kill -- "$JOB" prog fork; then
	IMG=$W/kill-img
	mkdir -p "$IMG"
	if "$B/stasis" dump -t "$PID" -D "$IMG" -j -v4 -o dump.log; then
		pass "dump -j (no -R): succeeds"
	else
		fail "dump -j (no -R): failed: $(grep -m1 Error "$IMG/dump.log")"
	fi
	for i in $(seq 100); do
		kill -0 "$LAUNCHER" 2>/dev/null || break
		sleep 0.05
	done
	gone=no
	[ ! -d "/proc/$PID" ] && ! kill -0 "$LAUNCHER" 2>/dev/null && gone=yes
	check "dump -j (no -R): the job is gone, and the launcher with it" [ $gone = yes ]
	check "dump -j (no -R): tty-info.img has the terminal" \
		is "$(dec "$IMG/tty-info.img")" '[.entries[].type] | tostring' '["PTY"]'
	stop_launcher
else
	fail "dump -j (no -R): tty-job did not start"
	stop_launcher
fi

# --- the terminal named external (--external tty[RDEV:DEV]), as a runtime names a console ---

if start ext -- "$JOB" prog; then
	IMG=$W/ext-img
	mkdir -p "$IMG"
	rdev=$(( 0x$(stat -c %t "$TTY") << 8 | 0x$(stat -c %T "$TTY") ))
	KEY=$(printf 'tty[%x:%x]' "$rdev" "$(stat -c %d "$TTY")")
	if "$B/stasis" dump -t "$PID" -D "$IMG" -R --external "$KEY" -v4 -o dump.log; then
		pass "--external $KEY: dump -R succeeds without -j"
		check "--external: each file of the terminal (stdio, a second open) is EXT_TTY, numbered from 1013 as CRIU" \
			is "$(dec "$IMG/tty-info.img")" '[.entries[] | "\(.type) \(.id)"] | unique | tostring' \
			'["EXT_TTY 2026","EXT_TTY 2028"]'
		check "--external: its TTY entries have no regf_id" \
			is "$(dec "$IMG/files.img")" '[.entries[] | select(.type == "TTY") | .tty.regf_id] | unique | tostring' '[null]'
		check "--external: the job runs on" runs_on ext
	else
		fail "--external $KEY: dump -R failed: $(grep -m1 Error "$IMG/dump.log")"
	fi
	if "$B/stasis" dump -t "$PID" -D "$IMG" --external "$KEY" -v4 -o dump.log &&
		! "$B/stasis" restore -D "$IMG" -v4 -o restore.log 2>/dev/null &&
		grep -qF "is an external terminal: give it with --inherit-fd fd[N]:$KEY" "$IMG/restore.log"; then
		pass "--external: its restore without --inherit-fd is refused, naming $KEY"
	else
		fail "--external: a restore without --inherit-fd: $(grep -m1 Error "$IMG/restore.log" 2>/dev/null)"
	fi
	stop_launcher
else
	fail "--external: tty-job did not start"
	stop_launcher
fi
exit 0
