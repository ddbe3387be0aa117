#!/bin/bash
# cpuinfo.sh - cpuinfo.img, written as CRIU 4.2 writes it and checked as
# CRIU's --cpu-cap checks it:
#  - a dump writes it (none with --cpu-cap=none); stasis-crit and Debian's
#    crit decode it; its values are what this CPU says now (CPUID read by
#    tests/dump/cpuid.c, and /proc/cpuinfo);
#  - `stasis cpuinfo dump|check` write it and check it;
#  - a restore of an image whose cpuinfo.img claims an xsave feature this
#    CPU lacks is refused, naming it, before any task exists; with
#    --cpu-cap=none the same image restores and runs on; wrong xsave sizes
#    and missing instruction sets are refused too;
#  - registers holding xsave state this kernel has not enabled (XCR0) are
#    refused before any task exists, whatever --cpu-cap says;
#  - CRIU's fixtures (no cpuinfo.img) are restored or refused by what their
#    registers need and this CPU has, never for the missing cpuinfo.img.
# Restores use the fixtures' PIDs: run it under /tmp/stasis-test.lock.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/dump/lib.sh
FIX=${FIXTURES:-$(cd .. && pwd)/shared/fixtures/criu-4.2}
. tests/lib/fixture.sh
W=$B/cpuinfo-test
CPUID=$B/tests/cpuid
T="cpuinfo"
rm -rf "$W"
mkdir -p "$W/run"

need_tools "$B/stasis" "$B/crit" "$B/tests/spawn"
build_prog tests/dump/cpuid.c "$CPUID"

# --- what this CPU says, now ---
reg() { "$CPUID" "$1" "$2" | cut -d' ' -f"$3"; }	# reg LEAF SUB N (1=eax .. 4=edx)
bit() { echo $((($1 >> $2) & 1)); }
max=$(reg 0 0 1)
ext=$(reg 0x80000000 0 1)
l1c=$(reg 1 0 3) l1d=$(reg 1 0 4)
l7b=0 l7c=0 l7d=0 l6a=0 ld1a=0
[ "$max" -ge 6 ] && l6a=$(reg 6 0 1)
[ "$max" -ge 7 ] && { l7b=$(reg 7 0 2); l7c=$(reg 7 0 3); l7d=$(reg 7 0 4); }
[ "$max" -ge 13 ] && ld1a=$(reg 0xd 1 1)
xcr0=$("$CPUID" xcr0)
cpuinfo_field() { grep -m1 "^$1[[:space:]]*:" /proc/cpuinfo | sed 's/^[^:]*: *//; s/ *$//'; }
# CPUID's brand string (leaves 0x80000002 to 4, up to its first NUL), which
# CRIU records as the model name, Intel's leading blanks left out; empty on a
# CPU without those leaves.  /proc/cpuinfo may show another name (a
# hypervisor's kernel can), so it is not the reference.
brand_string() {
	local leaf r v i c s=""
	[ "$ext" -ge $((0x80000004)) ] || return 0
	for leaf in 0x80000002 0x80000003 0x80000004; do
		for r in 1 2 3 4; do
			v=$(reg $leaf 0 $r)
			for i in 0 8 16 24; do
				c=$(((v >> i) & 0xff))
				[ "$c" = 0 ] && break 3
				s+=$(printf '\\x%02x' "$c")
			done
		done
	done
	printf '%b' "$s" | sed 's/^ *//; s/ *$//'
}

# The xsave mask CRIU records: CPUID's, less what the CPU's features rule
# out, limited to the user components, less bits 1 and 3 (CRIU's slip).
expected_xfeatures() {
	local m
	if [ "$(bit "$l1c" 26)" = 0 ] || [ "$max" -lt 13 ]; then
		echo 0
		return
	fi
	m=$(($(reg 0xd 0 1) | ($(reg 0xd 0 4) << 32)))
	[ "$(bit "$l1c" 28)" = 1 ] || m=$((m & ~0x4))
	[ "$(bit "$l7b" 14)" = 1 ] || m=$((m & ~0x18))
	[ "$(bit "$l7b" 16)" = 1 ] || m=$((m & ~0xe0))
	[ "$(bit "$l7b" 25)" = 1 ] || m=$((m & ~0x100))
	[ "$(bit "$l7c" 3)" = 1 ] || m=$((m & ~0x200))
	[ "$(bit "$l6a" 13)" = 1 ] || m=$((m & ~0x400))
	echo $((m & 0x2ff & ~0x10a))
}

# --- a dump writes it, as this CPU is ---
start_sleep() {
	rm -f "$W/pid"
	"$B/tests/spawn" "$W/pid" -C "$W/run" -- /bin/sleep 1000 &
	spawner=$!
	for _ in $(seq 100); do [ -s "$W/pid" ] && break; sleep 0.05; done
	pid=$(cat "$W/pid")
	sleep 0.2
}

start_sleep
if ! "$B/stasis" dump -t "$pid" -D "$W/img" -v4 -o dump.log; then
	fail "dump failed: $(grep -m1 Error "$W/img/dump.log")"
	kill "$spawner"
	wait "$spawner"
	exit 0
fi
wait "$spawner"
IMG=$W/img/cpuinfo.img
check "dump writes cpuinfo.img" test -s "$IMG"
check "stasis-crit decodes it" "$B/crit" decode -i "$IMG" --pretty -o "$W/ours.json"
if command -v crit >/dev/null; then
	check "Debian's crit decodes it" crit decode -i "$IMG" --pretty -o "$W/debian.json"
	check "both crits read the same values" \
		bash -c "cmp -s <(jq -S . '$W/ours.json') <(jq -S . '$W/debian.json')"
else
	fail "Debian's crit is not installed (scripts/deps.sh installs it)"
fi

x=$(dec "$IMG" | jq -c '.entries[0].x86_entry[0]')
field() { jq -r ".$1" <<<"$x"; }
word() { jq -r ".capability[$1]" <<<"$x"; }

# expect WHAT GOT WANT
expect() {
	if [ "$2" = "$3" ]; then pass "$1: $2"; else fail "$1: image says '$2', this CPU '$3'"; fi
}
case $(cpuinfo_field vendor_id) in
GenuineIntel) vendor=INTEL ;;
AuthenticAMD | HygonGenuine) vendor=AMD ;;
*) vendor="unknown ($(cpuinfo_field vendor_id))" ;;
esac
expect "vendor" "$(field vendor_id)" "$vendor"
expect "family" "$(field cpu_family)" "$(cpuinfo_field 'cpu family')"
expect "model" "$(field model)" "$(cpuinfo_field model)"
expect "stepping" "$(field stepping)" "$(cpuinfo_field stepping)"
expect "model name" "$(field model_id | sed 's/ *$//')" "$(brand_string)"
expect "capability layout, words" "$(field capability_ver) $(jq '.capability | length' <<<"$x")" "2 19"

w0=$l1d
[ "$vendor" = AMD ] && w0=$((w0 & 0x7fffffff))
expect "word 0 (CPUID 1 EDX)" "$(word 0)" "$w0"
expect "word 4 (CPUID 1 ECX)" "$(word 4)" "$l1c"
expect "word 9 (CPUID 7 EBX)" "$(word 9)" "$l7b"
expect "word 10 (CPUID 0xd.1 EAX)" "$(word 10)" "$ld1a"
expect "word 11 (CPUID 7 ECX)" "$(word 11)" "$l7c"
expect "word 18 (CPUID 7 EDX)" "$(word 18)" "$l7d"
if [ "$ext" -ge $((0x80000008)) ]; then
	expect "word 1 (CPUID 0x80000001 EDX)" "$(word 1)" "$(reg 0x80000001 0 4)"
	expect "word 6 (CPUID 0x80000001 ECX)" "$(word 6)" "$(reg 0x80000001 0 3)"
	expect "word 13 (CPUID 0x80000008 EBX)" "$(word 13)" "$(reg 0x80000008 0 2)"
fi
expect "word 3: nopl and cpuid set" "$(($(word 3) >> 20 & 1))$(($(word 3) >> 25 & 1))" 11

# Every flag the kernel shows for these CPUID bits is set in the image.
missing=""
for f in fpu:0:0 tsc:0:4 cx8:0:8 cmov:0:15 mmx:0:23 fxsr:0:24 sse:0:25 sse2:0:26 \
	syscall:1:11 nx:1:20 lm:1:29 pni:4:0 ssse3:4:9 sse4_1:4:19 sse4_2:4:20 popcnt:4:23 \
	aes:4:25 xsave:4:26 avx:4:28 abm:6:5 bmi1:9:3 avx2:9:5 bmi2:9:8 avx512f:9:16 \
	sha_ni:9:29 avx512bw:9:30 xsaveopt:10:0 xsavec:10:1 xsaves:10:3 vaes:11:9; do
	IFS=: read -r name w b <<<"$f"
	grep -m1 '^flags' /proc/cpuinfo | grep -qw "$name" || continue
	[ "$(bit "$(word "$w")" "$b")" = 1 ] || missing="$missing $name"
done
if [ -z "$missing" ]; then
	pass "every /proc/cpuinfo flag checked is set in the capability words"
else
	fail "flags of /proc/cpuinfo not in the image:$missing"
fi

expect "xfeatures_mask" "$(field xfeatures_mask)" "$(expected_xfeatures)"
if [ "$(expected_xfeatures)" = 0 ]; then
	expect "xsave sizes" "$(field xsave_size) $(field xsave_size_max)" "0 0"
else
	expect "xsave sizes" "$(field xsave_size) $(field xsave_size_max)" \
		"$(reg 0xd 0 2) $(reg 0xd 0 3)"
fi

# --- the cpuinfo subcommands ---
mkdir -p "$W/sub"
check "cpuinfo dump writes the same image" \
	bash -c "'$B/stasis' cpuinfo dump -D '$W/sub' && cmp -s '$W/sub/cpuinfo.img' '$IMG'"
check "cpuinfo check accepts it" "$B/stasis" cpuinfo check -D "$W/sub"
out=$("$B/stasis" cpuinfo check -D "$W/sub" --cpu-cap=fpu,bogus 2>&1)
rc=$?
case "$rc $out" in
"1 "*"unknown capability at 'bogus'"*) pass "--cpu-cap=fpu,bogus is refused: ${out#*Error: }" ;;
*) fail "--cpu-cap=fpu,bogus: exit status $rc: $out" ;;
esac

# --- restore: refused before any task, or not ---

# copy_img NAME: a fresh copy of the dump, as $W/NAME.
copy_img() { rm -rf "${W:?}/$1" && cp -a "$W/img" "$W/$1"; }

# edit IMAGE JQ: rewrite IMAGE through its JSON.
edit() {
	dec "$1" | jq "$2" >"$1.json" && "$B/crit" encode -i "$1.json" -o "$1" && rm "$1.json"
}

# restore_bg DIR OPTS...: restore DIR detached under spawn (our subreaper
# for whatever it restores); sets SPAWN and waits up to 10 s for stasis to end.
restore_bg() {
	local dir=$1 spid
	shift
	rm -f "$W/restore.spawn"
	"$B/tests/spawn" "$W/restore.spawn" -S -- "$B/stasis" restore -D "$dir" -d -v4 \
		-o restore.log "$@" &
	SPAWN=$!
	for _ in $(seq 100); do [ -s "$W/restore.spawn" ] && break; sleep 0.05; done
	spid=$(cat "$W/restore.spawn" 2>/dev/null)
	for _ in $(seq 200); do
		[ -n "$spid" ] && [ -d "/proc/$spid" ] || break
		sleep 0.05
	done
}

# stop_bg PID...: kill what the restore made, then reap it through spawn.
stop_bg() {
	[ $# -gt 0 ] && kill -9 "$@" 2>/dev/null
	kill "$SPAWN" 2>/dev/null
	wait "$SPAWN" 2>/dev/null
}

# refused WHAT DIR PATTERN PIDS OPTS...: restore must exit 1 naming PATTERN
# with no task of PIDS created.
refused() {
	local what=$1 dir=$2 pattern=$3 pids=$4 rc left="" p
	shift 4
	restore_bg "$dir" "$@"
	for p in $pids; do [ -d "/proc/$p" ] && left="$left $p"; done
	if [ -n "$left" ]; then
		stop_bg $left
		fail "$what: tasks$left exist after the refused restore"
		return
	fi
	wait "$SPAWN"
	rc=$?
	if [ $rc -ne 1 ]; then
		fail "$what: exit status $rc, not 1"
	elif ! grep -q -- "$pattern" "$dir/restore.log"; then
		fail "$what: the error does not say '$pattern': $(grep -m2 Error "$dir/restore.log")"
	else
		pass "$what: $(grep -m1 -- "$pattern" "$dir/restore.log" | sed 's/^.*Error: //')"
	fi
}

# runs_on WHAT DIR OPTS...: restore must bring back /bin/sleep as $pid.
runs_on() {
	local what=$1 dir=$2
	shift 2
	restore_bg "$dir" "$@"
	if [ "$(cat "/proc/$pid/cmdline" 2>/dev/null | tr '\0' ' ')" = "/bin/sleep 1000 " ] &&
		grep -q '^State:.*S (sleeping)' "/proc/$pid/status"; then
		pass "$what: pid $pid sleeps on"
	else
		fail "$what: pid $pid is not back: $(grep -m2 Error "$dir/restore.log")"
	fi
	stop_bg "$pid"
}

# The first xsave component of avx512, pkru, amx that this CPU lacks, as a mask.
mask=$(field xfeatures_mask)
if [ $((mask & 0xe0)) != $((0xe0)) ]; then
	claim=$((0xe0 & ~mask)) name=avx512
elif [ $((mask & 0x200)) = 0 ]; then
	claim=$((0x200)) name=pkru
else
	claim=$((0x60000)) name=amx	# never in the mask: not a Linux user component
fi
copy_img claim
edit "$W/claim/cpuinfo.img" ".entries[0].x86_entry[0].xfeatures_mask |= . + $claim"
refused "cpuinfo.img claiming $name" "$W/claim" "needs xsave features $name" "$pid"
runs_on "the same image with --cpu-cap=none" "$W/claim" --cpu-cap=none

copy_img size
edit "$W/size/cpuinfo.img" ".entries[0].x86_entry[0].xsave_size |= . + 64"
out=$("$B/stasis" cpuinfo check -D "$W/size" 2>&1)
case $out in
*"xsave area of"*) pass "another xsave size is refused: ${out#*Error: }" ;;
*) fail "another xsave size is not refused: $out" ;;
esac
check "another xsave size passes with --cpu-cap=^fpu" \
	"$B/stasis" cpuinfo check -D "$W/size" --cpu-cap=^fpu

# A malformed image: a clear error, no crash.
copy_img bad
edit "$W/bad/cpuinfo.img" '.entries[0].x86_entry[0].capability |= .[0:3]'
out=$("$B/stasis" cpuinfo check -D "$W/bad" 2>&1)
rc=$?
case "$rc $out" in
"1 "*"3 capability words, 19 expected"*) pass "3 capability words are refused: ${out#*Error: }" ;;
*) fail "3 capability words: exit status $rc: $out" ;;
esac

# An instruction set this CPU lacks, from CRIU's list.
ins=""
for f in avx512f:9:16 sha_ni:9:29 xop:6:11 fma4:6:16 tbm:6:21 3dnow:1:31 clzero:13:0 \
	avx512_4fmaps:18:3; do
	IFS=: read -r n w b <<<"$f"
	if [ "$(bit "$(word "$w")" "$b")" = 0 ]; then
		ins=$n
		break
	fi
done
if [ -z "$ins" ]; then
	fail "this CPU has every instruction set the test could claim"
else
	copy_img ins
	edit "$W/ins/cpuinfo.img" ".entries[0].x86_entry[0].capability[$w] |= . + $((1 << b))"
	out=$("$B/stasis" cpuinfo check -D "$W/ins" --cpu-cap=^fpu 2>&1)
	case $out in
	*"instruction set extensions this CPU lacks: $ins"*) pass "no $ins here is refused: ${out#*Error: }" ;;
	*) fail "claiming $ins is not refused: $out" ;;
	esac
fi

# Registers holding state the kernel has not enabled: refused even with none.
for b in 5 6 7 9 17 18 19 62; do
	[ $((xcr0 >> b & 1)) = 0 ] && break
done
copy_img regs
# Through sed, not jq: jq would round the core's 64-bit values.
core=$W/regs/core-$pid.img
"$B/crit" decode -i "$core" -o "$core.json"
bv=$(grep -m1 -o '"xstate_bv": *[0-9]*' "$core.json" | grep -o '[0-9]*$')
if [ -z "$bv" ]; then
	fail "the dump of /bin/sleep holds no xsave state to alter"
else
	sed -i "s/\"xstate_bv\": *$bv\b/\"xstate_bv\": $((bv | 1 << b))/" "$core.json"
	"$B/crit" encode -i "$core.json" -o "$core"
fi
refused "registers using xsave component $b, absent from XCR0 $xcr0" "$W/regs" \
	"registers hold" "$pid"
refused "the same with --cpu-cap=none" "$W/regs" "registers hold" "$pid" --cpu-cap=none

# No cpuinfo.img: none written with --cpu-cap=none; restored unchecked,
# unless --cpu-cap asks for the check (as CRIU).
start_sleep
"$B/stasis" dump -t "$pid" -D "$W/nocpu" --cpu-cap=none -v4 -o dump.log
wait "$spawner"
check "dump --cpu-cap=none writes no cpuinfo.img" test ! -e "$W/nocpu/cpuinfo.img"
refused "--cpu-cap=fpu without cpuinfo.img" "$W/nocpu" "no cpuinfo.img" "$pid" --cpu-cap=fpu
runs_on "no cpuinfo.img, default --cpu-cap" "$W/nocpu"

# --- CRIU 4.2's fixtures, which carry no cpuinfo.img ---
for sc in counter-static threads-dynamic tree fpu; do
	T="cpuinfo fixture $sc"
	fixture_stage "$sc" "$W/stage-$sc.out" || continue
	d=$W/fix-$sc
	rm -rf "$d" && cp -a "$FIX/$sc/img" "$d"
	pids=$(dec "$d/pstree.img" | jq -r '.entries[] | .threads[]' | tr '\n' ' ')
	used=0
	for c in "$d"/core-*.img; do
		used=$((used | $(dec "$c" | jq '.entries[0].thread_info.fpregs.xsave.xstate_bv // 0')))
	done
	need=$((used & ~xcr0))
	if [ "$need" != 0 ]; then
		refused "registers use $(printf '%#x' "$used"), XCR0 is $(printf '%#x' "$xcr0")" \
			"$d" "needs xsave features" "$pids"
		continue
	fi
	restore_bg "$d"
	if grep -q "Error.*\(cpuinfo\|this CPU\)" "$d/restore.log"; then
		fail "refused for the CPU: $(grep -m1 "Error" "$d/restore.log")"
	else
		pass "$([ -e "$d/cpuinfo.img" ] && echo "its cpuinfo.img" || echo "no cpuinfo.img"): not refused for the CPU"
	fi
	stop_bg $pids
done
exit 0
