#!/bin/bash
# shm-host.sh - SysV shared memory of the host's IPC namespace, run by
# tests/restore/run.sh (run.sh's loop restores tests/conformance/shm_host
# plainly: its segments outlive it and are attached again):
#  - segments removed (IPC_RMID) while attached would go with the tree: the
#    dump refuses them, naming them, and the tree runs on;
#  - segments gone by the time of the restore: it fails, naming them.
set -u
cd "$(dirname "$0")/../.."
W=/tmp/stasis-restore-tests/shm-host
rm -rf "$W"
mkdir -p "$W"
ALTER=tests/restore/shm-host-alter.sh
. tests/restore/refused.sh

T="refuses the host's SysV shm removed while attached"
out=$(SHM_HOST_RMID=1 $B/runner --timeout 20 --workdir "$W/rmid" "$B/conformance/shm_host")
said=$(grep -m1 -o "Error: .*" "$W/rmid/dump.log" 2>/dev/null)
case $out in
FAIL:*"dump failed"*)
	if grep -q "removed (IPC_RMID) from the host's IPC namespace" <<<"$said"; then
		pass "$said"
	else
		fail "the first error does not say so: $said"
	fi ;;
*) fail "the dump did not fail: $out" ;;
esac

T="refuses the host's SysV shm gone at restore"
refused_as shm_host gone "SysV shared memory [0-9]* (at 0x[0-9a-f]*) is the host's and not in the images"
