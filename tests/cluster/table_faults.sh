#!/bin/sh
# The cluster's table while etcd fails (see tests/cluster/table_faults.c):
#   1. four members of one cluster, two sessions each, 1,000 allocs and
#      their seals between them, while the etcd leader is killed with
#      SIGKILL and later revived: no two grants overlap, every change is
#      acknowledged or fails with an error within its bound (none hangs),
#      the pool and etcd agree afterwards, and no acknowledged seal is
#      lost;
#   2. with two of three members stopped an alloc fails with
#      CHUNK_E_UNAVAILABLE's cause within the timeout; once they are back,
#      allocs succeed again.
# Fails, never skips, when etcd is missing.
#
# Usage: tests/cluster/table_faults.sh SOURCE_DIR WORKER_BINARY
set -eu
repo=$1
worker=$2
cluster=$repo/deploy/etcd-cluster.sh
command -v etcd >/dev/null || {
	echo "table_faults: etcd is missing; run deploy/install-deps.sh"
	exit 1
}
dir=/dev/shm/chunkd-faults-$$
base=$((27000 + ($$ % 300) * 6))
mkdir -p "$dir"
pids=""
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
	"$cluster" stop "$dir/etcd" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
endpoints=$("$cluster" start "$dir/etcd" "$base")
prefix=/faults-$$/

echo "== 4 members, 1000 allocs and seals, the etcd leader killed"
for i in 1 2 3 4; do
	"$worker" storm "$endpoints" "$prefix" "w$i" 250 "$dir/w$i.log" \
		>"$dir/w$i.out" 2>"$dir/w$i.err" &
	pids="$pids $!"
done
# Strike once the storm is under way.
for _ in $(seq 200); do
	[ "$(cat "$dir"/w*.log 2>/dev/null | wc -l)" -ge 40 ] && break
	sleep 0.05
done
leader=$("$cluster" leader "$dir/etcd")
running=0
for p in $pids; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
"$cluster" kill "$dir/etcd" "$leader"
echo "killed the leader $leader with SIGKILL while $running of 4 members were storming"
[ "$running" -gt 0 ] || { echo "table_faults: the storm ended before the kill"; exit 1; }
sleep 3
"$cluster" revive "$dir/etcd" "$leader"
echo "revived $leader"
bad=0
for p in $pids; do wait "$p" || bad=1; done
pids=""
cat "$dir"/w*.out
if [ "$bad" = 1 ]; then
	cat "$dir"/w*.err
	exit 1
fi
"$worker" check "$endpoints" "$prefix" "$dir"/w*.log

echo "== two of three etcd members stopped"
"$worker" refused "$endpoints" "$prefix" r1 "$dir" >"$dir/r.out" 2>"$dir/r.err" &
pids=$!
for _ in $(seq 200); do [ -e "$dir/joined" ] && break; sleep 0.05; done
[ -e "$dir/joined" ] || { cat "$dir/r.out" "$dir/r.err"; exit 1; }
# Stop the leader and one follower: the one left has no quorum.
leader=$("$cluster" leader "$dir/etcd")
for follower in m1 m2 m3; do [ "$follower" != "$leader" ] && break; done
"$cluster" kill "$dir/etcd" "$leader"
"$cluster" kill "$dir/etcd" "$follower"
echo "stopped $leader and $follower"
# The member left, for the worker to ask alone.
for m in m1 m2 m3; do
	[ "$m" = "$leader" ] || [ "$m" = "$follower" ] || cp "$dir/etcd/$m.endpoint" "$dir/survivor"
done
touch "$dir/go"
for _ in $(seq 600); do [ -e "$dir/refused" ] && break; sleep 0.1; done
[ -e "$dir/refused" ] || { cat "$dir/r.out" "$dir/r.err"; exit 1; }
"$cluster" revive "$dir/etcd" "$leader"
"$cluster" revive "$dir/etcd" "$follower"
touch "$dir/back"
status=0
wait "$pids" || status=1
pids=""
cat "$dir/r.out"
[ "$status" = 0 ] || { cat "$dir/r.err"; exit 1; }
echo "table_faults: passed"
