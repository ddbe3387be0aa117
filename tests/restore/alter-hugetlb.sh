#!/bin/sh
# alter-hugetlb.sh MODE IMGDIR - spoil the hugetlb memfds of memfd.img, as a
# corrupted dump would have them; the restore must refuse them clearly
# (tests/restore/run.sh: "hugetlb images"):
#   flag  a hugetlb_flag with bits memfd_create() has no use for
#   size  a size that is no whole number of huge pages
set -eu
case $1 in
flag) f='(.entries[] | select(.hugetlb_flag) | .hugetlb_flag) |= 8' ;;
size) f='(.entries[] | select(.hugetlb_flag) | .size) |= 4097' ;;
*) echo "alter-hugetlb.sh: no mode $1" >&2; exit 2 ;;
esac
crit=$(dirname "$0")/../../build/crit
"$crit" decode -i "$2/memfd.img" | jq -c "$f" | "$crit" encode -o "$2/memfd.img.new"
mv "$2/memfd.img.new" "$2/memfd.img"
