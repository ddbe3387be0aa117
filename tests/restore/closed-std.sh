#!/bin/sh
# closed-std.sh - stasis for the runner (--stasis), its restore started with
# fds 0-2 closed, as an RPC client or a daemon may start it.  $STASIS_REAL
# is the binary.
if [ "$1" = restore ]; then
	exec "$STASIS_REAL" "$@" 0<&- 1>&- 2>&-
fi
exec "$STASIS_REAL" "$@"
