#!/bin/bash
# inherit-fd-inner.sh W - the body of inherit-fd.sh; writes PASS/FAIL lines to W/results.
set -u
cd "$(dirname "$0")/../.."
W=$1
T="--inherit-fd"
pass() { echo "PASS: restore $T: $*" >>"$W/results"; }
fail() { echo "FAIL: restore $T: $*" >>"$W/results"; }

# A counter in a session of its own, its stdin and stdout pipes to the outside.
# The pipes are made first, so that their other ends are not the counter's children.
exec 5< <(sleep 60) 6> >(cat >"$W/out1")
setsid sh -c 'i=0; while :; do echo $i; i=$((i+1)); sleep 0.02; done' <&5 >&6 5<&- 6>&- &
pid=$!
exec 5<&- 6>&-
for _ in $(seq 100); do [ "$(wc -l <"$W/out1" 2>/dev/null)" -ge 3 ] && break; sleep 0.02; done
out_key=$(readlink "/proc/$pid/fd/1")
in_key=$(readlink "/proc/$pid/fd/0")
mkdir -p "$W/img"
if ! build/stasis dump -t "$pid" -D "$W/img" -o dump.log; then
	fail "the dump failed: $(grep -m1 Error "$W/img/dump.log")"
	exit 0
fi
sleep 0.2
last=$(tail -1 "$W/out1")

# A key given that matches nothing is not an error (runc gives keys freely).
mkfifo "$W/new-out"
cat "$W/new-out" >"$W/out2" &
exec 7>"$W/new-out" 8</dev/null
if ! build/stasis restore -D "$W/img" -d -v4 -o restore.log --inherit-fd "fd[7]:$out_key" \
	--inherit-fd "fd[8]:$in_key" --inherit-fd "fd[8]:pipe:[1]"; then
	fail "the restore failed: $(grep -m1 Error "$W/img/restore.log")"
	exit 0
fi
exec 7>&- 8<&-
sleep 0.5
kill -KILL -- "-$pid" 2>/dev/null
sleep 0.2
first=$(head -1 "$W/out2")
n=$(wc -l <"$W/out2")
if [ "$n" -gt 5 ] && [ "$first" -gt "$last" ] &&
	[ "$(tail -1 "$W/out2")" -eq $((first + n - 1)) ]; then
	pass "the counter counts on into the pipe given for $out_key ($first..$((first + n - 1)), after $last)"
else
	fail "the new pipe got $n lines from ${first:-nothing} (the old one ended at $last)"
fi
if grep -q "given for it by --inherit-fd" "$W/img/restore.log" &&
	grep -q "pipe:\[$(tr -dc 0-9 <<<"$in_key")\]" "$W/img/restore.log"; then
	pass "stdin too came from the fd given for $in_key"
else
	fail "restore.log does not show $in_key taken from --inherit-fd"
fi

# A malformed --inherit-fd is refused before anything is done.
if build/stasis restore -D "$W/img" --inherit-fd "fd[x]:pipe:[1]" 2>"$W/bad.err"; then
	fail "a malformed --inherit-fd was accepted"
elif grep -q "not fd\[N\]:KEY" "$W/bad.err"; then
	pass "a malformed argument is refused: $(cat "$W/bad.err")"
else
	fail "a malformed argument is refused without saying why: $(cat "$W/bad.err")"
fi
