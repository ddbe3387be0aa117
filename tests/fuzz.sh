#!/bin/bash
# fuzz.sh SECONDS FIXTURES_DIR - run each fuzz target for SECONDS, seeded from
# the fixture images (and their JSON), and report PASS when nothing crashed.
set -u
SECS=$1
FIX=$2
B=build
W=$B/fuzz/work
rm -rf "$W"
mkdir -p "$W/seed-image" "$W/seed-json" "$W/corpus-image" "$W/corpus-json" \
	"$W/seed-vdso" "$W/corpus-vdso"

for f in "$FIX"/*/img/*; do
	n=$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")
	# Page data is large and all alike; the readers' logic lives in the rest.
	[ "$(stat -c %s "$f")" -le 65536 ] && cp "$f" "$W/seed-image/$n"
	$B/crit decode -i "$f" -o "$W/seed-json/$n.json" 2>/dev/null
	$B/crit decode --pretty -i "$f" -o "$W/seed-json/$n.pretty.json" 2>/dev/null
done

run() {
	local name=$1 corpus=$2 seeds=$3
	local log=$W/$name.log
	if $B/fuzz/$name -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -artifact_prefix="$W/$name-" "$corpus" "$seeds" >"$log" 2>&1; then
		echo "PASS: fuzz $name for ${SECS}s ($(grep -o 'Done [0-9]* runs' "$log" | tail -1))"
	else
		echo "FAIL: fuzz $name: crashed, see $log: $(grep -m1 -E 'ERROR|SUMMARY' "$log")"
	fi
}

# The vDSO reader starts from this kernel's vDSO, whatever it is.
python3 - "$W/seed-vdso/here" <<'PY'
import sys
for line in open("/proc/self/maps"):
    if line.rstrip().endswith("[vdso]"):
        s, e = (int(x, 16) for x in line.split()[0].split("-"))
        with open("/proc/self/mem", "rb") as m:
            m.seek(s)
            open(sys.argv[1], "wb").write(m.read(e - s))
PY

run fuzz_image "$W/corpus-image" "$W/seed-image"
run fuzz_vdso "$W/corpus-vdso" "$W/seed-vdso"
run fuzz_json "$W/corpus-json" "$W/seed-json"
