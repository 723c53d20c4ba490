#!/bin/sh
# The Debian packages, from a clean package build (deploy/package.sh):
# dpkg unpacks all three into a scratch root with a dpkg database of its
# own (--unpack: libchunkclient1's postinst runs ldconfig, which needs a
# system in the root; Debian's libraries they depend on come from the
# host), each holds what
# it should, the installed programs run, and a program outside the tree
# builds against the installed libchunkclient-dev with pkg-config (the
# example of libchunkclient(3), as the man page prints it) and with
# CMake's find_package(chunkclient), and runs on libchunkclient1.
#
# Usage: tests/cli/package_check.sh SOURCE_DIR WORK_DIR
set -eu
src=$1
work=$2
fail() {
	echo "package_check: $*"
	exit 1
}
rm -rf "$work"
mkdir -p "$work"
debs=$("$src/deploy/package.sh" --build-dir "$work/build") ||
	fail "deploy/package.sh failed"
[ "$(echo "$debs" | wc -l)" = 3 ] || fail "not three packages: $debs"

root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
# shellcheck disable=SC2086 # one path per line
dpkg --root="$root" --force-depends --force-not-root --log=/dev/null \
	--unpack $debs >"$work/dpkg.log" 2>&1 || fail "dpkg --unpack: $(cat "$work/dpkg.log")"
for p in chunkd libchunkclient1 libchunkclient-dev; do
	dpkg --root="$root" -s "$p" 2>/dev/null | grep -q '^Status: install ok unpacked' ||
		fail "$p is not in the scratch root's dpkg database"
done
dpkg-deb -I "$work/build"/libchunkclient1_*.deb shlibs | grep -q '^libchunkclient 1 libchunkclient1' ||
	fail "libchunkclient1 has no shlibs file"
dpkg-deb -I "$work/build"/chunkd_*.deb conffiles | grep -qx '/etc/chunkd/chunkd.ini' ||
	fail "chunkd does not keep /etc/chunkd/chunkd.ini as a conffile"
echo "dpkg unpacked chunkd, libchunkclient1 and libchunkclient-dev into a scratch root"

multiarch=$(gcc -print-multiarch)
libdir=$root/usr/lib/$multiarch
# A conffile stays NAME.dpkg-new until dpkg configures the package.
[ -f "$root/etc/chunkd/chunkd.ini.dpkg-new" ] || fail "no /etc/chunkd/chunkd.ini unpacked"
for f in usr/sbin/chunkd usr/bin/chunkctl \
	usr/lib/systemd/system/chunkd.service usr/share/man/man8/chunkd.8 \
	usr/share/man/man1/chunkctl.1 usr/share/man/man3/libchunkclient.3 \
	usr/include/chunkclient.h "usr/lib/$multiarch/libchunkclient.so.1" \
	"usr/lib/$multiarch/pkgconfig/chunkclient.pc" \
	"usr/lib/$multiarch/cmake/chunkclient/chunkclientConfig.cmake"; do
	[ -e "$root/$f" ] || fail "no /$f installed"
done
grep -q '^ExecStart=/usr/sbin/chunkd ' "$root/usr/lib/systemd/system/chunkd.service" ||
	fail "the unit does not start /usr/sbin/chunkd"
dpkg --root="$root" -L libchunkclient1 | grep -q 'include' &&
	fail "libchunkclient1 holds development files"
dpkg --root="$root" -L chunkd | grep -q 'libchunkclient' &&
	fail "chunkd holds the library"
"$root/usr/sbin/chunkd" --version >/dev/null || fail "the installed chunkd does not run"
LD_LIBRARY_PATH=$libdir "$root/usr/bin/chunkctl" --help >/dev/null ||
	fail "the installed chunkctl does not run"

# pkg-config: the man page's EXAMPLE, as it prints it.
mkdir "$work/pc"
MANWIDTH=200 man -l "$root/usr/share/man/man3/libchunkclient.3" 2>/dev/null |
	awk '/^EXAMPLE/ { on = 1; next } /^SEE ALSO/ { on = 0 } on' |
	sed -n '/^ *#include/,$p' | sed 's/^       //' >"$work/pc/example.c"
grep -q 'chunk_client_connect' "$work/pc/example.c" ||
	fail "no example in libchunkclient(3)"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -Wall -Werror "$work/pc/example.c" $(pkg-config --cflags --libs chunkclient) \
	-o "$work/pc/example" || fail "the man page's example does not build"
LD_LIBRARY_PATH=$libdir ldd "$work/pc/example" | grep -q "$libdir/libchunkclient.so.1" ||
	fail "the example does not use the installed libchunkclient.so.1"
echo "pkg-config: libchunkclient(3)'s example builds against the installed package"

# CMake: find_package(chunkclient).
mkdir "$work/cm"
cat >"$work/cm/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(use_chunkclient C)
find_package(chunkclient 0.1 REQUIRED)
add_executable(use use.c)
target_link_libraries(use PRIVATE chunkclient::chunkclient)
CMAKE
cat >"$work/cm/use.c" <<'C'
#include <chunkclient.h>
#include <stdio.h>
int main(void)
{
	printf("%s\n", chunk_version());
	return 0;
}
C
cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$root/usr" \
	>"$work/cm.log" 2>&1 && cmake --build "$work/cm/build" >>"$work/cm.log" 2>&1 ||
	fail "the CMake program does not build: $(tail -n 20 "$work/cm.log")"
version=$(LD_LIBRARY_PATH=$libdir "$work/cm/build/use")
want=$(dpkg-deb -f "$work/build"/libchunkclient1_*.deb Version)
[ "$version" = "$want" ] || fail "chunk_version() says $version, the package $want"
echo "CMake: find_package(chunkclient) builds a program that runs on libchunkclient1 $version"
rm -rf "$work"
