#!/bin/bash
# mntns-root-inner.sh W - the body of mntns-root.sh; writes PASS/FAIL lines to W/results.
set -u
cd "$(dirname "$0")/../.."
W=$1
T="mount namespace --root"
pass() { echo "PASS: restore $T: $*" >>"$W/results"; }
fail() { echo "FAIL: restore $T: $*" >>"$W/results"; }

# Two roots alike: the tree runs in the first and comes back in the second.
for r in "$W/root1" "$W/root2"; do
	mkdir -p "$r/usr" "$r/proc" "$r/dev" "$r/run"
	for l in bin lib lib64; do ln -s "usr/$l" "$r/$l"; done
done
# start_root ROOT PIDFILE OUT MOUNTS: `sleep 1000` in a mount namespace of
# its own whose root is ROOT (pivot_root), its cwd /run, its stdout OUT (a
# path in it); MOUNTS (sh commands, $R the root) run before the pivot, after
# ROOT is bound on itself and /usr into it.  The pid goes out on fd 3 to
# PIDFILE, closed before the exec (a file outside the tree); it is echoed
# once there (nothing after 5 s), and the tree is given 0.2 s to settle.
start_root() {
	setsid unshare -m sh -c '
		set -e
		R=$1
		mount --make-rprivate /
		mount --bind "$R" "$R"
		mount --bind /usr "$R/usr"
		eval "$3"
		cd "$R"
		pivot_root . .
		umount -l .
		cd /run
		echo $$ >&3
		exec 3>&-
		exec sleep 1000 </dev/null >"$2" 2>&1
	' sh "$1" "$3" "$4" 3>"$2" &
	for _ in $(seq 100); do [ -s "$2" ] && break; sleep 0.05; done
	sleep 0.2
	cat "$2"
}

# /usr (read-only) and /dev bound from outside, /proc and a tmpfs /run its own.
pid=$(start_root "$W/root1" "$W/pid" /run/out '
	mount -o remount,bind,ro "$R/usr"
	mount --bind /dev "$R/dev"
	mount -t proc proc "$R/proc"
	mount -t tmpfs -o size=1m,mode=755 run "$R/run"
	echo data >"$R/run/x"')
if [ -z "$pid" ] || ! grep -q " /run " "/proc/$pid/mountinfo" 2>/dev/null; then
	fail "the tree did not start: $(cat "$W/pid")"
	exit 0
fi

# /usr is neither made anew nor under the root's own directory: refused by name.
mkdir -p "$W/img-refused"
if build/stasis dump -t "$pid" -D "$W/img-refused" -o dump.log; then
	fail "a dump without --external mnt[/usr] was not refused"
elif grep -q "unsupported: mount [0-9]* (/usr) .*--external mnt\[/usr\]:KEY" "$W/img-refused/dump.log" &&
	[ -d "/proc/$pid" ]; then
	pass "without --external mnt[/usr] the dump is refused and the tree runs on: $(grep -m1 -o 'unsupported:.*' "$W/img-refused/dump.log")"
else
	fail "refused without naming /usr: $(grep -m1 Error "$W/img-refused/dump.log")"
fi

mkdir -p "$W/img"
if ! build/stasis dump -t "$pid" -D "$W/img" -v4 -o dump.log --external 'mnt[/usr]:usr' \
	--ext-mount-map /dev:dev; then
	fail "the dump failed: $(grep -m1 Error "$W/img/dump.log")"
	exit 0
fi
sleep 0.2
if build/stasis restore -D "$W/img" -d -o restore-refused.log --root "$W/root2" \
	--external 'mnt[dev]:/dev' 2>/dev/null; then
	fail "a restore without --external mnt[usr]:PATH was not refused"
	kill -9 "$pid"
	exit 0
elif grep -q "(/usr) is external: --external mnt\[usr\]:PATH is needed" "$W/img/restore-refused.log"; then
	pass "without --external mnt[usr]:PATH the restore is refused"
else
	fail "refused without saying why: $(grep -m1 Error "$W/img/restore-refused.log")"
fi
if ! build/stasis restore -D "$W/img" -d -v4 -o restore.log --root "$W/root2" \
	--external 'mnt[usr]:/usr' --ext-mount-map dev:/dev; then
	fail "the restore failed: $(grep -m1 Error "$W/img/restore.log")"
	exit 0
fi
mi=$(cat "/proc/$pid/mountinfo")
want="/ $W/root2 /usr ro /dev /proc /run"
got="$(awk '$5 == "/" { print $5, $4 } $5 == "/usr" { print $5, substr($6, 1, 2) } $5 ~ /^\/(dev|proc|run)$/ { print $5 }' <<<"$mi" | sort | tr '\n' ' ')"
if [ "$(tr ' ' '\n' <<<"$want" | sort | tr -d '\n')" = "$(tr ' ' '\n' <<<"$got" | sort | tr -d '\n')" ] &&
	[ "$(wc -l <<<"$mi")" -eq 5 ]; then
	pass "its mounts are back, the root from --root: $got"
else
	fail "its mounts: $(tr '\n' ';' <<<"$mi")"
fi
if [ "$(cat "/proc/$pid/root/run/x" 2>/dev/null)" = data ] && [ ! -e "$W/root2/run/x" ] &&
	[ "$(readlink "/proc/$pid/cwd")" = /run ] && [ "$(readlink "/proc/$pid/fd/1")" = /run/out ] &&
	[ "$(readlink "/proc/$pid/exe")" = /usr/bin/sleep ]; then
	pass "its tmpfs /run holds its file, its cwd and stdout are in it"
else
	fail "x: '$(cat "/proc/$pid/root/run/x" 2>&1)', cwd $(readlink "/proc/$pid/cwd"), fd 1 $(readlink "/proc/$pid/fd/1"), exe $(readlink "/proc/$pid/exe")"
fi
kill -9 "$pid"

# --skip-mnt and --enable-fs: the same tree with a tmpfs /sk and a ramfs /rf
# (a file system stasis does not know).  Without --enable-fs the ramfs is
# refused by name; with --skip-mnt /sk --enable-fs ramfs, /sk is left out
# of the dump and /rf is mounted anew (empty, as CRIU's "auto") at restore.
T="mount namespace --skip-mnt, --enable-fs"
for r in "$W/root3" "$W/root4"; do
	mkdir -p "$r/usr" "$r/proc" "$r/dev" "$r/run" "$r/sk" "$r/rf"
	for l in bin lib lib64; do ln -s "usr/$l" "$r/$l" 2>/dev/null; done
done
rm -f "$W/pid2"
pid=$(start_root "$W/root3" "$W/pid2" /dev/null '
	mount --bind /dev "$R/dev"
	mount -t proc proc "$R/proc"
	mount -t tmpfs -o size=1m run "$R/run"
	mount -t tmpfs -o size=1m skipme "$R/sk"
	mount -t ramfs rfs "$R/rf"')
EXT=(--external 'mnt[/usr]:usr' --ext-mount-map /dev:dev)
mkdir -p "$W/img3-refused" "$W/img3"
if [ -z "$pid" ] || ! grep -q " /rf " "/proc/$pid/mountinfo" 2>/dev/null; then
	fail "the tree did not start: $(cat "$W/pid2")"
elif build/stasis dump -t "$pid" -D "$W/img3-refused" -o dump.log "${EXT[@]}" --skip-mnt /sk; then
	fail "a ramfs mount was dumped without --enable-fs"
	kill -9 "$pid"
elif ! grep -q "unsupported: mount [0-9]* (/rf) is a ramfs mount" "$W/img3-refused/dump.log"; then
	fail "refused without naming the ramfs /rf: $(grep -m1 Error "$W/img3-refused/dump.log")"
	kill -9 "$pid"
elif ! build/stasis dump -t "$pid" -D "$W/img3" -v4 -o dump.log "${EXT[@]}" --skip-mnt /sk \
	--enable-fs ramfs; then
	fail "the dump failed: $(grep -m1 Error "$W/img3/dump.log")"
	kill -9 "$pid"
else
	pass "without --enable-fs ramfs the ramfs /rf is refused by name"
	sleep 0.2
	if ! build/stasis restore -D "$W/img3" -d -v4 -o restore.log --root "$W/root4" \
		--external 'mnt[usr]:/usr' --ext-mount-map dev:/dev; then
		fail "the restore failed: $(grep -m1 Error "$W/img3/restore.log")"
	else
		mi=$(cat "/proc/$pid/mountinfo")
		if grep -q " /rf .* - ramfs rfs " <<<"$mi" && ! grep -q " /sk " <<<"$mi"; then
			pass "/sk left out of the dump, the ramfs /rf mounted anew"
		else
			fail "its mounts: $(tr '\n' ';' <<<"$mi")"
		fi
		kill -9 "$pid"
	fi
fi
