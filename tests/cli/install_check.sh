#!/bin/sh
# Installs the build into a temporary prefix and builds a program against
# the installed header with pkg-config, linked with the shared library and
# with the static one: what a user of libchunkclient does. Then runs an
# installed program from that prefix.
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
# The same against libchunkclient.a, with what pkg-config --static names.
static_libs=$(pkg-config --static --libs chunkclient | sed 's/-lchunkclient//')
"$cc" -Wall -Werror $sanitize "$prefix/use.c" $(pkg-config --cflags chunkclient) \
	"$libdir/libchunkclient.a" $static_libs -o "$prefix/use-static"
if ldd "$prefix/use-static" | grep -q libchunkclient; then
	echo "install check: the static program needs libchunkclient.so"
	exit 1
fi
"$prefix/use-static"
# Installed programs start from any prefix, with no LD_LIBRARY_PATH: the
# operator's tool and every program the README tells a user to run.
for program in chunkctl chunkfile chunkbench chunkdemo; do
	"$prefix/bin/$program" --help >/dev/null
done
"$prefix/sbin/chunkd" --help >/dev/null
test -f "$prefix/share/doc/chunkd/examples/chunkd.ini"
# Only chunk_* symbols are exported, under the version node.
nm -D --defined-only "$libdir/libchunkclient.so" |
	awk '$3 != "CHUNKCLIENT_0" && $3 !~ /^chunk_.*@@CHUNKCLIENT_0$/ { print "unexpected export: " $3; bad = 1 } END { exit bad }'
echo "install check: header, pkg-config (shared and --static), installed programs, example config and exports as documented"
