#!/bin/bash
# migrate.sh - live migration's figures: tests/pages/migrate.sh (two network
# namespaces standing for two hosts, scripts/migrate.sh between them) run
# RUNS times (default 3) on a program writing 50 MB/s over 1 GiB; the
# median downtime (final dump's start to the restored tree running), total
# time, pre-dumps and pages of the final dump, and each run's checks.
#
#   bench/migrate.sh [RUNS]        (make bench-migrate)
# The downtime holds the final dump, the copy of its images and the restore
# of the whole GiB from the chain (what lazy pages would take out of it).
set -u
cd "$(dirname "$0")/.."
runs=${1:-3}
W=/tmp/stasis-migrate-tests
out=bench/results/migrate-latest.txt
mkdir -p bench/results
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
down=() total=() pre=() fin=() fdump=() rst=() fails=0
for r in $(seq "$runs"); do
	MIGRANT_MIB=1024 bash tests/pages/migrate.sh >"$W.run$r.txt" 2>&1
	grep -q '^FAIL' "$W.run$r.txt" && fails=$((fails + 1))
	down+=("$(sed -n 's/^downtime \([0-9]*\) ms/\1/p' "$W/migrate.out")")
	total+=("$(sed -n 's/^total \([0-9]*\) ms/\1/p' "$W/migrate.out")")
	pre+=("$(grep -c '^pre-dump' "$W/migrate.out")")
	fdump+=("$(sed -n 's/^final dump: .* pages, \([0-9]*\) ms/\1/p' "$W/migrate.out")")
	rst+=("$(sed -n 's/^restore: \([0-9]*\) ms.*/\1/p' "$W/migrate.out")")
	fin+=("$(sed -n 's/^final dump: \([0-9]*\) pages.*/\1/p' "$W/migrate.out")")
done
{
	echo "live migration, 1 GiB written at 50 MB/s, two network namespaces, $runs runs ($(date -u +%F\ %H:%M) UTC)"
	echo "  downtime (median): $(printf '%s\n' "${down[@]}" | median) ms   (all: ${down[*]})"
	echo "    of which the final dump (the freeze): $(printf '%s\n' "${fdump[@]}" | median) ms," \
		"the restore: $(printf '%s\n' "${rst[@]}" | median) ms"
	echo "  total (median):    $(printf '%s\n' "${total[@]}" | median) ms"
	echo "  pre-dumps:         ${pre[*]};  final dump pages: ${fin[*]}"
	echo "  runs with a failed check: $fails (logs: $W.runN.txt)"
} | tee "$out"
