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
#  - what is not done yet (dump --lazy-pages) is refused by name.
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
for fd in $(ls /proc/$$/fd); do
	[ "$fd" -gt 2 ] && eval "exec $fd>&-"
done 2>/dev/null

# lazy NAME DONE-PATTERN [ENV=VALUE...]: one C/R with a lazy restore.
lazy() {
	local name=$1 done=$2 dir=$W/$1 out line fewest of
	shift 2
	out=$(env STASIS="$S" "$@" $B/runner --stasis "$WRAP" --timeout 60 --workdir "$dir" \
		$B/conformance/lazy_mem)
	line=$(grep -o "fewest resident [0-9]* of [0-9]*" "$dir/out" 2>/dev/null)
	read -r _ _ fewest _ of <<<"$line"
	if [ "${out%%:*}" != PASS ]; then
		echo "FAIL: lazy pages $name: $out"
	elif [ -z "$line" ] || [ "$fewest" -ge "$of" ]; then
		echo "FAIL: lazy pages $name: the program never ran with pages missing ($line)"
	elif ! grep -q "$done" "$dir/img/lazy-pages.log"; then
		echo "FAIL: lazy pages $name: the daemon did not end with every page in place"
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
refused "dump --lazy-pages" dump -t $$ -D "$W/refused" --lazy-pages
