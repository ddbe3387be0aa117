#!/bin/bash
# soak-between.sh CYCLES STASIS WORKDIR [DUMP-OPTION...] PID - dump PID with
# -R CYCLES times in a row (the runner's --between step of tests/soak.sh),
# with the dump options given; every dump must succeed and leave PID running.
set -u
cycles=$1 stasis=$2 dir=$3
shift 3
pid=${*: -1}
opts=("${@:1:$#-1}")
for ((i = 1; i <= cycles; i++)); do
	if ! "$stasis" dump -t "$pid" -D "$dir" -R -o dump.log "${opts[@]}"; then
		echo "dump $i of $cycles failed: $(grep -m1 Error "$dir/dump.log")"
		exit 1
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "pid $pid is gone after dump $i"
		exit 1
	fi
done
echo "$cycles dumps with -R"
