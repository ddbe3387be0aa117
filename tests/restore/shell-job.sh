#!/bin/bash
# shell-job.sh - a shell job moved from one terminal to another, run by
# tests/restore/run.sh.  In tmux (under build/tests/spawn, a subreaper
# that reaps whatever is left), an interactive bash starts a program that
# ticks on its terminal: a job, a process group of its own in the shell's
# session.  It is dumped with --shell-job and restored with --shell-job
# from another tmux window, whose terminal it takes: it ticks on there, it
# is that terminal's foreground (the restore hands it over, as a shell
# would), and ^C typed there interrupts it, the restore ending with its
# status.
set -u
cd "$(dirname "$0")/../.."
W=/tmp/stasis-restore-tests/shell-job
T="shell job"
pass() { echo "PASS: restore $T: $*"; }
fail() { echo "FAIL: restore $T: $*"; }
skip() { echo "SKIP: restore $T: $*"; }
if ! command -v tmux >/dev/null; then
	skip "tmux is not installed (scripts/deps.sh installs it)"
	exit 0
fi
rm -rf "$W"
mkdir -p "$W"
S=$PWD/build/stasis
SOCK=stasis-shell-job-$$
tm() { tmux -L "$SOCK" "$@"; }
trap 'tm kill-server 2>/dev/null; kill -TERM "$(cat "$W/spawn.pid" 2>/dev/null)" 2>/dev/null' EXIT

# the pane's text, its blank lines left out
pane() { tm capture-pane -p -t "$1" | grep -v '^$'; }
# until: wait up to 5 s for CMD... to succeed
until_ok() {
	for _ in $(seq 50); do "$@" && return 0; sleep 0.1; done
	return 1
}
ticking() { pane "$1" | tail -n 1 | grep -q '^tick [0-9]'; }
last_tick() { pane "$1" | grep '^tick' | tail -n 1 | cut -d' ' -f2; }

build/tests/spawn "$W/spawn.pid" -S -- /usr/bin/tmux -L "$SOCK" new-session -d -s job -x 100 -y 20 \
	'env PS1="$ " bash --norc --noprofile -i' </dev/null >/dev/null 2>&1 &
until_ok tm has-session -t job 2>/dev/null || { fail "tmux did not start"; exit 0; }
tm send-keys -t job "python3 -c 'import time, itertools
for i in itertools.count(): print(\"tick\", i, flush=True); time.sleep(0.1)'" Enter
until_ok ticking job || { fail "the job does not tick: $(pane job | tail -n 2)"; exit 0; }
pid=$(pgrep -f "import time, itertools" | head -n 1)
read -r pgid sid <<<"$(ps -o pgid=,sid= -p "$pid")"
if [ "$pgid" != "$pid" ] || [ "$sid" = "$pid" ]; then
	fail "the job is not a process group of its own in the shell's session (pid $pid, group $pgid, session $sid)"
	exit 0
fi
if ! "$S" dump -t "$pid" -D "$W/img" -j -v4 -o dump.log; then
	fail "the dump failed: $(grep -m1 Error "$W/img/dump.log")"
	exit 0
fi
before=$(last_tick job)
tm new-window -d -t job -n there "$S restore -D $W/img -j -v4 -o restore.log; echo \$? >$W/rc; sleep 60"
if until_ok ticking job:there && sleep 0.5 && [ "$(last_tick job:there)" -gt "$((before + 1))" ]; then
	pass "it ticks on in the other terminal (tick $before in the first, $(last_tick job:there) now)"
else
	fail "it does not tick in the other terminal: $(pane job:there | tail -n 2)$(grep -m1 Error "$W/img/restore.log")"
	exit 0
fi
read -r pgid tpgid tty <<<"$(ps -o pgid=,tpgid=,tty= -p "$pid")"
if [ "$tpgid" = "$pgid" ] && [ "$pgid" = "$pid" ]; then
	pass "it is the foreground group of its new terminal $tty"
else
	fail "terminal $tty: foreground group $tpgid, the job's group $pgid"
fi
tm send-keys -t job:there C-c
if until_ok [ -s "$W/rc" ] && [ "$(cat "$W/rc")" = 130 ] && ! kill -0 "$pid" 2>/dev/null &&
	pane job:there | grep -q KeyboardInterrupt; then
	pass "^C interrupts it, and the restore ends with its status (130)"
else
	fail "after ^C: restore status '$(cat "$W/rc" 2>/dev/null)', the job $(kill -0 "$pid" 2>/dev/null && echo runs || echo is gone): $(pane job:there | tail -n 2)"
	kill -KILL "$pid" 2>/dev/null
fi
