#!/bin/bash
# layout.sh - the shape of the source: no include or call cycle between the
# pipelines and the objects (scripts/cycles.py), no file of src/ over 1,000
# lines.  (libcompel's exports are checked by tests/compel/run.sh.)  Prints
# PASS/FAIL lines for tests/run.sh.  Needs a build (build/obj/src).
set -u
cd "$(dirname "$0")/.."

if out=$(python3 scripts/cycles.py src build/obj/src 2>&1); then
	echo "PASS: layout: no include or call cycle in src/"
else
	printf '%s\n' "$out" >&2
	echo "FAIL: layout: cycles in src/: $(printf '%s\n' "$out" | head -1)"
fi

long=$(find src compel parasite restorer nolibc -name '*.[ch]' -print0 2>/dev/null |
       xargs -0 wc -l | awk '$2 != "total" && $1 > 1000 { print $2 " (" $1 ")" }')
if [ -z "$long" ]; then
	echo "PASS: layout: no source file over 1,000 lines"
else
	echo "FAIL: layout: files over 1,000 lines: $(echo $long)"
fi

