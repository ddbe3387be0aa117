#!/bin/bash
# run.sh - the dump and restore benchmark: workloads dumped and restored by
# stasis and, side by side, by a reference tool with CRIU's command line;
# medians, GB/s and ratios.  bench/README.md says what each workload and
# column means.
#
#   bench/run.sh [--reference PATH] [--runs N] [--warmup N] [--big]
#                [--only W1,W2] [--stasis PATH] [--crit PATH] [--timeout S]
#                [--out FILE] [--tool-args "ARGS"] [--restore-args "ARGS"]
#                [--no-restore]
#
# Every dump run starts a fresh workload and dumps it with `dump -t PID -D
# DIR` (no --leave-running: the tool kills the tree, as by default), with
# the images on tmpfs under /dev/shm/stasis-bench, removed after each run
# but the last.  The images of that last run are then restored as many
# times with `restore -D DIR -d`, under measure, a child subreaper that
# checks the tree is alive, then kills and reaps it.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/.." || exit 1

STASIS=build/stasis
CRIT=build/crit
BIN=build/bench
REF=""
RUNS=5
WARMUP=1
BIG=0
ONLY=""
TIMEOUT=300
TOOL_ARGS=""
RESTORE_ARGS=""
RESTORE=1
OUT=bench/results/latest.txt
ROOT=/dev/shm/stasis-bench
LOGS=bench/results/logs

usage() {
	awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$HERE/run.sh"
	exit "${1:-2}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--reference) REF=${2:?}; shift ;;
	--runs | -n) RUNS=${2:?}; shift ;;
	--warmup) WARMUP=${2:?}; shift ;;
	--big) BIG=1 ;;
	--only) ONLY=${2:?}; shift ;;
	--stasis) STASIS=${2:?}; shift ;;
	--crit) CRIT=${2:?}; shift ;;
	--timeout) TIMEOUT=${2:?}; shift ;;
	--tool-args) TOOL_ARGS=${2?}; shift ;;
	--restore-args) RESTORE_ARGS=${2?}; shift ;;
	--no-restore) RESTORE=0 ;;
	--out) OUT=${2:?}; shift ;;
	-h | --help) usage 0 ;;
	*) echo "run.sh: unknown argument: $1" >&2; usage ;;
	esac
	shift
done
case $RUNS in '' | *[!0-9]* | 0) echo "run.sh: --runs wants a positive number" >&2; exit 2 ;; esac
case $WARMUP in '' | *[!0-9]*) echo "run.sh: --warmup wants a number" >&2; exit 2 ;; esac
LEAVE_RUNNING=0
case " $TOOL_ARGS " in *" -R "* | *" --leave-running "*) LEAVE_RUNNING=1 ;; esac

for f in "$STASIS" "$CRIT" "$BIN/workload" "$BIN/measure"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: $f is missing: build it first (make bench does)" >&2
		exit 1
	fi
done

# name | workload arguments | GB/s shown | what it is
WORKLOADS=(
	"idle|idle|n|the workload program alone: the floor of every dump"
	"dirty-1g|dirty 1024|y|1 GiB anonymous, every page written (pseudo-random)"
	"zero-256m|zero 256|n|256 MiB anonymous, every page written with zeroes"
	"sparse-1g|sparse 1024 16|y|1 GiB mapped, 1 page in 16 written (64 MiB)"
	"threads-64|threads 64|n|one process, 64 threads"
	"procs-64|procs 64|n|a tree of 64 processes, 4 children each"
	"fds-5000|fds 5000 $ROOT/fds-file rn|n|5,000 fds: a regular file and /dev/null, alternating"
)
[ "$BIG" = 1 ] && WORKLOADS+=("dirty-4g|dirty 4096|y|4 GiB anonymous, every page written (pseudo-random)")

TOOLS=(stasis)
declare -A TOOL_PATH=([stasis]=$STASIS)
REF_NOTE="none given: stasis alone"
if [ -n "$REF" ]; then
	if [ -x "$REF" ] || command -v "$REF" >/dev/null 2>&1; then
		TOOLS+=(reference)
		TOOL_PATH[reference]=$REF
		REF_NOTE="$REF ($("$REF" --version 2>&1 | head -n 1))"
	else
		REF_NOTE="$REF is not an executable: not run"
	fi
fi

CUR_LAUNCHER=""
CUR_MEASURE=""
cleanup() {
	if [ -n "$CUR_LAUNCHER" ]; then
		kill -TERM "$CUR_LAUNCHER" 2>/dev/null
		wait "$CUR_LAUNCHER" 2>/dev/null
	fi
	# A restore under way: measure kills and reaps its tree on SIGTERM.
	if [ -n "$CUR_MEASURE" ]; then
		kill -TERM "$CUR_MEASURE" 2>/dev/null
		wait "$CUR_MEASURE" 2>/dev/null
	fi
	rm -rf "$ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$ROOT" "$LOGS"
mkdir -p "$ROOT" "$(dirname "$OUT")"

progress() {
	echo "bench: $*" >&2
}

# median VALUES... - the middle one (the mean of the two middle ones for an
# even count); nothing for no values.
median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# field KEY FILE - the value of KEY=VALUE in a one-line file
field() {
	tr ' ' '\n' <"$2" | sed -n "s/^$1=//p"
}

# Wait up to $2 seconds (in steps of 10 ms) for process $1 to end.
wait_gone() {
	local pid=$1 steps=$(($2 * 100))
	while kill -0 "$pid" 2>/dev/null; do
		steps=$((steps - 1))
		[ $steps -gt 0 ] || return 1
		sleep 0.01
	done
	return 0
}

# Keep a failed run's logs where the report can point at them.
keep_log() {
	local name=$1 dir=$2
	mkdir -p "$LOGS"
	cat "$dir/dump.log" "$dir/workload.err" "$dir/stats.txt" >"$LOGS/$name.log" 2>/dev/null
	echo "$LOGS/$name.log"
}

# first_error LOG - the first error of a tool's log, less the echoes of
# helper processes exiting; else its last line
first_error() {
	grep -i 'error' "$1" | grep -v -m 1 'exited, status=' || tail -n 1 "$1"
}

# run_once TOOL WORKLOAD KEEP ARGS... - start the workload, dump it once, and
# set R_WALL_US R_RSS_KB R_FROZEN_US R_FREEZING_US R_PAGES R_SIZE (bytes), or
# R_ERR and return 1.  KEEP=1: the images stay, in $ROOT/img-TOOL.
run_once() {
	local tool=$1 wl=$2 keep=$3 dir=$ROOT/run pid status steps err
	shift 3
	R_WALL_US="" R_RSS_KB="" R_FROZEN_US="" R_FREEZING_US="" R_PAGES="" R_SIZE="" R_ERR=""
	rm -rf "$dir"
	mkdir -p "$dir/img"

	"$BIN/workload" -p "$dir/pid" "$@" 2>"$dir/workload.err" &
	CUR_LAUNCHER=$!
	steps=12000	# two minutes: a 4 GiB fill takes a few seconds
	while [ ! -s "$dir/pid" ]; do
		if ! kill -0 "$CUR_LAUNCHER" 2>/dev/null || [ $((steps -= 1)) -le 0 ]; then
			kill -TERM "$CUR_LAUNCHER" 2>/dev/null
			wait "$CUR_LAUNCHER"
			CUR_LAUNCHER=""
			R_ERR="the workload did not start: $(head -c 300 "$dir/workload.err")"
			return 1
		fi
		sleep 0.01
	done
	pid=$(<"$dir/pid")

	# shellcheck disable=SC2086
	"$BIN/measure" run "$dir/measure" "$TIMEOUT" -- \
		"${TOOL_PATH[$tool]}" dump -t "$pid" -D "$dir/img" $TOOL_ARGS \
		>"$dir/dump.log" 2>&1
	status=$(field status "$dir/measure" 2>/dev/null)
	if [ "$status" != 0 ]; then
		err=$(first_error "$dir/dump.log")
		case $status in
		timeout) err="killed after --timeout $TIMEOUT s${err:+; $err}" ;;
		*) err="exit status ${status:-?}: ${err:-no output}" ;;
		esac
		R_ERR="dump ${err:0:180} (log: $(keep_log "$tool-$wl" "$dir"))"
		kill -TERM "$CUR_LAUNCHER" 2>/dev/null
		wait "$CUR_LAUNCHER"
		CUR_LAUNCHER=""
		return 1
	fi
	# Without --leave-running the tool kills the tree; the launcher then
	# reaps it and exits, and its memory is free for the next run.  With
	# it (from --tool-args), the run is over and the tree must go.
	if [ "$LEAVE_RUNNING" = 1 ]; then
		kill -TERM "$CUR_LAUNCHER" 2>/dev/null
	fi
	if ! wait_gone "$CUR_LAUNCHER" 30; then
		R_ERR="the tree still runs 30 s after the dump (it should be killed)"
		kill -TERM "$CUR_LAUNCHER" 2>/dev/null
		wait "$CUR_LAUNCHER"
		CUR_LAUNCHER=""
		return 1
	fi
	wait "$CUR_LAUNCHER"
	CUR_LAUNCHER=""

	R_WALL_US=$(field wall_us "$dir/measure")
	R_RSS_KB=$(field maxrss_kb "$dir/measure")
	R_SIZE=$(du -sB1 "$dir/img" | cut -f1)
	if "$CRIT" show "$dir/img/stats-dump" >"$dir/stats.txt" 2>&1; then
		eval "$(awk -F: '/"(frozen_time|freezing_time|pages_written)"/ {
			gsub(/[ ",]/, "", $1); gsub(/[ ,]/, "", $2)
			if ($2 ~ /^[0-9]+$/) print $1 "=" $2 }' "$dir/stats.txt")"
		R_FROZEN_US=${frozen_time:-}
		R_FREEZING_US=${freezing_time:-}
		R_PAGES=${pages_written:-}
		unset frozen_time freezing_time pages_written
	fi
	if [ "$keep" = 1 ]; then
		rm -rf "$ROOT/img-$tool"
		mv "$dir/img" "$ROOT/img-$tool"
	fi
	rm -rf "$dir"
	return 0
}

# expect_of DIR - the processes a restore of DIR must bring back, for
# measure: "PID:THREADS,..." from pstree.img, the root first
expect_of() {
	"$CRIT" show "$1/pstree.img" | awk '
		/"pid":/ { gsub(/[^0-9]/, "", $2); pid = $2 }
		/"threads": \[/ { inth = 1; n = 0; sub(/.*\[/, "") }
		inth { line = $0; sub(/\].*/, "", line); n += gsub(/[0-9]+/, "", line) }
		inth && /\]/ { inth = 0; out = out sep pid ":" n; sep = "," }
		END { print out }'
}

# restore_once TOOL WORKLOAD - restore $ROOT/img-TOOL once, check the tree
# is alive, kill it; set R_WALL_US R_RSS_KB R_TREE_US, or R_ERR and return 1.
restore_once() {
	local tool=$1 wl=$2 img=$ROOT/img-$1 out=$ROOT/restore.out status err alive
	R_WALL_US="" R_RSS_KB="" R_TREE_US="" R_ERR=""
	rm -f "$out" "$img/stats-restore"
	# In the background, so that the traps can stop it: measure then
	# kills and reaps the tree it is the subreaper of.
	# shellcheck disable=SC2086
	"$BIN/measure" restore "$out" "$TIMEOUT" "${EXPECT[$tool|$wl]}" -- \
		"${TOOL_PATH[$tool]}" restore -D "$img" -d $RESTORE_ARGS \
		>"$ROOT/restore.log" 2>&1 &
	CUR_MEASURE=$!
	wait "$CUR_MEASURE"
	CUR_MEASURE=""
	status=$(field status "$out" 2>/dev/null)
	if [ "$status" != 0 ]; then
		err=$(first_error "$ROOT/restore.log")
		case $status in
		timeout) err="killed after --timeout $TIMEOUT s${err:+; $err}" ;;
		*) err="exit status ${status:-?}: ${err:-no output}" ;;
		esac
		mkdir -p "$LOGS"
		cp "$ROOT/restore.log" "$LOGS/$tool-$wl-restore.log"
		R_ERR="restore ${err:0:180} (log: $LOGS/$tool-$wl-restore.log)"
		return 1
	fi
	alive=$(field alive "$out")
	if [ -z "$alive" ] || [ "${alive%/*}" != "${alive#*/}" ]; then
		R_ERR="restored, but only $alive processes alive and whole (first: $(field bad "$out"))"
		return 1
	fi
	R_WALL_US=$(field wall_us "$out")
	R_RSS_KB=$(field maxrss_kb "$out")
	R_TREE_US=$("$CRIT" show "$img/stats-restore" 2>/dev/null |
		sed -n 's/.*"restore_time": *\([0-9]*\).*/\1/p')
	return 0
}

# The machine's own references, to read the GB/s against.
progress "machine references: memcpy, tmpfs write and read"
MEMCPY=$("$BIN/measure" memcpy 256 | sed -n 's/^memcpy_gbs=//p')
TMPFS_ALL=$("$BIN/measure" tmpfs "$ROOT/bw.dat" 1024)
TMPFS=$(sed -n 's/^tmpfs_gbs=//p' <<<"$TMPFS_ALL")
TMPFS_READ=$(sed -n 's/^tmpfs_read_gbs=//p' <<<"$TMPFS_ALL")
TMPFS_READ_NEW=$(sed -n 's/^tmpfs_read_new_gbs=//p' <<<"$TMPFS_ALL")
TMPFS_FILL=$(sed -n 's/^tmpfs_fill_gbs=//p' <<<"$TMPFS_ALL")
TMPFS_FILL2=$(sed -n 's/^tmpfs_fill2_gbs=//p' <<<"$TMPFS_ALL")

# An ordinary file for the fds workload to open, 4 KiB of text.
head -c 4096 /dev/zero | tr '\0' 'x' >"$ROOT/fds-file"

declare -A V FAIL OK EXPECT RFAIL ROK PAGES_BYTES
for entry in "${WORKLOADS[@]}"; do
	IFS='|' read -r wl args _ _ <<<"$entry"
	if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$wl,"* ]]; then
		continue
	fi
	if [ "$wl" = dirty-4g ]; then
		avail=$(df --output=avail -B1 /dev/shm | tail -n 1)
		if [ "$avail" -lt $((5 << 30)) ]; then
			for tool in "${TOOLS[@]}"; do
				FAIL[$tool|$wl]="not run: /dev/shm has less than 5 GiB free"
			done
			continue
		fi
	fi
	# Warm-up runs first, not counted: on a virtual machine whose host takes
	# back the guest's free memory (free page reporting, a balloon), the
	# first touch of memory after a pause costs several times more (a 1 GiB
	# dump: 2.4 s cold, 0.45 s warm, here); a failure there counts as one.
	for ((r = 1 - WARMUP; r <= RUNS; r++)); do
		# Alternate the tools run by run, so that drift hits both alike.
		for tool in "${TOOLS[@]}"; do
			[ -n "${FAIL[$tool|$wl]:-}" ] && continue
			if [ $r -le 0 ]; then
				# shellcheck disable=SC2086
				if run_once "$tool" "$wl" 0 $args; then
					progress "$wl: $tool warm-up: $((R_WALL_US / 1000)) ms (not counted)"
				else
					FAIL[$tool|$wl]="failed (warm-up run): $R_ERR"
					progress "$wl: $tool warm-up: $R_ERR"
				fi
				continue
			fi
			# The last run's images are kept for the restore.
			# shellcheck disable=SC2086
			if run_once "$tool" "$wl" "$((RESTORE && r == RUNS))" $args; then
				OK[$tool|$wl]=$((${OK[$tool|$wl]:-0} + 1))
				V[$tool|$wl|wall]+=" $R_WALL_US"
				V[$tool|$wl|rss]+=" $R_RSS_KB"
				V[$tool|$wl|size]+=" $R_SIZE"
				[ -n "$R_FROZEN_US" ] && V[$tool|$wl|frozen]+=" $R_FROZEN_US"
				[ -n "$R_FREEZING_US" ] && V[$tool|$wl|freezing]+=" $R_FREEZING_US"
				if [ -n "$R_PAGES" ]; then
					V[$tool|$wl|pages]+=" $R_PAGES"
					V[$tool|$wl|gbs]+=" $(awk -v p="$R_PAGES" -v t="$R_WALL_US" \
						'BEGIN { printf "%.4f", p * 4096 / (t * 1000) }')"
				fi
				progress "$wl: $tool run $r/$RUNS: $((R_WALL_US / 1000)) ms, $((R_SIZE >> 20)) MiB, peak RSS $((R_RSS_KB >> 10)) MiB"
			else
				FAIL[$tool|$wl]="failed (run $r/$RUNS): $R_ERR"
				progress "$wl: $tool run $r/$RUNS: $R_ERR"
			fi
		done
	done
	[ "$RESTORE" = 1 ] || continue

	# Restore the kept images again and again, with as many warm-up runs.
	for tool in "${TOOLS[@]}"; do
		if [ ! -d "$ROOT/img-$tool" ]; then
			RFAIL[$tool|$wl]="not run: no images (the dump failed)"
			continue
		fi
		EXPECT[$tool|$wl]=$(expect_of "$ROOT/img-$tool")
		if [ -z "${EXPECT[$tool|$wl]}" ]; then
			RFAIL[$tool|$wl]="not run: no process in $ROOT/img-$tool/pstree.img"
			continue
		fi
		PAGES_BYTES[$tool|$wl]=$(find "$ROOT/img-$tool" -name 'pages-*.img' -printf '%s\n' |
			awk '{ s += $1 } END { print s + 0 }')
	done
	for ((r = 1 - WARMUP; r <= RUNS; r++)); do
		for tool in "${TOOLS[@]}"; do
			[ -n "${RFAIL[$tool|$wl]:-}" ] && continue
			if restore_once "$tool" "$wl"; then
				if [ $r -le 0 ]; then
					progress "$wl: $tool restore warm-up: $((R_WALL_US / 1000)) ms (not counted)"
					continue
				fi
				ROK[$tool|$wl]=$((${ROK[$tool|$wl]:-0} + 1))
				V[$tool|$wl|rwall]+=" $R_WALL_US"
				V[$tool|$wl|rrss]+=" $R_RSS_KB"
				[ -n "$R_TREE_US" ] && V[$tool|$wl|rtree]+=" $R_TREE_US"
				V[$tool|$wl|rgbs]+=" $(awk -v b="${PAGES_BYTES[$tool|$wl]}" -v t="$R_WALL_US" \
					'BEGIN { printf "%.4f", b / (t * 1000) }')"
				progress "$wl: $tool restore $r/$RUNS: $((R_WALL_US / 1000)) ms, tree ${R_TREE_US:+$((R_TREE_US / 1000)) ms}"
			else
				if [ $r -le 0 ]; then
					RFAIL[$tool|$wl]="failed (warm-up run): $R_ERR"
				else
					RFAIL[$tool|$wl]="failed (run $r/$RUNS): $R_ERR"
				fi
				progress "$wl: $tool restore $r/$RUNS: $R_ERR"
			fi
		done
	done
	for tool in "${TOOLS[@]}"; do
		rm -rf "$ROOT/img-$tool"
	done
done

# med TOOL WL METRIC - the median, or nothing; METRIC "best": the least wall,
# "rbest": the least restore wall, "rgbsbest": the best restore GB/s
med() {
	case $3 in
	best | rbest)
		# shellcheck disable=SC2086
		printf '%s\n' ${V[$1|$2|${3%best}wall]:-} | sort -g | head -n 1
		return ;;
	rgbsbest)
		# shellcheck disable=SC2086
		printf '%s\n' ${V[$1|$2|rgbs]:-} | sort -g | tail -n 1
		return ;;
	esac
	# shellcheck disable=SC2086
	median ${V[$1|$2|$3]:-}
}

# fmt VALUE SCALE DECIMALS - VALUE/SCALE, or "-" for nothing
fmt() {
	if [ -z "$1" ]; then
		echo -
	else
		awk -v v="$1" -v s="$2" -v d="$3" 'BEGIN { printf "%.*f", d, v / s }'
	fi
}

# ratio A B - A/B to two decimals (none from 100 up), or "-"
ratio() {
	if [ -z "$1" ] || [ -z "$2" ] || awk -v b="$2" 'BEGIN { exit !(b == 0) }'; then
		echo -
	else
		awk -v a="$1" -v b="$2" 'BEGIN { printf "%.*f", (a / b >= 100) ? 0 : 2, a / b }'
	fi
}

ROW='%-11s %-9s %5s %9s %9s %9s %9s %10s %8s %6s %8s\n'
report() {
	local tool wl args gbs desc cols
	echo "stasis dump and restore benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "machine:   $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
	echo "           transparent huge pages: $(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
	echo "memcpy:    ${MEMCPY:-?} GB/s (one thread, 256 MiB buffers, best of 5)"
	echo "tmpfs:     ${TMPFS:-?} GB/s (1 GiB written to /dev/shm in 4 MiB writes, best of 3)"
	echo "           read: ${TMPFS_READ:-?} GB/s (4 MiB reads into one buffer), ${TMPFS_READ_NEW:-?} GB/s into"
	echo "           memory mapped just before (a page fault a page, as a restore pays), best of 3"
	echo "           fill: ${TMPFS_FILL:-?} GB/s one thread, ${TMPFS_FILL2:-?} GB/s two (1 MiB populated, then"
	echo "           read into, as the restorer does: the limit of a restore on this machine), best of 3"
	echo "stasis:    $STASIS ($("$STASIS" --version 2>&1 | head -n 1))"
	echo "reference: $REF_NOTE"
	echo "method:    median of $RUNS runs (after $WARMUP not counted); each run starts the workload"
	echo "           afresh and times \`TOOL dump -t PID -D DIR${TOOL_ARGS:+ $TOOL_ARGS}\`"
	if [ "$LEAVE_RUNNING" = 1 ]; then
		echo "           (left running, then killed by the harness); images on tmpfs"
	else
		echo "           (no -R: the tool kills the tree); images on tmpfs"
	fi
	echo "           ($ROOT), removed after each run"
	if [ "$RESTORE" = 1 ]; then
		echo "           restore: the last run's images, restored as many times (after as"
		echo "           many not counted) with \`TOOL restore -D DIR -d${RESTORE_ARGS:+ $RESTORE_ARGS}\` under a"
		echo "           child subreaper, which checks every process alive, then kills the tree"
	fi
	echo "elapsed:   $SECONDS s for the whole benchmark"
	echo
	# shellcheck disable=SC2059
	printf "$ROW" workload tool runs "wall ms" "best ms" "frozen ms" "freeze ms" "image MiB" pages "GB/s" "RSS MiB"
	for entry in "${WORKLOADS[@]}"; do
		IFS='|' read -r wl args gbs _ <<<"$entry"
		if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$wl,"* ]]; then
			continue
		fi
		declare -A M=()
		for tool in "${TOOLS[@]}"; do
			for m in wall best frozen freezing size pages gbs rss; do
				M[$tool|$m]=$(med "$tool" "$wl" "$m")
			done
			[ "$gbs" = y ] || M[$tool|gbs]=""
			if [ -z "${OK[$tool|$wl]:-}" ]; then
				printf '%-11s %-9s %5s  %s\n' "$([ "$tool" = stasis ] && echo "$wl")" \
					"$tool" "0/$RUNS" "${FAIL[$tool|$wl]:-not run}"
				continue
			fi
			# shellcheck disable=SC2059
			printf "$ROW" "$([ "$tool" = stasis ] && echo "$wl")" "$tool" \
				"${OK[$tool|$wl]}/$RUNS" \
				"$(fmt "${M[$tool|wall]}" 1000 1)" \
				"$(fmt "${M[$tool|best]}" 1000 1)" \
				"$(fmt "${M[$tool|frozen]}" 1000 1)" \
				"$(fmt "${M[$tool|freezing]}" 1000 2)" \
				"$(fmt "${M[$tool|size]}" 1048576 1)" \
				"$(fmt "${M[$tool|pages]}" 1 0)" \
				"$(fmt "${M[$tool|gbs]}" 1 2)" \
				"$(fmt "${M[$tool|rss]}" 1024 1)"
			# Some runs passed, then one failed: say which and why.
			if [ -n "${FAIL[$tool|$wl]:-}" ]; then
				echo "                            ${FAIL[$tool|$wl]}"
			fi
		done
		if [ "${#TOOLS[@]}" -gt 1 ] && [ -n "${M[stasis|wall]}" ] && [ -n "${M[reference|wall]}" ]; then
			cols=()
			for m in wall best frozen freezing size pages gbs rss; do
				cols+=("$(ratio "${M[stasis|$m]}" "${M[reference|$m]}")")
			done
			# shellcheck disable=SC2059
			printf "$ROW" "" "stasis/ref" "" "${cols[@]}"
		fi
		unset M
	done
	[ "$RESTORE" = 1 ] && restore_table
	echo
	echo "workloads:"
	for entry in "${WORKLOADS[@]}"; do
		IFS='|' read -r wl args _ desc <<<"$entry"
		if [ -z "$ONLY" ] || [[ ",$ONLY," == *",$wl,"* ]]; then
			printf '  %-11s %s\n' "$wl" "$desc"
		fi
	done
	echo
	echo "targets (from the project's issue and ../shared/DESIGN.md):"
	target_lines
	echo
	echo "Columns: wall = the dump command's wall time (best: the least of the runs); frozen,"
	echo "freeze = dump.frozen_time and dump.freezing_time of the tool's stats-dump; image = du"
	echo "of the images directory; pages = dump.pages_written; GB/s = pages*4096 / wall (GB ="
	echo "10^9 bytes); RSS = the dumper's peak resident memory (ru_maxrss). Medians but best."
	if [ "$RESTORE" = 1 ]; then
		echo "Restore: wall = the restore command's wall time, until it exits leaving the tree"
		echo "running; tree = restore.restore_time of the tool's stats-restore; pages = the size"
		echo "of the pages images; GB/s = pages / wall; RSS = the restorer's own peak memory."
	fi
	echo "Ratios are stasis/reference: below 1 is better for every column except GB/s."
}

RROW='%-11s %-9s %5s %9s %9s %9s %10s %8s %9s %8s\n'
restore_table() {
	local tool wl args gbs m cols
	echo
	# shellcheck disable=SC2059
	printf "$RROW" restore tool runs "wall ms" "best ms" "tree ms" "pages MiB" "GB/s" "best GB/s" "RSS MiB"
	for entry in "${WORKLOADS[@]}"; do
		IFS='|' read -r wl args gbs _ <<<"$entry"
		if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$wl,"* ]]; then
			continue
		fi
		declare -A M=()
		for tool in "${TOOLS[@]}"; do
			for m in rwall rbest rtree rgbs rgbsbest rrss; do
				M[$tool|$m]=$(med "$tool" "$wl" "$m")
			done
			M[$tool|pages]=${PAGES_BYTES[$tool|$wl]:-}
			if [ "$gbs" != y ]; then
				M[$tool|rgbs]=""
				M[$tool|rgbsbest]=""
			fi
			if [ -z "${ROK[$tool|$wl]:-}" ]; then
				printf '%-11s %-9s %5s  %s\n' "$([ "$tool" = stasis ] && echo "$wl")" \
					"$tool" "0/$RUNS" "${RFAIL[$tool|$wl]:-${FAIL[$tool|$wl]:+not run: the dump failed}}"
				continue
			fi
			# shellcheck disable=SC2059
			printf "$RROW" "$([ "$tool" = stasis ] && echo "$wl")" "$tool" \
				"${ROK[$tool|$wl]}/$RUNS" \
				"$(fmt "${M[$tool|rwall]}" 1000 1)" \
				"$(fmt "${M[$tool|rbest]}" 1000 1)" \
				"$(fmt "${M[$tool|rtree]}" 1000 1)" \
				"$(fmt "${M[$tool|pages]}" 1048576 1)" \
				"$(fmt "${M[$tool|rgbs]}" 1 2)" \
				"$(fmt "${M[$tool|rgbsbest]}" 1 2)" \
				"$(fmt "${M[$tool|rrss]}" 1024 1)"
			if [ -n "${RFAIL[$tool|$wl]:-}" ]; then
				echo "                            ${RFAIL[$tool|$wl]}"
			fi
		done
		if [ "${#TOOLS[@]}" -gt 1 ] && [ -n "${M[stasis|rwall]}" ] && [ -n "${M[reference|rwall]}" ]; then
			cols=()
			for m in rwall rbest rtree pages rgbs rgbsbest rrss; do
				cols+=("$(ratio "${M[stasis|$m]}" "${M[reference|$m]}")")
			done
			# shellcheck disable=SC2059
			printf "$RROW" "" "stasis/ref" "" "${cols[@]}"
		fi
		unset M
	done
}

# target LABEL VALUE_TEXT MET(yes/no/"") NOTE
target() {
	local verdict=$3
	case $verdict in
	yes) verdict=met ;;
	no) verdict=MISSED ;;
	esac
	printf '  %-44s %-16s %-7s %s\n' "$1" "$2" "$verdict" "$4"
}

# Issue 16: dirty-1g restored at least 3 times faster than the reference
# (CRIU 4.2), next to what the machine allows: 1 GiB filled by two threads.
restore_vs_ref() {
	local s r
	s=$(med stasis dirty-1g rwall)
	r=$(med reference dirty-1g rwall)
	[ -n "$s" ] && [ -n "$r" ] || return 0
	target "dirty-1g restores >= 3x faster than the ref" "$(ratio "$r" "$s")x" \
		"$(awk -v s="$s" -v r="$r" 'BEGIN { print (r >= 3 * s) ? "yes" : "no" }')" \
		"(best runs $(ratio "$(med reference dirty-1g rbest)" "$(med stasis dirty-1g rbest)")x; the two-thread fill alone: $(awk -v f="${TMPFS_FILL2:-0}" -v r="$r" 'BEGIN { if (f > 0) printf "%.2fx", r / 1e6 / (1073741824 / f / 1e9); else print "-" }'))"
}

target_lines() {
	local g z i rss top
	g=$(med stasis dirty-1g gbs)
	if [ -n "$g" ]; then
		# shellcheck disable=SC2086
		top=$(printf '%s\n' ${V[stasis|dirty-1g|gbs]} | sort -g | tail -n 1)
		target "dirty-1g dumps to tmpfs at >= 2 GB/s" "$(fmt "$g" 1 2) GB/s" \
			"$(awk -v g="$g" 'BEGIN { print (g >= 2) ? "yes" : "no" }')" \
			"(best run $(fmt "$top" 1 2); $(ratio "$g" "${TMPFS:-}") of tmpfs write, $(ratio "$g" "${MEMCPY:-}") of memcpy)"
	else
		target "dirty-1g dumps to tmpfs at >= 2 GB/s" "-" "" "not measured"
	fi
	z=$(med stasis zero-256m size)
	i=$(med stasis idle size)
	if [ -n "$z" ] && [ -n "$i" ]; then
		target "zero-256m: zero pages add < 1 MiB over idle" \
			"$(awk -v z="$z" -v i="$i" 'BEGIN { printf "%+.2f MiB", (z - i) / 1048576 }')" \
			"$(awk -v z="$z" -v i="$i" 'BEGIN { print (z - i < 1048576) ? "yes" : "no" }')" \
			"(CRIU writes every zero page: ~257 MiB)"
	else
		target "zero-256m: zero pages add < 1 MiB over idle" "-" "" "not measured (needs idle and zero-256m)"
	fi
	if [ "$RESTORE" = 1 ]; then
		g=$(med stasis dirty-1g rgbs)
		if [ -n "$g" ]; then
			target "dirty-1g restores from tmpfs at >= 2 GB/s" "$(fmt "$g" 1 2) GB/s" \
				"$(awk -v g="$g" 'BEGIN { print (g >= 2) ? "yes" : "no" }')" \
				"(best run $(fmt "$(med stasis dirty-1g rgbsbest)" 1 2); $(ratio "$g" "${TMPFS_FILL2:-}") of the two-thread fill; CRIU 4.2: ~1.2)"
		else
			target "dirty-1g restores from tmpfs at >= 2 GB/s" "-" "" "not measured"
		fi
		restore_vs_ref
	fi
	rss=$(med stasis dirty-4g rss)
	if [ -n "$rss" ]; then
		target "dirty-4g: dumper peak RSS < 32 MiB" "$(fmt "$rss" 1024 1) MiB" \
			"$(awk -v r="$rss" 'BEGIN { print (r < 32768) ? "yes" : "no" }')" ""
	elif [ "$BIG" = 1 ]; then
		target "dirty-4g: dumper peak RSS < 32 MiB" "-" "" "not measured"
	else
		target "dirty-4g: dumper peak RSS < 32 MiB" "-" "" "not run (--big, or make bench BENCH_BIG=1)"
	fi
}

report >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
