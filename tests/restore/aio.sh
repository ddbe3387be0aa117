#!/bin/bash
# aio.sh - AIO rings with broken images, run by tests/restore/run.sh.
# tests/conformance/aio (two contexts with events not yet reaped; it passes
# a plain dump and restore in run.sh's loop) is dumped, and its images are
# broken by aio-alter.py before the restore: a ring without its aios entry,
# an entry of the wrong length, an entry for no ring, a ring header broken
# in the pages image, a ring's pages left out.  Each restore must fail
# with its own clear error (the runner then reports the test FAIL and
# kills and reaps whatever is left).
set -u
cd "$(dirname "$0")/../.."
W=/tmp/stasis-restore-tests/aio
rm -rf "$W"
mkdir -p "$W"
ALTER=tests/restore/aio-alter.py
. tests/restore/refused.sh

# refused MODE PATTERN: the restore of images broken by MODE says PATTERN.
refused() {
	T="refuses AIO rings: $1"
	refused_as aio "$@"
}

refused no-entry "the AIO ring at 0x[0-9a-f]* has no aios entry"
refused length "its aios entry says [0-9]* bytes for [0-9]* requests"
refused stray "names no AIO ring area"
refused header "use the dumped AIO ring: its header is not a ring's"
refused no-pages "the pages of the AIO ring at 0x[0-9a-f]* are missing"
