#!/bin/bash
# fixtures.sh FIXTURES_DIR - dump the programs CRIU 4.2 dumped for the
# fixtures, built from their sources and run at the same paths, and compare
# stasis's images with CRIU's (tests/dump/imgcmp.c says what "equivalent"
# means).  Every image also has to decode with Debian's crit (CRIU 3.17)
# when it is installed.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/cpu.sh
FIX=$1
B=build
W=$B/fixtures
rm -rf "$W"
mkdir -p "$W"

build() {
	local sc=$1 d=$W/$1
	cp -r "$FIX/$sc/src" "$d"
	make -s -C "$d" >"$d/build.log" 2>&1
}

run_one() {
	local sc=$1 dir=/tmp/stasis-fixtures/$1 img=$W/$1-img pid
	mkdir -p "$dir"
	cp "$W/$sc/$sc" "$dir/$sc"
	rm -f "$dir/$sc.log"
	local own=""
	[ "$sc" = tree ] && own=-S	# it makes its own session
	$B/tests/spawn "$W/$sc.pid" -C "$dir" $own -- "$dir/$sc" "$dir/$sc.log" &
	local spawner=$!
	sleep 1.5
	pid=$(cat "$W/$sc.pid")
	if ! $B/stasis dump -t "$pid" -D "$img" -v4 -o dump.log; then
		echo "FAIL: dump like CRIU: $sc: stasis dump failed: $(grep -m1 Error "$img/dump.log")"
		kill "$spawner"
		wait "$spawner"
		return
	fi
	wait "$spawner"
	$B/tests/imgcmp "$FIX/$sc/img" "$img" | sed "s/^\(PASS\|FAIL\): dump like CRIU: /\1: dump like CRIU: $sc: /"
	if command -v crit >/dev/null; then
		local bad=""
		for f in "$img"/*.img "$img"/stats-dump; do
			case $f in */pages-*) continue ;; esac
			crit decode -i "$f" >/dev/null 2>&1 || bad="$bad $(basename "$f")"
		done
		if [ -z "$bad" ]; then
			echo "PASS: dump like CRIU: $sc: Debian's crit decodes every image"
		else
			echo "FAIL: dump like CRIU: $sc: Debian's crit cannot decode:$bad"
		fi
	fi
}

for sc in counter-static threads-dynamic tree fpu; do
	lacks=$(cpu_lacks_avx512)
	if [ "$sc" = fpu ] && [ -n "$lacks" ]; then
		echo "SKIP: dump like CRIU: fpu: its program runs AVX-512 code; this CPU lacks $lacks"
	elif build "$sc"; then
		run_one "$sc"
	else
		echo "FAIL: dump like CRIU: $sc: cannot build its source (see $W/$sc/build.log)"
	fi
done
