#!/bin/sh
# Every script a user is told to run answers --help: exit 0, a usage text
# on stdout that fits an 80-column terminal, and nothing done. An unknown
# argument is a usage error (exit 2).
set -eu
repo=$1
bad=0
for script in "$repo"/deploy/*.sh "$repo"/deploy/vm/run; do
	name=${script#"$repo"/}
	if ! out=$("$script" --help </dev/null 2>&1); then
		echo "$name --help failed"
		bad=1
		continue
	fi
	if ! printf '%s\n' "$out" | grep -q 'Usage:\|^deploy/'; then
		echo "$name --help printed no usage"
		bad=1
	fi
	long=$(printf '%s\n' "$out" | awk 'length($0) > 80' | head -n 1)
	if [ -n "$long" ]; then
		echo "$name --help has a line over 80 columns: $long"
		bad=1
	fi
done
status=0
"$repo/deploy/install-deps.sh" --no-such-flag >/dev/null 2>&1 || status=$?
if [ "$status" != 2 ]; then
	echo "install-deps.sh took an unknown flag (exit $status)"
	bad=1
fi
[ "$bad" = 0 ] && echo "scripts: every one answers --help"
exit "$bad"
