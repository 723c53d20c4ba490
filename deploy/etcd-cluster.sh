#!/usr/bin/env bash
# deploy/etcd-cluster.sh: a 3-member etcd cluster on loopback for demos and
# tests of cluster mode. See --help.
set -euo pipefail

usage() {
	cat <<'HELP'
Usage: deploy/etcd-cluster.sh start DIR [BASE_PORT]
       deploy/etcd-cluster.sh stop DIR
       deploy/etcd-cluster.sh leader DIR
       deploy/etcd-cluster.sh kill DIR NAME
       deploy/etcd-cluster.sh revive DIR NAME

start: runs three etcd members on 127.0.0.1 with their data in DIR (put it
on /dev/shm: etcd fsyncs its log), client ports BASE_PORT, +2, +4 and peer
ports +1, +3, +5 (BASE_PORT defaults to 23790), waits until all three are
healthy, and prints the client endpoints, comma-separated. Each member's
log is DIR/NAME.log and its PID is in DIR/NAME.pid.

stop: stops the members that start recorded in DIR (by PID, SIGTERM, then
SIGKILL after 5 s) and removes DIR.

For fault tests: leader prints the name of the member that leads now; kill
stops member NAME (m1, m2 or m3) with SIGKILL; revive starts it again over
its data, as start did.

Exit status: 0 done, 1 a member did not start or become healthy (its log
says why), 2 usage.
HELP
}

members=(m1 m2 m3)

start() {
	local dir=$1 base=$2 cluster="" endpoints="" i
	mkdir -p "$dir"
	for i in 0 1 2; do
		cluster+="${cluster:+,}${members[$i]}=http://127.0.0.1:$((base + 2 * i + 1))"
	done
	for i in 0 1 2; do
		local name=${members[$i]} client=$((base + 2 * i))
		local peer=$((base + 2 * i + 1))
		endpoints+="${endpoints:+,}http://127.0.0.1:$client"
		echo "http://127.0.0.1:$client" >"$dir/$name.endpoint"
		cat >"$dir/$name.cmd" <<CMD
exec etcd --name "$name" --data-dir "$dir/$name" \\
	--listen-client-urls "http://127.0.0.1:$client" \\
	--advertise-client-urls "http://127.0.0.1:$client" \\
	--listen-peer-urls "http://127.0.0.1:$peer" \\
	--initial-advertise-peer-urls "http://127.0.0.1:$peer" \\
	--initial-cluster "$cluster" \\
	--initial-cluster-state new \\
	--initial-cluster-token "chunkd-$base"
CMD
		etcd --name "$name" --data-dir "$dir/$name" \
			--listen-client-urls "http://127.0.0.1:$client" \
			--advertise-client-urls "http://127.0.0.1:$client" \
			--listen-peer-urls "http://127.0.0.1:$peer" \
			--initial-advertise-peer-urls "http://127.0.0.1:$peer" \
			--initial-cluster "$cluster" \
			--initial-cluster-state new \
			--initial-cluster-token "chunkd-$base" \
			>"$dir/$name.log" 2>&1 &
		echo $! >"$dir/$name.pid"
	done
	for _ in $(seq 100); do
		if ETCDCTL_API=3 etcdctl --endpoints "$endpoints" \
			endpoint health >/dev/null 2>&1; then
			echo "$endpoints"
			return 0
		fi
		sleep 0.1
	done
	echo "etcd-cluster: the members did not become healthy in 10 s; see $dir/*.log" >&2
	stop "$dir"
	return 1
}

# Whether pid runs: a member whose parent is gone may linger as a zombie
# that only init reaps, and a zombie has stopped.
running() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

stop() {
	local dir=$1 name pid
	for name in "${members[@]}"; do
		[ -f "$dir/$name.pid" ] || continue
		pid=$(cat "$dir/$name.pid")
		kill -TERM "$pid" 2>/dev/null || true
	done
	for name in "${members[@]}"; do
		[ -f "$dir/$name.pid" ] || continue
		pid=$(cat "$dir/$name.pid")
		for _ in $(seq 50); do
			running "$pid" || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$dir"
}

# The name of the member that leads now.
leader() {
	local dir=$1 name line
	for name in "${members[@]}"; do
		[ -f "$dir/$name.endpoint" ] || continue
		line=$(ETCDCTL_API=3 etcdctl --endpoints "$(cat "$dir/$name.endpoint")" \
			--command-timeout 2s endpoint status -w simple 2>/dev/null) || continue
		if [ "$(awk -F', ' '{ print $5 }' <<<"$line")" = true ]; then
			echo "$name"
			return 0
		fi
	done
	echo "etcd-cluster: no member leads now" >&2
	return 1
}

member_pid() {
	[ -f "$1/$2.pid" ] || { echo "etcd-cluster: no member $2 in $1" >&2; exit 2; }
	cat "$1/$2.pid"
}

case ${1:-} in
-h | --help)
	usage
	exit 0
	;;
start)
	[ $# -ge 2 ] && [ $# -le 3 ] || { usage >&2; exit 2; }
	start "$2" "${3:-23790}"
	;;
stop)
	[ $# -eq 2 ] || { usage >&2; exit 2; }
	stop "$2"
	;;
leader)
	[ $# -eq 2 ] || { usage >&2; exit 2; }
	leader "$2"
	;;
kill)
	[ $# -eq 3 ] || { usage >&2; exit 2; }
	kill -KILL "$(member_pid "$2" "$3")" 2>/dev/null || true
	;;
revive)
	[ $# -eq 3 ] || { usage >&2; exit 2; }
	member_pid "$2" "$3" >/dev/null
	sh "$2/$3.cmd" >>"$2/$3.log" 2>&1 &
	echo $! >"$2/$3.pid"
	;;
*)
	usage >&2
	exit 2
	;;
esac
