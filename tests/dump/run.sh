#!/bin/bash
# run.sh - the dump's acceptance, run by tests/run.sh:
#  - dump -R leaves every test program running with its state intact
#    (the programs check themselves after SIGTERM);
#  - a failure injected at each step of the dump leaves them running,
#    untouched, and the image directory unfinished;
#  - the fixture programs dump to images equivalent to CRIU 4.2's;
#  - open files of every supported kind are recorded as they are;
#  - an io_uring is refused, named, the program left running (uring.sh).
set -u
cd "$(dirname "$0")/../.."
FIX=${FIXTURES:-$(cd .. && pwd)/shared/fixtures/criu-4.2}
B=build/tests
R=$B/runner
W=/tmp/stasis-dump-tests
rm -rf "$W"

label() { sed -u "s/^\(PASS\|FAIL\|SKIP\): /\1: dump $1: /"; }

progs="$B/conformance/sleeping $B/conformance/pipe $B/compel/avx512 $B/compel/nanosleep
       $B/compel/read_pipe $B/compel/futex $B/compel/thread_churn $B/compel/fork_churn
       $B/compel/zombie $B/conformance/aio $B/conformance/netlink_sockets
       $B/conformance/packet_sockets $B/conformance/mem_cow"
for p in $progs; do
	n=$(basename "$p")
	$R --between "build/stasis dump -R -D $W/$n -v4 -o dump.log -t" \
		--workdir "$W/run-$n" "$p" | label "-R leaves it running"
done
$R --stop --between "build/stasis dump -R -D $W/stopped -v4 -o dump.log -t" \
	--workdir "$W/run-stopped" $B/compel/stopped | label "-R leaves a stopped task stopped"

# Every image of those dumps reads with our crit and with Debian's (CRIU 3.17).
for d in "$W"/*/; do
	case $d in */run-*) continue ;; esac
	n=$(basename "$d") bad=""
	for f in "$d"*.img "$d"stats-dump; do
		[ -e "$f" ] || continue
		case $f in */pages-*) continue ;; esac
		build/crit decode -i "$f" >/dev/null 2>&1 || bad="$bad ours:$(basename "$f")"
		crit decode -i "$f" >/dev/null 2>&1 || bad="$bad debian:$(basename "$f")"
	done
	if [ -z "$bad" ]; then
		echo "PASS: dump images of $n decode with stasis-crit and Debian's crit"
	else
		echo "FAIL: dump images of $n do not decode:$bad"
	fi
done

# Each ELF file the dump names carries the GNU build-id readelf finds in it
# (read where the note is, not the file's whole first MiB: files/reg.c).
bid_hex() {
	local w out=""
	for w in "$@"; do
		out+=$(printf '%02x%02x%02x%02x' $((w & 255)) $((w >> 8 & 255)) \
			$((w >> 16 & 255)) $((w >> 24 & 255)))
	done
	echo "$out"
}
n=0 bad=""
while read -r name words; do
	want=$(readelf -n "$name" 2>/dev/null | awk '/Build ID:/ { print $3; exit }')
	have=$(bid_hex ${words//,/ })
	n=$((n + 1))
	[ -n "$want" ] && [ "$have" = "$want" ] || bad="$bad $name:$have/$want"
done < <(build/crit decode -i "$W/sleeping/files.img" |
	jq -r '.entries[] | select(.reg.build_id) | "\(.reg.name) \(.reg.build_id | map(tostring) | join(","))"')
if [ "$n" -ge 2 ] && [ -z "$bad" ]; then
	echo "PASS: dump build-ids: the $n ELF files of sleeping's dump carry readelf's build-id"
else
	echo "FAIL: dump build-ids: $n files,$bad"
fi

# The pages of sleeping's 64 MiB are its own bytes; its untouched pages are left out.
$R --between "/bin/bash tests/dump/pages.sh $W/pages" --workdir "$W/run-pages" \
	$B/conformance/sleeping | label "pages equal the task's memory, zero pages left out:"
# The same through /proc/PID/pagemap, as on a kernel without PAGEMAP_SCAN.
STASIS_PAGEMAP_READ=1 $R --between "/bin/bash tests/dump/pages.sh $W/pages-read" \
	--workdir "$W/run-pages-read" $B/conformance/sleeping |
	label "without PAGEMAP_SCAN, pages equal the task's memory, zero pages left out:"
# PAGEMAP_SCAN run beside the smaps read (mem-prescan.c): through many full
# vectors (mem_sparse: 2,048 lone pages), and stopped after one region, the
# rest of each area left to mem.c's own scan.
walked='page-table walks beside'
PAGES_LOG=$walked $R --between "/bin/bash tests/dump/pages.sh $W/pages-sparse" \
	--workdir "$W/run-pages-sparse" $B/conformance/mem_sparse |
	label "walked beside smaps, a sparse area's pages equal the task's memory:"
for p in sleeping mem_sparse; do
	PAGES_LOG=$walked STASIS_PRESCAN_REGS=1 $R \
		--between "/bin/bash tests/dump/pages.sh $W/pages-handover-$p" \
		--workdir "$W/run-pages-handover-$p" $B/conformance/$p |
		label "the walk beside smaps stopped after one region, $p's pages equal its memory:"
done

# A small task's areas in one walk after its smaps read, from the areas
# read there (mem-prescan.c): 16 MiB with 256 lone
# pages, the walk whole and stopped after one region.
onewalk='then one page-table walk of them all'
for regs in "" 1; do
	if ! $B/check-probe pagemap_scan; then
		echo "SKIP: dump one walk of a small task${regs:+ stopped after one region}: this kernel has no PAGEMAP_SCAN (Linux 6.7)"
		continue
	fi
	MEM_SPARSE_MIB=16 PAGES_LOG=$onewalk STASIS_PRESCAN_REGS=$regs $R \
		--between "/bin/bash tests/dump/pages.sh $W/pages-onewalk$regs" \
		--workdir "$W/run-pages-onewalk$regs" $B/conformance/mem_sparse |
		label "one walk of a small task${regs:+ stopped after one region}, its pages equal its memory"
done

# A tree of several tasks is dumped two at a time (dump-pipe.c): a failure
# on either thread, another task in flight, leaves every task as it was
# (seccomp: tasks with two threads, whose remote calls the tracer makes).
for f in infect@3 core@2 mem@3 files@2; do
	for p in pgrp_session seccomp; do
		FAULT_LOG='two at a time' $R \
			--between "/bin/bash tests/dump/fault-step.sh $f $W/fault-pipe-$f-$p" \
			--workdir "$W/run-fault-pipe-$f-$p" $B/conformance/$p |
			label "fault at $f, two tasks in flight"
	done
done

for step in seize collect infect mem files core cpuinfo images; do
	for p in $B/conformance/sleeping $B/compel/nanosleep; do
		n=$(basename "$p")
		$R --between "/bin/bash tests/dump/fault-step.sh $step $W/fault-$step-$n" \
			--workdir "$W/run-fault-$step-$n" "$p" | label "fault at $step"
	done
	# AIO rings are read at the mem step: a failure there or after leaves them as they were.
	case $step in mem | files)
		$R --between "/bin/bash tests/dump/fault-step.sh $step $W/fault-$step-aio" \
			--workdir "$W/run-fault-$step-aio" $B/conformance/aio | label "fault at $step"
		# A packet socket whose ring is mapped is dumped at the mem step.
		$R --between "/bin/bash tests/dump/fault-step.sh $step $W/fault-$step-packet" \
			--workdir "$W/run-fault-$step-packet" $B/conformance/packet_sockets |
			label "fault at $step"
	esac
done
# A dump failing once the root's uts and ipc namespaces are written (stasis
# moved into each and back): the program finds its names and objects as they were.
$R --between "/bin/bash tests/dump/fault-step.sh namespaces $W/fault-namespaces" \
	--workdir "$W/run-fault-namespaces" $B/conformance/ipc_uts_ns | label "fault at namespaces"
# A dump that is to kill the tree takes the bytes queued in its ptys out
# of the kernel; one that fails after that puts them back.
$R --between "/bin/bash tests/dump/fault-step.sh images $W/fault-images-pty" \
	--workdir "$W/run-fault-images-pty" $B/conformance/pty | label "fault after the ptys' queues are read:"

# SIGTERM, SIGINT or SIGHUP to stasis: it stops at its next step, cures and
# resumes every task; the programs find their state untouched.
for sig in TERM INT HUP; do
	for ms in 1 20 60; do
		$R --between "/bin/bash tests/dump/interrupt-step.sh $sig $ms $W/sig-$sig-$ms" \
			--workdir "$W/run-sig-$sig-$ms" $B/conformance/sleeping |
			label "SIG$sig after $ms ms"
	done
done

# SIGKILL or SIGTERM to stasis at a dozen moments of the dump of a busy
# program of six threads: it runs on untouched, a second dump -R finds it
# whole, and it still comes back from a dump and a restore.
for sig in KILL TERM; do
	for ms in 1 2 5 10 20 40 70 100 150 200 300 400; do
		$R --between "/bin/bash tests/dump/kill-step.sh $sig $ms $W/kill-$sig-$ms" \
			--then-cr --workdir "$W/run-kill-$sig-$ms" $B/conformance/busy_threads |
			label "SIG$sig after $ms ms, then dump and restore"
	done
done

bash tests/dump/fixtures.sh "$FIX"
bash tests/dump/files.sh
bash tests/dump/shmem.sh
bash tests/dump/tty.sh
bash tests/dump/states.sh
bash tests/dump/ext-unix.sh
bash tests/dump/hostile.sh
bash tests/dump/uring.sh
bash tests/dump/chain.sh
bash tests/dump/dedup.sh
