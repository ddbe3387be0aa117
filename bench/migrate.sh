#!/bin/bash
# migrate.sh - live migration's figures: tests/pages/migrate.sh (two network
# namespaces standing for two hosts, scripts/migrate.sh between them) run
# RUNS times (default 3) on a program writing 50 MB/s over 1 GiB, moved
# there with a plain restore and back with a lazy one (restore --lazy-pages);
# for each, the median downtime (final dump's start to the restored tree
# running), its parts, the total time, pre-dumps and pages of the final
# dump, and each run's checks.
#
#   bench/migrate.sh [RUNS]        (make bench-migrate)
# The plain downtime holds the restore of the whole GiB from the chain; the
# lazy one does not (the daemon fills it while the tree runs).  Both hold
# the wait for the killed source to free its GiB and its pid, which only a
# migration within one host has: "without pid wait" is the figure for two.
set -u
cd "$(dirname "$0")/.."
runs=${1:-3}
W=/tmp/stasis-migrate-tests
out=bench/results/migrate-latest.txt
mkdir -p bench/results
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
# field MODE SED-EXPRESSION: one value from that mode's report.
field() { sed -n "$2" "$W/migrate-$1.out" 2>/dev/null; }
declare -A down nowait total pre fin fdump rst pidw
fails=0
for r in $(seq "$runs"); do
	MIGRANT_MIB=1024 bash tests/pages/migrate.sh >"$W.run$r.txt" 2>&1
	grep -q '^FAIL' "$W.run$r.txt" && fails=$((fails + 1))
	for m in plain lazy; do
		d=$(field $m 's/^downtime \([0-9]*\) ms/\1/p')
		w=$(field $m 's/^pid wait \([0-9]*\) ms/\1/p')
		down[$m]+="$d "
		nowait[$m]+="$((${d:-0} - ${w:-0})) "
		pidw[$m]+="$w "
		total[$m]+="$(field $m 's/^total \([0-9]*\) ms/\1/p') "
		pre[$m]+="$(grep -c '^pre-dump' "$W/migrate-$m.out" 2>/dev/null) "
		fdump[$m]+="$(field $m 's/^final dump: .* pages, \([0-9]*\) ms/\1/p') "
		fin[$m]+="$(field $m 's/^final dump: \([0-9]*\) pages.*/\1/p') "
		rst[$m]+="$(field $m 's/^restore: \([0-9]*\) ms.*/\1/p') "
	done
done
med() { printf '%s\n' $1 | median; }
{
	echo "live migration, 1 GiB written at 50 MB/s, two network namespaces, $runs runs" \
		"($(date -u +%F\ %H:%M) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
	for m in plain lazy; do
		echo "  $m restore:"
		echo "    downtime (median): $(med "${down[$m]}") ms   (all: ${down[$m]% })"
		echo "    without pid wait:  $(med "${nowait[$m]}") ms   (all: ${nowait[$m]% })"
		echo "      the final dump until the pids are free (the freeze and the kill)" \
			"$(med "${fdump[$m]}") ms, pid wait $(med "${pidw[$m]}") ms," \
			"the restore (images sent first) $(med "${rst[$m]}") ms"
		echo "    total (median):    $(med "${total[$m]}") ms"
		echo "    pre-dumps:         ${pre[$m]% };  final dump pages: ${fin[$m]% }"
	done
	echo "  runs with a failed check: $fails (logs: $W.runN.txt)"
} | tee "$out"
