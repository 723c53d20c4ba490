#!/usr/bin/env bash
# deploy/demo.sh: the project's main job, for now a smoke demo of the platform
# the data path stands on. See --help.
set -euo pipefail

usage() {
	cat <<'HELP'
Usage: deploy/demo.sh [--inside]

Builds chunkd and shows, on a real RDMA device, what the data path will stand
on: the soft-RoCE device, device-DAX mapped by libpmem as pmem, two RC queue
pairs connected through librdmacm doing one-sided RDMA WRITE and READ into
DRAM and into device-DAX, and the device's raw 64-byte write latency from
perftest. Runs on this host when it has an RDMA device and /dev/dax0.0,
otherwise inside the soft-RoCE guest (deploy/vm/run).

The chunk server itself (chunkd granting chunks to libchunkclient) is not
built yet; this demo will become its demo.

Options:
  --inside   run the steps here, without looking for a guest (used by the
             guest run itself)
  -h, --help show this help
HELP
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=build

show_platform() {
	local dax=${CHUNKD_TEST_DAX:-/dev/dax0.0}
	echo "== RDMA devices"
	ibv_devinfo -l
	rdma link show
	echo "== device-DAX $dax"
	ndctl list -N 2>/dev/null | grep -E '"(dev|mode|size|chardev)"' || ls -l "$dax"
}

run_smoke() {
	echo "== one-sided WRITE then READ through librdmacm, DRAM and device-DAX"
	"$build_dir/tests/rdma/rdma_smoke" --verbose=0 -j1
}

# perftest's own client and server in one host: the device's raw figure.
raw_write_latency() {
	local addr=${CHUNKD_TEST_ADDR:-10.0.2.15}
	echo "== raw device figure: ib_write_lat, 64 B, 1000 iterations, $addr"
	ib_write_lat -s 64 -n 1000 -F >/dev/null 2>&1 &
	local server=$!
	sleep 1
	ib_write_lat -s 64 -n 1000 -F "$addr" | grep -E '#bytes|^ +64 '
	wait "$server"
}

inside() {
	show_platform
	run_smoke
	raw_write_latency
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
