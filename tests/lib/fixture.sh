# fixture.sh - staging CRIU 4.2's fixtures (../shared/fixtures/criu-4.2)
# for a test.  Source it after setting FIX; the caller's pass/fail/skip
# print the verdict.
#
# The fixtures' images name fixed PIDs.  On a machine whose pid_max is
# small the kernel hands them to its own threads too (a kworker lives for
# minutes), and then no restore, CRIU's either, can have them: that is a
# fact of the machine at that moment, told as a skip.  A PID held by a
# process of user space, a test's leftover most likely, is a failure.

# fixture_holder PID: "NAME (a kernel thread)" or "NAME (ppid P: CMDLINE)".
fixture_holder() {
	local comm ppid
	comm=$(cat /proc/"$1"/comm 2>/dev/null) || return 1
	ppid=$(awk '/^PPid:/ { print $2 }' /proc/"$1"/status 2>/dev/null)
	if [ "$1" = 2 ] || [ "$ppid" = 2 ]; then
		echo "$comm (a kernel thread)"
	else
		echo "$comm (ppid $ppid: $(tr '\0' ' ' </proc/"$1"/cmdline 2>/dev/null | cut -c1-80))"
	fi
}

# fixture_stage SC OUT: stage SC with stage.sh, its output in OUT.  0 when
# staged and every check passed; 1 with a FAIL naming what stage.sh warned
# of; 2 with a SKIP when only kernel threads hold PIDs the images need.
# A PID held in user space gets 10 s to come free (a test's tree being
# reaped) before it counts.
fixture_stage() {
	local sc=$1 out=$2 pid holder kthreads= users= tries
	for tries in $(seq 20); do
		"$FIX/stage.sh" "$sc" >"$out" 2>&1 && return 0
		grep -q "WARNING: PID .* is in use" "$out" || break
		grep -q "WARNING:" <(grep -v "WARNING: PID .* is in use" "$out") && break
		kthreads= users=
		for pid in $(sed -n 's/.*WARNING: PID \([0-9]*\) is in use.*/\1/p' "$out"); do
			holder=$(fixture_holder "$pid") || continue
			case $holder in
			*"(a kernel thread)") kthreads="$kthreads PID $pid is $holder;" ;;
			*) users="$users PID $pid is $holder;" ;;
			esac
		done
		if [ -z "$users" ] && [ -n "$kthreads" ]; then
			skip "the images need PIDs this kernel holds:$kthreads"
			return 2
		fi
		sleep 0.5
	done
	if grep -q "WARNING:" "$out"; then
		fail "stage.sh:$(sed -n 's/.*WARNING: / /p' "$out" | tr '\n' ';')${users:+ now:$users}"
	else
		fail "stage.sh: $(tail -n 1 "$out")"
	fi
	return 1
}
