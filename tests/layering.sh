#!/bin/sh
# The house rules of the source tree, checked (see README, "Layout"):
#
# 1. Includes point down only. Layers, top to bottom:
#      client/ (and its tools/, examples/)   server/*.c (main, config, admin)
#      server/transport/  server/service/  server/cluster/  server/table/
#      server/pool/  server/etcd/  proto/  common/
#    A server file includes its own folder or a lower one; server/tools/
#    may include any server folder, and nothing includes it. proto/
#    includes only common/, common/ nothing of ours, and neither the client
#    nor proto/ includes a server header.
# 2. No circle of calls between the .c files of the client library or of
#    the server's core: from their object files, "A calls B" when A uses a
#    symbol B defines; tsort finds any loop.
#
# Usage: tests/layering.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
bad=0

# The rank of a source file's folder; lower ranks may include higher ones.
rank() {
	case $1 in
	client/*) echo 0 ;;
	server/tools/*) echo 0 ;;
	server/transport/*) echo 2 ;;
	server/service/*) echo 3 ;;
	server/cluster/*) echo 4 ;;
	server/table/*) echo 5 ;;
	server/pool/*) echo 6 ;;
	server/etcd/*) echo 7 ;;
	server/workers/*) echo 7 ;;
	server/*) echo 1 ;;
	proto/*) echo 8 ;;
	common/*) echo 9 ;;
	*) echo 99 ;;
	esac
}

# Resolves an include as the compiler does for our -I folders: the
# including file's folder, then server/ (for the server), then the top.
resolve() {
	file=$1
	inc=$2
	dir=$(dirname "$file")
	for candidate in "$dir/$inc" "server/$inc" "client/$inc" "$inc"; do
		if [ -f "$src/$candidate" ]; then
			realpath --relative-to="$src" "$src/$candidate"
			return
		fi
	done
}

check_includes() {
	cd "$src"
	for file in $(find client server proto common -name '*.[ch]' | sort); do
		from=$(rank "$file")
		for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file"); do
			target=$(resolve "$file" "$inc")
			[ -n "$target" ] || continue
			to=$(rank "$target")
			case $file:$target in
			client/*:server/* | proto/*:server/* | proto/*:client/*)
				echo "layering: $file includes $target (the client and proto/ know no server or client internals)"
				bad=1
				continue
				;;
			esac
			case $target in
			server/tools/*)
				echo "layering: $file includes $target (a tool)"
				bad=1
				continue
				;;
			esac
			if [ "$to" -lt "$from" ]; then
				echo "layering: $file includes $target, a higher layer"
				bad=1
			fi
		done
	done
	cd - >/dev/null
}

# Prints "A B" for each object A that uses a symbol object B defines.
call_edges() {
	: >"$tmp/defs"
	: >"$tmp/uses"
	for o in "$@"; do
		name=$(basename "$o" .c.o)
		nm -g --defined-only "$o" | awk -v n="$name" '{print $3, n}' >>"$tmp/defs"
		nm -u "$o" | awk -v n="$name" '{print $2, n}' >>"$tmp/uses"
	done
	sort -o "$tmp/defs" "$tmp/defs"
	sort -o "$tmp/uses" "$tmp/uses"
	join "$tmp/uses" "$tmp/defs" | awk '$2 != $3 {print $2, $3}' | sort -u
}

check_calls() {
	what=$1
	shift
	[ -f "$1" ] || {
		echo "layering: no objects for $what in $build: build first"
		bad=1
		return
	}
	call_edges "$@" >"$tmp/edges"
	if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/loop"; then
		echo "layering: the $what's files call each other in a circle:"
		sed 's/^/  /' "$tmp/loop"
		bad=1
	fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check_includes
check_calls "client library" \
	"$build"/client/CMakeFiles/chunkclient_objects.dir/*.c.o
check_calls "server core" \
	$(find "$build/server/CMakeFiles/chunkd_core.dir" -name '*.c.o' | sort)
if [ "$bad" = 0 ]; then
	echo "layering: includes point down; no circle of calls in the client library or the server core"
fi
exit "$bad"
