#!/bin/bash
# chain-step.sh MODE WORKDIR PID - the runner's between-step of the chain
# tests (tests/dump/chain.sh) on mem_chain: two dumps that leave it running
# and track its memory, the second on the first, with a phase of changes
# after each.  The runner then dumps it with --prev-images-dir ../pre2 and
# restores it.  MODE:
#   pre     pre-dump, then pre-dump --prev-images-dir ../pre1
#   snaps   the same with dump -R --track-mem (zdtm's --snaps)
#   lost    as pre, then the holder of the tracking is killed: the final
#           dump must find the tracking gone and take every page
set -u
cd "$(dirname "$0")/../.."
MODE=$1 W=$2 PID=$3

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

case $MODE in
snaps) first="dump -R --track-mem" ;;
*) first="pre-dump" ;;
esac
rm -rf "$W/pre1" "$W/pre2"
# shellcheck disable=SC2086 # $first is two words on purpose
build/stasis $first -t "$PID" -D "$W/pre1" -v4 -o pre-dump.log || exit 1
phase 1 || exit 1
# shellcheck disable=SC2086
build/stasis $first -t "$PID" -D "$W/pre2" --prev-images-dir ../pre1 -v4 -o pre-dump.log ||
	exit 1
phase 2 || exit 1
if [ "$MODE" = lost ]; then
	read -r _ holder _ <"$W/pre2/stasis-track" || exit 1
	kill -KILL "$holder" || exit 1
	# Gone, or a zombie until the runner (its subreaper) reaps it.
	while [ -e /proc/"$holder" ] && [ "$(awk '{print $3}' /proc/"$holder"/stat 2>/dev/null)" != Z ]; do
		sleep 0.01
	done
fi
exit 0
