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
