#!/bin/bash
# ps-wrap.sh - stands for stasis in the conformance runner (--stasis): its
# dump sends the pages to a page server started first in the same images
# directory, as ZDTM's --page-server mode does; every other action is
# stasis's own.  The dump fails unless the server ended its session well
# and the pages it wrote are there.
#
# Environment: STASIS (the real binary), PS_SERVER (the page server's
# binary: stasis or CRIU), PS_DUMPER (the dump's: stasis or CRIU), PS_PORT;
# PS_SERVER_OPTS and PS_DUMP_OPTS, more options for each (--tls ...);
# PS_PRE=1: a pre-dump first, its pages to a page server of its own in
# ../pre, and the dump then only sends what changed (--prev-images-dir).
set -u
real=$STASIS server=${PS_SERVER:-$STASIS} dumper=${PS_DUMPER:-$STASIS} port=${PS_PORT:-27027}
read -ra sopts <<<"${PS_SERVER_OPTS:-}"
read -ra dopts <<<"${PS_DUMP_OPTS:-}"
[ "$1" = dump ] || exec "$real" "$@"
. "$(dirname "$0")/../lib/common.sh"
dir=$(images_dir "$@") || { echo "ps-wrap: no -D" >&2; exit 1; }
pid=
prev=
for a in "$@"; do
	[ "$prev" = -t ] && pid=$a
	prev=$a
done
# Ended, or a zombie that its reaper (the runner, a subreaper) has yet to wait for.
running() {
	local st
	st=$(cut -d' ' -f3 "/proc/$ps/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}
# serve DIR: a page server for one dump into DIR; -d: back once it listens,
# its pid in ps.pid.
serve() {
	mkdir -p "$1"
	rm -f "$1"/pages-*.img "$1"/pagemap-*.img "$1/ps.pid" "$1/page-server.log"
	"$server" page-server -D "$1" --address 127.0.0.1 --port "$port" -d \
		--pidfile "$1/ps.pid" -v4 -o page-server.log "${sopts[@]}" || exit 1
	ps=$(cat "$1/ps.pid")
}
if [ "${PS_PRE:-}" = 1 ]; then
	pre=$(dirname "$dir")/pre
	rm -rf "$pre"
	serve "$pre"
	"$dumper" pre-dump -t "$pid" -D "$pre" -v4 -o pre-dump.log --page-server \
		--address 127.0.0.1 --port "$port" "${dopts[@]}" || exit 1
	for _ in $(seq 100); do running || break; sleep 0.1; done
	mkdir -p "$dir"
	ln -sfn ../pre "$dir/parent"
	set -- "$@" --prev-images-dir ../pre
fi
serve "$dir"
"$dumper" "$@" --page-server --address 127.0.0.1 --port "$port" "${dopts[@]}"
rc=$?
for _ in $(seq 100); do
	running || break
	sleep 0.1
done
if running; then
	echo "ps-wrap: the page server did not end" >&2
	kill -9 "$ps"
	exit 1
fi
[ "$rc" -eq 0 ] || exit "$rc"
if grep -q "Error" "$dir/page-server.log"; then
	echo "ps-wrap: the page server logged errors:" >&2
	grep "Error" "$dir/page-server.log" >&2
	exit 1
fi
# The server's pages ids start at 0x10001: these pages came over TCP.
ls "$dir"/pages-6553[7-9].img >/dev/null 2>&1 || {
	echo "ps-wrap: no pages from the page server in $dir" >&2
	exit 1
}
