# srv-lib.sh - what servers-inner.sh and apps-inner.sh share, sourced
# from the repository root with W (the work directory) and WHAT (the
# label of their PASS/FAIL/SKIP lines, "servers" or "apps") set; T names
# the program under test, D its directory, tree its root's pid.
PY=/usr/bin/python3
SRV=tests/restore/servers.py
pass() { echo "PASS: restore $WHAT, $T: $*" >>"$W/results"; }
fail() { echo "FAIL: restore $WHAT, $T: $*" >>"$W/results"; }
skip() { echo "SKIP: restore $WHAT, $T: $*" >>"$W/results"; }

started=()
# started PID: one more process to kill on the way out.
started() {
	started+=("$1")
	echo "$1" >>"$W/pids"
}
cleanup() {
	local p
	for p in "${started[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
}
trap cleanup EXIT
trap "exit 1" TERM INT

# A port of 127.0.0.1 free now (the kernel's choice, never a fixed number).
free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# hit PATH: one request to the server on $port, on a new connection (as a
# browser's first); its answer.
hit() {
	$PY -c 'import sys, urllib.request as u; print(u.urlopen(sys.argv[1], timeout=5).read().decode().strip())' \
		"http://127.0.0.1:$port/$1" 2>/dev/null
}

# Wait up to 5 s for file $1 to exist and not be empty.
wait_file() {
	local _
	for _ in $(seq 100); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# Is the tree $1 gone (dead, or a zombie not reaped yet)?
gone() {
	local st
	st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ]
}

# Wait up to 5 s for the process $1 to end.
ends() {
	local _
	for _ in $(seq 100); do
		gone "$1" && return 0
		sleep 0.05
	done
	return 1
}

# dump D OPTS...: dump $tree to D; on failure say why, return 1.
dump() {
	local d=$1
	shift
	if build/stasis dump -t "$tree" -D "$d" -o dump.log -v4 "$@" 3>&-; then
		return 0
	fi
	fail "the dump $* failed: $(grep -m1 -i error "$d/dump.log")"
	return 1
}

# restore D OPTS...: restore from D, detached; on failure say why, return 1.
restore() {
	local d=$1
	shift
	if build/stasis restore -D "$d" -d -o restore.log -v4 "$@" 3>&-; then
		return 0
	fi
	fail "the restore failed: $(grep -m1 -i error "$d/restore.log")"
	return 1
}

# check WHAT GOT WANT: one assertion.
check() {
	if [ "$2" = "$3" ]; then
		pass "$1: $2"
	else
		fail "$1: got '$2', want '$3'"
	fi
}

# Wait up to 5 s until the server on port $1 holds no connection (only
# its listening socket), so that a dump without --tcp-established takes it.
quiet() {
	local _
	for _ in $(seq 100); do
		ss -Htan "sport = :$1" | grep -qv -e LISTEN -e TIME-WAIT || return 0
		sleep 0.05
	done
}

# held CMD: CMD to a client holding its connection open, which reads
# commands from the FIFO on fd 3 and writes one line per answer to
# $D/held.out; its answer.
held() {
	local n _
	n=$(wc -l <"$D/held.out")
	echo "$*" >&3
	for _ in $(seq 100); do
		[ "$(wc -l <"$D/held.out")" -gt "$n" ] && break
		sleep 0.05
	done
	sed -n "$((n + 1))p" "$D/held.out"
}

# A client holding one keep-alive connection: hold PORT DIR PATH...
hold() {
	local d=$2
	mkdir -p "$d"
	$PY $SRV hold "$@" </dev/null >/dev/null 2>"$d/err" &
	started "$!"
}
# The answer to the holder's request N in DIR, once it came.
answer() {
	[ "$2" -gt 0 ] && touch "$1/go.$2"
	wait_file "$1/answer.$2" && cat "$1/answer.$2"
}


