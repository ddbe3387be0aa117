#!/bin/bash
# apps-inner.sh W - the body of apps.sh; writes PASS/FAIL/SKIP lines to
# W/results.  Every program runs in a session of its own (the tree to
# dump); every process started here is killed on the way out.
set -u
cd "$(dirname "$0")/../.."
W=$1
WHAT=apps
. tests/restore/srv-lib.sh
# A signal that would end this script silently says so.
for sig in HUP PIPE USR1 USR2 ALRM; do
	trap "fail \"this script got SIG$sig\"; exit 1" $sig
done

# http_app NAME CMD...: CMD W starts an HTTP server speaking servers.py's
# protocol, which writes its port to W/port.  Two hits, a keep-alive
# client holding its connection across a dump and restore with
# --tcp-established, a dump with -R, the restore of its images, and a
# second dump and restore of that restored tree: the counts go on.
http_app() {
	T=$1
	shift
	D=$W/$T
	mkdir -p "$D"
	setsid "$@" "$D" </dev/null >/dev/null 2>"$D/err" &
	tree=$!
	started "$tree"
	if ! wait_file "$D/port"; then
		fail "the server did not start: $(head -c 300 "$D/err")"
		return 1
	fi
	port=$(cat "$D/port")
	comm=$(cat "/proc/$tree/comm")
	hit hit >/dev/null
	hit hit >/dev/null
	hold "$port" "$D/hold" /hit /hit
	check "a keep-alive client's first hit" "$(answer "$D/hold" 0)" "hits 3 conns 3"
	# As the dump finds them (Ruby's thread of the held connection among them).
	threads=$(ls "/proc/$tree/task" | wc -l)
	dump "$D/kill" --tcp-established || return 1
	if gone "$tree"; then pass "dumped and killed"; else fail "the tree runs on after the dump"; fi
	ends "$tree"
	restore "$D/kill" --tcp-established || return 1
	check "restored under its pid" "$(cat "/proc/$tree/comm" 2>/dev/null)" "$comm"
	check "with its $threads threads" "$(ls "/proc/$tree/task" 2>/dev/null | wc -l)" "$threads"
	check "after the restore the count goes on" "$(hit hit)" "hits 4 conns 4"
	check "the keep-alive connection kept across the restore" "$(answer "$D/hold" 1)" "hits 5 conns 4"
	ends "${started[-1]}"
	quiet "$port"
	dump "$D/leave" -R || return 1
	check "serving on after a dump with -R" "$(hit hit)" "hits 6 conns 5"
	kill -KILL "$tree"
	ends "$tree"
	restore "$D/leave" || return 1
	check "restored from the -R images, the count as then" "$(hit count)" "hits 5 conns 5"
	quiet "$port"
	dump "$D/again" || return 1
	ends "$tree"
	restore "$D/again" || return 1
	check "the restored tree dumped and restored again" "$(hit count)" "hits 5 conns 6"
}

# --- Go: net/http, goroutines preempted with SIGURG, many threads ---
go_app() {
	T="Go net/http"
	if ! command -v go >/dev/null; then
		skip "go is not installed (scripts/deps.sh installs golang-go)"
		return 0
	fi
	mkdir -p "$W/gobuild"
	# go's cache, kept between runs when there is a home to keep it in.
	[ -n "${HOME:-}" ] || export GOCACHE=${GOCACHE:-$W/gobuild/cache}
	if ! (cd "$W/gobuild" && GOFLAGS= GO111MODULE=off go build -o gosrv "$OLDPWD/tests/restore/apps.go") \
		>"$W/gobuild/err" 2>&1; then
		fail "go build: $(head -c 300 "$W/gobuild/err")"
		return 0
	fi
	http_app go "$W/gobuild/gosrv" || { kill -KILL "$tree" 2>/dev/null; return 0; }
	# Every spinning goroutine goes on: the runtime's preemption works.
	hit ticks >/dev/null
	sleep 0.3
	local t
	t=$(hit ticks)
	check "its goroutines spin on, its ticker ticks" "${t#ticks * }" "all spinning"
	kill -KILL "$tree" 2>/dev/null
}

# --- python3's asyncio, Perl's IO::Select, Ruby's threads ---
script_apps() {
	http_app asyncio $PY tests/restore/apps-asyncio.py && {
		local a b
		a=$(hit ticks)
		sleep 0.2
		b=$(hit ticks)
		if [ "${b#ticks }" -gt "${a#ticks }" ] 2>/dev/null; then
			pass "its periodic task runs on ($a, $b)"
		else
			fail "its periodic task stopped ($a, $b)"
		fi
	}
	kill -KILL "$tree" 2>/dev/null
	interpreted_app perl tests/restore/apps.pl "perl is not installed"
	interpreted_app ruby tests/restore/apps.rb "ruby is not installed (scripts/deps.sh installs it)"
}

# interpreted_app PROGRAM SCRIPT WHY: http_app of PROGRAM SCRIPT, or a skip
# saying WHY when PROGRAM is not installed.
interpreted_app() {
	T=$1
	if ! command -v "$1" >/dev/null; then
		skip "$3"
		return 0
	fi
	http_app "$1" "$1" "$2"
	kill -KILL "$tree" 2>/dev/null
}

# --- the sqlite3 shell in the middle of a transaction ---
sqlite_app() {
	T="sqlite3 in a transaction"
	if ! command -v sqlite3 >/dev/null; then
		skip "sqlite3 is not installed (scripts/deps.sh installs it)"
		return 0
	fi
	D=$W/sqlite
	mkdir -p "$D"
	sqlite3 "$D/db" 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'
	mkfifo "$D/in"
	setsid sqlite3 "$D/db" <"$D/in" >"$D/out" 2>&1 &
	tree=$!
	started "$tree"
	exec 3>"$D/in"
	echo 'BEGIN; INSERT INTO t VALUES (2); SELECT count(*) FROM t;' >&3
	wait_file "$D/out"
	# Its write lock and the hot journal: nothing may touch the database
	# until it is back.
	dump "$D/img" --file-locks || { exec 3>&-; return 0; }
	ends "$tree"
	restore "$D/img" --file-locks || { exec 3>&-; return 0; }
	check "a writer outside waits for the restored transaction's lock" \
		"$(sqlite3 -cmd '.timeout 0' "$D/db" 'INSERT INTO t VALUES (99)' 2>&1 | grep -c locked)" 1
	echo 'INSERT INTO t VALUES (3); COMMIT; SELECT group_concat(x) FROM t;' >&3
	exec 3>&-
	ends "$tree"
	check "the transaction goes on and commits" "$(tail -n 1 "$D/out")" "1,2,3"
	check "a new connection reads what it committed" \
		"$(sqlite3 "$D/db" 'SELECT group_concat(x) FROM t')" "1,2,3"
}

# --- bc, vim and less in a tmux server: their terminals ---
tmux_apps() {
	T="bc, vim and less in tmux"
	local b
	for b in tmux bc vim less; do
		if ! command -v $b >/dev/null; then
			skip "$b is not installed (scripts/deps.sh installs it)"
			return 0
		fi
	done
	D=$W/tmux
	mkdir -p "$D"
	tm() { tmux -S "$D/sock" "$@"; }
	screen() { tm capture-pane -p -t "$1" | grep -v '^$'; }
	seq 1 1000 >"$D/numbers"
	tm new-session -d -s s -x 80 -y 20 'bc -q' || { fail "tmux did not start"; return 0; }
	tree=$(tm display -p '#{pid}')
	started "$tree"
	tm new-window -d -t s -n vim "vim -u NONE -N -n $D/file.txt"
	tm new-window -d -t s -n less "less $D/numbers"
	tm send-keys -t s:0 'x = 6 * 7' Enter 'x' Enter
	tm send-keys -t s:vim 'ihello from vim' Escape
	tm send-keys -t s:less '500g'
	sleep 1
	dump "$D/img" || return 0
	ends "$tree"
	restore "$D/img" || return 0
	tm send-keys -t s:0 'x + 1' Enter
	tm send-keys -t s:vim 'osecond line' Escape ':wq' Enter
	tm send-keys -t s:less 'j'
	sleep 1
	check "bc keeps its variable" "$(screen s:0 | tail -n 1)" 43
	check "less scrolls on from where it was" "$(screen s:less | head -n 1)" 501
	check "vim goes on editing and writes the file" "$(tr '\n' ' ' <"$D/file.txt")" "hello from vim second line "
	if dump "$D/leave" -R; then
		tm send-keys -t s:0 'x + 2' Enter
		sleep 0.5
		check "bc answers after a dump with -R" "$(screen s:0 | tail -n 1)" 44
	fi
	tm kill-server
}

# --- sleep infinity under setsid ---
sleep_app() {
	T="sleep infinity under setsid"
	setsid sleep infinity </dev/null >/dev/null 2>&1 &
	tree=$!
	started "$tree"
	sleep 0.2
	dump "$W/sleep" || return 0
	ends "$tree"
	restore "$W/sleep" || return 0
	check "it sleeps on, a session of its own" \
		"$(ps -o comm=,sid= -p "$tree" | tr -s ' ')" "sleep $tree"
	kill -TERM "$tree"
	if ends "$tree"; then pass "SIGTERM ends it"; else fail "SIGTERM does not end it"; fi
}

go_app
script_apps
sqlite_app
tmux_apps
sleep_app
echo done >"$W/done"
