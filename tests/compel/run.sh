#!/bin/bash
# run.sh - libcompel's acceptance, run by tests/run.sh:
#  - every victim program stays undisturbed through LOOPS rounds of
#    seize, three remote syscalls, parasite load, commands, cure, release;
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

for step in seize syscall infect rpc cure; do
	for v in nanosleep avx512; do
		$R --between "$S --fault $step" --workdir /tmp/stasis-compel/fault-$step-$v \
			$B/compel/$v | label "fault at $step"
	done
done

$B/compel-pages
$B/compel-traced
