# gen-opts.awk - collect the (criu) presentation options of our .proto files
# into rows of a C table, one per annotated field, keyed "message.field".
# Output lines are "key<TAB>initializer"; the Makefile sorts them by key so
# the image tool can binary-search the table.
#
# Only top-level messages carry annotated fields in our schemas; a nested
# message would need its parent's name in the key, so we refuse it.

function flag(opt, name) {
	return opt ~ ("\\(criu\\)\\." name "[ \t]*=[ \t]*true") ? 1 : 0
}

function str(opt, name,    s) {
	if (!match(opt, "\\(criu\\)\\." name "[ \t]*=[ \t]*\"[^\"]*\""))
		return "NULL"
	s = substr(opt, RSTART, RLENGTH)
	sub(/^[^"]*/, "", s)
	return s
}

/^message[ \t]/ { msg = $2; depth = 0 }
/{/ { depth += gsub(/{/, "{") }
/}/ { depth -= gsub(/}/, "}"); if (depth == 0) msg = "" }

msg != "" && /^[ \t]*(required|optional|repeated)[ \t]/ && /\(criu\)\./ {
	if (depth != 1) {
		print FILENAME ": annotated field in a nested message" > "/dev/stderr"
		exit 1
	}
	line = $0
	sub(/\/\/.*/, "", line)
	opt = substr(line, index(line, "["))
	key = msg "." $3
	printf "%s\t{ \"%s\", %d, %d, %d, %d, %s, %s, %s },\n", key, key,
	       flag(opt, "hex"), flag(opt, "ipadd"), flag(opt, "dev"),
	       flag(opt, "odev"), str(opt, "flags"), str(opt, "dict"),
	       str(opt, "conv")
}
