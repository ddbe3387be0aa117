#!/bin/bash
# ipt-locked.sh IMGDIR - run between a dump with --network-lock iptables
# and its restore: record the iptables and ip6tables rules that hold the
# dumped connections locked (the dump leaves them; the restore removes
# them) in IMGDIR/../ipt-locked.txt for tests/restore/run.sh to check.
out=$1/../ipt-locked.txt
{ iptables -w -S; ip6tables -w -S; } 2>&1 | grep -i -- '-j DROP' >"$out"
exit 0
