#!/bin/bash
# files.sh - dump processes that hold every kind of open file stasis
# knows (tests/dump/files-kinds.c), check what the images say about each
# fd, and check that the processes carry on untouched (-R).  Then the
# kinds stasis must refuse: the dump fails naming the fd, the process
# runs on.  Then a process whose binary was deleted (a ghost exe).
#
#   bash tests/dump/files.sh      (from anywhere; after make)
#
# Uses build/stasis, build/crit, build/tests/spawn and jq; builds
# build/tests/files-kinds.  Prints PASS:/FAIL: lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/dump/lib.sh
W=$B/files-test
KINDS=$B/tests/files-kinds
T="dump files"

need_tools "$B/stasis" "$B/crit" "$B/tests/spawn"
build_prog tests/dump/files-kinds.c "$KINDS"
rm -rf "$W"
mkdir -p "$W"

SPAWNER=
PID=

# start NAME MODE [BIN]: run BIN (files-kinds) MODE in $W/NAME, wait for "ready".
start() {
	local dir=$W/$1
	mkdir -p "$dir"
	"$B/tests/spawn" "$dir.pid" -C "$dir" -- "${3:-$KINDS}" "$2" &
	SPAWNER=$!
	wait_ready "$dir"
	local ok=$?
	PID=$(cat "$dir.pid" 2>/dev/null)
	return $ok
}

# finish NAME: ask the process to check itself; print its verdict.
finish() {
	ask_verdict "$W/$1" "$PID"
	kill "$SPAWNER" 2>/dev/null
	wait "$SPAWNER" 2>/dev/null
}


# --- every kind, dumped and left running ---

IMG=$W/all-img
if ! start all all; then
	fail "files-kinds did not start: $(cat "$W/all/state" 2>/dev/null)"
	finish all >/dev/null
	exit 0
fi
mkdir -p "$IMG"
if "$B/stasis" dump -t "$PID" -D "$IMG" -R -v4 -o dump.log; then
	pass "every kind: dump -R succeeds"
else
	fail "every kind: dump -R failed: $(grep -m1 Error "$IMG/dump.log")"
fi
verdict=$(finish all)
check "every kind: the process finds pipe, fifo, eventfd and positions as it left them" \
	[ "$verdict" = OK ]
[ "$verdict" = OK ] || echo "  (it says: $verdict)" >&2

FILES=$(dec "$IMG/files.img")
FILES_ID=$(dec "$IMG/ids-$PID.img" | jq '.entries[0].files_id')
FDINFO=$(dec "$IMG/fdinfo-$FILES_ID.img")

# id FD: the files.img id of fd FD; file FD: its files.img entry.
id() { jq ".entries[] | select(.fd == $1) | .id" <<<"$FDINFO"; }
file() { jq -c ".entries[] | select(.id == $(id "$1"))" <<<"$FILES"; }
entry() { jq -c ".entries[] | select(.id == $1)" <<<"$FILES"; }
is() { [ "$(jq -r "$2" <<<"$1")" = "$3" ]; }

check "fdinfo: one entry per fd, in fd order" \
	is "$FDINFO" '[.entries[].fd] | tostring' '[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]'
check "fdinfo: FD_CLOEXEC on fd 5 only" \
	is "$FDINFO" '[.entries[] | select(.flags == 1) | .fd] | tostring' '[5]'
check "a table shared with CLONE_FILES is dumped once, a forked one apart" \
	[ "$(ls "$IMG"/fdinfo-*.img | wc -l)" -eq 2 ]

f=$(file 3)
check "fifo O_RDWR: FIFO entry whose REG entry has the path, O_RDWR|O_LARGEFILE" \
	is "$(entry "$(jq .fifo.regf_id <<<"$f")")" '"\(.type) \(.reg.name) \(.reg.flags) \(.reg.mode)"' \
	"REG $W/all/fifo-rw 32770 4480"
FIFODATA=$(dec "$IMG/fifo-data.img")
check "fifo O_RDWR: its 50 bytes in fifo-data.img" \
	is "$FIFODATA" ".entries[] | select(.pipe_id == $(jq .fifo.pipe_id <<<"$f")) | .bytes" 50
f=$(file 4)
check "fifo O_RDONLY: empty, still has a fifo-data entry" \
	is "$FIFODATA" ".entries[] | select(.pipe_id == $(jq .fifo.pipe_id <<<"$f")) | .bytes" 0

check "eventfd: counter 7, flags O_RDWR|O_NONBLOCK" \
	is "$(file 5)" '"\(.type) \(.efd.counter) \(.efd.flags)"' "EVENTFD 7 2050"
check "dup'ed fd: the same files.img entry" [ "$(id 5)" = "$(id 6)" ]

REMAP=$(dec "$IMG/remap-fpath.img")
# ghost FD: the ghost-file image of fd FD's REG entry.
ghost_of() {
	local gid
	gid=$(jq ".entries[] | select(.orig_id == $1 and .remap_type == \"GHOST\") | .remap_id" <<<"$REMAP")
	[ -n "$gid" ] && dec "$IMG/ghost-file-$(printf %x "$gid").img"
}
f=$(file 7)
check "unlinked file: REG with its name, pos 10, size 100" \
	is "$f" '"\(.reg.name) \(.reg.pos) \(.reg.size)"' "$W/all/small 10 100"
g=$(ghost_of "$(id 7)")
check "unlinked file: ghost file with mode 0640 and its 100 bytes" \
	[ "$(jq '.entries[0].mode % 512' <<<"$g") $(jq -r '.entries[0].extra' <<<"$g" | base64 -d | wc -c)" = "416 100" ]
r7=$(jq ".entries[] | select(.orig_id == $(id 7)) | .remap_id" <<<"$REMAP")
r9=$(jq ".entries[] | select(.orig_id == $(id 9)) | .remap_id" <<<"$REMAP")
check "unlinked file opened twice: two entries, one ghost file" \
	[ "$(id 7)" != "$(id 9)" -a -n "$r7" -a "$r7" = "$r9" ]
g=$(ghost_of "$(id 8)")
check "unlinked sparse file: ghost file in chunks, size 100000" \
	is "$g" '"\(.entries[0].chunks) \(.entries[0].size)"' "true 100000"

check "directory fd: REG, a directory, no size" \
	is "$(file 10)" '"\(.reg.mode / 4096 | floor) \(.reg | has("size"))"' "4 false"
check "O_PATH symlink fd: REG of the link itself, O_PATH kept" \
	is "$(file 11)" '"\(.reg.mode / 4096 | floor) \((.reg.flags / 2097152 | floor) % 2)"' "10 1"
check "F_SETOWN/F_SETSIG: fown has the owner and the signal" \
	is "$(file 12)" '"\(.reg.fown.pid) \(.reg.fown.pid_type) \(.reg.fown.signum)"' "$PID 1 10"

p13=$(file 13)
p14=$(file 14)
check "pipe: two PIPE entries, one pipe_id, flags 0 and 1" \
	[ "$(jq .pipe.pipe_id <<<"$p13") $(jq .pipe.flags <<<"$p13") $(jq .pipe.flags <<<"$p14")" = \
	  "$(jq .pipe.pipe_id <<<"$p14") 0 1" ]
PIPEDATA=$(dec "$IMG/pipes-data.img" | jq -c ".entries[] | select(.pipe_id == $(jq .pipe.pipe_id <<<"$p13"))")
jq -r .extra <<<"$PIPEDATA" | base64 -d >"$W/pipe-data"
"$KINDS" pattern >"$W/pipe-pattern"
check "pipe: its 1 MiB of data and its size in pipes-data.img" \
	[ "$(jq '"\(.bytes) \(.size)"' <<<"$PIPEDATA")" = '"1048576 1048576"' -a \
	  "$(cmp "$W/pipe-data" "$W/pipe-pattern" 2>&1)" = "" ]
# jq keeps numbers as doubles: look for the exact -1 in crit's own output.
check "/dev/kmsg O_WRONLY: no position (-1)" \
	[ "$(jq -r .reg.name <<<"$(file 15)") $(dec "$IMG/files.img" | grep -o '"pos": 18446744073709551615' | wc -l)" = "/dev/kmsg 1" ]
f=$(file 16)
g=$(ghost_of "$(jq .fifo.regf_id <<<"$f")")
check "unlinked fifo: a ghost for its path entry, its 2 bytes in fifo-data.img" \
	[ -n "$g" -a "$(jq ".entries[] | select(.pipe_id == $(jq .fifo.pipe_id <<<"$f")) | .bytes" <<<"$FIFODATA")" = 2 ]

FS=$(dec "$IMG/fs-$PID.img")
check "fs: cwd is a REG entry of the directory, the umask it runs with" \
	[ "$(entry "$(jq '.entries[0].cwd_id' <<<"$FS")" | jq -r .reg.name) $(jq '.entries[0].umask' <<<"$FS")" = \
	  "$W/all $((8#$(umask)))" ]

CHILD_FDINFO=$(for f in "$IMG"/fdinfo-*.img; do
	[ "$f" = "$IMG/fdinfo-$FILES_ID.img" ] || dec "$f"
done)
check "forked child: inherited fds share the parent's entries, its closed fd is gone" \
	is "$CHILD_FDINFO" "[.entries[] | select(.fd == 3 or .fd == 15) | .id] | tostring" "[$(id 3)]"

if command -v crit >/dev/null; then
	bad=
	for f in "$IMG"/*.img; do
		case $f in */pages-*) continue ;; esac
		crit decode -i "$f" >/dev/null 2>&1 || bad="$bad $(basename "$f")"
	done
	check "Debian's crit decodes every image${bad:+ (not:$bad)}" [ -z "$bad" ]
fi

# --- what must be refused ---

refuse() {
	local mode=$1 what=$2 img=$W/$1-img verdict
	if ! start "$mode" "$mode"; then
		fail "$mode: files-kinds did not start: $(cat "$W/$mode/state" 2>/dev/null)"
		finish "$mode" >/dev/null
		return
	fi
	mkdir -p "$img"
	if "$B/stasis" dump -t "$PID" -D "$img" -R -v4 -o dump.log 2>/dev/null; then
		fail "$mode: dump succeeded"
	elif grep -qF "unsupported: pid $PID fd 3 is $what" "$img/dump.log"; then
		pass "$mode: refused, naming it ($what)"
	else
		fail "$mode: refused without saying why: $(grep -m1 Error "$img/dump.log")"
	fi
	verdict=$(finish "$mode")
	check "$mode: the process runs on after the failed dump" [ "$verdict" = OK ]
}

refuse socket "a socket (socket:["
refuse tcp "a TCP connection (established, port"
refuse uffd "a userfaultfd (anon_inode:[userfaultfd])"
refuse netns "net:["

# A memfd is dumped now (tests/dump/shmem.sh checks the rest of it).
IMG=$W/memfd-img
if start memfd memfd; then
	mkdir -p "$IMG"
	if "$B/stasis" dump -t "$PID" -D "$IMG" -R -v4 -o dump.log; then
		pass "memfd: dump -R succeeds"
	else
		fail "memfd: dump -R failed: $(grep -m1 Error "$IMG/dump.log")"
	fi
	verdict=$(finish memfd)
	check "memfd: the process runs on" [ "$verdict" = OK ]
	FDINFO=$(dec "$IMG/fdinfo-$(dec "$IMG/ids-$PID.img" | jq '.entries[0].files_id').img")
	FILES=$(dec "$IMG/files.img")
	f=$(file 3)
	check "memfd: fd 3 is a MEMFD entry of memfd.img's one object, \"kinds\"" \
		[ "$(jq -r .type <<<"$f") $(dec "$IMG/memfd.img" | jq -r "[.entries[] | select(.inode_id == $(jq .memfd.inode_id <<<"$f")) | .name] | tostring")" = \
		  'MEMFD ["kinds"]' ]
else
	fail "memfd: files-kinds did not start"
	finish memfd >/dev/null
fi

refuse semaphore "an eventfd in semaphore mode"

# --- a deleted binary ---

IMG=$W/exe-img
mkdir -p "$W/exe" "$IMG"
cp "$KINDS" "$W/exe/kinds-copy"
if start exe none "$W/exe/kinds-copy"; then
	rm -f "$W/exe/kinds-copy"
	if "$B/stasis" dump -t "$PID" -D "$IMG" -R -v4 -o dump.log; then
		pass "deleted binary: dump -R succeeds"
	else
		fail "deleted binary: dump -R failed: $(grep -m1 Error "$IMG/dump.log")"
	fi
	verdict=$(finish exe)
	check "deleted binary: the process runs on" [ "$verdict" = OK ]
	exe_id=$(dec "$IMG/mm-$PID.img" | jq '.entries[0].exe_file_id')
	FILES=$(dec "$IMG/files.img")
	REMAP=$(dec "$IMG/remap-fpath.img")
	check "deleted binary: exe entry has the path without \" (deleted)\"" \
		[ "$(entry "$exe_id" | jq -r .reg.name)" = "$W/exe/kinds-copy" ]
	ghost_of "$exe_id" | jq -r '.entries[1:][] | .extra' | base64 -d >"$W/exe/ghost-data"
	check "deleted binary: its ghost file holds the binary" cmp -s "$W/exe/ghost-data" "$KINDS"
else
	fail "deleted binary: files-kinds did not start"
	finish exe >/dev/null
fi
exit 0
