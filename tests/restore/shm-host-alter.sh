#!/bin/bash
# shm-host-alter.sh gone IMGDIR - remove (ipcrm) every SysV segment of the host's
# that the root of a dump of tests/conformance/shm_host attaches, as if the
# restore ran on a host where they are gone (tests/restore/shm-host.sh).
set -eu
[ "$1" = gone ] || { echo "usage: $0 gone IMGDIR" >&2; exit 2; }
d=$2
crit=$(dirname "$0")/../../build/crit
pid=$("$crit" decode -i "$d/pstree.img" | jq '.entries[0].pid')
# VMA_AREA_SYSVIPC is bit 10 of an area's status.
for id in $("$crit" decode -i "$d/mm-$pid.img" |
	jq '[.entries[0].vmas[] | select(.status % 2048 >= 1024) | .shmid] | unique | .[]'); do
	ipcrm -m "$id"
done
