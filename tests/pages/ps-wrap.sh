#!/bin/bash
# ps-wrap.sh - stands for stasis in the conformance runner (--stasis): its
# dump sends the pages to a page server started first in the same images
# directory, as ZDTM's --page-server mode does; every other action is
# stasis's own.  The dump fails unless the server ended its session well
# and the pages it wrote are there.
#
# Environment: STASIS (the real binary), PS_SERVER (the page server's
# binary: stasis or CRIU), PS_DUMPER (the dump's: stasis or CRIU), PS_PORT.
set -u
real=$STASIS server=${PS_SERVER:-$STASIS} dumper=${PS_DUMPER:-$STASIS} port=${PS_PORT:-27027}
[ "$1" = dump ] || exec "$real" "$@"
. "$(dirname "$0")/../lib/common.sh"
dir=$(images_dir "$@") || { echo "ps-wrap: no -D" >&2; exit 1; }
mkdir -p "$dir"
rm -f "$dir"/pages-*.img "$dir"/pagemap-*.img "$dir/ps.pid" "$dir/page-server.log"
# -d: back once the server listens; its pid in ps.pid.
"$server" page-server -D "$dir" --address 127.0.0.1 --port "$port" -d \
	--pidfile "$dir/ps.pid" -v4 -o page-server.log || exit 1
ps=$(cat "$dir/ps.pid")
"$dumper" "$@" --page-server --address 127.0.0.1 --port "$port"
rc=$?
# Ended, or a zombie that its reaper (the runner, a subreaper) has yet to wait for.
running() {
	local st
	st=$(cut -d' ' -f3 "/proc/$ps/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}
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
