#!/bin/bash
# run.sh - libsoccr's acceptance, run by tests/run.sh:
#  - a real connection in each TCP state, IPv4, IPv6 and v4-mapped, saved,
#    closed silently, restored, and used to the end (soccr-states);
#  - the shared library exports exactly what soccr.h declares;
#  - make install-soccr puts a library that a program finds through
#    pkg-config and links, static and shared.
# Each line is PASS:/FAIL:/SKIP: as tests/run.sh counts them.
set -u
cd "$(dirname "$0")/../.."

build/tests/soccr-states

want=$(grep -oE '\bsoccr_[a-z_0-9]+[[:space:]]*\(' include/stasis/soccr.h | tr -d '( ' | sort -u)
# nm shows each symbol with its version (soccr_save@@LIBSOCCR_1).
syms=$(nm -D --defined-only build/libsoccr.so.1 | awk '$2 ~ /^[TDBRVW]$/ { sub(/@.*/, "", $3); print $3 }')
have=$(grep '^soccr_' <<<"$syms" | sort -u)
others=$(grep -v '^soccr_' <<<"$syms")
if [ "$want" = "$have" ] && [ -z "$others" ]; then
	echo "PASS: soccr: libsoccr.so.1 exports exactly the $(wc -w <<<"$want") functions soccr.h declares"
else
	echo "FAIL: soccr: libsoccr.so.1 exports $(tr '\n' ' ' <<<"$have$others"), soccr.h declares $(tr '\n' ' ' <<<"$want")"
fi

# An installed copy, used as a program outside this tree would use it.
if ! command -v pkg-config >/dev/null; then
	echo "SKIP: soccr: install and pkg-config: no pkg-config on this machine"
	exit 0
fi
dest=$(mktemp -d /tmp/stasis-soccr-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
prefix=/usr/local
cat >"$dest/use.c" <<'PROG'
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stasis/soccr.h>

/* A UDP socket is no TCP connection: refused, and nothing is leaked. */
int main(void)
{
	struct soccr_sk *sk;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	return soccr_pause(fd, &sk) == -ENOPROTOOPT && SOCCR_VERSION == 1 ? 0 : 1;
}
PROG
if make -s install-soccr DESTDIR="$dest" PREFIX=$prefix >/dev/null; then
	export PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_PATH=$dest$prefix/lib/pkgconfig
	flags=$(pkg-config --cflags --libs soccr)
	ok=1
	gcc -o "$dest/use" "$dest/use.c" $flags && LD_LIBRARY_PATH=$dest$prefix/lib "$dest/use" || ok=0
	gcc -static -o "$dest/use-static" "$dest/use.c" $flags && "$dest/use-static" || ok=0
	[ -L "$dest$prefix/lib/libsoccr.so" ] || ok=0
	if [ $ok = 1 ]; then
		echo "PASS: soccr: make install-soccr: header, libsoccr.a, libsoccr.so.1, soccr.pc; a program links both ways through pkg-config"
	else
		echo "FAIL: soccr: a program using the installed libsoccr did not build or run (see the log)"
	fi
else
	echo "FAIL: soccr: make install-soccr failed"
fi
