#!/bin/bash
# run.sh - the whole test suite.  Every part prints "PASS: what",
# "FAIL: what: why" or "SKIP: what: why" lines (a skip always says why:
# what this machine lacks); this script runs them all, keeps a log in
# build/test.log, and ends with the line "N passed, N failed, N skipped".
# Exit status 0 only when nothing failed.
#
# Environment: FIXTURES (CRIU 4.2 fixtures), FUZZ_SECONDS (per fuzz target,
# 0 to skip fuzzing).
set -u
cd "$(dirname "$0")/.."
FIXTURES=${FIXTURES:-$(cd .. && pwd)/shared/fixtures/criu-4.2}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
LOG=build/test.log
: >"$LOG"

passed=0
failed=0
skipped=0

# part NAME CMD...: run one part, echo its lines, count them.  A part that
# fails without saying what failed counts as one failure.
part() {
	local name=$1 out rc p f s
	shift
	echo "== $name" | tee -a "$LOG"
	out=$("$@" 2>>"$LOG")
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | tee -a "$LOG"
	p=$(printf '%s\n' "$out" | grep -c '^PASS:')
	f=$(printf '%s\n' "$out" | grep -c '^FAIL:')
	s=$(printf '%s\n' "$out" | grep -c '^SKIP:')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name: exited with status $rc (see $LOG)" | tee -a "$LOG"
		f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
		echo "FAIL: $name: ran no test" | tee -a "$LOG"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

if [ ! -d "$FIXTURES" ]; then
	echo "FAIL: fixtures: $FIXTURES not found (../shared must be beside the checkout)"
	failed=$((failed + 1))
fi

part "layout: no include or call cycle, no file over 1,000 lines" bash tests/layout.sh
part "image layer unit tests" build/tests/test_image
part "vDSO reader and proxy unit tests" build/tests/test_vdso
part "CRIU 4.2 fixtures: decode as crit, re-encode byte-exact" build/tests/test_fixtures "$FIXTURES"
part "bad input to the image tool" bash tests/bad-input.sh build/crit "$FIXTURES"
part "stasis check: CRIU 4.2's features, answers and endings" bash tests/check.sh
part "conformance programs, no checkpoint (the baseline)" bash tests/conformance/run.sh
part "libcompel: victims, faults, pages" bash tests/compel/run.sh
part "libsoccr: a TCP connection in each state, saved and restored" bash tests/soccr/run.sh
part "dump" bash tests/dump/run.sh
part "restore" bash tests/restore/run.sh
part "pages: page server, both ways with CRIU 4.2" bash tests/pages/run.sh
part "pages over TLS: --tls both ways with CRIU 4.2, bad certificates refused" bash tests/pages/tls.sh
part "lazy pages: restore --lazy-pages, daemons both ways with CRIU 4.2" bash tests/pages/lazy.sh
part "live migration between two network namespaces" bash tests/pages/migrate.sh
part "cpuinfo: dump, check, refused restores" bash tests/dump/cpuinfo.sh
part "RPC: swrk, service, notifications, --action-script" bash tests/rpc/run.sh
part "runc: a container checkpointed and restored with stasis as its criu" bash tests/runc/run.sh
part "podman: a container checkpointed, restored, exported and imported" bash tests/podman/run.sh
if [ "$FUZZ_SECONDS" -gt 0 ]; then
	part "fuzzing" bash tests/fuzz.sh "$FUZZ_SECONDS" "$FIXTURES"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
