#!/usr/bin/env bash
# deploy/bench-replicated.sh: replicated chunks' figures next to their raw
# floors, in one boot of the soft-RoCE guest (or on this host when it has
# RDMA). See --help. A benchmark: it reports, it never fails on a number.
set -euo pipefail

usage() {
	cat <<'HELP'
Usage: deploy/bench-replicated.sh [--json] [--iters N] [--rounds N]
                                  [--chunks N] [--poll-us US]

In one boot, --rounds times (default 3):
  - the raw floor of a write+persist of R copies (R = 1, 2, 3; 64 B, 4 KiB,
    1 MiB): tests/perf/write_read_lat -r R, an RDMA WRITE and a tail READ to
    each of R servers' memory, all posted before any is waited for;
  - ib_read_bw at 1 MiB;
  - a 3-member etcd and 3 chunkd servers in cluster mode on DRAM pools
    (as the raw servers' buffers are), read-after-write offered; chunkbench
    --copies R: write+persist p50 of chunks of R copies at the same sizes;
  - repair: --chunks sealed 1 MiB chunks of 2 copies, the chunkd holding
    most of their second copies killed (SIGKILL), and chunkctl repair
    timed once chunkd counts them under-replicated: MB/s repaired.
Each figure is the median of the rounds. Prints our figure, the raw one,
their ratio and the issue's target; --json prints the same as JSON.

  --iters N     operations per latency figure (default 500)
  --rounds N    rounds (default 3); each round's outputs stay in
                build/bench-replicated
  --chunks N    chunks of 1 MiB the repair copies (default 32)
  --poll-us US  how long chunkd and the clients busy-poll before sleeping
                (default 1000, as deploy/bench.sh)
  -h, --help    this help
HELP
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
addr=${CHUNKD_TEST_ADDR:-10.0.2.15}
json=0
iters=500
rounds=3
chunks=32
poll_us=1000
inside=0
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--json) json=1; shift ;;
	--iters) iters=${2:?--iters needs a value}; shift 2 ;;
	--rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
	--chunks) chunks=${2:?--chunks needs a value}; shift 2 ;;
	--poll-us) poll_us=${2:?--poll-us needs a value}; shift 2 ;;
	--inside) inside=1; shift ;;
	*) echo "bench-replicated.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

raw_port=18700
chunkd_port=7500
etcd_port=29900
dir=/dev/shm/chunkd-bench-replicated

# The raw floor of R copies at SIZE: R write_read_lat servers, one client.
raw_floor() {
	local r=$1 size=$2 i value try pids
	for try in 1 2 3; do
		pids=()
		for ((i = 0; i < r; i++)); do
			build/tests/perf/write_read_lat -p $((raw_port + i)) >/dev/null 2>&1 &
			pids+=($!)
		done
		sleep "$try"
		value=$(build/tests/perf/write_read_lat -p "$raw_port" -r "$r" \
			-s "$size" -n "$iters" "$addr" 2>/dev/null | awk '{ print $2 }')
		kill "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
		if [[ $value =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
			echo "$value"
			return
		fi
	done
	echo null
}

read_bw() {
	local value
	ib_read_bw -s 1048576 -n "$iters" -F >/dev/null 2>&1 &
	local server=$!
	sleep 1
	value=$(ib_read_bw -s 1048576 -n "$iters" -F "$addr" 2>/dev/null |
		awk '$1 == 1048576 { print $4; exit }')
	kill "$server" 2>/dev/null || true
	wait "$server" 2>/dev/null || true
	[[ $value =~ ^[0-9]+(\.[0-9]+)?$ ]] && echo "$value" || echo null
}

ctl() { build/client/tools/chunkctl --socket "$dir/chunkd-$1.sock" "${@:2}"; }

start_cluster() {
	local endpoints i
	rm -rf "$dir"
	mkdir -p "$dir"
	endpoints=$(deploy/etcd-cluster.sh start "$dir/etcd" "$etcd_port")
	for i in 1 2 3; do
		build/server/chunkd --pool "$dir/pool-$i" --pool-size 256M \
			--listen "$addr" --port $((chunkd_port + i)) \
			--admin-socket "$dir/chunkd-$i.sock" --direct-write-to-pmem \
			--poll-us "$poll_us" --log-level warn \
			--etcd-endpoints "$endpoints" --cluster-name "bench-$i" \
			>"$dir/chunkd-$i.log" 2>&1 &
		echo $! >"$dir/chunkd-$i.pid"
		disown # one is killed on purpose: no job notice for it
	done
	for i in 1 2 3; do
		wait_for "chunkd-$i to answer" ctl "$i" --timeout 2 status
	done
	# Each must see the others before it can place copies there.
	wait_for "3 members" members_are 3
}

# Runs CMD... until it succeeds, for at most 30 s.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 150); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "bench-replicated.sh: waited 30 s for $what" >&2
	exit 1
}

cluster_field() {
	ctl 1 --json cluster | python3 -c "import json,sys; r=json.load(sys.stdin); print($1)"
}

members_are() { [ "$(cluster_field 'len(r["members"])')" = "$1" ]; }
under_replicated_is() {
	[ "$(cluster_field 'r["replicated"]["under_replicated"]')" = "$1" ]
}

stop_cluster() {
	local f
	[ -d "$dir" ] || return 0
	for f in "$dir"/chunkd-*.pid; do
		kill -TERM "$(cat "$f")" 2>/dev/null || true
	done
	sleep 1
	for f in "$dir"/chunkd-*.pid; do
		kill -KILL "$(cat "$f")" 2>/dev/null || true
	done
	deploy/etcd-cluster.sh stop "$dir/etcd" >/dev/null 2>&1 || true
	rm -rf "$dir"
}

# Seconds chunkctl repair took to bring back --chunks chunks, and how many
# copies it made: "SECONDS COPIES".
time_repair() {
	local i victim=2 most=-1 sealed t0 t1 made
	build/client/tools/chunkbench --port $((chunkd_port + 1)) --copies 2 \
		--populate "$chunks" "$addr" >/dev/null
	for i in 2 3; do
		sealed=$(ctl "$i" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"]["sealed"])')
		if [ "$sealed" -gt "$most" ]; then most=$sealed; victim=$i; fi
	done
	kill -KILL "$(cat "$dir/chunkd-$victim.pid")"
	wait_for "$most chunks under-replicated" under_replicated_is "$most"
	t0=$(date +%s.%N)
	made=$(ctl 1 repair | grep -c 'replaced by' || true)
	t1=$(date +%s.%N)
	echo "$(python3 -c "print($t1 - $t0)") $made"
}

measure() {
	local out=$1 r size first=1
	{
		echo "{"
		for r in 1 2 3; do
			for size in 64 4096 1048576; do
				echo "\"raw/$r/$size\": $(raw_floor "$r" "$size"),"
			done
		done
		echo "\"ib_read_bw/1048576\": $(read_bw)"
		echo "}"
	} >"$out.raw"
	start_cluster
	for r in 1 2 3; do
		build/client/tools/chunkbench --port $((chunkd_port + 1)) \
			--copies "$r" --iters "$iters" --poll-us "$poll_us" \
			--json "$addr" >"$out.ours.$r"
	done
	time_repair >"$out.repair"
	stop_cluster
}

tabulate() {
	python3 - "$1" "$rounds" "$json" "$chunks" <<'PY'
import json, statistics, sys
base, rounds, as_json, chunks = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

raws = [json.load(open(f"{base}.{r}.raw")) for r in range(rounds)]
rows = []
for copies in (1, 2, 3):
    ours = [json.load(open(f"{base}.{r}.ours.{copies}")) for r in range(rounds)]
    for size in ("64", "4096", "1048576"):
        our = med([o["write_persist"].get("read-after-write", {}).get(size, {}).get("p50_us") for o in ours])
        raw = med([r.get(f"raw/{copies}/{size}") for r in raws])
        rows.append({"figure": f"write+persist {size} B, {copies} copies, p50 us",
                     "ours": our, "raw": raw,
                     "against": f"raw WRITE+READ to {copies} servers",
                     "ratio": our / raw if our and raw else None,
                     "target": "<= 1.15" if size != "1048576" else ""})
repairs = []
for r in range(rounds):
    seconds, made = open(f"{base}.{r}.repair").read().split()
    # 1 MiB copies per second: MiB/s, the unit of perftest's MB/sec.
    repairs.append(int(made) / float(seconds) if float(seconds) > 0 else None)
bw = med([r.get("ib_read_bw/1048576") for r in raws])
rate = med(repairs)
rows.append({"figure": "repair, 1 MiB copies per s (MiB/s)", "ours": rate, "raw": bw,
             "against": "ib_read_bw 1 MiB",
             "ratio": rate / bw if rate and bw else None, "target": ""})
if as_json:
    print(json.dumps({"rounds": rounds, "chunks": chunks, "rows": rows}, indent=2))
    sys.exit(0)
fmt = lambda v, f: "n/a" if v is None else format(v, f)
print(f"medians of {rounds} rounds")
print(f"{'figure':40} {'ours':>10} {'raw':>10} {'ratio':>7}  target   raw figure")
for r in rows:
    print(f"{r['figure']:40} {fmt(r['ours'], '10.1f'):>10} {fmt(r['raw'], '10.1f'):>10} "
          f"{fmt(r['ratio'], '7.2f'):>7}  {r['target']:8} {r['against']}")
PY
}

if [ "$inside" = 1 ]; then
	work=$repo/build/bench-replicated
	rm -rf "$work"
	mkdir -p "$work"
	trap stop_cluster EXIT
	for ((r = 0; r < rounds; r++)); do
		measure "$work/bench.$r"
	done
	tabulate "$work/bench"
	exit 0
fi
"$repo/deploy/install-deps.sh" >/dev/null
cmake -S . -B build -DCHUNKD_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
args=(--iters "$iters" --rounds "$rounds" --chunks "$chunks" --poll-us "$poll_us")
[ "$json" = 1 ] && args+=(--json)
if [ -n "$(ls /sys/class/infiniband 2>/dev/null)" ]; then
	exec "$0" --inside "${args[@]}"
fi
exec "$repo/deploy/vm/run" -q deploy/bench-replicated.sh --inside "${args[@]}"
