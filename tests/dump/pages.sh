#!/bin/bash
# pages.sh DIR PID - dump -R the task and check its pages (pagecheck.c).
# PAGES_LOG=REGEX: and the dump's log must have a line that matches it.
set -u
cd "$(dirname "$0")/../.."
rm -rf "$1"
build/stasis dump -R -t "$2" -D "$1" -v4 -o dump.log || exit 1
build/tests/pagecheck "$1" "$2" >"$1/pagecheck.out"
rc=$?
cat "$1/pagecheck.out" >&2
if [ -n "${PAGES_LOG:-}" ] && ! grep -q "$PAGES_LOG" "$1/dump.log"; then
	echo "pages.sh: no line of $1/dump.log matches \"$PAGES_LOG\"" >&2
	exit 1
fi
exit $rc
