#!/bin/bash
# bad-input.sh - the image tool meets broken input: every case must end in a
# one-line error naming the file and the problem, exit status 1, no crash,
# and no output file (not even a temporary) left behind.
#
# usage: bad-input.sh CRIT FIXTURES_DIR
set -u
CRIT=$1
FIX=$2
T=$(mktemp -d /tmp/stasis-bad.XXXXXX)
trap 'rm -rf "$T"' EXIT
CORE=$FIX/counter-static/img/core-31001.img

pass() { echo "PASS: bad input: $1"; }
fail() { echo "FAIL: bad input: $1: $2"; }

# expect_error NAME FILE PATTERN CMD...: CMD must fail cleanly mentioning FILE and PATTERN.
expect_error() {
	local name=$1 file=$2 pattern=$3
	shift 3
	rm -rf "$T/out"
	mkdir -p "$T/out"
	"$@" >"$T/stdout" 2>"$T/stderr"
	local rc=$?
	local lines
	lines=$(wc -l <"$T/stderr")
	if [ $rc -ne 1 ]; then
		fail "$name" "exit status $rc, expected 1 ($(head -c 200 "$T/stderr"))"
	elif [ "$lines" -ne 1 ]; then
		fail "$name" "expected one line on stderr, got $lines: $(head -c 300 "$T/stderr")"
	elif ! grep -qF -- "$file" "$T/stderr"; then
		fail "$name" "error does not name $file: $(cat "$T/stderr")"
	elif ! grep -qiE -- "$pattern" "$T/stderr"; then
		fail "$name" "error does not say '$pattern': $(cat "$T/stderr")"
	elif [ -n "$(ls -A "$T/out")" ]; then
		fail "$name" "left output behind: $(ls -A "$T/out")"
	else
		pass "$name ($(cat "$T/stderr"))"
	fi
}

decode() { expect_error "$1" "$2" "$3" "$CRIT" decode -i "$2" -o "$T/out/x.json"; }

head -c 0 "$CORE" >"$T/empty.img"
decode "empty file" "$T/empty.img" "empty"

head -c 2 "$CORE" >"$T/short-magic.img"
decode "truncated inside the magic" "$T/short-magic.img" "inside the magic"

head -c 6 "$CORE" >"$T/short-magic2.img"
decode "truncated inside the second magic" "$T/short-magic2.img" "inside the magic"

head -c 10 "$CORE" >"$T/short-len.img"
decode "truncated inside a length" "$T/short-len.img" "inside an entry length"

head -c 500 "$CORE" >"$T/short-entry.img"
decode "truncated inside an entry" "$T/short-entry.img" "inside an entry"

printf '\x19\x43\x56\x54\x78\x56\x34\x12' >"$T/wrong-magic.img"
decode "wrong magic" "$T/wrong-magic.img" "unknown magic 0x12345678"

printf '\x19\x43\x56\x54\x47\x38\x05\x55\x00\x00\x00\x80' >"$T/huge-len.img"
decode "a length of 2^31" "$T/huge-len.img" "entry length 2147483648"

printf '\x19\x43\x56\x54\x47\x38\x05\x55\x04\x00\x00\x00\xff\xff\xff\xff' >"$T/garbage.img"
decode "garbage protobuf" "$T/garbage.img" "not a valid core_entry"

# A well-formed entry of the wrong message: a pstree entry under the core magic.
{ head -c 8 "$CORE"; tail -c +9 "$FIX/tree/img/pstree.img"; } >"$T/wrong-type.img"
decode "an entry of the wrong type" "$T/wrong-type.img" "not a valid core_entry"

# A whole image of the wrong kind where the directory names another.
mkdir -p "$T/dir"
cp "$FIX/tree/img/"* "$T/dir/"
cp "$FIX/tree/img/core-31201.img" "$T/dir/pstree.img"
expect_error "an image of the wrong type" "pstree.img" "holds a CORE image, expected PSTREE" \
	"$CRIT" x "$T/dir" ps

rm -f "$T/dir/inventory.img"
expect_error "a directory without inventory" "$T/dir" "no inventory" "$CRIT" x "$T/dir" ps

expect_error "a missing file" "$T/nope.img" "cannot open" "$CRIT" decode -i "$T/nope.img" -o "$T/out/x.json"

# Encoding side.
printf '{"magic": "CORE", "entries": [' >"$T/bad.json"
expect_error "encode: invalid JSON" "$T/bad.json" "not valid JSON" \
	"$CRIT" encode -i "$T/bad.json" -o "$T/out/x.img"

printf '{"magic": "NOPE", "entries": []}' >"$T/magic.json"
expect_error "encode: unknown magic name" "$T/out/x.img" "unknown image magic name" \
	"$CRIT" encode -i "$T/magic.json" -o "$T/out/x.img"

printf '{"magic": "PSTREE", "entries": [{"pid": 1}]}' >"$T/req.json"
expect_error "encode: a required field missing" "$T/out/x.img" "required field" \
	"$CRIT" encode -i "$T/req.json" -o "$T/out/x.img"

printf '{"magic": "PSTREE", "entries": [{"pid": "abc", "ppid": 0, "pgid": 1, "sid": 1}]}' >"$T/type.json"
expect_error "encode: a field of the wrong type" "$T/out/x.img" "pstree_entry.pid: bad integer" \
	"$CRIT" encode -i "$T/type.json" -o "$T/out/x.img"

printf '{"magic": "PSTREE", "entries": [{"pid": 4294967296, "ppid": 0, "pgid": 1, "sid": 1}]}' >"$T/range.json"
expect_error "encode: a value out of range" "$T/out/x.img" "out of range" \
	"$CRIT" encode -i "$T/range.json" -o "$T/out/x.img"
