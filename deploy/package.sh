#!/usr/bin/env bash
# deploy/package.sh: builds chunkd's Debian packages with CPack. See --help.
set -euo pipefail

usage() {
	cat <<'HELP'
Usage: deploy/package.sh [--build-dir DIR]

Builds the Debian packages chunkd, libchunkclient1 and libchunkclient-dev
(cmake/Packaging.cmake): configures DIR from scratch (default: build-pkg)
for the prefix /usr, without the tests, builds it and runs cpack. Prints
the path of each .deb it made, one per line; the build's output goes to
DIR/package.log. Install them with `apt install ./chunkd_*.deb ...` (or
`dpkg -i`); then edit /etc/chunkd/chunkd.ini and `systemctl enable --now
chunkd`.

Exit status: 0 done, 1 the build or cpack failed (the log says why),
2 usage.
HELP
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build-pkg
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--build-dir) build=${2:?--build-dir needs a value}; shift 2 ;;
	*) echo "package.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

rm -rf "$build"
mkdir -p "$build"
log=$build/package.log
if ! { cmake -S "$repo" -B "$build" -DCMAKE_INSTALL_PREFIX=/usr \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHUNKD_BUILD_TESTS=OFF \
	-DCHUNKD_PACKAGE=ON -DCHUNKD_WERROR=ON &&
	cmake --build "$build" -j "$(nproc)" &&
	(cd "$build" && cpack); } >"$log" 2>&1; then
	echo "package.sh: the package build failed; the end of $log:" >&2
	tail -n 20 "$log" >&2
	exit 1
fi
ls "$build"/*.deb
