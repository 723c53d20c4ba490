#!/bin/sh
# Installs the build into a temporary prefix and builds a program against
# the installed header with pkg-config: what a user of libchunkclient does.
set -eu
build=$1
cc=${2:-cc}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/$(gcc -print-multiarch)/pkgconfig"

cat >"$prefix/use.c" <<'C'
#include <chunkclient.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	struct chunk_client_opts o;

	chunk_client_opts_init(&o);
	printf("%s %s\n", chunk_version(), chunk_strerror(CHUNK_E_CRC));
	return o.size == sizeof(o) ? 0 : 1;
}
C
libdir=$(pkg-config --variable=libdir chunkclient)
# A sanitizer build's library expects the program to bring the runtime.
sanitize=""
if nm -D -u "$libdir/libchunkclient.so" | grep -q __asan; then
	sanitize="-fsanitize=address,undefined"
fi
"$cc" -Wall -Werror $sanitize "$prefix/use.c" $(pkg-config --cflags --libs chunkclient) -o "$prefix/use"
LD_LIBRARY_PATH="$libdir" "$prefix/use"
# Only chunk_* symbols are exported, under the version node.
nm -D --defined-only "$libdir/libchunkclient.so" |
	awk '$3 != "CHUNKCLIENT_0" && $3 !~ /^chunk_.*@@CHUNKCLIENT_0$/ { print "unexpected export: " $3; bad = 1 } END { exit bad }'
echo "install check: header, pkg-config and exports as documented"
