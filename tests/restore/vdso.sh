#!/bin/bash
# vdso.sh - the vDSO at restore, run by tests/restore/run.sh:
#  - a program calling the vDSO (through glibc and through pointers it
#    resolves itself) is dumped, its image's vDSO rewritten to another
#    layout than this kernel's (vdso-move.py: a function moves, the code
#    still works), and restored: it must carry on through the proxy with
#    sane answers, [vdso] elsewhere and the proxy r-x at the old address,
#    and the restore's log must say the proxy was built.  (Unaltered, the
#    same program runs in run.sh's loop, where it checks that [vdso] came
#    back at its dumped address.)
#  - CRIU's fixture with its vDSO's ELF header broken is refused with a
#    clear error, and nothing is left running.
set -u
cd "$(dirname "$0")/../.."
FIX=${FIXTURES:-$(cd .. && pwd)/shared/fixtures/criu-4.2}
B=build/tests
W=/tmp/stasis-restore-tests/vdso
rm -rf "$W"
mkdir -p "$W"

pass() { echo "PASS: restore $T: $*"; }
fail() { echo "FAIL: restore $T: $*"; }

T="vDSO of another layout, through the proxy"
if why=$(python3 tests/restore/vdso-move.py --probe); then
	out=$($B/runner --timeout 20 --workdir "$W/proxy" \
		--alter "$PWD/tests/restore/vdso-move.py" "$B/conformance/vdso_calls" proxy)
	said=$(grep -o 'vdso: the image.s vDSO differs.*' "$W/proxy/restore.log")
	case $out in
	PASS:*)
		if [ -n "$said" ]; then
			pass "the program carried on; $said"
		else
			fail "the program passed, but the log does not say the proxy was built"
		fi ;;
	*) fail "$out" ;;
	esac
else
	echo "SKIP: restore $T: $why"
fi

T="refuses a malformed vDSO"
# CRIU's counter-static where this CPU can run it, else run.sh's own dump
# of the same program (CRIU's would be refused for its AVX-512 state first).
. tests/lib/cpu.sh
sc=counter-static
own=/tmp/stasis-restore-tests/own-$sc
if [ -z "$(cpu_lacks_avx512)" ] && "$FIX/stage.sh" $sc >/dev/null 2>&1; then
	cp -a "$FIX/$sc/img" "$W/bad"
elif [ -d "$own" ]; then
	cp -a "$own" "$W/bad"
else
	fail "no image of $sc to break (stage.sh failed, or run.sh made no $own)"
	exit 0
fi
pid=$(build/crit decode -i "$W/bad/pstree.img" | jq -r '.entries[0].pid')
python3 tests/restore/vdso-move.py --break "$W/bad"
out=$(build/stasis restore -D "$W/bad" -d 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "the image's vDSO is not a vDSO this restore can read: no ELF magic" <<<"$out" &&
	[ ! -d /proc/$pid ]; then
	pass "$(grep -m1 'vDSO' <<<"$out")"
else
	fail "exit status $rc, pid $pid $([ -d /proc/$pid ] && echo running || echo gone): $out"
	kill -9 $pid 2>/dev/null
fi
exit 0
