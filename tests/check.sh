#!/bin/bash
# check.sh - `stasis check` against CRIU 4.2's interface and the machine:
#  - every feature name CRIU 4.2 knows is known (status 0 or 1, never
#    "Unknown feature"), and "NAME is supported" comes exactly with 0;
#  - an unknown name gets CRIU's error and status 1, whatever -v says;
#  - features whose truth this machine can show another way (using the
#    interface for real, or /proc) get that answer;
#  - plain check, --extra, --experimental and --all end with CRIU's lines
#    and statuses, and leave no process, mount or network link behind.
set -u
cd "$(dirname "$0")/.."
S=build/stasis
P=build/tests/check-probe
T=check

pass() { echo "PASS: $T: $*"; }
fail() { echo "FAIL: $T: $*"; }

for tool in $S $P; do
	[ -x $tool ] || { fail "$tool is not built"; exit 0; }
done

# CRIU 4.2's names (criu/cr-check.c), in its order.
CRIU_FEATURES="mnt_id mem_dirty_track aio_remap timerfd tun tun_ns userns fdinfo_lock
seccomp_suspend seccomp_filters loginuid cgroupns autofs tcp_half_closed compat_cr uffd
uffd-noncoop can_map_vdso sk_ns sk_unix_file net_diag_raw nsid link_nsid kcmp_epoll timens
external_net_ns clone3_set_tid newifindex nftables has_ipt_legacy pidfd_store ns_pid
apparmor_stacking network_lock_nftables sockopt_buf_lock memfd_hugetlb move_mount_set_group
openat2 get_rseq_conf ipv6_freebind pagemap_scan timer_cr_ids overlayfs_maps breakpoints
pagemap_scan_guard_pages"

out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# ask ARGS...: run stasis check under a subreaper; $rc, $out, $err, $orphans.
ask() {
	$P run $S check --no-default-config "$@" >"$out" 2>"$err"
	rc=$?
	orphans=$(sed -n 's/^orphans: //p' "$err")
}

# --- every name is known, and the answer is consistent --------------------
declare -A answer
bad=""
for f in $CRIU_FEATURES; do
	ask --feature "$f"
	if grep -q "Unknown feature" "$err" || { [ $rc -ne 0 ] && [ $rc -ne 1 ]; }; then
		bad="$bad $f(status $rc)"
	elif [ $rc -eq 0 ] && [ "$(cat "$out")" != "$f is supported" ]; then
		bad="$bad $f(status 0 without 'is supported')"
	elif [ $rc -eq 1 ] && grep -q "is supported" "$out"; then
		bad="$bad $f(status 1 with 'is supported')"
	elif [ "$orphans" != 0 ]; then
		bad="$bad $f(left $orphans processes)"
	fi
	answer[$f]=$rc
done
if [ -z "$bad" ]; then
	pass "all $(echo $CRIU_FEATURES | wc -w) CRIU 4.2 feature names are known and answered"
else
	fail "feature answers:$bad"
fi

ask --feature list
if [ $rc -eq 0 ] && [ "$(cat "$out")" = "$(echo $CRIU_FEATURES)" ]; then
	pass "--feature list names CRIU 4.2's features in its order"
else
	fail "--feature list: status $rc, '$(head -c 200 "$out")'"
fi

# --- an unknown name ---------------------------------------------------------
for v in "" -v0 -verbosity=0; do
	ask $v --feature no_such_feature
	if [ $rc -eq 1 ] && [ ! -s "$out" ] && grep -q "Error.*Unknown feature no_such_feature" "$err"; then
		pass "unknown feature ${v:+($v) }is CRIU's error with status 1"
	else
		fail "unknown feature ${v:+($v) }: status $rc, stderr '$(head -c 200 "$err")'"
	fi
done

# --- answers the machine shows another way ------------------------------------
# same NAME TRUTH: TRUTH 0 (has it) or 1 (has not) must be stasis's answer.
same() {
	local name=$1 truth=$2 said=${answer[$1]}
	if [ "$truth" -eq "$said" ]; then
		pass "$name: the machine says $truth, stasis says $said"
	else
		fail "$name: the machine says $truth, stasis says $said"
	fi
}
for f in openat2 pagemap_scan clone3_set_tid uffd; do
	$P "$f"
	truth=$?
	if [ $truth -le 1 ]; then
		same "$f" $truth
	else
		echo "SKIP: $T: $f: the probe cannot tell on this machine"
	fi
done
have() { if "$@" 2>/dev/null; then echo 0; else echo 1; fi; }
same timens "$(have test -e /proc/self/ns/time)"
same cgroupns "$(have test -e /proc/self/ns/cgroup)"
same ns_pid "$(have grep -q '^NSpid:' /proc/self/status)"
same mnt_id "$(grep -q '^mnt_id:' /proc/self/fdinfo/3 3</ && echo 0 || echo 1)"
same memfd_hugetlb "$(have grep -qw hugetlbfs /proc/filesystems)"
lockf=$(mktemp)
exec {lfd}<"$lockf"
flock -s $lfd
same fdinfo_lock "$(have grep -q '^lock:' /proc/$BASHPID/fdinfo/$lfd)"
exec {lfd}<&-
rm -f "$lockf"

# --- the whole check ------------------------------------------------------
ask
last=$(tail -n 1 "$out")
if { [ $rc -eq 0 ] && [ "$last" = "Looks good." ]; } ||
   { [ $rc -eq 1 ] && grep -q "Warn.*Does not look good." "$err"; }; then
	pass "check ends as CRIU's (status $rc: ${last:-Does not look good.})"
else
	fail "check: status $rc, last line '$last'"
fi
base=$rc

maybe="Looks good but some kernel features are missing
which, depending on your process tree, may cause
dump or restore failure."
# whole OPTION FEATURES: a feature of the category that says no means the
# three "Looks good but" lines and status 1; all yes allows either ending.
whole() {
	local opt=$1 f no=""
	shift
	for f in "$@"; do
		[ "${answer[$f]}" -ne 0 ] && no="$no $f"
	done
	ask "$opt"
	if [ "$base" -ne 0 ]; then
		[ $rc -eq 1 ] && pass "check $opt stops where check does" ||
			fail "check $opt: status $rc after check failed"
	elif [ -n "$no" ] && { [ $rc -ne 1 ] || [ "$(cat "$out")" != "$maybe" ]; }; then
		fail "check $opt: status $rc although$no said no; '$(head -c 100 "$out")'"
	elif [ -z "$no" ] && ! { [ $rc -eq 0 ] && [ "$(cat "$out")" = "Looks good." ]; } &&
	     ! { [ $rc -eq 1 ] && [ "$(cat "$out")" = "$maybe" ]; }; then
		fail "check $opt: status $rc, '$(head -c 100 "$out")'"
	elif [ "$orphans" != 0 ]; then
		fail "check $opt left $orphans processes behind"
	else
		pass "check $opt ends as CRIU's (status $rc${no:+; no:$no})"
	fi
}
EXTRA="seccomp_suspend seccomp_filters mem_dirty_track timerfd mnt_id aio_remap fdinfo_lock
cgroupns tcp_half_closed userns loginuid can_map_vdso uffd uffd-noncoop sk_ns kcmp_epoll
net_diag_raw clone3_set_tid timens newifindex pidfd_store ns_pid network_lock_nftables
sockopt_buf_lock memfd_hugetlb move_mount_set_group openat2 get_rseq_conf ipv6_freebind
pagemap_scan overlayfs_maps timer_cr_ids pagemap_scan_guard_pages"
EXPERIMENTAL="autofs compat_cr"
whole --extra $EXTRA
whole --experimental $EXPERIMENTAL
whole --all $EXTRA $EXPERIMENTAL

# The probes mount and make links only in namespaces of their own.
left=$(grep ' stasis-check ' /proc/self/mountinfo; ip -o link 2>/dev/null | grep -E ': stasis[01][@:]')
if [ -z "$left" ]; then
	pass "the probes leave no mount or network link here"
else
	fail "left behind: $left"
fi
