#!/bin/bash
# chain.sh - incremental dumps (tests/dump/run.sh): pre-dumps and dumps
# with --prev-images-dir of a program that changes its memory between
# them (conformance/mem_chain.c, driven by tests/dump/chain-step.sh):
#  - after a restore every page holds what the latest dump saw;
#  - the later dumps hold only what changed, and point to their parent
#    for the rest (PE_PARENT entries, the `parent` link), as CRIU's chain;
#  - the images decode with Debian's crit;
#  - a chain whose tracking was lost falls back to taking every page;
#  - the process that keeps the tracking is gone once the program is.
set -u
cd "$(dirname "$0")/../.."
. tests/dump/lib.sh
T="chain"
R=build/tests/runner
W=/tmp/stasis-chain-tests
rm -rf "$W"

# parents FILE: how many pagemap entries point to the parent.
parents() { dec "$1" | jq '[.entries[] | select(.flags != null and (.flags % 2) == 1)] | length'; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
skipped() { dec "$1/stats-dump" | jq '.entries[0].dump.pages_skipped_parent // 0'; }

for mode in pre snaps lost; do
	d=$W/$mode
	$R --between "tests/dump/chain-step.sh $mode $d" --then-cr \
		--dump-opts "--prev-images-dir ../pre2" --workdir "$d" \
		build/tests/conformance/mem_chain | sed -u "s/^\(PASS\|FAIL\|SKIP\): /\1: $T $mode: /"
	[ -d "$d/img" ] || continue
	pid=$(cd "$d/pre1" && ls pagemap-*.img | head -n 1 | tr -dc 0-9)
	p1=$(size "$d/pre1/pages-1.img") p2=$(size "$d/pre2/pages-1.img")
	fin=$(size "$d/img/pages-1.img")
	check "$mode: the second dump holds only what changed ($p2 of $p1 bytes)" \
		test "$p2" -gt 0 -a $((p2 * 2)) -lt "$p1"
	check "$mode: its pagemap points to the parent" test "$(parents "$d/pre2/pagemap-$pid.img")" -gt 0
	check "$mode: the parent links are CRIU's" \
		test "$(readlink "$d/pre2/parent")" = ../pre1 -a "$(readlink "$d/img/parent")" = ../pre2
	if [ "$mode" = lost ]; then
		check "lost: the final dump takes every page when the tracking is gone" \
			test "$(parents "$d/img/pagemap-$pid.img")" -eq 0 -a "$(skipped "$d/img")" -eq 0
	else
		check "$mode: the final dump holds only what changed" \
			test "$(parents "$d/img/pagemap-$pid.img")" -gt 0 -a $((fin * 2)) -lt "$p1" \
			-a "$(skipped "$d/img")" -gt 0
	fi
	bad=""
	for f in "$d"/pre2/*.img "$d"/img/pagemap-*.img "$d"/img/inventory.img; do
		case $f in */pages-*) continue ;; esac
		crit decode -i "$f" >/dev/null 2>&1 || bad="$bad $(basename "$f")"
	done
	check "$mode: Debian's crit decodes the chain's images${bad:+ (not:$bad)}" test -z "$bad"
	read -r _ holder _ <"$d/pre2/stasis-track" 2>/dev/null
	check "$mode: the tracking's holder is gone with the program" \
		test -n "${holder:-}" -a ! -d "/proc/${holder:-0}"
done
