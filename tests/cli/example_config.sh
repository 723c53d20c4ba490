#!/bin/sh
# The shipped example config: with every key uncommented, chunkd accepts
# each one and its value (a pool of the test's own overrides the path).
set -eu
chunkd=$1
example=$2
dir=$(mktemp -d /dev/shm/chunkd-example-XXXXXX)
trap 'rm -rf "$dir"' EXIT
# Cluster mode's endpoints: the test's own etcd (ctest's fixture), since
# --verify of a cluster member reads etcd.
: "${CHUNKD_TEST_ETCD:?the etcd fixture's endpoints are not set}"
sed -e 's/^# \([a-z_]* = \)/\1/' \
	-e "s|^endpoints = .*|endpoints = $CHUNKD_TEST_ETCD|" "$example" >"$dir/all.ini"
keys=$(grep -c '^[a-z_]* = ' "$dir/all.ini")
if [ "$keys" -lt 13 ]; then
	echo "example config: only $keys keys"
	exit 1
fi
"$chunkd" --config "$dir/all.ini" --pool "$dir/pool" --pool-size 8M \
	--log-level error --verify
echo "example config: all $keys keys accepted"
