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
#   -v0 .. -v4       the verbosity of every stasis log (timestamped; -v4 for
#                    where the downtime goes)
#   anything after -- goes to the restore (e.g. --shell-job)
#
# Prints one line per pre-dump (pages written, milliseconds) and, at the end,
# "downtime MS" (from the final dump's start to the restored tree running)
# and "total MS".  On one host (two network namespaces) the restore must
# wait until the dumped tree is gone, its pids free: the final dump frees
# them before the memory of a big task (it says so on its status fd), and
# "pid wait MS" is what is left until the tree's parent here has reaped it,
# a part of the downtime that two hosts do not have.  Exits non-zero,
# saying why, if a step fails: a failed pre-dump or dump leaves the tree
# running here (stasis never harms it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
pid= src= dst= addr= port=27100 remote= max_iters=8 lazy= vopt=
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
	-v[0-4]) vopt=$1 ;;
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
imgs= rpid=	# the images' way to the restore there, once it waits for them
die() {
	echo "migrate: $*" >&2
	[ -n "$imgs" ] && exec {imgs}>&-
	[ -n "$rpid" ] && wait "$rpid"
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
		${prev:+--prev-images-dir "../$prev"} -o pre-dump.log $vopt ||
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
	there "$rst" lazy-pages -D "$dst/final" -d -o lazy-pages.log $vopt \
		--pidfile "$dst/final/lazy-pages.pid" ||
		die "no lazy-pages daemon there: see $dst/final/lazy-pages.log"
	lpd=$dst/final/lazy-pages.pid
	rst_opts=(--lazy-pages "${rst_opts[@]}")
fi
# The command that restores there starts now and waits for the images on
# its stdin (through a FIFO here): its shell and tar cost the downtime
# nothing.  Given no images (the final dump failed), tar finds no archive
# and nothing is restored.
rm -f "$src/final.fifo" && mkfifo "$src/final.fifo" || die "cannot make $src/final.fifo"
exec {imgs}<>"$src/final.fifo"
there sh -c 'tar -C "$1" -xf - && shift && exec "$@"' sh "$dst/final" \
	"$rst" restore -D "$dst/final" -d -o restore.log $vopt "${rst_opts[@]}" \
	<"$src/final.fifo" {imgs}>&- &
rpid=$!
t0=$(ms)
# The dump says on its status fd when the tree is dead and its pids are
# free; a big task's memory may still be going then (the dump ends once it
# is), off the downtime: the images are complete before the tree is killed.
coproc FINAL { exec {imgs}>&-; "$st" dump -t "$pid" -D "$src/final" --page-server \
	--address "$addr" --port "$port" --prev-images-dir "../$prev" -o dump.log $vopt \
	--status-fd 1; echo "rc=$?"; }
# Ours to read after the dump ends (bash forgets a coprocess's fds then).
exec {fin}<&"${FINAL[0]}"
IFS= read -r -d '' -u "$fin" _ ||
	die "the final dump failed (the tree runs on here): see $src/final/dump.log"
t1=$(ms)
# On one host the restored tree needs the pids, free once its parent here
# has reaped it.
for _ in $(seq 1000); do [ -d "/proc/$pid" ] || break; sleep 0.002; done
t2=$(ms)
# The images that are not pages go over as they are.
tar -C "$src/final" -cf - --exclude 'pages-*.img' --exclude 'pagemap-*.img' . >&$imgs
exec {imgs}>&-
imgs=
wait "$rpid" || { rpid=; die "the restore failed there: see $dst/final/restore.log"; }
t3=$(ms)
echo "final dump: $(written "$src/final") pages, $((t1 - t0)) ms"
echo "restore: $((t3 - t2)) ms, the images sent and unpacked first"
echo "pid wait $((t2 - t1)) ms"
echo "downtime $((t3 - t0)) ms"
# The dump ends once the memory of the tree is freed here.
IFS= read -r -u "$fin" rc
exec {fin}<&-
[ "$rc" = rc=0 ] || echo "migrate: the final dump ended with ${rc:-no status}: see $src/final/dump.log" >&2
echo "total $((t3 - start)) ms"
