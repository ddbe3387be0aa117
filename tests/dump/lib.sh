# lib.sh - what the dump test scripts share.  Source it from the repository
# root; set T, the label every PASS/FAIL line of the script carries.

B=$PWD/build

pass() { echo "PASS: $T: $*"; }
fail() { echo "FAIL: $T: $*"; }

# check WHAT COND...: PASS or FAIL on the status of COND.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# need_tools PATH...: each must be built, and jq installed; else FAIL and stop.
need_tools() {
	local tool
	for tool in "$@"; do
		if [ ! -x "$tool" ]; then
			fail "$tool is not built"
			exit 0
		fi
	done
	if ! command -v jq >/dev/null; then
		fail "jq is not installed"
		exit 0
	fi
}

# build_prog SOURCE OUTPUT: compile a test program; FAIL and stop if it does not build.
build_prog() {
	mkdir -p "$(dirname "$2")"
	if ! ${CC:-cc} -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$2" "$1"; then
		fail "cannot build $(basename "$2")"
		exit 0
	fi
}
