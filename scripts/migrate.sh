#!/bin/bash
# migrate.sh - move a running tree to another host with stasis: pre-dumps
# whose pages go to a page server on the destination, each taking only what
# changed since the last, until what changes stops shrinking; then the final
# dump (the tree's only stop), its other images copied over, and a restore
# there (detached: the restored tree is the child of whoever reaps orphans
# there).
#
#   scripts/migrate.sh -t PID --src DIR --dst DIR --address ADDR [options]
#                      [-- RESTORE_OPTION...]
#
#   -t PID           the tree's root
#   --src DIR        where the dumps write their own images, here
#   --dst DIR        where the page servers and the restore work, there
#   --address ADDR   the destination's address (its page servers listen on it)
#   --port PORT      their port (default 27100)
#   --remote CMD     how to run a command there: "ssh HOST", "ip netns exec NS"
#                    (default: here)
#   --stasis PATH    stasis here (default: the one beside this script)
#   --remote-stasis PATH  stasis there (default: the same path)
#   --max-iters N    pre-dumps at most (default 8)
#   anything after -- goes to the restore (e.g. --shell-job)
#
# Prints one line per pre-dump (pages written, milliseconds) and, at the end,
# "downtime MS" (from the final dump's start to the restored tree running)
# and "total MS". Exits non-zero, saying why, if a step fails: a failed
# pre-dump or dump leaves the tree running here (stasis never harms it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
pid= src= dst= addr= port=27100 remote= max_iters=8
st=$here/../build/stasis
rst_opts=()
while [ $# -gt 0 ]; do
	case $1 in
	-t) pid=$2; shift ;;
	--src) src=$2; shift ;;
	--dst) dst=$2; shift ;;
	--address) addr=$2; shift ;;
	--port) port=$2; shift ;;
	--remote) remote=$2; shift ;;
	--stasis) st=$2; shift ;;
	--remote-stasis) rst=$2; shift ;;
	--max-iters) max_iters=$2; shift ;;
	--) shift; rst_opts=("$@"); break ;;
	*) echo "migrate: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$pid" ] || [ -z "$src" ] || [ -z "$dst" ] || [ -z "$addr" ]; then
	echo "usage: migrate.sh -t PID --src DIR --dst DIR --address ADDR [--port P]" \
		"[--remote CMD] [--max-iters N] [-- RESTORE_OPTION...]" >&2
	exit 2
fi
rst=${rst:-$st}
ms() { date +%s%3N; }
there() { $remote "$@"; }
die() { echo "migrate: $*" >&2; exit 1; }
# The number of pages a dump wrote: its stats-dump, through stasis's crit.
written() {
	"$here/../build/crit" decode -i "$1/stats-dump" 2>/dev/null |
		sed -n 's/.*"pages_written": *\([0-9]*\).*/\1/p'
}

# serve DIR [PARENT]: a page server there for one dump, into DIR.
serve() {
	there mkdir -p "$dst/$1" || die "cannot make $dst/$1 there"
	if [ -n "${2:-}" ]; then
		there ln -sfn "../$2" "$dst/$1/parent" || die "cannot link $dst/$1/parent there"
	fi
	there "$rst" page-server -D "$dst/$1" --address "$addr" --port "$port" -d ||
		die "no page server there on $addr:$port"
}

mkdir -p "$src" || die "cannot make $src"
start=$(ms)
prev= last=
for i in $(seq 1 "$max_iters"); do
	serve "$i" "$prev"
	t0=$(ms)
	"$st" pre-dump -t "$pid" -D "$src/$i" --page-server --address "$addr" --port "$port" \
		${prev:+--prev-images-dir "../$prev"} -o pre-dump.log ||
		die "pre-dump $i failed (the tree runs on here): see $src/$i/pre-dump.log"
	n=$(written "$src/$i")
	echo "pre-dump $i: ${n:-?} pages, $(($(ms) - t0)) ms"
	prev=$i
	# Stop once a pass no longer shrinks what is left to send.
	if [ -n "$last" ] && [ -n "$n" ] && [ $((n * 10)) -ge $((last * 9)) ]; then
		break
	fi
	last=$n
done

serve final "$prev"
t0=$(ms)
"$st" dump -t "$pid" -D "$src/final" --page-server --address "$addr" --port "$port" \
	--prev-images-dir "../$prev" -o dump.log ||
	die "the final dump failed (the tree runs on here): see $src/final/dump.log"
t1=$(ms)
echo "final dump: $(written "$src/final") pages, $((t1 - t0)) ms"
# Killed by the dump, the tree may linger as zombies until reaped here: on
# one host (two network namespaces) its pids are not free before then.
for _ in $(seq 500); do [ -d "/proc/$pid" ] || break; sleep 0.01; done
# The images that are not pages go over as they are.
tar -C "$src/final" -cf - --exclude 'pages-*.img' --exclude 'pagemap-*.img' . |
	there tar -C "$dst/final" -xf - || die "cannot copy the images to $dst/final there"
t2=$(ms)
there "$rst" restore -D "$dst/final" -d -o restore.log "${rst_opts[@]}" ||
	die "the restore failed there: see $dst/final/restore.log"
echo "restore: $(($(ms) - t2)) ms (images copied in $((t2 - t1)) ms)"
echo "downtime $(($(ms) - t0)) ms"
echo "total $(($(ms) - start)) ms"
