#!/bin/bash
# run.sh - podman checkpoints and restores a container with stasis as the
# criu it finds on PATH (through runc), as a podman user does:
#  - a busybox image imported from a local rootfs (no registry), a
#    container counting into a file of its own, `podman run -d`;
#  - `podman container checkpoint`: the container has exited, counts no
#    further;
#  - `podman container restore`: it runs again, counting on from where it
#    stopped;
#  - `checkpoint --pre-checkpoint` leaves it counting, `checkpoint
#    --with-previous` then `restore`: it counts on (skipped for a criu that
#    cannot track memory);
#  - `checkpoint --export` to a tarball, the container removed, `restore
#    --import --name NEW` (how podman moves a container to another host): the
#    new container counts on; a second `restore --import` of that same
#    tarball runs beside it, a clone counting on too;
#  - `--print-stats` shows criu's statistics (stats-dump and stats-restore,
#    which criu writes into podman's work directory);
#  - a container on podman's network (tcp.sh) holding a connection from the
#    host: `checkpoint --tcp-established` and `restore --tcp-established`
#    keep it, `--leave-running` leaves it served.
# Needs podman, runc and busybox-static (scripts/deps.sh).  CRIU=/path/to/criu
# runs the same checks with another criu (the harness against CRIU 4.2).
set -u
cd "$(dirname "$0")/../.."
B=$PWD/build
T=podman
W=/tmp/stasis-podman-tests
NAME=stasis-podman-test
IMAGE=localhost/stasis-busybox:test

. tests/lib/common.sh

BUSYBOX=/bin/busybox
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || [ ! -x "$BUSYBOX" ]; then
	fail "podman, runc or busybox is missing (scripts/deps.sh installs them)"
	exit 0
fi
CRIU=${CRIU:-$B/stasis}
rm -rf "$W"
mkdir -p "$W/bin" "$W/rootfs/bin" "$W/rootfs/tmp"
# runc runs the first criu on PATH.
ln -s "$CRIU" "$W/bin/criu"
export PATH="$W/bin:$PATH"
pm() { timeout 120 podman --runtime runc "$@"; }

cleanup() {
	podman rm -f "$NAME" "$NAME-2" "$NAME-3" "$NAME-tcp" >/dev/null 2>&1
	podman rmi -f "$IMAGE" >/dev/null 2>&1
	# podman's cgroupfs parent (its cpuset holds every CPU, which a later
	# cpuset.cpu_exclusive elsewhere then cannot take): gone once empty.
	for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
}
trap cleanup EXIT
cleanup

cp "$BUSYBOX" "$W/rootfs/bin/busybox"
tar -C "$W/rootfs" -c . | podman import - "$IMAGE" >/dev/null 2>&1 ||
	{ fail "podman import of a busybox rootfs"; exit 0; }

count() { podman exec "${1:-$NAME}" /bin/busybox cat /tmp/count 2>/dev/null; }
status() { podman inspect -f '{{.State.Status}}' "$NAME" 2>/dev/null; }
# It counts on: within 5 s, a number above the one it showed first.
counting() { grows count "$@"; }
# Why a step failed: podman's words and the first errors of the criu log.
why() {
	local log
	log=$(find /var/lib/containers/storage -name "$1" -newer "$W/rootfs" 2>/dev/null | head -1)
	echo "$(tail -1 "$W/$2" | cut -c1-200) $(grep -m3 Error "$log" 2>/dev/null | tr '\n' ' ')"
}

# The limits podman would raise need CAP_SYS_RESOURCE: ask for low ones.
pm run -d --name "$NAME" --network none --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 \
	"$IMAGE" /bin/busybox sh -c \
	'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; /bin/busybox sleep 0.2; done' \
	>"$W/run.out" 2>&1 || { fail "podman run: $(tail -1 "$W/run.out")"; exit 0; }
sleep 1
check "the container runs and counts" counting

# --- checkpoint and restore in place ---
if pm container checkpoint --print-stats "$NAME" >"$W/ckpt.out" 2>&1; then
	pass "podman container checkpoint with $(basename "$CRIU")"
else
	fail "podman container checkpoint: $(why dump.log ckpt.out)"
	exit 0
fi
check "the container has exited" test "$(status)" = exited
check "--print-stats shows criu's dump statistics (stats-dump in the work directory)" \
	grep -q '"pages_scanned"' "$W/ckpt.out"
stopped=$(cat "$(podman mount "$NAME" 2>/dev/null)/tmp/count" 2>/dev/null)
sleep 0.5
check "it counted no further once checkpointed (${stopped:-?})" \
	test "$(cat "$(podman mount "$NAME" 2>/dev/null)/tmp/count" 2>/dev/null)" = "${stopped:-x}"
if pm container restore --print-stats "$NAME" >"$W/rst.out" 2>&1; then
	pass "podman container restore with $(basename "$CRIU")"
else
	fail "podman container restore: $(why restore.log rst.out)"
	exit 0
fi
check "it runs again" test "$(status)" = running
check "--print-stats shows criu's restore statistics (stats-restore)" \
	grep -q '"pages_restored"' "$W/rst.out"
after=$(count)
check "it counts on from where it stopped (${stopped:-?} -> ${after:-?})" \
	sh -c "[ -n '$after' ] && [ -n '$stopped' ] && [ '$after' -ge '$stopped' ]"
check "and goes on counting" counting

# --- a pre-checkpoint (memory tracked without soft-dirty), a checkpoint on it ---
pre_checkpoint() {
	if pm container checkpoint --pre-checkpoint "$NAME" >"$W/pre.out" 2>&1; then
		pass "podman container checkpoint --pre-checkpoint"
	elif grep -q "missing features\|does not support memory tracking" "$W/pre.out"; then
		# CRIU 4.2 tracks memory with soft-dirty bits only.
		skip "podman checkpoint --pre-checkpoint: $(basename "$CRIU") cannot track memory here"
		return
	else
		fail "podman container checkpoint --pre-checkpoint: $(why dump.log pre.out)"
		return
	fi
	check "it runs on after the pre-checkpoint" test "$(status)" = running
	counting || fail "it counts on after the pre-checkpoint"
	if ! pm container checkpoint --with-previous "$NAME" >"$W/wp.out" 2>&1; then
		fail "podman container checkpoint --with-previous: $(why dump.log wp.out)"
		return
	fi
	pass "podman container checkpoint --with-previous"
	check "the container has exited" test "$(status)" = exited
	ck=$(podman inspect -f '{{.StaticDir}}' "$NAME" 2>/dev/null)/checkpoint
	check "the checkpoint takes pages from the pre-checkpoint (PE_PARENT)" \
		sh -c "test -e '$ck/parent' && crit show '$ck/pagemap-1.img' 2>/dev/null | grep -q PE_PARENT"
	stopped=$(cat "$(podman mount "$NAME" 2>/dev/null)/tmp/count" 2>/dev/null)
	if ! pm container restore "$NAME" >"$W/wprst.out" 2>&1; then
		fail "podman container restore after --with-previous: $(why restore.log wprst.out)"
		return
	fi
	pass "podman container restore of the checkpoint made on a pre-checkpoint"
	after=$(count)
	check "it counts on from where it stopped (${stopped:-?} -> ${after:-?})" \
		sh -c "[ -n '$after' ] && [ -n '$stopped' ] && [ '$after' -ge '$stopped' ]"
	check "and goes on counting after that restore" counting
}
pre_checkpoint

# --- export, remove, import: the way to another host ---
if pm container checkpoint --export "$W/ct.tar.gz" "$NAME" >"$W/exp.out" 2>&1; then
	pass "podman container checkpoint --export"
else
	fail "podman container checkpoint --export: $(why dump.log exp.out)"
	exit 0
fi
check "the tarball holds the images" \
	sh -c "tar -tf '$W/ct.tar.gz' 2>/dev/null | grep -qx checkpoint/inventory.img"
podman rm -f "$NAME" >/dev/null 2>&1
if pm container restore --import "$W/ct.tar.gz" --name "$NAME-2" >"$W/imp.out" 2>&1; then
	pass "podman container restore --import --name (a new container)"
else
	fail "podman container restore --import: $(why restore.log imp.out)"
	exit 0
fi
check "the imported container runs and counts" counting "$NAME-2"
check "the tarball holds stats-dump, as podman exports it" \
	sh -c "tar -tf '$W/ct.tar.gz' 2>/dev/null | grep -qx stats-dump"
# The same tarball once more, beside the first: a clone.
if pm container restore --import "$W/ct.tar.gz" --name "$NAME-3" >"$W/imp3.out" 2>&1; then
	pass "a second restore --import of the same tarball"
	check "the second import counts on" counting "$NAME-3"
	check "and the first one too" counting "$NAME-2"
else
	fail "a second restore --import of the same tarball: $(why restore.log imp3.out)"
fi
podman rm -f "$NAME-2" "$NAME-3" >/dev/null 2>&1
. tests/podman/tcp.sh
exit 0
