#!/bin/bash
# migrate.sh - move a running tree to another host with stasis: pre-dumps
# whose pages go to a page server on the destination, each taking only what
# changed since the last, until what changes stops shrinking; then the final
# dump (the tree's only stop), its other images copied over, and a restore
# there (detached: the restored tree is the child of whoever reaps orphans
# there).  With --lazy the restore is `restore --lazy-pages`: the tree runs
# again as soon as it is made, and a lazy-pages daemon there fills its
# memory from the pages the pre-dumps already sent, on faults and in the
# background (its log: DST/final/lazy-pages.log).
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
#   --lazy           restore with --lazy-pages (the memory follows the tree)
#   anything after -- goes to the restore (e.g. --shell-job)
#
# Prints one line per pre-dump (pages written, milliseconds) and, at the end,
# "downtime MS" (from the final dump's start to the restored tree running)
# and "total MS".  On one host (two network namespaces) the restore must
# wait until the dumped tree is gone, its pids free: "pid wait MS" says how
# long that was, a part of the downtime that two hosts do not have. Exits non-zero, saying why, if a step fails: a failed
# pre-dump or dump leaves the tree running here (stasis never harms it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
pid= src= dst= addr= port=27100 remote= max_iters=8 lazy=
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
	--lazy) lazy=1 ;;
	--) shift; rst_opts=("$@"); break ;;
	*) echo "migrate: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$pid" ] || [ -z "$src" ] || [ -z "$dst" ] || [ -z "$addr" ]; then
	echo "usage: migrate.sh -t PID --src DIR --dst DIR --address ADDR [--port P]" \
		"[--remote CMD] [--max-iters N] [--lazy] [-- RESTORE_OPTION...]" >&2
	exit 2
fi
rst=${rst:-$st}
ms() { date +%s%3N; }
there() { $remote "$@"; }
lpd=	# the lazy-pages daemon's pidfile there, once it runs
die() {
	echo "migrate: $*" >&2
	[ -n "$lpd" ] && there sh -c "kill \$(cat '$lpd')" 2>/dev/null
	exit 1
}
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
# The daemon listens before the final dump: it reads the images once the
# restore comes.
if [ -n "$lazy" ]; then
	there mkdir -p "$dst/final" || die "cannot make $dst/final there"
	there "$rst" lazy-pages -D "$dst/final" -d -o lazy-pages.log \
		--pidfile "$dst/final/lazy-pages.pid" ||
		die "no lazy-pages daemon there: see $dst/final/lazy-pages.log"
	lpd=$dst/final/lazy-pages.pid
	rst_opts=(--lazy-pages "${rst_opts[@]}")
fi
t0=$(ms)
"$st" dump -t "$pid" -D "$src/final" --page-server --address "$addr" --port "$port" \
	--prev-images-dir "../$prev" -o dump.log ||
	die "the final dump failed (the tree runs on here): see $src/final/dump.log"
t1=$(ms)
echo "final dump: $(written "$src/final") pages, $((t1 - t0)) ms"
# The images that are not pages go over as they are, in one archive made
# here while the killed tree goes away, and unpacked there by the command
# that restores (one remote command, not two).
tar -C "$src/final" -cf "$src/final.tar" --exclude 'pages-*.img' --exclude 'pagemap-*.img' . ||
	die "cannot pack the images of $src/final"
t2=$(ms)
# Killed by the dump, the tree may linger (its memory being freed, then as
# zombies until reaped here): on one host its pids are not free before then.
for _ in $(seq 1000); do [ -d "/proc/$pid" ] || break; sleep 0.002; done
t3=$(ms)
there sh -c 'tar -C "$1" -xf - && shift && exec "$@"' sh "$dst/final" \
	"$rst" restore -D "$dst/final" -d -o restore.log "${rst_opts[@]}" <"$src/final.tar" ||
	die "the restore failed there: see $dst/final/restore.log"
t4=$(ms)
echo "restore: $((t4 - t3)) ms, the images unpacked first (packed in $((t2 - t1)) ms)"
echo "pid wait $((t3 - t2)) ms"
echo "downtime $((t4 - t0)) ms"
echo "total $((t4 - start)) ms"
