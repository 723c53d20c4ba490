#!/bin/sh
# What an operator installs besides the programs, checked as installed by
# `cmake --install` into a scratch prefix: each man page renders without a
# warning at 80 columns, and systemd-analyze accepts the service unit (with
# its ExecStart pointed at the chunkd installed there; the unit cannot run
# under the test guest's init, so its directives are checked, not run).
#
# Usage: tests/cli/service_files.sh BUILD_DIR
set -eu
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() {
	echo "service_files: $*"
	exit 1
}
cmake --install "$build" --prefix "$prefix" >/dev/null

for page in man1/chunkctl.1 man3/libchunkclient.3 man8/chunkd.8; do
	file=$prefix/share/man/$page
	[ -f "$file" ] || fail "cmake --install put no $page"
	warnings=$(MANWIDTH=80 man --warnings -l "$file" 2>&1 >"$prefix/page.txt") ||
		fail "man cannot render $page"
	[ -z "$warnings" ] || fail "$page: $warnings"
	grep -q '^NAME' "$prefix/page.txt" || fail "$page has no NAME section"
	echo "$page: $(wc -l <"$prefix/page.txt") lines at 80 columns, no warning"
done

unit=$prefix/lib/systemd/system/chunkd.service
[ -f "$unit" ] || fail "cmake --install put no lib/systemd/system/chunkd.service"
grep -q '^Type=notify$' "$unit" || fail "the unit is not Type=notify"
grep -q '^LimitMEMLOCK=infinity$' "$unit" || fail "the unit does not lift LimitMEMLOCK"
grep -q '^ExecReload=.*-HUP' "$unit" || fail "the unit does not reload with SIGHUP"
mkdir "$prefix/units"
sed "s|^ExecStart=[^ ]*/chunkd |ExecStart=$prefix/sbin/chunkd |" "$unit" \
	>"$prefix/units/chunkd.service"
# Documentation= names man pages: systemd-analyze looks them up with man.
out=$(cd "$prefix/units" && MANPATH=$prefix/share/man \
	systemd-analyze verify "$prefix/units/chunkd.service" 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify said: $out"
echo "systemd-analyze verify accepts chunkd.service"
