#!/bin/bash
# zdtm-cross.sh - ZDTM with one tool dumping and the other restoring:
# "CRIU restores ours, we restore CRIU's", checked over CRIU's own suite.
#
#   scripts/zdtm-cross.sh WAY CRIU_GIT_DIR [run.sh options: -f h|ns|uns -T REGEX -w WORKDIR]
#
# WAY  stasis-criu: stasis dumps (and pre-dumps, and serves pages), CRIU 4.2
#                   restores (and runs the lazy-pages daemon);
#      criu-stasis: the other way round.
# `check` (zdtm asks it whether the kernel has what a test needs) must say
# yes from both tools, so a test runs only where both could.
# CRIU    CRIU 4.2's binary (default: the one run.sh builds, WORKDIR/criu/criu
#         or /tmp/zdtm-criu/criu/criu).
# STASIS  stasis's binary (default build/stasis); it is copied, so a rebuild
#         during the run does not change the tool under test.
# Needs ../shared/zdtm/run.sh beside the checkout (it builds ZDTM once).  Not
# run by `make test`: it needs CRIU's source and takes about half an hour.
set -u
cd "$(dirname "$0")/.."
way=${1:-}
src=${2:-}
[ $# -ge 2 ] && shift 2
runsh=${RUNSH:-$(cd .. && pwd)/shared/zdtm/run.sh}
case $way in
stasis-criu | criu-stasis) ;;
*)
	echo "usage: $0 stasis-criu|criu-stasis CRIU_GIT_DIR [-f FLAVOR] [-T REGEX] [-w WORKDIR]"
	exit 2
	;;
esac
[ -f "$runsh" ] || { echo "no ZDTM runner at $runsh (RUNSH)"; exit 2; }

# The work dir run.sh will use decides which CRIU it built.
work=/tmp/zdtm-criu
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	[ "${args[i]}" = -w ] && work=${args[i + 1]:-$work}
done
criu=${CRIU:-$work/criu/criu}
[ -x "$criu" ] || { echo "no CRIU 4.2 at $criu (build it once with run.sh, or set CRIU)"; exit 2; }
stasis=${STASIS:-build/stasis}
[ -x "$stasis" ] || { echo "no stasis at $stasis (run make)"; exit 2; }

dir=$(mktemp -d /tmp/zdtm-cross.XXXXXX) || exit 2
trap 'rm -rf "$dir"' EXIT
cp "$stasis" "$dir/stasis"
if [ "$way" = stasis-criu ]; then
	dumper=$dir/stasis restorer=$criu
else
	dumper=$criu restorer=$dir/stasis
fi
# zdtm runs "BIN ACTION --no-default-config ARGS": the action picks the tool.
cat >"$dir/$way" <<EOF
#!/bin/sh
case "\$1" in
restore | lazy-pages) exec "$restorer" "\$@" ;;
check) "$dumper" "\$@" >/dev/null 2>&1 && exec "$restorer" "\$@" ;;
*) exec "$dumper" "\$@" ;;
esac
EOF
chmod +x "$dir/$way"
echo "zdtm-cross: $way: dumps by $dumper, restores by $restorer"
bash "$runsh" "$src" -b "$dir/$way" "$@"
