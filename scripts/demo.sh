#!/bin/bash
# demo.sh - what stasis can do today.  Checkpoint and restore arrive with
# their issues; for now the image tool reads real CRIU 4.2 images: it shows
# the dumped process tree, its memory map and registers, and proves it can
# rewrite the images byte for byte.
set -eu
cd "$(dirname "$0")/.."
FIX=${FIXTURES:-$(cd .. && pwd)/shared/fixtures/criu-4.2}
IMG=$FIX/tree/img
T=$(mktemp -d /tmp/stasis-demo.XXXXXX)
trap 'rm -rf "$T"' EXIT

echo "### A CRIU 4.2 dump of a 4-process tree: $IMG"
echo
echo "\$ stasis-crit x $IMG ps"
build/crit x "$IMG" ps
echo
echo "\$ stasis-crit x $IMG fds      (first task)"
build/crit x "$IMG" fds | sed -n '1,9p'
echo
echo "\$ stasis-crit x $FIX/counter-static/img mems"
build/crit x "$FIX/counter-static/img" mems
echo
echo "\$ stasis-crit show core-31201.img   (registers, abridged)"
build/crit show "$IMG/core-31201.img" | grep -E '"(ip|sp|ax|orig_ax|fs_base)"' | head -5
echo
echo "### Decode every image to JSON and encode it back:"
n=0
for f in "$IMG"/*; do
	build/crit decode -i "$f" -o "$T/x.json"
	build/crit encode -i "$T/x.json" -o "$T/x.img"
	cmp -s "$f" "$T/x.img" || { echo "MISMATCH: $f"; exit 1; }
	n=$((n + 1))
done
echo "$n images: identical bytes after decode + encode."
