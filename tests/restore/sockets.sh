#!/bin/bash
# sockets.sh - netlink and packet sockets with broken images, run by
# tests/restore/run.sh.  tests/conformance/packet_sockets and
# netlink_sockets (which pass a plain dump and restore in run.sh's loop)
# are dumped, and their images are broken by sockets-alter.py before the
# restore: a packet socket bound to an interface that is not there, a ring
# the kernel cannot make, a ring's area naming another socket, a netlink
# socket with more groups than any protocol has.  Each restore must fail
# with its own clear error (the runner then reports the test FAIL and
# kills and reaps whatever is left).
set -u
cd "$(dirname "$0")/../.."
W=/tmp/stasis-restore-tests/sockets
rm -rf "$W"
mkdir -p "$W"
ALTER=tests/restore/sockets-alter.py
. tests/restore/refused.sh

# refused PROGRAM MODE PATTERN: the restore of images broken by MODE says PATTERN.
refused() {
	T="refuses sockets: $2"
	refused_as "$@"
}

refused packet_sockets ifindex "cannot bind it to the interface of index 99999"
refused packet_sockets ring "cannot set its receive ring"
refused packet_sockets ring-shmid "is not the rings of packet socket id [0-9]*"
refused netlink_sockets groups "a group bitmap of 100 words"
