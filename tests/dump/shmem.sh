#!/bin/bash
# shmem.sh - dump a parent and child that share memfds and shared
# anonymous memory (tests/dump/shmem-prog.c) and check that each object
# is saved once, as CRIU 4.2 saves it: one memfd.img entry, its present
# non-zero pages once in pagemap-shmem-<inode>.img and a pages image;
# MEMFD entries in files.img for its fds and its mappings; the VMAs of
# both tasks pointing at the same entry.  Then the processes check that
# they run on untouched (-R).
#
#   bash tests/dump/shmem.sh      (from anywhere; after make)
#
# Uses build/stasis, build/crit, build/tests/spawn and jq; builds
# build/tests/shmem-prog.  Prints PASS:/FAIL: lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/dump/lib.sh
W=$B/shmem-test
PROG=$B/tests/shmem-prog
T="dump shmem"
PAGE=4096
# Pattern tags of shmem-prog.c.
TAG_A=1 TAG_ANON=4 TAG_CHILD=5

need_tools "$B/stasis" "$B/crit" "$B/tests/spawn"
build_prog tests/dump/shmem-prog.c "$PROG"
rm -rf "$W"
mkdir -p "$W/run" "$W/img"
IMG=$W/img

"$B/tests/spawn" "$W/pid" -C "$W/run" -- "$PROG" &
SPAWNER=$!
wait_ready "$W/run"
ready=$?
PID=$(cat "$W/pid" 2>/dev/null)
if [ $ready -ne 0 ]; then
	fail "shmem-prog did not start: $(cat "$W/run/state" 2>/dev/null)"
	kill "$SPAWNER" 2>/dev/null
	wait "$SPAWNER" 2>/dev/null
	exit 0
fi
info() { awk -v k="$1" '$1 == k { print $2 }' "$W/run/info"; }
CHILD=$(info child)

if "$B/stasis" dump -t "$PID" -D "$IMG" -R -v4 -o dump.log; then
	pass "dump -R succeeds"
else
	fail "dump -R failed: $(grep -m1 Error "$IMG/dump.log")"
fi
verdict=$(ask_verdict "$W/run" "$PID")
kill "$SPAWNER" 2>/dev/null
wait "$SPAWNER" 2>/dev/null
check "parent and child find their memfds and shared memory as they left them" \
	[ "$verdict" = OK ]
[ "$verdict" = OK ] || echo "  (it says: $verdict)" >&2

is() { [ "$(jq -r "$2" <<<"$1")" = "$3" ]; }

MEMFD=$(dec "$IMG/memfd.img")
FILES=$(dec "$IMG/files.img")
# inode NAME: memfd.img's entry of object NAME (a, b, c, anon), by its shmid.
inode() { jq -c ".entries[] | select(.shmid == $(info "$1"))" <<<"$MEMFD"; }
inode_id() { inode "$1" | jq .inode_id; }
entry() { jq -c ".entries[] | select(.id == $1)" <<<"$FILES"; }

check "memfd.img: four objects, each once" \
	is "$MEMFD" '[.entries[].shmid] | "\(length) \(unique | length)"' "4 4"
check "memfd.img: stasis-a, a regular file of its size, F_SEAL_SHRINK|F_SEAL_GROW" \
	is "$(inode a)" '"\(.name) \(.mode / 4096 | floor) \(.size) \(.seals)"' "stasis-a 8 262144 6"
check "memfd.img: stasis-b, a size not of whole pages, F_SEAL_WRITE|F_SEAL_SEAL" \
	is "$(inode b)" '"\(.name) \(.size) \(.seals)"' "stasis-b 12388 9"
check "memfd.img: stasis-c, mapped only" \
	is "$(inode c)" '"\(.name) \(.size) \(.seals)"' "stasis-c 16384 1"
check "memfd.img: shared anonymous memory as CRIU keeps it (/dev/zero, unsealable)" \
	is "$(inode anon)" '"\(.name) \(.size) \(.seals)"' "/dev/zero 524288 1"
check "crit show: the seals by name" \
	grep -q '"seals": "F_SEAL_SHRINK | F_SEAL_GROW"' <("$B/crit" show "$IMG/memfd.img")

FDINFO=$(dec "$IMG/fdinfo-$(dec "$IMG/ids-$PID.img" | jq '.entries[0].files_id').img")
CFDINFO=$(dec "$IMG/fdinfo-$(dec "$IMG/ids-$CHILD.img" | jq '.entries[0].files_id').img")
id() { jq ".entries[] | select(.fd == $1) | .id" <<<"${2:-$FDINFO}"; }
file() { entry "$(id "$1")"; }

check "fd 3: MEMFD of stasis-a, O_RDWR|O_LARGEFILE, position 100" \
	is "$(file 3)" '"\(.type) \(.memfd.inode_id) \(.memfd.flags) \(.memfd.pos)"' \
	"MEMFD $(inode_id a) 32770 100"
check "fd 4 (a dup of 3): the same entry" [ "$(id 3)" = "$(id 4)" ]
check "fd 5 (stasis-a opened again): an entry of its own, same inode, O_RDONLY" \
	[ "$(id 5)" != "$(id 3)" -a \
	  "$(file 5 | jq -r '"\(.memfd.inode_id) \(.memfd.flags) \(.memfd.pos)"')" = "$(inode_id a) 32768 0" ]
check "fd 6: MEMFD of stasis-b" is "$(file 6)" '"\(.type) \(.memfd.inode_id)"' "MEMFD $(inode_id b)"
check "the child's inherited fds share the parent's entries" \
	[ "$(for f in 3 4 5 6; do id $f "$CFDINFO"; done)" = "$(for f in 3 4 5 6; do id $f; done)" ]

# vma PID ADDR: the VmaEntry of task PID starting at hex ADDR.
vma() { dec "$IMG/mm-$1.img" | jq -c ".entries[0].vmas[] | select(.start == $((16#$2)))"; }
MEMFD_SHARED=$(((1 << 14) | (1 << 7) | 1))	# VMA_AREA_MEMFD|VMA_FILE_SHARED|VMA_AREA_REGULAR
for obj in a c anon; do
	addr=$(info "map_$obj")
	pv=$(vma "$PID" "$addr")
	cv=$(vma "$CHILD" "$addr")
	sid=$(jq .shmid <<<"$pv")
	check "$obj mapping: MEMFD|FILE_SHARED in both tasks, one files.img entry of its object" \
		[ "$(jq .status <<<"$pv") $(jq .status <<<"$cv") $(jq .shmid <<<"$cv")" = \
		  "$MEMFD_SHARED $MEMFD_SHARED $sid" -a \
		  "$(entry "$sid" | jq -r '"\(.type) \(.memfd.inode_id)"')" = "MEMFD $(inode_id "$obj")" ]
done
check "stasis-a: three MEMFD entries (fd 3, fd 5, its mappings), one object" \
	is "$FILES" "[.entries[] | select(.memfd.inode_id == $(inode_id a))] | length" 3

# pages OBJ: the pages image of object OBJ, by its pagemap-shmem head.
pm() { dec "$IMG/pagemap-shmem-$(info "$1").img"; }
pages() { echo "$IMG/pages-$(pm "$1" | jq '.entries[0].pages_id').img"; }
ranges() { pm "$1" | jq -c "[.entries[1:][] | [.vaddr / $PAGE, .nr_pages]]"; }
check "four pagemap-shmem images, one per object" \
	[ "$(ls "$IMG"/pagemap-shmem-*.img | wc -l)" -eq 4 ]
check "stasis-a: pages 0-9 and 30 only (holes and its zero page 20 left out)" \
	[ "$(ranges a) $(stat -c %s "$(pages a)")" = "[[0,10],[30,1]] $((11 * PAGE))" ]
check "stasis-b: its 4 pages, the last one partial" \
	[ "$(ranges b) $(stat -c %s "$(pages b)")" = "[[0,4]] $((4 * PAGE))" ]
check "stasis-c: its 4 pages" \
	[ "$(ranges c) $(stat -c %s "$(pages c)")" = "[[0,4]] $((4 * PAGE))" ]
check "shared anonymous: pages 0-15, the child's 17 and 100, once (zero page 50 left out)" \
	[ "$(ranges anon) $(stat -c %s "$(pages anon)")" = "[[0,16],[17,1],[100,1]] $((18 * PAGE))" ]
check "stasis-a: page 30 holds what the process wrote" \
	cmp -s <(dd if="$(pages a)" bs=$PAGE skip=10 count=1 2>/dev/null) <("$PROG" page $TAG_A 30)
check "shared anonymous: page 17 holds what the child wrote" \
	cmp -s <(dd if="$(pages anon)" bs=$PAGE skip=16 count=1 2>/dev/null) <("$PROG" page $TAG_CHILD 17)
check "shared anonymous: page 100 holds what the parent wrote" \
	cmp -s <(dd if="$(pages anon)" bs=$PAGE skip=17 count=1 2>/dev/null) <("$PROG" page $TAG_ANON 100)

# No task writes pages of shared memory into its own pagemap.
in_shared=0
for p in "$PID" "$CHILD"; do
	for obj in a c anon; do
		lo=$((16#$(info "map_$obj")))
		hi=$((lo + $(vma "$p" "$(info "map_$obj")" | jq '.end - .start')))
		n=$(dec "$IMG/pagemap-$p.img" |
			jq "[.entries[1:][] | select(.vaddr < $hi and .vaddr + .nr_pages * $PAGE > $lo)] | length")
		in_shared=$((in_shared + n))
	done
done
check "the tasks' own pagemaps hold no page of the shared objects" [ "$in_shared" -eq 0 ]

if command -v crit >/dev/null; then
	bad=
	for f in "$IMG"/*.img; do
		case $f in */pages-*) continue ;; esac
		crit decode -i "$f" >/dev/null 2>&1 || bad="$bad $(basename "$f")"
	done
	check "Debian's crit decodes every image${bad:+ (not:$bad)}" [ -z "$bad" ]
	check "Debian's crit reads memfd.img's four objects" \
		[ "$(crit decode -i "$IMG/memfd.img" | jq '.entries | length')" = 4 ]
fi
exit 0
