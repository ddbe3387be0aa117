# refused.sh - what aio.sh, inet.sh and sockets.sh share: a conformance
# program dumped by the runner, its images broken by an alter script before
# the restore, and the restore's first error checked.  Source it from the
# repository root after setting W (the work directory) and ALTER (the alter
# script, run with the mode as its argument).

B=build/tests
pass() { echo "PASS: restore $T: $*"; }
fail() { echo "FAIL: restore $T: $*"; }

# refused_as PROGRAM MODE PATTERN [RUNNER-OPT...]: the restore of PROGRAM's
# images broken by MODE fails, its first error saying PATTERN.  T names it.
refused_as() {
	local prog=$1 mode=$2 pattern=$3 out said
	out=$($B/runner --timeout 20 --workdir "$W/$mode" "${@:4}" \
		--alter "$PWD/$ALTER $mode" "$B/conformance/$prog")
	said=$(grep -m1 -o "Error: .*" "$W/$mode/restore.log" 2>/dev/null)
	case $out in
	FAIL:*"restore failed"*)
		if grep -q -- "$pattern" <<<"$said"; then
			pass "$said"
		else
			fail "the first error does not say '$pattern': $said"
		fi ;;
	*) fail "the restore did not fail: $out" ;;
	esac
}
