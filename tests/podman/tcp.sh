# tcp.sh - sourced by run.sh, with its pm, why, W, NAME and IMAGE: a
# container on podman's own network (not --network none) serving a TCP
# connection the host opened, kept across `checkpoint --tcp-established`
# and `restore --tcp-established`, and served on after a checkpoint with
# --leave-running.  busybox's nc runs /bin/serve for the connection, which
# answers each line with its number on that connection: the numbers going
# on prove the connection and the process are the ones from before.
TN=$NAME-tcp
cat >"$W/serve" <<'EOS'
#!/bin/busybox sh
n=0
while read -r l; do n=$((n + 1)); echo "$n $l"; done
EOS
chmod +x "$W/serve"
if ! pm run -d --name "$TN" -v "$W/serve:/bin/serve:ro" --ulimit nofile=1024:1024 \
	--ulimit nproc=1000:1000 "$IMAGE" /bin/busybox nc -ll -p 7000 -e /bin/serve \
	>"$W/tcp-run.out" 2>&1; then
	skip "a container on podman's network: podman run failed ($(tail -1 "$W/tcp-run.out" | cut -c1-150))"
	return 0
fi
ip=$(podman inspect -f '{{.NetworkSettings.IPAddress}}' "$TN" 2>/dev/null)
if [ -z "$ip" ]; then
	skip "a container on podman's network: it has no address on podman's network"
	return 0
fi
# The host's end: a line from the FIFO on fd 3 sent, the answer written.
mkfifo "$W/tcp-in"
python3 -c '
import socket, sys, time
for _ in range(50):
    try:
        s = socket.create_connection((sys.argv[1], 7000), timeout=20)
        break
    except OSError:
        time.sleep(0.1)
out = open(sys.argv[2], "w", buffering=1)
for line in open(sys.argv[3]):
    try:
        s.sendall(line.encode())
        out.write(s.recv(100).decode() or "ERROR closed\n")
    except OSError as e:
        out.write("ERROR %s\n" % e)
' "$ip" "$W/tcp-out" "$W/tcp-in" </dev/null 2>"$W/tcp-client.err" &
client=$!
exec 3>"$W/tcp-in"
: >"$W/tcp-out"
# say WORD: sent on the held connection; the answer to it.
say() {
	local n
	n=$(wc -l <"$W/tcp-out")
	echo "$1" >&3
	for _ in $(seq 100); do
		[ "$(wc -l <"$W/tcp-out")" -gt "$n" ] && break
		sleep 0.05
	done
	sed -n "$((n + 1))p" "$W/tcp-out"
}
tcp_steps() {
	check "the host's connection to the container is served" test "$(say one)" = "1 one"
	if ! pm container checkpoint --tcp-established "$TN" >"$W/tcp-ck.out" 2>&1; then
		fail "checkpoint --tcp-established of a container holding a connection: $(why dump.log tcp-ck.out)"
		return
	fi
	pass "checkpoint --tcp-established of a container holding a connection"
	if ! pm container restore --tcp-established "$TN" >"$W/tcp-rs.out" 2>&1; then
		fail "restore --tcp-established: $(why restore.log tcp-rs.out)"
		return
	fi
	check "restore --tcp-established: the connection goes on, served by the same process" \
		test "$(say two)" = "2 two"
	if ! pm container checkpoint --leave-running --tcp-established "$TN" >"$W/tcp-r.out" 2>&1; then
		fail "checkpoint --leave-running --tcp-established: $(why dump.log tcp-r.out)"
		return
	fi
	check "checkpoint --leave-running: the container runs on" \
		test "$(podman inspect -f '{{.State.Status}}' "$TN" 2>/dev/null)" = running
	check "and serves the connection on" test "$(say three)" = "3 three"
}
tcp_steps
exec 3>&-
kill "$client" 2>/dev/null
wait "$client" 2>/dev/null
podman rm -f "$TN" >/dev/null 2>&1
