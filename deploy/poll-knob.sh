#!/usr/bin/env bash
# deploy/poll-knob.sh: measures what chunkd's poll_us knob buys, in one boot
# of the soft-RoCE guest (or on this host if it has RDMA): small
# write+persist latency with poll_us = 0 (sleep on the completion channel at
# once) and with the default, next to perftest's ib_send_lat. A benchmark:
# it reports, it never fails on a number.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
addr=${CHUNKD_TEST_ADDR:-10.0.2.15}
port=7475

if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
	sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
fi

run_with_poll() {
	local poll=$1 pool=/dev/shm/poll-knob.pool log=/tmp/poll-knob.log
	rm -f "$pool"
	build/server/chunkd --pool "$pool" --pool-size 256M --listen "$addr" \
		--port "$port" --poll-us "$poll" 2>"$log" &
	local pid=$!
	for _ in $(seq 100); do grep -q ready "$log" && break; sleep 0.1; done
	echo "== chunkd poll_us=$poll: 2000 chunks of 64 bytes"
	build/client/tools/chunkdemo --port "$port" --chunks 2000 --size 64 "$addr" |
		grep -E 'step|write\+persist +[0-9]|seal +[0-9]'
	kill -TERM "$pid"
	wait "$pid"
	rm -f "$pool"
}

inside() {
	echo "== perftest ib_send_lat, 64 bytes (half a round trip, t_typical us)"
	ib_send_lat -s 64 -n 2000 -F >/dev/null 2>&1 &
	sleep 1
	ib_send_lat -s 64 -n 2000 -F "$addr" 2>/dev/null | awk '$1 == 64 { print "  " $5 }'
	wait
	run_with_poll 0
	run_with_poll 50
}

if [ "${1:-}" = --inside ]; then
	inside
	exit 0
fi
cmake -S . -B build -DCHUNKD_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
if [ -n "$(ls /sys/class/infiniband 2>/dev/null)" ]; then
	inside
else
	exec deploy/vm/run -q deploy/poll-knob.sh --inside
fi
