#!/bin/bash
# chain-step.sh WORKDIR PID - the runner's between-step of the chain test
# (tests/dump/chain.sh): pre-dump mem_chain, move it to phase 1, pre-dump
# again on the first, move it to phase 2.  The runner then dumps with
# --prev-images-dir ../pre2 and restores.
set -u
cd "$(dirname "$0")/../.."
W=$1 PID=$2

# phase N: SIGUSR1, then wait up to 5 s for the program to say it is done.
phase() {
	local i
	kill -USR1 "$PID" || return 1
	for i in $(seq 100); do
		[ "$(cat /proc/"$PID"/comm 2>/dev/null)" = "chain-$1" ] && return 0
		sleep 0.05
	done
	echo "mem_chain did not reach phase $1" >&2
	return 1
}

rm -rf "$W/pre1" "$W/pre2"
build/stasis pre-dump -t "$PID" -D "$W/pre1" -v4 -o pre-dump.log || exit 1
phase 1 || exit 1
build/stasis pre-dump -t "$PID" -D "$W/pre2" --prev-images-dir ../pre1 -v4 -o pre-dump.log ||
	exit 1
phase 2
