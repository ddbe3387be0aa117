#!/bin/bash
# servers-inner.sh W - the body of servers.sh; writes PASS/FAIL/SKIP lines
# to W/results.  Every server runs in a session of its own (the tree to
# dump); every process started here is killed on the way out, also when a
# check fails half way, and its pid is in W/pids for servers.sh to kill
# should this script itself be killed.
set -u
cd "$(dirname "$0")/../.."
W=$1
WHAT=servers
. tests/restore/srv-lib.sh

# --- python3's http.server counting hits ---
http_server() {
	T="python3 http.server"
	D=$W/http
	mkdir -p "$D"
	setsid $PY $SRV http "$D" </dev/null >/dev/null 2>"$D/err" &
	tree=$!
	started "$tree"
	if ! wait_file "$D/port"; then
		fail "the server did not start: $(cat "$D/err")"
		return 0
	fi
	port=$(cat "$D/port")
	comm=$(cat "/proc/$tree/comm")
	N=5
	for _ in $(seq $N); do
		hit hit >/dev/null
	done
	# A browser's keep-alive connection, open from before the dump to after it.
	hold "$port" "$D/hold" /hit /hit
	check "a keep-alive client's first hit" "$(answer "$D/hold" 0)" "hits $((N + 1)) conns $((N + 1))"
	dump "$D/kill" --tcp-established || return 0
	if gone "$tree"; then pass "dumped and killed"; else fail "the tree runs on after the dump"; fi
	restore "$D/kill" --tcp-established || return 0
	check "restored under its pid" "$(cat "/proc/$tree/comm" 2>/dev/null)" "$comm"
	check "after the restore the count goes on" "$(hit hit)" "hits $((N + 2)) conns $((N + 2))"
	check "the keep-alive connection kept across the restore" \
		"$(answer "$D/hold" 1)" "hits $((N + 3)) conns $((N + 2))"
	ends "${started[-1]}"
	quiet "$port"
	# Left running (-R) it serves on; the images restore once it is killed.
	if dump "$D/leave" -R; then
		check "serving on after a dump with -R" "$(hit hit)" "hits $((N + 4)) conns $((N + 3))"
		kill -KILL "$tree"
		ends "$tree"
		if restore "$D/leave"; then
			check "restored from the -R images, the count as then" \
				"$(hit count)" "hits $((N + 3)) conns $((N + 3))"
		fi
	fi
	kill -KILL "$tree" 2>/dev/null
}

# --- Debian's redis-server, a key-value store ---
redis_server() {
	T="redis-server"
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		skip "redis-server or redis-cli is not installed (scripts/deps.sh installs them)"
		return 0
	fi
	D=$W/redis
	mkdir -p "$D"
	# No persistence: what comes back after the restore can only come from
	# the restored memory.  The port free a moment ago may be taken since: retry.
	for _ in 1 2 3; do
		port=$(free_port)
		setsid redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
			--daemonize no --dir "$D" --logfile "$D/redis.log" </dev/null >/dev/null 2>&1 &
		tree=$!
		started "$tree"
		for _ in $(seq 100); do
			[ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
			gone "$tree" && break
			sleep 0.05
		done
		gone "$tree" || break
	done
	comm=$(cat "/proc/$tree/comm")
	cli() { redis-cli -p "$port" "$@" 2>&1 | tr '\n' ' ' | sed 's/ $//'; }
	if [ "$(cli ping)" != PONG ]; then
		fail "redis-server did not start: $(tail -n 3 "$D/redis.log")"
		return 0
	fi
	cli set greeting "hello, world" >/dev/null
	for _ in 1 2 3; do cli incr counter >/dev/null; done
	cli lpush queue one two three >/dev/null
	cli hset user name stasis kind checkpoint >/dev/null
	# redis-cli holding one connection open across the dumps: it reads the
	# commands from a FIFO held open here (fd 3) and answers each at once.
	mkfifo "$D/held.in"
	redis-cli -p "$port" <"$D/held.in" >"$D/held.out" 2>&1 &
	started "$!"
	exec 3>"$D/held.in"
	id=$(held client id)
	check "redis-cli's held connection, INCR" "$(held incr held)" "1"
	dump "$D/kill" --tcp-established || return 0
	if gone "$tree"; then pass "dumped and killed"; else fail "the tree runs on after the dump"; fi
	restore "$D/kill" --tcp-established || return 0
	check "restored under its pid" "$(cat "/proc/$tree/comm" 2>/dev/null)" "$comm"
	check "GET after the restore" "$(cli get greeting)" "hello, world"
	check "INCR goes on after the restore" "$(cli incr counter)" "4"
	check "LRANGE after the restore" "$(cli lrange queue 0 -1)" "three two one"
	check "HGETALL after the restore" "$(cli hgetall user)" "name stasis kind checkpoint"
	cli set later "written after" >/dev/null
	check "written after the restore" "$(cli get later)" "written after"
	# The server's id of the connection tells it is the same one, not redis-cli
	# connecting again.
	check "redis-cli's connection kept across the restore, its id" "$(held client id)" "$id"
	check "redis-cli's connection kept across the restore, INCR" "$(held incr held)" "2"
	# Left running (-R), with the held connection: it serves on, the
	# connection too; once killed, the images restore the data as then.
	if dump "$D/leave" -R --tcp-established; then
		check "serving on after a dump with -R" "$(cli incr counter)" "5"
		check "redis-cli's connection after a dump with -R" "$(held incr held) $(held client id)" "3 $id"
		exec 3>&-
		ends "${started[-1]}"
		quiet "$port"
		kill -KILL "$tree"
		ends "$tree"
		# The held connection is in the images, established: it comes back
		# closed, its client long gone.
		if restore "$D/leave" --tcp-close; then
			check "restored from the -R images, the data as then" \
				"$(cli mget counter later held)" "4 written after 2"
		fi
	fi
	kill -KILL "$tree" 2>/dev/null
}

# --- PostgreSQL: a postmaster, its workers and a client's backend ---
# Its lock is a SysV segment of the host's IPC namespace, which every
# process of the tree attaches; the rest of its shared state is shared
# anonymous memory.  A psql session opened before the dump (its backend a
# process of the tree, its connection kept by --tcp-established) goes on.
postgres_server() {
	local bin pg workers w
	T="postgres"
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$bin" ] || ! command -v psql >/dev/null || ! id postgres >/dev/null 2>&1; then
		skip "PostgreSQL's server, psql or the postgres user is missing (scripts/deps.sh installs them)"
		return 0
	fi
	D=$W/pg
	mkdir -p "$D" && chown postgres "$D"
	as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
	if ! as_pg "$bin/initdb" -D "$D/data" -A trust >"$D/initdb.log" 2>&1; then
		fail "initdb failed: $(tail -n 2 "$D/initdb.log")"
		return 0
	fi
	port=$(free_port)
	setsid setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$D/data" \
		-k "$D" -p "$port" -c listen_addresses=127.0.0.1 </dev/null >"$D/server.log" 2>&1 &
	tree=$!
	started "$tree"
	sql() { psql -h 127.0.0.1 -p "$port" -U postgres -AtX -c "$1" 2>&1; }
	for _ in $(seq 200); do
		[ "$(sql 'select 1')" = 1 ] && break
		gone "$tree" && break
		sleep 0.05
	done
	if [ "$(sql 'select 1')" != 1 ]; then
		fail "postgres did not start: $(tail -n 3 "$D/server.log")"
		return 0
	fi
	sql "create table t (a int primary key, b text)" >/dev/null
	sql "insert into t select i, md5(i::text) from generate_series(1, 10000) i" >/dev/null
	pg=$(sql "select count(*), sum(a) from t")
	mkfifo "$D/held.in"
	psql -h 127.0.0.1 -p "$port" -U postgres -AtX <"$D/held.in" >"$D/held.out" 2>&1 &
	started "$!"
	exec 3>"$D/held.in"
	backend=$(held "select pg_backend_pid();")
	held "begin;" >/dev/null
	held "insert into t values (0, 'in a transaction');" >/dev/null
	workers=$(ps -o pid= --ppid "$tree" | sort -n | tr -d ' ' | tr '\n' ' ')
	for w in $workers; do started "$w"; done
	dump "$D/kill" --tcp-established || return 0
	if gone "$tree"; then pass "dumped and killed"; else fail "the tree runs on after the dump"; fi
	restore "$D/kill" --tcp-established || return 0
	check "its processes back under their pids" \
		"$(ps -o pid= --ppid "$tree" | sort -n | tr -d ' ' | tr '\n' ' ')" "$workers"
	check "a new connection reads the table" "$(sql "select count(*), sum(a) from t")" "$pg"
	check "the held session's backend" "$(held "select pg_backend_pid();")" "$backend"
	check "its transaction goes on" "$(held "select b from t where a = 0;")" "in a transaction"
	held "commit;" >/dev/null
	check "the transaction committed after the restore is seen" \
		"$(sql "select b from t where a = 0")" "in a transaction"
	sql "update t set b = 'after' where a = 1" >/dev/null
	check "written after the restore" "$(sql "select b from t where a = 1")" "after"
	exec 3>&-
	# A fast shutdown: the server removes its SysV segment itself.
	kill -INT "$tree"
	ends "$tree" || kill -KILL "$tree" 2>/dev/null
	grep -q "database system is shut down" "$D/server.log" &&
		pass "shut down cleanly after the restore" ||
		fail "no clean shutdown: $(tail -n 2 "$D/server.log")"
}

# --- nginx: a master and two workers serving files, a keep-alive client ---
nginx_server() {
	local bin=/usr/sbin/nginx workers w
	T="nginx"
	if [ ! -x $bin ]; then
		skip "nginx is not installed (scripts/deps.sh installs nginx-light)"
		return 0
	fi
	D=$W/nginx
	mkdir -p "$D/html" "$D/logs"
	echo "served by nginx" >"$D/html/index.html"
	port=$(free_port)
	cat >"$D/nginx.conf" <<-CONF
		daemon off;
		worker_processes 2;
		pid $D/nginx.pid;
		error_log $D/logs/error.log;
		events { worker_connections 64; }
		http {
			access_log $D/logs/access.log;
			client_body_temp_path $D/body;
			proxy_temp_path $D/proxy;
			fastcgi_temp_path $D/fastcgi;
			uwsgi_temp_path $D/uwsgi;
			scgi_temp_path $D/scgi;
			server { listen 127.0.0.1:$port; root $D/html; }
		}
	CONF
	setsid $bin -c "$D/nginx.conf" -e "$D/logs/error.log" </dev/null >/dev/null 2>&1 &
	tree=$!
	started "$tree"
	get() { $PY -c 'import sys, urllib.request as u; print(u.urlopen(sys.argv[1], timeout=5).read().decode().strip())' \
		"http://127.0.0.1:$port/${1-}" 2>/dev/null; }
	for _ in $(seq 100); do
		[ "$(get)" = "served by nginx" ] && break
		gone "$tree" && break
		sleep 0.05
	done
	if [ "$(get)" != "served by nginx" ]; then
		fail "nginx did not start: $(tail -n 2 "$D/logs/error.log")"
		return 0
	fi
	workers=$(ps -o pid= --ppid "$tree" | sort -n | tr -d ' ' | tr '\n' ' ')
	# The workers outlive a killed master: killed on the way out too.
	for w in $workers; do started "$w"; done
	hold "$port" "$D/hold" / /
	answer "$D/hold" 0 >/dev/null
	dump "$D/kill" --tcp-established || return 0
	if gone "$tree"; then pass "dumped and killed"; else fail "the tree runs on after the dump"; fi
	restore "$D/kill" --tcp-established || return 0
	check "its workers back under their pids" \
		"$(ps -o pid= --ppid "$tree" | sort -n | tr -d ' ' | tr '\n' ' ')" "$workers"
	check "a new client is served" "$(get)" "served by nginx"
	check "the keep-alive connection kept across the restore" "$(answer "$D/hold" 1)" "served by nginx"
	check "its access log goes on" "$(grep -c 'GET / ' "$D/logs/access.log")" 5
	kill -QUIT "$tree"
	ends "$tree" || kill -KILL "$tree" 2>/dev/null
}

# --- memcached: four threads holding items in memory ---
memcached_server() {
	local bin=/usr/bin/memcached
	T="memcached"
	if [ ! -x $bin ]; then
		skip "memcached is not installed (scripts/deps.sh installs it)"
		return 0
	fi
	D=$W/memcached
	mkdir -p "$D"
	port=$(free_port)
	setsid $bin -u nobody -l 127.0.0.1 -p "$port" -t 4 </dev/null >"$D/log" 2>&1 &
	tree=$!
	started "$tree"
	# mc CMD...: the commands on a new connection; the answer's lines joined.
	mc() { $PY - "$port" "$@" <<-'PY' 2>&1
		import socket, sys
		s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
		s.sendall("".join(c + "\r\n" for c in sys.argv[2:]).encode() + b"quit\r\n")
		out = b""
		while True:
		    b = s.recv(4096)
		    if not b:
		        break
		    out += b
		print(" ".join(out.decode().split()))
		PY
	}
	for _ in $(seq 100); do
		[ "$(mc version | cut -d' ' -f1)" = VERSION ] && break
		gone "$tree" && break
		sleep 0.05
	done
	if [ "$(mc "set k 0 0 5" hello "incr n 1" "set n 0 0 2" 40)" != "STORED NOT_FOUND STORED" ]; then
		fail "memcached did not start or store: $(cat "$D/log")"
		return 0
	fi
	threads=$(ls /proc/$tree/task | wc -l)
	dump "$D/kill" || return 0
	if gone "$tree"; then pass "dumped and killed"; else fail "the tree runs on after the dump"; fi
	restore "$D/kill" || return 0
	check "its threads back" "$(ls /proc/$tree/task 2>/dev/null | wc -l)" "$threads"
	check "the items after the restore" "$(mc 'get k n' 'incr n 2')" "VALUE k 0 5 hello VALUE n 0 2 40 END 42"
	kill -KILL "$tree"
}

http_server
redis_server
postgres_server
nginx_server
memcached_server
