#!/usr/bin/env bash
# deploy/bench-control.sh: the control path against the data path (issue
# "keep the control path off the data path"), next to raw floors measured
# in the same boot of the soft-RoCE guest (or on this host when it has RDMA
# and device-DAX). See --help. A benchmark: it reports, it never fails on a
# number.
set -euo pipefail

usage() {
	cat <<'HELP'
Usage: deploy/bench-control.sh [--json] [--iters N] [--rounds N]
                               [--poll-us US] [--workers N]

In one boot, --rounds times (default 3):
  - raw floors (tests/perf/rpc_floor, its server on /dev/dax0.0): an RDMA
    WRITE then a SEND answered by a busy-polling server that persists the
    range (64 B and 4 KiB: the floor of a persist-rpc write+persist), the
    SEND round trip alone, and ibv_reg_mr + ibv_dereg_mr of 4 KiB of the
    device;
  - chunkd on /dev/dax0.0 with --workers N, and chunkbench against it:
    every figure (write+persist per method and size), --mode interference
    (64 B persist-rpc write+persist alone, then while other connections
    only write a 4 KiB and a 64 MiB chunk over and over, the data alone,
    then while they alloc, write, seal and free such chunks) and --mode
    alloc-rate (alloc+seal+free of 4 KiB with 1, 2 and 4 connections).
Each figure is the median of the rounds. Prints our figure, the floor, the
ratio and the issue's target; --json prints the same as JSON.

  --iters N     operations per latency figure (default 1000)
  --rounds N    rounds (default 3); each round's outputs stay in
                build/bench-control
  --poll-us US  how long chunkd and the clients busy-poll before sleeping
                (default 0: their own defaults; with several connections
                on the guest's two CPUs, busy-polling clients take the
                CPU chunkd and its workers need)
  --workers N   chunkd's worker threads (default 2, chunkd's own)
  -h, --help    this help
HELP
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
addr=${CHUNKD_TEST_ADDR:-10.0.2.15}
dax=${CHUNKD_TEST_DAX:-/dev/dax0.0}
json=0
iters=1000
rounds=3
poll_us=0
workers=2
inside=0
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--json) json=1; shift ;;
	--iters) iters=${2:?--iters needs a value}; shift 2 ;;
	--rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
	--poll-us) poll_us=${2:?--poll-us needs a value}; shift 2 ;;
	--workers) workers=${2:?--workers needs a value}; shift 2 ;;
	--inside) inside=1; shift ;;
	*) echo "bench-control.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
floor=build/tests/perf/rpc_floor

# One client figure of rpc_floor against its server: the number in
# column 2 of the row for SIZE; null when three tries print none.
rpc_figure() {
	local size=$1 value try
	shift
	for try in 1 2 3; do
		"$floor" -d "$dax" >/dev/null 2>&1 &
		local server=$!
		sleep "$try"
		value=$("$floor" -s "$size" -n "$iters" "$@" "$addr" 2>/dev/null |
			awk -v s="$size" '$1 == s { print $2; exit }')
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
		if [[ $value =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
			echo "$value"
			return
		fi
	done
	echo "bench-control.sh: rpc_floor $* -s $size printed no figure" >&2
	echo null
}

measure() {
	local out=$1 reg
	reg=$("$floor" -m reg -d "$dax" -s 4096 -n "$iters")
	{
		echo "{"
		echo "\"write_send/64\": $(rpc_figure 64 -m write-send),"
		echo "\"write_send/4096\": $(rpc_figure 4096 -m write-send),"
		echo "\"send/64\": $(rpc_figure 64 -m send),"
		echo "\"reg_dereg/4096\": $(echo "$reg" | awk '{ print $2 }'),"
		echo "\"reg/4096\": $(echo "$reg" | awk '{ print $3 }'),"
		echo "\"dereg/4096\": $(echo "$reg" | awk '{ print $4 }')"
		echo "}"
	} >"$out.raw"
	local poll=()
	[ "$poll_us" != 0 ] && poll=(--poll-us "$poll_us")
	# The admin socket lives in /tmp: a 9p folder takes no socket.
	"build/server/chunkd" --pool "$dax" --listen "$addr" --port 7495 \
		--workers "$workers" --log-level warn "${poll[@]}" \
		--admin-socket "/tmp/bench-control.$$.sock" 2>"$out.log" &
	local chunkd=$!
	sleep 2
	local bench=(build/client/tools/chunkbench --port 7495 --iters "$iters"
		"${poll[@]}" --json "$addr")
	"${bench[@]}" >"$out.all"
	"${bench[@]}" --mode interference >"$out.interference"
	"${bench[@]}" --mode alloc-rate >"$out.alloc"
	kill -TERM "$chunkd"
	wait "$chunkd"
}

tabulate() {
	python3 - "$1" "$rounds" "$json" "$poll_us" "$workers" <<'PY'
import json, statistics, sys
base, rounds, as_json = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
poll_us, workers = int(sys.argv[4]), int(sys.argv[5])

def median_of(runs):
    runs = [r for r in runs if r is not None]
    if not runs:
        return None
    first = runs[0]
    if isinstance(first, dict):
        return {k: median_of([r.get(k) for r in runs]) for k in first}
    if isinstance(first, list):
        return [median_of([r[i] for r in runs]) for i in range(len(first))]
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return statistics.median(runs)
    return first

load = lambda kind: median_of(
    [json.load(open(f"{base}.{r}.{kind}")) for r in range(rounds)])
raw, every, inter, alloc = (load(k) for k in ("raw", "all", "interference", "alloc"))
inter, alloc = inter["interference"], alloc["alloc_rate"]
rows = []
def row(name, our, against, floor, target):
    ratio = our / floor if our and floor else None
    rows.append({"figure": name, "ours": our, "floor": floor,
                 "against": against, "ratio": ratio, "target": target})
rpc = every["write_persist"]["persist-rpc"]
for size in ("64", "4096"):
    row(f"write+persist persist-rpc {size} B p50 us", rpc[size]["p50_us"],
        f"raw WRITE+SEND+reply {size}", raw[f"write_send/{size}"], "<= 1.10")
row("write+persist persist-rpc 64 B p50 us", rpc["64"]["p50_us"],
    "2 x raw SEND round trip", 2 * raw["send/64"], "")
row("persist-rpc 64 B under load, p50 us", inter["under_load"]["p50_us"],
    "the same alone", inter["alone"]["p50_us"], "<= 1.2")
row("persist-rpc 64 B under load, p99 us", inter["under_load"]["p99_us"],
    "the same alone", inter["alone"]["p99_us"], "<= 1.5")
# Where the p99 comes from: the loaders' writes alone (no alloc, seal or
# free, so nothing of the control path) against the persists alone, and the
# whole load against those writes alone.
row("persist-rpc 64 B under the data alone, p99 us",
    inter["under_data_load"]["p99_us"], "the same alone",
    inter["alone"]["p99_us"], "")
row("persist-rpc 64 B under load, p99 us", inter["under_load"]["p99_us"],
    "the same under the data alone", inter["under_data_load"]["p99_us"], "")
# The issue's floor counts two round trips; a cycle makes three (ALLOC,
# SEAL and FREE each wait for their answer), so both are shown.
for trips, target in ((2, "<= 1.3"), (3, "")):
    cycle_floor = raw["reg_dereg/4096"] + trips * raw["send/64"]
    row("alloc+seal+free 4 KiB, 1 conn, us each", 1e6 / alloc["1"],
        f"reg+dereg 4 KiB + {trips} SEND round trips", cycle_floor, target)
for n in ("2", "4"):
    row(f"alloc+seal+free 4 KiB, {n} conns, per s", alloc[n],
        "1 connection's rate", alloc["1"], f"up to {n}x")
if as_json:
    print(json.dumps({"rounds": rounds, "poll_us": poll_us,
                      "workers": workers, "rows": rows, "raw": raw,
                      "interference": inter, "alloc_rate": alloc}, indent=2))
    sys.exit(0)
fmt = lambda v, f: "n/a" if v is None else format(v, f)
print(f"medians of {rounds} rounds; poll_us {poll_us or 'default'}; "
      f"chunkd workers {workers}")
print(f"{'figure':42} {'ours':>10} {'floor':>10} {'ratio':>7}  target   against")
for r in rows:
    print(f"{r['figure']:42} {fmt(r['ours'], '10.1f'):>10} "
          f"{fmt(r['floor'], '10.1f'):>10} {fmt(r['ratio'], '7.2f'):>7}  "
          f"{r['target']:8} {r['against']}")
print(f"raw: ibv_reg_mr 4 KiB {raw['reg/4096']:.1f} us, ibv_dereg_mr "
      f"{raw['dereg/4096']:.1f} us, SEND round trip {raw['send/64']:.1f} us")
for l in inter["loaders"]:
    print(f"interference loader of {int(l['chunk_bytes'])}-byte chunks: "
          f"{l['cycles_per_s']:.1f} cycles per s")
PY
}

if [ "$inside" = 1 ]; then
	work=$repo/build/bench-control
	rm -rf "$work"
	mkdir -p "$work"
	for ((r = 0; r < rounds; r++)); do
		measure "$work/bench.$r"
	done
	tabulate "$work/bench"
	exit 0
fi
args=(--iters "$iters" --rounds "$rounds" --poll-us "$poll_us"
	--workers "$workers")
[ "$json" = 1 ] && args+=(--json)
"$repo/deploy/install-deps.sh" >/dev/null
cmake -S . -B build -DCHUNKD_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
if [ -n "$(ls /sys/class/infiniband 2>/dev/null)" ] && [ -c "$dax" ]; then
	exec "$0" --inside "${args[@]}"
fi
exec "$repo/deploy/vm/run" -q deploy/bench-control.sh --inside "${args[@]}"
