#!/bin/bash
# lazy.sh - restore --lazy-pages, run by tests/run.sh:
#  - tests/conformance/lazy_mem (128 MiB with holes, two threads, a child
#    forked after the restore) dumped, then restored with --lazy-pages and
#    a lazy-pages daemon (tests/pages/lazy-wrap.sh): stasis's daemon with
#    stasis's restore, CRIU 4.2's daemon with stasis's restore, stasis's
#    daemon with CRIU 4.2's restore.  Each must pass the program's own
#    checks (every byte, in the threads and the child), the program must
#    have run while pages were still missing (it saw fewer resident pages
#    than it had), and the daemon must have ended, every page in place;
#  - remote (ZDTM's --remote-lazy-pages): the daemon fetches the pages from
#    `stasis page-server --lazy-pages` (stasis's daemon and CRIU 4.2's);
#  - a restore --lazy-pages with no daemon fails and says why;
#  - dump --lazy-pages keeps the lazy pages and serves them to the daemon;
#  - both over TLS (--tls), with stasis's daemon and CRIU 4.2's;
#  - what is not done yet (dump --lazy-pages -R) is refused by name.
# (CRIU 4.2's own page-server --lazy-pages fails here even for CRIU's
# daemon: "page-pipe: splice: -1: Bad file descriptor"; not run.)
# CRIU 4.2 is the one ZDTM builds (/tmp/zdtm-criu/criu/criu, or $CRIU_REF):
# without it those runs are skipped, and say so.
set -u
cd "$(dirname "$0")/../.."
B=build/tests
W=/tmp/stasis-lazy-tests
S=$PWD/build/stasis
WRAP=$PWD/tests/pages/lazy-wrap.sh
CRIU=${CRIU_REF:-/tmp/zdtm-criu/criu/criu}
rm -rf "$W"
mkdir -p "$W"
. tests/lib/common.sh
fds_close

# lazy NAME DONE-PATTERN [ENV=VALUE...]: one C/R with a lazy restore; the
# daemon's log must say DONE-PATTERN, and ALSO when set.
ALSO=
lazy() {
	local name=$1 done=$2 dir=$W/$1 out line fewest of
	shift 2
	out=$(env STASIS="$S" "$@" $B/runner --stasis "$WRAP" --timeout 60 --workdir "$dir" \
		$B/conformance/lazy_mem)
	line=$(grep -o "fewest resident [0-9]* of [0-9]*" "$dir/out" 2>/dev/null)
	read -r _ _ fewest _ of <<<"$line"
	if [ "${out%%:*}" != PASS ]; then
		echo "FAIL: lazy pages $name: $out"
	elif [ -z "$line" ] || { [ "$fewest" -ge "$of" ] &&
		! grep -q -e " [1-9][0-9]* pages on faults" -e "#PF at" "$dir/img/lazy-pages.log"; }; then
		echo "FAIL: lazy pages $name: the program never ran with pages missing ($line)"
	elif ! grep -q "$done" "$dir/img/lazy-pages.log"; then
		echo "FAIL: lazy pages $name: the daemon did not end with every page in place"
	elif [ -n "$ALSO" ] && ! grep -q "$ALSO" "$dir/img/lazy-pages.log"; then
		echo "FAIL: lazy pages $name: the daemon's log does not say: $ALSO"
	else
		echo "PASS: lazy pages $name: every byte right, ran with $fewest of $of pages in"
	fi
}

lazy "stasis restore, stasis daemon" "lazy-pages: done in [0-9]* us: [1-9][0-9]* pages on faults"
if [ -x "$CRIU" ] && "$CRIU" --version 2>/dev/null | grep -q "Version: 4"; then
	lazy "stasis restore, CRIU's daemon" "UFFD transferred pages: (\([0-9]*\)/\1)" \
		LP_DAEMON="$CRIU"
	lazy "CRIU's restore, stasis daemon" "lazy-pages: done in [0-9]* us: [1-9][0-9]* pages on faults" \
		LP_RESTORER="$CRIU"
else
	echo "SKIP: lazy pages with CRIU's daemon: no CRIU 4 at $CRIU (ZDTM's run.sh builds it)"
	echo "SKIP: lazy pages with CRIU's restore: no CRIU 4 at $CRIU (ZDTM's run.sh builds it)"
fi

# Remote: the daemon's images lack every pages-*.img (lazy-wrap.sh): a
# daemon that ends with every page in got them from the page server.
lazy "remote, stasis daemon" "lazy-pages: done in [0-9]* us: [1-9][0-9]* pages on faults" \
	LP_REMOTE=1
if [ -x "$CRIU" ] && "$CRIU" --version 2>/dev/null | grep -q "Version: 4"; then
	lazy "remote, CRIU's daemon" "UFFD transferred pages: (\([0-9]*\)/\1)" \
		LP_REMOTE=1 LP_DAEMON="$CRIU"
else
	echo "SKIP: lazy pages remote, CRIU's daemon: no CRIU 4 at $CRIU (ZDTM's run.sh builds it)"
fi

# dump --lazy-pages (ZDTM's --lazy-migrate): the dump keeps the lazy pages
# and serves them once its tree is gone; the images hold none of them. Not
# through the runner, which waits for every child of its to end after a
# dump: here the dump goes on serving.  LD_SOPTS and LD_DOPTS: more options
# for the dump and the daemon (--tls ...).
LD_SOPTS=() LD_DOPTS=()
ldump() {
	local daemon=$1 done=$2 d=$W/ldump-$3 port=27029 pid sp dp lp rp line fewest of size
	mkdir -p "$d/img"
	STASIS_TEST_OUT=$d/out $B/spawn "$d/prog.pid" -- "$PWD/$B/conformance/lazy_mem" &
	sp=$!
	for _ in $(seq 200); do grep -q READY "$d/out" 2>/dev/null && break; sleep 0.05; done
	pid=$(cat "$d/prog.pid" 2>/dev/null)
	[ -n "$pid" ] || { echo "FAIL: lazy pages $T: the program did not start"; return; }
	"$S" dump -t "$pid" -D "$d/img" -v4 -o dump.log --lazy-pages --address 127.0.0.1 \
		"${LD_SOPTS[@]}" --port "$port" --status-fd 9 9>"$d/dump.status" &
	dp=$!
	for _ in $(seq 200); do [ -s "$d/dump.status" ] && break; sleep 0.05; done
	wait "$sp"	# the program, killed by the dump
	"$daemon" lazy-pages -D "$d/img" --page-server --address 127.0.0.1 --port "$port" "${LD_DOPTS[@]}" \
		-v4 -o lazy-pages.log >"$d/lazy-pages.out" 2>&1 &
	lp=$!
	for _ in $(seq 200); do [ -S "$d/img/lazy-pages.socket" ] && break; sleep 0.05; done
	$B/spawn "$d/rst.pid" -S -- "$S" restore -D "$d/img" -d --lazy-pages -v4 -o restore.log &
	rp=$!
	for _ in $(seq 400); do
		grep -q "restore of tree .* finished\|Error" "$d/img/restore.log" 2>/dev/null && break
		sleep 0.05
	done
	# The daemon ends once it has pushed every page; a program told to
	# end before that leaves pages it never touched untransferred, and
	# CRIU's daemon then counts fewer than all (seen on a loaded machine).
	for _ in $(seq 300); do kill -0 "$lp" 2>/dev/null || break; sleep 0.1; done
	kill -TERM "$pid" 2>/dev/null
	wait "$rp"
	wait "$lp"
	lp=$?
	wait "$dp"
	dp=$?
	line=$(grep -o "fewest resident [0-9]* of [0-9]*" "$d/out" 2>/dev/null)
	read -r _ _ fewest _ of <<<"$line"
	size=$(cat "$d"/img/pages-*.img 2>/dev/null | wc -c)
	if ! grep -q "^PASS" "$d/out" || grep -q "^FAIL" "$d/out"; then
		echo "FAIL: lazy pages $T: the program: $(grep -m1 FAIL "$d/out")"
	elif [ -z "$line" ] || { [ "$fewest" -ge "$of" ] &&
		! grep -q -e " [1-9][0-9]* pages on faults" -e "#PF at" "$d/img/lazy-pages.log"; }; then
		# (On a busy machine the push may fill everything before the program
		# samples: then the daemon's faults say the tree ran before that.)
		echo "FAIL: lazy pages $T: the program never ran with pages missing ($line)"
	elif [ "$dp" -ne 0 ] || [ "$lp" -ne 0 ]; then
		echo "FAIL: lazy pages $T: the dump ($dp) or the daemon ($lp) failed"
	elif ! grep -q "[1-9][0-9]* requests for lazy pages answered" "$d/img/dump.log"; then
		echo "FAIL: lazy pages $T: the dump served no page"
	elif [ "$size" -gt $((4 << 20)) ]; then
		echo "FAIL: lazy pages $T: the images hold $size bytes of pages: the lazy ones too?"
	elif grep -q "Error" "$d/img/lazy-pages.log" || ! grep -q "$done" "$d/img/lazy-pages.log"; then
		echo "FAIL: lazy pages $T: the daemon did not end well: $(grep -m1 Error "$d/img/lazy-pages.log")"
	elif [ -n "$ALSO" ] && ! grep -q "$ALSO" "$d/img/lazy-pages.log"; then
		echo "FAIL: lazy pages $T: the daemon's log does not say: $ALSO"
	else
		echo "PASS: lazy pages $T: every byte right, ran with $fewest of $of pages in"
	fi
}
T="dump --lazy-pages serving stasis's daemon"
ldump "$S" "lazy-pages: done in [0-9]* us: [1-9][0-9]* pages on faults" stasis
if [ -x "$CRIU" ] && "$CRIU" --version 2>/dev/null | grep -q "Version: 4"; then
	T="dump --lazy-pages serving CRIU's daemon"
	ldump "$CRIU" "UFFD transferred pages: (\([0-9]*\)/\1)" criu
else
	echo "SKIP: lazy pages dump --lazy-pages serving CRIU's daemon: no CRIU 4 at $CRIU"
fi

# Over TLS (--tls, certificates of tests/pages/tls-certs.sh): the daemon
# fetches from a page server, and from the dump, each end checking the
# other's certificate; CRIU 4.2 (built with GnuTLS) as the daemon too.
C=$W/certs
if ! "$S" page-server --tls --port -1 2>&1 | grep -q "built without GnuTLS" &&
	bash tests/pages/tls-certs.sh "$C"; then
	TLS="--tls --tls-cacert $C/ca.pem"
	LD_SOPTS=($TLS --tls-cert "$C/server.pem" --tls-key "$C/server.key")
	LD_DOPTS=($TLS --tls-cert "$C/client.pem" --tls-key "$C/client.key")
	# The daemon's own word that its connection was under TLS (stasis's, CRIU's).
	ALSO="tls: session with the page server: (TLS\|tls: TLS handshake completed"
	lazy "remote over TLS, stasis daemon" \
		"lazy-pages: done in [0-9]* us: [1-9][0-9]* pages on faults" LP_REMOTE=1 \
		LP_SERVER_OPTS="${LD_SOPTS[*]}" LP_DAEMON_OPTS="${LD_DOPTS[*]}"
	T="dump --lazy-pages over TLS serving stasis's daemon"
	ldump "$S" "lazy-pages: done in [0-9]* us: [1-9][0-9]* pages on faults" stasis-tls
	if [ -x "$CRIU" ] && "$CRIU" --version 2>/dev/null | grep -q "Version: 4"; then
		lazy "remote over TLS, CRIU's daemon" "UFFD transferred pages: (\([0-9]*\)/\1)" \
			LP_REMOTE=1 LP_DAEMON="$CRIU" LP_SERVER_OPTS="${LD_SOPTS[*]}" \
			LP_DAEMON_OPTS="${LD_DOPTS[*]}"
		T="dump --lazy-pages over TLS serving CRIU's daemon"
		ldump "$CRIU" "UFFD transferred pages: (\([0-9]*\)/\1)" criu-tls
	else
		echo "SKIP: lazy pages over TLS with CRIU's daemon: no CRIU 4 at $CRIU"
	fi
	LD_SOPTS=() LD_DOPTS=() ALSO=
else
	echo "SKIP: lazy pages over TLS: stasis was built without GnuTLS, or openssl cannot make certificates"
fi

# No daemon: the restore fails before anything runs, and says why.
T="no daemon"
out=$($B/runner --timeout 30 --workdir "$W/nodaemon" --restore-opts "--lazy-pages" \
	$B/conformance/sleeping)
said=$(grep -m1 -o "Error: .*" "$W/nodaemon/restore.log" 2>/dev/null)
case $out in
FAIL:*"restore failed"*)
	if grep -q "no lazy-pages daemon listens on" <<<"$said"; then
		echo "PASS: lazy pages $T: $said"
	else
		echo "FAIL: lazy pages $T: the first error does not say so: $said"
	fi ;;
*) echo "FAIL: lazy pages $T: the restore did not fail: $out" ;;
esac

# Not done yet: refused by name.
refused() {
	local what=$1 said
	shift
	said=$("$S" "$@" 2>&1)
	if [ $? -ne 0 ] && grep -q "not supported yet: $what" <<<"$said"; then
		echo "PASS: lazy pages refuses $what"
	else
		echo "FAIL: lazy pages $what: not refused by name: $said"
	fi
}
refused "dump --lazy-pages with --page-server, -R" dump -t $$ -D "$W/refused" --lazy-pages -R \
	--port 1
