# common.sh - what the shell test scripts share.  Source it from the
# repository root after setting T, the label every PASS/FAIL line carries.

pass() { echo "PASS: $T: $*"; }
fail() { echo "FAIL: $T: $*"; }
skip() { echo "SKIP: $T: $*"; }	# always with why

# check WHAT COND...: PASS or FAIL on the status of COND.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# wait_for FILE PATTERN SECONDS: until FILE has a line matching PATTERN.
wait_for() {
	for _ in $(seq $(($3 * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# grows READER [ARGS...]: the number READER ARGS prints grows within 5 s
# (a program that counts is running); false if it never does.
grows() {
	local a b
	a=$("$@")
	for _ in $(seq 25); do
		sleep 0.2
		b=$("$@")
		[ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ] && return 0
		[ -z "$a" ] && a=$b
	done
	return 1
}

# fds_close: this shell drops every fd above 2 it inherited (the test
# lock's among them), so the programs it starts hold none of them.
fds_close() {
	local fd
	for fd in $(ls /proc/$$/fd); do
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done 2>/dev/null
}

# images_dir ARGS...: the directory a stasis command line gives with -D.
images_dir() {
	local prev= a
	for a in "$@"; do
		[ "$prev" = -D ] && echo "$a" && return 0
		prev=$a
	done
	return 1
}
