#!/usr/bin/env bash
# deploy/cluster.sh: a cluster for demos and tests: a 3-member etcd on
# loopback and N chunkd servers that keep their table in it. See --help.
set -euo pipefail

usage() {
	cat <<'HELP'
Usage: deploy/cluster.sh start DIR N [OPTIONS]
       deploy/cluster.sh stop DIR

start: starts a 3-member etcd cluster on 127.0.0.1 (deploy/etcd-cluster.sh,
data in DIR/etcd: put DIR on /dev/shm) and then N chunkd servers in
cluster mode, each with a pool of its own in DIR (a 64M file), named
chunkd-1 .. chunkd-N, listening on ADDR at ports PORT+1 .. PORT+N, with
admin sockets DIR/chunkd-I.sock. Waits until each answers chunkctl, then
prints one line per server: NAME ADDRESS PORT SOCKET PID. Logs go to
DIR/*.log. chunkd needs an RDMA device: run it where one is (a host with
soft-RoCE, or the test guest: deploy/vm/run deploy/cluster.sh ...).

stop: stops every chunkd and etcd member that start recorded in DIR (by
PID: SIGTERM, then SIGKILL after 5 s) and removes DIR.

Options:
  --address ADDR   the address chunkd listens on and advertises (default:
                   CHUNKD_TEST_ADDR, else 10.0.2.15, the guest's)
  --port PORT      ports start above PORT (default 7480)
  --etcd-port P    etcd's first client port (default 23790)
  --build DIR      where chunkd and chunkctl are built (default: build)
  --metrics-port P chunkd-I serves Prometheus metrics on 127.0.0.1:P+I
                   (default: no metrics)

Exit status: 0 done, 1 a part did not start (its log says why), 2 usage.
HELP
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

start() {
	local dir=$1 n=$2 addr=$3 port=$4 etcd_port=$5 build=$6 metrics_port=$7
	local i endpoints metrics
	[ -x "$build/server/chunkd" ] || {
		echo "cluster.sh: no chunkd in $build; build first (deploy/test.sh)" >&2
		exit 1
	}
	mkdir -p "$dir"
	endpoints=$("$repo/deploy/etcd-cluster.sh" start "$dir/etcd" "$etcd_port")
	for i in $(seq "$n"); do
		metrics=()
		[ -z "$metrics_port" ] ||
			metrics=(--metrics-listen "127.0.0.1:$((metrics_port + i))")
		"$build/server/chunkd" --pool "$dir/pool-$i" --pool-size 64M \
			--listen "$addr" --port $((port + i)) \
			--admin-socket "$dir/chunkd-$i.sock" \
			--etcd-endpoints "$endpoints" --cluster-name "chunkd-$i" \
			"${metrics[@]}" >"$dir/chunkd-$i.log" 2>&1 &
		echo $! >"$dir/chunkd-$i.pid"
	done
	for i in $(seq "$n"); do
		wait_ready "$dir" "$i" "$build" || {
			echo "cluster.sh: chunkd-$i did not start:" >&2
			tail -n 5 "$dir/chunkd-$i.log" >&2
			stop "$dir"
			exit 1
		}
		echo "chunkd-$i $addr $((port + i)) $dir/chunkd-$i.sock $(cat "$dir/chunkd-$i.pid")"
	done
}

# Waits until chunkd-I answers on its admin socket, or has died.
wait_ready() {
	local dir=$1 i=$2 build=$3 pid
	pid=$(cat "$dir/chunkd-$i.pid")
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || return 1
		if "$build/client/tools/chunkctl" --socket "$dir/chunkd-$i.sock" \
			--timeout 2 status >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

stop() {
	local dir=$1 f pid
	for f in "$dir"/chunkd-*.pid; do
		[ -f "$f" ] || continue
		kill -TERM "$(cat "$f")" 2>/dev/null || true
	done
	for f in "$dir"/chunkd-*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	"$repo/deploy/etcd-cluster.sh" stop "$dir/etcd" 2>/dev/null || true
	rm -rf "$dir"
}

case ${1:-} in
-h | --help)
	usage
	exit 0
	;;
start)
	[ $# -ge 3 ] || { usage >&2; exit 2; }
	dir=$2
	n=$3
	shift 3
	addr=${CHUNKD_TEST_ADDR:-10.0.2.15}
	port=7480
	etcd_port=23790
	build=$repo/build
	metrics_port=
	while [ $# -gt 0 ]; do
		case $1 in
		--address) addr=${2:?--address needs a value}; shift 2 ;;
		--port) port=${2:?--port needs a value}; shift 2 ;;
		--etcd-port) etcd_port=${2:?--etcd-port needs a value}; shift 2 ;;
		--build) build=${2:?--build needs a value}; shift 2 ;;
		--metrics-port) metrics_port=${2:?--metrics-port needs a value}; shift 2 ;;
		*) echo "cluster.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
		esac
	done
	case $n in
	'' | *[!0-9]*) echo "cluster.sh: N is a number of servers" >&2; exit 2 ;;
	esac
	[ "$n" -ge 1 ] && [ "$n" -le 16 ] || {
		echo "cluster.sh: N is 1 to 16" >&2
		exit 2
	}
	start "$dir" "$n" "$addr" "$port" "$etcd_port" "$build" "$metrics_port"
	;;
stop)
	[ $# -eq 2 ] || { usage >&2; exit 2; }
	stop "$2"
	;;
*)
	usage >&2
	exit 2
	;;
esac
