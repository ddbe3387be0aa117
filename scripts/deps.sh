#!/bin/bash
# deps.sh - install what stasis needs to build and test, from Debian's
# packages only (run as root).  Quick when everything is already there.
set -eu
# criu brings Debian's crit (CRIU 3.17), which the tests use to check that
# other tools read our images; jq reads crit's JSON in shell tests; python3
# runs the fixtures' own log checker (check-log.py) after a restore; nft
# (nftables) makes the network lock of --tcp-established and, with iproute2
# (ip) and iptables, keeps what a net namespace holds; redis-server (and
# redis-cli, in redis-tools), PostgreSQL, nginx-light and memcached are real
# servers tests/restore/servers.sh checkpoints; tmux gives the terminals of
# tests/restore/shell-job.sh; iproute2 makes the network namespaces of the migration test;
# runc, podman and busybox-static run the containers tests/runc and
# tests/podman checkpoint; libgnutls28-dev gives --tls (GnuTLS, as CRIU's),
# openssl makes the certificates of tests/pages/tls.sh; valgrind watches the
# RPC service's heap across requests on one connection (tests/rpc).
PKGS="gcc make libc6-dev pkg-config libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev
      clang libclang-rt-14-dev criu jq python3 nftables iproute2 iptables
      redis-server redis-tools postgresql nginx-light memcached tmux runc podman busybox-static libgnutls28-dev openssl valgrind"
missing=""
for p in $PKGS; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi
echo "deps: all present"
