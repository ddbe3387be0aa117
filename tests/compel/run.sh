#!/bin/bash
# run.sh - libcompel's acceptance, run by tests/run.sh:
#  - every victim program stays undisturbed through LOOPS rounds of
#    seize, three remote syscalls, parasite load, commands, cure, release,
#    and with the parasites parked until the release instead of cured;
#  - a failure injected at each step leaves a victim running normally;
#  - the parasite moves memory out byte-exact (compel-pages).
# Each line is PASS:/FAIL: as tests/run.sh counts them.
set -u
cd "$(dirname "$0")/../.."
LOOPS=${COMPEL_LOOPS:-1000}
B=build/tests
R=$B/runner
S=$B/compel-stress

# label LABEL: prefix the runner's verdict so each line says what ran.
label() { sed -u "s/^\(PASS\|FAIL\|SKIP\): /\1: compel $1: /"; }

for v in avx512 read_pipe nanosleep futex thread_churn fork_churn zombie; do
	$R --between "$S --loops $LOOPS" --workdir /tmp/stasis-compel/$v \
		$B/compel/$v | label "$LOOPS loops"
done
$R --stop --between "$S --loops $LOOPS" --workdir /tmp/stasis-compel/stopped \
	$B/compel/stopped | label "$LOOPS loops, SIGSTOPped victim stays stopped"

# Parked parasites (compel_park), cured by a release that kills nothing.
for v in nanosleep futex read_pipe thread_churn fork_churn; do
	$R --between "$S --loops $LOOPS --park" --workdir /tmp/stasis-compel/park-$v \
		$B/compel/$v | label "$LOOPS loops, parked, cured at release"
done
$R --stop --between "$S --loops $LOOPS --park" --workdir /tmp/stasis-compel/park-stopped \
	$B/compel/stopped | label "$LOOPS loops, parked, SIGSTOPped victim stays stopped"

# Infections begun ahead (compel_infect_start), every other one cured there.
for v in nanosleep futex read_pipe thread_churn; do
	$R --between "$S --loops $LOOPS --start" --workdir /tmp/stasis-compel/start-$v \
		$B/compel/$v | label "$LOOPS loops, infections started ahead"
done

for step in seize syscall infect rpc cure; do
	for v in nanosleep avx512; do
		$R --between "$S --fault $step" --workdir /tmp/stasis-compel/fault-$step-$v \
			$B/compel/$v | label "fault at $step"
	done
done

# The driver dies (SIGKILL) with the main thread stopped in a remote call
# before any parasite, with the parasite idle, with a command sent, with
# another thread stopped in a remote call, with every task's parasite
# parked before the release, or with an infection just started (its first
# remote call under way): each task gives itself back
# (compel/guard.c, compel/stub.c), and the victims notice nothing.
for where in syscall parasite rpc thread-call parked started; do
	for v in nanosleep futex read_pipe; do
		$R --between "$S --die $where" --between-may-fail \
			--workdir /tmp/stasis-compel/die-$where-$v $B/compel/$v |
			label "driver killed, $where"
	done
done

# The same where the vDSO is taken to have no room: the stub goes past the
# code of an executable mapping instead.
for where in syscall thread-call; do
	$R --between "$S --fault vdso-room --die $where" --between-may-fail \
		--workdir /tmp/stasis-compel/die-novdso-$where $B/compel/nanosleep |
		label "driver killed, $where, no room in the vDSO"
done

$B/compel-pages
$B/compel-traced

# The shared library exports exactly what compel.h declares.
want=$(grep -oE '\bcompel_[a-z_0-9]+[[:space:]]*\(' include/stasis/compel.h | tr -d '( ' | sort -u)
# nm shows each symbol with its version (compel_cure@@LIBCOMPEL_1).
syms=$(nm -D --defined-only build/libcompel.so.1 | awk '$2 ~ /^[TDBRVW]$/ { sub(/@.*/, "", $3); print $3 }')
have=$(grep '^compel_' <<<"$syms" | sort -u)
others=$(grep -v '^compel_' <<<"$syms")
if [ "$want" = "$have" ] && [ -z "$others" ]; then
	echo "PASS: compel: libcompel.so.1 exports exactly the $(wc -w <<<"$want") functions compel.h declares"
else
	echo "FAIL: compel: libcompel.so.1 exports $(tr '\n' ' ' <<<"$have$others"), compel.h declares $(tr '\n' ' ' <<<"$want")"
fi
