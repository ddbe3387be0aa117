#!/bin/bash
# pages.sh DIR PID - dump -R the task and check its pages (pagecheck.c).
set -u
cd "$(dirname "$0")/../.."
rm -rf "$1"
build/stasis dump -R -t "$2" -D "$1" -v4 -o dump.log || exit 1
build/tests/pagecheck "$1" "$2" >"$1/pagecheck.out"
rc=$?
cat "$1/pagecheck.out" >&2
exit $rc
