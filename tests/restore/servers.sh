#!/bin/bash
# servers.sh - real servers a user would checkpoint, dumped and restored
# with their listening sockets, their state checked after the restore:
# python3's http.server counting hits (servers.py), and Debian's
# redis-server holding data written before the dump, PostgreSQL (a
# postmaster, its workers, a client's backend in a transaction), nginx (a
# master and its workers) and memcached (threads holding items); clients
# outside the tree hold connections across --tcp-established dumps.
# servers-inner.sh does the work, run by spawned.sh.
exec bash "$(dirname "$0")/spawned.sh" servers 120 tests/restore/servers-inner.sh
