# lib.sh - what the dump test scripts share.  Source it from the repository
# root; set T, the label every PASS/FAIL line of the script carries.

B=$PWD/build

. tests/lib/common.sh

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

# build_prog SOURCE OUTPUT [FLAGS...]: compile a test program; FAIL and stop if it does not build.
build_prog() {
	mkdir -p "$(dirname "$2")"
	if ! ${CC:-cc} -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$2" "$1" "${@:3}"; then
		fail "cannot build $(basename "$2")"
		exit 0
	fi
}

# The test programs write their state to DIR/state: "ready" once set up,
# then, after SIGUSR2 (or SIGTERM), "OK" or what they found wrong.

# wait_ready DIR: wait up to 5 s for "ready"; true once it is there.
wait_ready() {
	local i
	for i in $(seq 100); do
		[ "$(cat "$1/state" 2>/dev/null)" = ready ] && return 0
		sleep 0.05
	done
	return 1
}

# ask_verdict DIR PID: SIGUSR2 to PID, wait up to 5 s for its verdict, print it.
ask_verdict() {
	local i
	kill -USR2 "$2" 2>/dev/null
	for i in $(seq 100); do
		[ "$(cat "$1/state" 2>/dev/null)" != ready ] && break
		sleep 0.05
	done
	cat "$1/state" 2>/dev/null
}

# dec IMAGE: the image as JSON (plain values), nothing when it does not decode.
dec() { "$B/crit" decode -i "$1" 2>/dev/null; }
