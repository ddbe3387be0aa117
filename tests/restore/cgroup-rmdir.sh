#!/bin/bash
# cgroup-rmdir.sh IMGDIR - run between the dump of tests/conformance/cgroups
# and its restore: remove every cgroup the program made (the dump killed
# it, so they are empty), so that the restore has to make them again, with
# their mode and properties.  The hierarchies stay mounted where the program
# mounted them.
b=/tmp/stasis-cgtest
for d in v1/a/th v1/a/empty/deeper v1/a/empty v1/a v2/stasis-cgtest/x v2/stasis-cgtest; do
	[ -d "$b/$d" ] || continue
	rmdir "$b/$d" || { echo "cgroup-rmdir: cannot remove $b/$d" >&2; exit 1; }
done
exit 0
