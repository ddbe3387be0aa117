#!/bin/bash
# cgroup.sh - cgroups and --manage-cgroups, run by tests/restore/run.sh.
# tests/conformance/cgroups (a process in a named v1 hierarchy and in v2,
# a thread in a cgroup of its own, an empty cgroup, a mode and v2
# properties; it passes a plain dump and restore in run.sh's loop, where
# every cgroup still exists) is dumped, and:
#  - its cgroups are removed before the restore (cgroup-rmdir.sh): the
#    default mode (soft) makes them again with their mode and properties;
#  - --manage-cgroups=full does the same;
#  - strict refuses cgroups that exist, none refuses missing ones: each
#    restore fails saying so, and leaves nothing running;
#  - a cgroup.img whose paths leave their hierarchy, that names a
#    controller it has no hierarchy for, or a core naming a set it lacks,
#    is refused before anything is made (cgroup-alter.py);
#  - ignore leaves the tree in the restorer's cgroups, --cgroup-root moves
#    it under another path, --cgroup-props-file leaves a property out: the
#    program sees that and says so; a malformed property file fails the dump;
#  - CRIU 4.2 restores stasis's images into the cgroups, and stasis CRIU's
#    (when CRIU 4.2 is there: CRIU_REF, or the one ZDTM builds).
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-restore-tests/cgroup
P=$B/conformance/cgroups
RM=$PWD/tests/restore/cgroup-rmdir.sh
rm -rf "$W"
mkdir -p "$W"

pass() { echo "PASS: restore $T: $*"; }
fail() { echo "FAIL: restore $T: $*"; }

T="cgroups"
out=$($B/runner --timeout 20 --workdir "$W/probe" --no-cr "$P")
case $out in
SKIP:*) echo "SKIP: restore cgroups: ${out#SKIP: }"; exit 0 ;;
esac

# made MODE: cgroups removed after the dump are made again by mode MODE.
made() {
	T="cgroups made again (--manage-cgroups=$1)"
	out=$($B/runner --timeout 20 --workdir "$W/made-$1" --alter "$RM" \
		--restore-opts "--manage-cgroups=$1" "$P")
	if [[ $out == PASS:* ]] && grep -q "cgroup /a/th made" "$W/made-$1/restore.log"; then
		pass "the program found its cgroups, mode and properties"
	else
		fail "$out"
	fi
}
made soft
made full

# refused MODE ALTER PATTERN: the restore in MODE fails saying PATTERN.
refused() {
	local mode=$1 alter=$2 pattern=$3 said extra=()
	T="cgroups refused (--manage-cgroups=$mode)"
	[ "$alter" = yes ] && extra=(--alter "$RM")
	out=$($B/runner --timeout 20 --workdir "$W/refused-$mode" "${extra[@]}" \
		--restore-opts "--manage-cgroups=$mode" "$P")
	said=$(grep -m1 -o "Error: .*" "$W/refused-$mode/restore.log" 2>/dev/null)
	if [[ $out == FAIL:*"restore failed"* ]] && grep -q -- "$pattern" <<<"$said"; then
		pass "$said"
	else
		fail "$out / $said"
	fi
}
refused strict no "exists (--manage-cgroups=strict)"
refused none yes "does not exist (--manage-cgroups=none)"

# broken MODE PATTERN: images broken by cgroup-alter.py MODE are refused saying PATTERN.
broken() {
	local said
	T="cgroups: a broken cgroup.img refused ($1)"
	out=$($B/runner --timeout 20 --workdir "$W/broken-$1" \
		--alter "$PWD/tests/restore/cgroup-alter.py $1" "$P")
	said=$(grep -m1 -o "Error: .*" "$W/broken-$1/restore.log" 2>/dev/null)
	if [[ $out == FAIL:*"restore failed"* ]] && grep -q -- "$2" <<<"$said"; then
		pass "$said"
	else
		fail "$out / $said"
	fi
}
broken escape "name=stasis_cgtest:/a/../../x is not a cgroup of a dumped hierarchy"
broken no-ctl "nosuch:.* is not a cgroup of a dumped hierarchy"
broken dir-escape "directory a/../.. leaves its hierarchy"
broken no-set "its cgroup set 99 is not in cgroup.img"

# moved OPTS PATTERN: restored with OPTS, the program reports PATTERN.
moved() {
	T="cgroups $1"
	out=$($B/runner --timeout 20 --workdir "$W/moved" --restore-opts "$1" "$P")
	if [[ $out == FAIL:* ]] && grep -q -- "$2" <<<"$out"; then
		pass "the program says: $(grep -o -- "$2.*" <<<"$out" | head -c 120)"
	else
		fail "$out"
	fi
}
moved "--manage-cgroups=ignore" "name=stasis_cgtest is /, want /a"
moved "--cgroup-root name=stasis_cgtest:/moved" "name=stasis_cgtest is /moved, want /a"

# --cgroup-props-file: v2's list replaced by max.depth alone, so the
# remade cgroup lacks max.descendants and the program says so; a file it
# cannot parse fails the dump, naming it.
T="cgroups --cgroup-props-file"
printf '"":\n - "strategy": "replace"\n - "properties": ["cgroup.max.depth"]\n' >"$W/props"
out=$($B/runner --timeout 20 --workdir "$W/props-run" --alter "$RM" \
	--dump-opts "--cgroup-props-file $W/props" "$P")
if [[ $out == FAIL:*'cgroup.max.descendants is "max", want 7'* ]] &&
	! grep -q "cgroup.max.depth is" <<<"$out"; then
	pass "only max.depth came back"
else
	fail "$out"
fi
printf '"cpu":\n - "strategy": "sometimes"\n - "properties": ["cpu.shares"]\n' >"$W/props-bad"
out=$($B/runner --timeout 20 --workdir "$W/props-bad-run" \
	--dump-opts "--cgroup-props-file $W/props-bad" "$P")
said=$(grep -m1 -o "Error: .*" "$W/props-bad-run/dump.log" 2>/dev/null)
if [[ $out == FAIL:*"dump failed"* ]] && grep -q "unknown strategy" <<<"$said"; then
	pass "a malformed file: $said"
else
	fail "a malformed file: $out / $said"
fi

# Both ways with CRIU 4.2: the runner is given a stasis that hands its
# restores (then its dumps) to CRIU.
CRIU=${CRIU_REF:-/tmp/zdtm-criu/criu/criu}
# criu_way STEP: CRIU does STEP, stasis the other.
criu_way() {
	T="cgroups: CRIU 4.2 does the $1 of stasis's other half"
	if [ ! -x "$CRIU" ]; then
		echo "SKIP: restore $T: no CRIU 4.2 at $CRIU (CRIU_REF)"
		return
	fi
	printf '#!/bin/sh\n[ "$1" = %s ] && exec %s "$@"\nexec %s "$@"\n' \
		"$1" "$CRIU" "$PWD/build/stasis" >"$W/via-criu-$1"
	chmod +x "$W/via-criu-$1"
	out=$($B/runner --timeout 20 --workdir "$W/criu-$1" --alter "$RM" --stasis "$W/via-criu-$1" \
		--dump-opts "--manage-cgroups" --restore-opts "--manage-cgroups" "$P" 2>&1)
	if [[ $out == PASS:* ]]; then
		pass "the program found its cgroups, mode and properties"
	else
		fail "$out"
	fi
}
criu_way restore
criu_way dump
