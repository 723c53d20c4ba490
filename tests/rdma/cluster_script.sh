#!/bin/sh
# deploy/cluster.sh end to end, in the guest: three chunkd servers on a
# 3-member etcd; chunkctl cluster on one lists all three; a file stored
# through the first (chunkfile, on the public API alone) reads back
# through the third, which sends the library to the first; the first's
# metrics show its etcd round trips (and promtool accepts them); stop
# leaves no process behind.
#
# Usage: tests/rdma/cluster_script.sh SOURCE_DIR BUILD_DIR
set -eu
repo=$1
build=$2
dir=/dev/shm/chunkd-cluster-script-$$
chunkctl=$build/client/tools/chunkctl
chunkfile=$build/client/examples/chunkfile
fail() {
	echo "cluster_script: $*"
	exit 1
}
trap '"$repo/deploy/cluster.sh" stop "$dir" 2>/dev/null || true' EXIT

servers=$("$repo/deploy/cluster.sh" start "$dir" 3 --build "$build" \
	--port 7540 --etcd-port 28890 --metrics-port 19480)
echo "$servers"
[ "$(echo "$servers" | wc -l)" = 3 ] || fail "not three servers"
pids=$(echo "$servers" | awk '{ print $5 }')
addr=$(echo "$servers" | awk 'NR == 1 { print $2 }')

# Each server watches the others join; give the watch a moment.
for _ in $(seq 50); do
	n=$("$chunkctl" --socket "$dir/chunkd-1.sock" --json cluster |
		grep -c '"name":' || true)
	[ "$n" = 3 ] && break
	sleep 0.1
done
"$chunkctl" --socket "$dir/chunkd-1.sock" cluster
[ "$n" = 3 ] || fail "chunkctl cluster lists $n members, not 3"

head -c 100000 /dev/urandom >"$dir/in"
id=$("$chunkfile" --port 7541 put "$addr" "$dir/in")
"$chunkfile" --port 7543 get "$addr" "$id" "$dir/out"
cmp "$dir/in" "$dir/out" || fail "chunk $id read through chunkd-3 differs"
echo "chunk $id, stored through chunkd-1, read back through chunkd-3"

curl -sf http://127.0.0.1:19481/metrics >"$dir/metrics" ||
	fail "chunkd-1 serves no metrics"
promtool check metrics <"$dir/metrics" || fail "promtool refused chunkd-1's metrics"
sample() {
	awk -v name="$1" '$1 == name { print $2 }' "$dir/metrics"
}
[ "$(sample chunkd_etcd_reachable)" = 1 ] || fail "chunkd-1: etcd not reachable"
[ "$(sample chunkd_etcd_requests_total)" -gt 0 ] ||
	fail "chunkd-1 counts no etcd requests"
[ "$(sample chunkd_etcd_request_duration_seconds_count)" = \
	"$(sample chunkd_etcd_requests_total)" ] ||
	fail "chunkd-1's etcd histogram and request count differ"
[ "$(sample 'chunkd_requests_total{type="SEAL"}')" = 1 ] ||
	fail "chunkd-1 counts $(sample 'chunkd_requests_total{type="SEAL"}') seals, not 1"
echo "chunkd-1's metrics: $(sample chunkd_etcd_requests_total) etcd requests," \
	"$(sample chunkd_etcd_failures_total) failed; promtool accepts them"

"$repo/deploy/cluster.sh" stop "$dir"
for p in $pids; do
	! kill -0 "$p" 2>/dev/null || fail "chunkd $p still runs after stop"
done
[ ! -e "$dir" ] || fail "stop left $dir"
echo "cluster_script: passed"
