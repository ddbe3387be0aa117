#!/bin/bash
# ps-tls.sh - what TLS costs the page server: a workload with 1 GiB of dirty
# anonymous memory (bench/workload dirty 1024) dumped to `stasis page-server`
# on 127.0.0.1, with its pages on tmpfs, plain and with --tls (certificates
# of tests/pages/tls-certs.sh), RUNS times each (default 3); the median dump
# wall time and GB/s of each, next to dd of 1 GiB to the same tmpfs (the
# machine's own limit), measured in the same run.
#
#   bench/ps-tls.sh [RUNS]        (make bench-tls)
#
# Server and dump share the machine's cores: under TLS one seals and the
# other opens every byte.
set -u
cd "$(dirname "$0")/.."
runs=${1:-3}
S=$PWD/build/stasis
W=/dev/shm/stasis-bench-tls
out=bench/results/ps-tls-latest.txt
port=27041
mkdir -p bench/results
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
if ! bash tests/pages/tls-certs.sh "$W/certs" 2>/dev/null; then
	echo "ps-tls: openssl cannot make the certificates" >&2
	exit 1
fi
if "$S" page-server --tls --port -1 2>&1 | grep -q "built without GnuTLS"; then
	echo "ps-tls: stasis was built without GnuTLS" >&2
	exit 1
fi
C=$W/certs
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
ms() { date +%s%3N; }
gbs() { awk -v ms="$1" 'BEGIN { if (ms > 0) printf "%.2f", 1.073741824 / (ms / 1000); else print "?" }'; }

# once SERVER-OPTS DUMP-OPTS: one dump of a fresh workload; its wall time in ms.
once() {
	local d=$W/run pid launcher t0 t1
	rm -rf "$d"
	mkdir -p "$d/img"
	build/bench/workload -p "$d/pid" dirty 1024 2>/dev/null &
	launcher=$!
	while [ ! -s "$d/pid" ]; do sleep 0.01; done
	pid=$(<"$d/pid")
	# shellcheck disable=SC2086
	"$S" page-server -D "$d/img" --address 127.0.0.1 --port "$port" -d \
		--pidfile "$d/ps.pid" -o page-server.log $1 || return 1
	t0=$(ms)
	# shellcheck disable=SC2086
	"$S" dump -t "$pid" -D "$d/img" --page-server --address 127.0.0.1 --port "$port" \
		-o dump.log $2 || { kill "$launcher"; wait "$launcher"; return 1; }
	# The server has written every page once it answered the dump's close.
	t1=$(ms)
	wait "$launcher"
	for _ in $(seq 100); do kill -0 "$(cat "$d/ps.pid")" 2>/dev/null || break; sleep 0.05; done
	echo $((t1 - t0))
}

TLS="--tls --tls-cacert $C/ca.pem"
plain=() tls=() dd_ms=()
for _ in $(seq "$runs"); do
	t0=$(ms)
	dd if=/dev/zero of="$W/dd" bs=4M count=256 conv=fsync status=none
	dd_ms+=($(($(ms) - t0)))
	rm -f "$W/dd"
	plain+=("$(once "" "")")
	tls+=("$(once "$TLS --tls-cert $C/server.pem --tls-key $C/server.key" \
		"$TLS --tls-cert $C/client.pem --tls-key $C/client.key")")
done
p=$(printf '%s\n' "${plain[@]}" | median)
t=$(printf '%s\n' "${tls[@]}" | median)
d=$(printf '%s\n' "${dd_ms[@]}" | median)
{
	echo "page server, 1 GiB dirty dumped over 127.0.0.1 to tmpfs, $runs runs ($(date -u +%F\ %H:%M) UTC)"
	echo "  dd of 1 GiB to tmpfs:  ${d} ms  ($(gbs "$d") GB/s)"
	echo "  plain:                 ${p} ms  ($(gbs "$p") GB/s, $(awk -v a="$p" -v b="$d" 'BEGIN { printf "%.2f", a / b }')x dd)   (all: ${plain[*]})"
	echo "  --tls:                 ${t} ms  ($(gbs "$t") GB/s, $(awk -v a="$t" -v b="$p" 'BEGIN { printf "%.2f", a / b }')x plain)   (all: ${tls[*]})"
} | tee "$out"
