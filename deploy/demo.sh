#!/usr/bin/env bash
# deploy/demo.sh: the project's main job, for now a smoke demo of the platform
# the data path stands on. See --help.
set -euo pipefail

usage() {
	cat <<'HELP'
Usage: deploy/demo.sh [--inside]

Builds chunkd and runs its demo on a real RDMA device: chunkd serves a pool
on device-DAX (/dev/dax0.0), one client connection allocates 64 chunks of
64 KiB, writes random data into each with one-sided RDMA WRITEs, persists
and seals it; a second connection opens each chunk, reads it back with
RDMA READs and verifies every byte. It prints latency per step (p50, p99)
and throughput, then stores this README with the example program chunkfile
and reads it back by chunk id, and finally shows perftest's raw figures in
the same boot for comparison. Runs on this host when it has an RDMA device
and /dev/dax0.0, otherwise inside the soft-RoCE guest (deploy/vm/run).

Options:
  --inside   run the steps here, without looking for a guest (used by the
             guest run itself)
  -h, --help show this help

Environment: CHUNKD_TEST_ADDR (default 10.0.2.15), CHUNKD_TEST_DAX
(default /dev/dax0.0).
HELP
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=build
addr=${CHUNKD_TEST_ADDR:-10.0.2.15}
dax=${CHUNKD_TEST_DAX:-/dev/dax0.0}
port=7470

start_chunkd() {
	local log=/tmp/chunkd-demo.log
	"$build_dir/server/chunkd" --pool "$dax" --listen "$addr" --port "$port" \
		2>"$log" &
	chunkd_pid=$!
	for _ in $(seq 100); do
		grep -q ready "$log" && break
		kill -0 "$chunkd_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$log"
	grep -q ready "$log" || { echo "demo: chunkd did not start" >&2; exit 1; }
}

stop_chunkd() {
	kill -TERM "$chunkd_pid"
	wait "$chunkd_pid"
}

store_a_file() {
	local id
	echo "== chunkfile: README.md into a chunk and back"
	id=$("$build_dir/client/examples/chunkfile" --port "$port" put "$addr" README.md)
	"$build_dir/client/examples/chunkfile" --port "$port" get "$addr" "$id" /tmp/readme.back
	cmp README.md /tmp/readme.back
	"$build_dir/client/examples/chunkfile" --port "$port" rm "$addr" "$id"
	echo "stored README.md ($(stat -c %s README.md) bytes) as chunk $id, read it back intact, freed it"
}

# perftest's own client and server in one host: the device's raw figures,
# for ratios (figures under emulation mean little on their own).
raw_figures() {
	local tool
	echo "== perftest in the same boot, 64 bytes, 1000 iterations (t_typical us)"
	for tool in ib_send_lat ib_read_lat ib_write_lat; do
		"$tool" -s 64 -n 1000 -F >/dev/null 2>&1 &
		local server=$!
		sleep 1
		"$tool" -s 64 -n 1000 -F "$addr" 2>/dev/null | awk -v t="$tool" '$1 == 64 { print "  " t ": " $5 }'
		wait "$server"
	done
	echo "  (ib_send_lat and ib_write_lat report half a round trip; ib_read_lat a whole one)"
}

inside() {
	echo "== chunkd on $dax, serving $addr port $port"
	start_chunkd
	echo "== chunkdemo: 64 chunks of 64 KiB, writer and reader connections"
	"$build_dir/client/tools/chunkdemo" --port "$port" "$addr"
	store_a_file
	stop_chunkd
	raw_figures
	echo "demo: done"
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
--inside) inside; exit 0 ;;
"") ;;
*) echo "demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

"$repo/deploy/install-deps.sh" >/dev/null
cmake -S . -B "$build_dir" -DCHUNKD_WERROR=ON >/dev/null
cmake --build "$build_dir" -j "$(nproc)" >/dev/null
if [ -n "$(ls /sys/class/infiniband 2>/dev/null)" ] && [ -c "${CHUNKD_TEST_DAX:-/dev/dax0.0}" ]; then
	inside
else
	echo "demo: no RDMA device here; running in the soft-RoCE guest"
	exec "$repo/deploy/vm/run" -q deploy/demo.sh --inside
fi
