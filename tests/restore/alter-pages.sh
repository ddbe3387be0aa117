#!/bin/sh
# alter-pages.sh IMGDIR - overwrite 4 bytes in the middle of the largest
# pages image, as a corrupted or tampered dump would have them.  The
# restored program must notice (tests/restore/run.sh: "checks bite").
set -eu
f=$(ls -S "$1"/pages-*.img | head -n 1)
size=$(stat -c %s "$f")
printf '\377\377\377\377' | dd of="$f" bs=1 seek=$((size / 2)) conv=notrunc status=none
