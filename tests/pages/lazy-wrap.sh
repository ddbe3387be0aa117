#!/bin/bash
# lazy-wrap.sh - stands for stasis in the conformance runner (--stasis): its
# restore is a restore --lazy-pages, with a lazy-pages daemon started first
# on the same images (in the background, -d; its pid in lazy.pid), as
# ZDTM's --lazy-pages mode does; every other action is stasis's own.
# tests/pages/lazy.sh checks the daemon's log and its end afterwards.
#
# LP_REMOTE=1 is ZDTM's --remote-lazy-pages: a `page-server --lazy-pages`
# serves the images' pages, and the daemon, given a copy of the images
# without any pages-*.img (and the restore's directory as its -W), fetches
# them from it.
#
# LP_DUMP=1 is ZDTM's --lazy-migrate: the dump itself (dump --lazy-pages,
# in the background once it has said it is ready) keeps the lazy pages and
# serves them; the images hold none of them, and the daemon fetches them.
#
# Environment: STASIS (the real binary), LP_DAEMON (the daemon's binary:
# stasis or CRIU), LP_RESTORER (the restore's: stasis or CRIU), LP_SERVER
# (the page server's), LP_REMOTE, LP_DUMP, LP_PORT; LP_SERVER_OPTS (for the
# page server or the dump that serves) and LP_DAEMON_OPTS, more options for
# the two ends of the page-server connection (--tls ...).
set -u
real=$STASIS daemon=${LP_DAEMON:-$STASIS} restorer=${LP_RESTORER:-$STASIS}
server=${LP_SERVER:-$STASIS} port=${LP_PORT:-27028}
read -ra sopts <<<"${LP_SERVER_OPTS:-}"
read -ra dopts <<<"${LP_DAEMON_OPTS:-}"
[ "$1" = restore ] || [ "$1" = dump ] || exec "$real" "$@"
. "$(dirname "$0")/../lib/common.sh"
dir=$(images_dir "$@") || { echo "lazy-wrap: no -D" >&2; exit 1; }
# waitfor FILE: a --status-fd's byte is there.
waitfor() {
	for _ in $(seq 200); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	echo "lazy-wrap: no status in $1" >&2
	return 1
}
if [ "$1" = dump ]; then
	[ "${LP_DUMP:-}" = 1 ] || exec "$real" "$@"
	# The dump keeps the lazy pages and serves them once its tree is gone.
	rm -f "$dir/dump.status"
	mkdir -p "$dir"
	setsid -f "$real" "$@" --lazy-pages --address 127.0.0.1 --port "$port" "${sopts[@]}" \
		--status-fd 9 9>"$dir/dump.status"
	waitfor "$dir/dump.status"
	exit
fi
rm -f "$dir/lazy.pid" "$dir/lazy-pages.log" "$dir/ps.status" "$dir/page-server.log"
if [ "${LP_REMOTE:-}" = 1 ]; then
	# In the foreground of a session of its own, as ZDTM runs it (CRIU 4.2's
	# -d loses the page pipes it has filled); ready once --status-fd says so.
	setsid -f "$server" page-server -D "$dir" --lazy-pages --address 127.0.0.1 \
		--port "$port" -v4 -o page-server.log "${sopts[@]}" --status-fd 9 9>"$dir/ps.status"
	waitfor "$dir/ps.status" || exit 1
	rm -rf "$dir.lp"
	mkdir "$dir.lp"
	cp -a "$dir"/*.img "$dir.lp/"
	rm -f "$dir.lp"/pages-*.img
	"$daemon" lazy-pages -D "$dir.lp" -W "$dir" --page-server --address 127.0.0.1 \
		--port "$port" -d --pidfile "$dir/lazy.pid" -v4 -o lazy-pages.log "${dopts[@]}" || exit 1
elif [ "${LP_DUMP:-}" = 1 ]; then
	"$daemon" lazy-pages -D "$dir" --page-server --address 127.0.0.1 --port "$port" -d \
		--pidfile "$dir/lazy.pid" -v4 -o lazy-pages.log "${dopts[@]}" || exit 1
else
	"$daemon" lazy-pages -D "$dir" -d --pidfile "$dir/lazy.pid" -v4 -o lazy-pages.log || exit 1
fi
exec "$restorer" "$@" --lazy-pages
