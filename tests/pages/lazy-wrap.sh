#!/bin/bash
# lazy-wrap.sh - stands for stasis in the conformance runner (--stasis): its
# restore is a restore --lazy-pages, with a lazy-pages daemon started first
# on the same images (in the background, -d; its pid in lazy.pid), as
# ZDTM's --lazy-pages mode does; every other action is stasis's own.
# tests/pages/lazy.sh checks the daemon's log and its end afterwards.
#
# Environment: STASIS (the real binary), LP_DAEMON (the daemon's binary:
# stasis or CRIU), LP_RESTORER (the restore's: stasis or CRIU).
set -u
real=$STASIS daemon=${LP_DAEMON:-$STASIS} restorer=${LP_RESTORER:-$STASIS}
[ "$1" = restore ] || exec "$real" "$@"
dir=
prev=
for a in "$@"; do
	[ "$prev" = -D ] && dir=$a
	prev=$a
done
[ -n "$dir" ] || { echo "lazy-wrap: no -D" >&2; exit 1; }
rm -f "$dir/lazy.pid" "$dir/lazy-pages.log"
"$daemon" lazy-pages -D "$dir" -d --pidfile "$dir/lazy.pid" -v4 -o lazy-pages.log || exit 1
exec "$restorer" "$@" --lazy-pages
