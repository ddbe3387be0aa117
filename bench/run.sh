#!/bin/bash
# run.sh - the dump benchmark: workloads dumped by stasis and, side by side,
# by a reference tool with CRIU's command line; medians, GB/s and ratios.
# bench/README.md says what each workload and column means.
#
#   bench/run.sh [--reference PATH] [--runs N] [--warmup N] [--big]
#                [--only W1,W2] [--stasis PATH] [--crit PATH] [--timeout S]
#                [--out FILE] [--tool-args "ARGS"]
#
# Every run starts a fresh workload and dumps it with `dump -t PID -D DIR`
# (no --leave-running: the tool kills the tree, as by default), with the
# images on tmpfs under /dev/shm/stasis-bench, removed after each run.
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
cleanup() {
	if [ -n "$CUR_LAUNCHER" ]; then
		kill -TERM "$CUR_LAUNCHER" 2>/dev/null
		wait "$CUR_LAUNCHER" 2>/dev/null
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

# run_once TOOL WORKLOAD ARGS... - start the workload, dump it once, and set
# R_WALL_US R_RSS_KB R_FROZEN_US R_FREEZING_US R_PAGES R_SIZE (bytes), or
# R_ERR and return 1.
run_once() {
	local tool=$1 wl=$2 dir=$ROOT/run pid status steps err
	shift 2
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
		# The first error, less the echoes of helper processes exiting.
		err=$(grep -i 'error' "$dir/dump.log" | grep -v -m 1 'exited, status=' ||
			tail -n 1 "$dir/dump.log")
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
	rm -rf "$dir"
	return 0
}

# The machine's own references, to read the GB/s against.
progress "machine references: memcpy, tmpfs write"
MEMCPY=$("$BIN/measure" memcpy 256 | sed -n 's/^memcpy_gbs=//p')
TMPFS=$("$BIN/measure" tmpfs "$ROOT/bw.dat" 1024 | sed -n 's/^tmpfs_gbs=//p')

# An ordinary file for the fds workload to open, 4 KiB of text.
head -c 4096 /dev/zero | tr '\0' 'x' >"$ROOT/fds-file"

declare -A V FAIL OK
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
				if run_once "$tool" "$wl" $args; then
					progress "$wl: $tool warm-up: $((R_WALL_US / 1000)) ms (not counted)"
				else
					FAIL[$tool|$wl]="failed (warm-up run): $R_ERR"
					progress "$wl: $tool warm-up: $R_ERR"
				fi
				continue
			fi
			# shellcheck disable=SC2086
			if run_once "$tool" "$wl" $args; then
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
done

# med TOOL WL METRIC - the median, or nothing; METRIC "best": the least wall
med() {
	if [ "$3" = best ]; then
		# shellcheck disable=SC2086
		printf '%s\n' ${V[$1|$2|wall]:-} | sort -g | head -n 1
		return
	fi
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
	echo "stasis dump benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "machine:   $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
	echo "           transparent huge pages: $(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
	echo "memcpy:    ${MEMCPY:-?} GB/s (one thread, 256 MiB buffers, best of 5)"
	echo "tmpfs:     ${TMPFS:-?} GB/s (1 GiB written to /dev/shm in 4 MiB writes, best of 3)"
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
	echo "Ratios are stasis/reference: below 1 is better for every column except GB/s."
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
