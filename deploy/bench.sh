#!/usr/bin/env bash
# deploy/bench.sh: chunkd's figures next to the device's raw limit, measured
# in one boot of the soft-RoCE guest (or on this host when it has RDMA and
# device-DAX). See --help. A benchmark: it reports, it never fails on a
# number.
set -euo pipefail

usage() {
	cat <<'HELP'
Usage: deploy/bench.sh [--debian N] [--json] [--iters N] [--rounds N]
                       [--poll-us US]
       deploy/bench.sh --report [--debian N] [--rounds N] [--poll-us US]

In one boot, --rounds times (default 3): perftest (ib_write_lat,
ib_read_lat, ib_send_lat at 64 B, 4 KiB, 64 KiB and 1 MiB; ib_write_bw and
ib_read_bw at 1 MiB) and the raw pairs of tests/perf/write_read_lat at 64 B
and 4 KiB, writing device-DAX as chunkd does: WRITE+READ (the floor of
read-after-write, which perftest lacks) and, where rdma-core has RDMA
FLUSH (Debian 13), WRITE+FLUSH (the floor of native-flush), each also
with 2 us of idle before every pair (under emulation a pair posted at once
after the last finds soft-RoCE's worker awake, and one posted later pays
for waking it; a call of ours spends about that long before it posts); then
chunkbench against a chunkd on /dev/dax0.0 started with
direct_write_to_pmem = true (so every persistence method the platform has
is offered: persist-rpc, read-after-write, and native-flush on Debian 13).
Each figure is the median of the rounds (emulation is noisy; interleaving
the rounds spreads its drift over both sides). Prints one
table: our figure, the raw figure it is compared with, their ratio, and
the target; --json prints the same as JSON.

  --iters N     operations per figure (default 1000)
  --rounds N    rounds of perftest then chunkbench (default 3); each
                round's outputs are kept in build/bench
  --report      print the table of the last run (build/bench, or
                build-deb13/bench) again; give the same --rounds,
                --poll-us and --debian
  --debian N    the Debian whose build and guest are measured: 12 (the
                host's, in build/) or 13 (on a Debian 12 host: built in
                build-deb13 in the Debian 13 root of
                deploy/vm/debian13-root, as root, and run in a guest
                booting Debian 13's kernel; deploy/vm/run --debian 13).
                Default: this host's
  --poll-us US  how long chunkd and chunkbench's clients busy-poll before
                sleeping (default 1000: a round trip under emulation takes
                tens of microseconds, and perftest busy-polls throughout;
                0 leaves chunkd and the library at their own default)
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
poll_us=1000
inside=0
report=0
bdir=build
# As test.sh tells the host's Debian.
debian=$(cut -d. -f1 /etc/debian_version 2>/dev/null || echo 12)
host_debian=$debian
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--json) json=1; shift ;;
	--iters) iters=${2:?--iters needs a value}; shift 2 ;;
	--rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
	--poll-us) poll_us=${2:?--poll-us needs a value}; shift 2 ;;
	--inside) inside=1; shift ;;
	--report) report=1; shift ;;
	--debian) debian=${2:?--debian needs 12 or 13}; shift 2 ;;
	--build-dir) bdir=${2:?--build-dir needs a value}; shift 2 ;;
	*) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

case $debian in
12 | 13) ;;
*) echo "bench.sh: --debian takes 12 or 13" >&2; exit 2 ;;
esac
if [ "$debian" != "$host_debian" ] && [ "$inside" = 0 ]; then
	[ "$debian" = 13 ] && [ "$host_debian" = 12 ] || {
		echo "bench.sh: a Debian $debian run needs a Debian 12 host or a Debian $debian one" >&2
		exit 2
	}
	bdir=build-deb13
fi

# Waits a little for a raw server to end by itself (write_read_lat puts
# back the device-DAX bytes it wrote), then stops it.
stop_server() {
	local i
	for i in $(seq 20); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.25
	done
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# One raw figure: runs TOOL ARGS... as the server, then TOOL ARGS... ADDR
# as the client, and prints the number in column COL of the client's row
# for SIZE; null when three tries print none (the client can reach the
# server before it listens when emulation is slow, and perftest prints
# "inf" now and then).
raw_figure() {
	local col=$1 size=$2 value try
	shift 2
	for try in 1 2 3; do
		"$@" >/dev/null 2>&1 &
		local server=$!
		sleep "$try"
		value=$("$@" "$addr" 2>/dev/null |
			awk -v s="$size" -v c="$col" '$1 == s { print $c; exit }')
		stop_server "$server"
		if [[ $value =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
			echo "$value"
			return
		fi
	done
	echo "bench.sh: $1 -s $size printed no figure" >&2
	echo null
}

# t_typical (us) for perftest's latency tools, average MB/s for bw.
perftest() {
	local tool=$1 size=$2 col=5
	case $tool in *_bw) col=4 ;; esac
	raw_figure "$col" "$size" "$tool" -s "$size" -n "$iters" -F
}

# The raw WRITE+READ pair (tests/perf/write_read_lat), busy-polled: the
# floor of write+persist by read-after-write, which perftest does not give;
# with -f, WRITE+FLUSH, the floor of native-flush. Its server ignores -s
# and -n; its client ignores -d.
write_read_pair() {
	raw_figure 2 "$1" "$bdir/tests/perf/write_read_lat" -d "$dax" \
		-s "$1" -n "$iters" "${@:2}"
}

# The raw pairs are also timed with this idle gap (us) before each pair:
# about what a call of ours spends before it posts. Under emulation, a pair
# posted right after the last one completes finds soft-RoCE's worker still
# awake; one posted after a gap pays for waking it (docs/design.md,
# "Measuring").
gap_us=2

# Whether this build has RDMA FLUSH (rdma-core 45 or newer).
built_with_flush() {
	grep -q '^CHUNKD_HAVE_RDMA_FLUSH:INTERNAL=1$' "$bdir/CMakeCache.txt"
}

measure() {
	local out=$1 tool size
	{
		echo "{"
		for tool in ib_write_lat ib_read_lat ib_send_lat; do
			for size in 64 4096 65536 1048576; do
				echo "\"$tool/$size\": $(perftest "$tool" "$size"),"
			done
		done
		echo "\"ib_write_bw/1048576\": $(perftest ib_write_bw 1048576),"
		echo "\"ib_read_bw/1048576\": $(perftest ib_read_bw 1048576),"
		if built_with_flush; then
			for size in 64 4096; do
				echo "\"write_flush_pair/$size\": $(write_read_pair "$size" -f),"
				echo "\"write_flush_pair_apart/$size\": $(write_read_pair "$size" -f -g "$gap_us"),"
			done
		fi
		for size in 64 4096; do
			echo "\"write_read_pair_apart/$size\": $(write_read_pair "$size" -g "$gap_us"),"
		done
		echo "\"write_read_pair/64\": $(write_read_pair 64),"
		echo "\"write_read_pair/4096\": $(write_read_pair 4096)"
		echo "}"
	} >"$out.raw"
	local poll=()
	[ "$poll_us" != 0 ] && poll=(--poll-us "$poll_us")
	"$bdir/server/chunkd" --pool "$dax" --listen "$addr" --port 7490 \
		--direct-write-to-pmem --log-level warn "${poll[@]}" 2>"$out.log" &
	local chunkd=$!
	sleep 2
	"$bdir/client/tools/chunkbench" --port 7490 --iters "$iters" "${poll[@]}" \
		--json "$addr" >"$out.ours"
	kill -TERM "$chunkd"
	wait "$chunkd"
}

tabulate() {
	python3 - "$1" "$rounds" "$json" "$poll_us" "$debian" "$gap_us" <<'PY'
import json, statistics, sys
base, rounds, as_json = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
poll_us, debian, gap = int(sys.argv[4]), sys.argv[5], sys.argv[6]

def median_of(runs):
    """The median of each number across the rounds' reports; None where
    no round has one."""
    runs = [r for r in runs if r is not None]
    if not runs:
        return None
    first = runs[0]
    if isinstance(first, dict):
        return {k: median_of([r.get(k) for r in runs]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return statistics.median(runs)
    return first

load = lambda kind: [json.load(open(f"{base}.{r}.{kind}")) for r in range(rounds)]
raw, ours = median_of(load("raw")), median_of(load("ours"))
rows = []
twice = lambda v: None if v is None else 2 * v
plus = lambda a, b: None if a is None or b is None else a + b
fmt = lambda v, f: "n/a" if v is None else format(v, f)
def row(name, our, against, raw_value, target):
    rows.append({"figure": name, "ours": our, "raw": raw_value,
                 "against": against,
                 "ratio": our / raw_value if our and raw_value else None,
                 "target": target})
wp = ours["write_persist"]
for size in ("64", "4096"):
    if "read-after-write" in wp:
        row(f"write+persist read-after-write {size} B p50 us",
            wp["read-after-write"][size]["p50_us"], f"ib_read_lat {size}",
            raw[f"ib_read_lat/{size}"], "<= 1.15")
    row(f"write+persist persist-rpc {size} B p50 us",
        wp["persist-rpc"][size]["p50_us"], f"2 x ib_send_lat {size}",
        twice(raw[f"ib_send_lat/{size}"]), "<= 1.25")
if "read-after-write" in wp:
    for size in ("64", "4096"):
        row(f"write+persist read-after-write {size} B p50 us",
            wp["read-after-write"][size]["p50_us"],
            f"raw WRITE+READ pair {size}", raw[f"write_read_pair/{size}"], "")
        row(f"write+persist read-after-write {size} B p50 us",
            wp["read-after-write"][size]["p50_us"],
            f"raw WRITE+READ pair {size}, {gap} us apart",
            raw.get(f"write_read_pair_apart/{size}"), "")
if "native-flush" in wp:
    for size in ("64", "4096"):
        row(f"write+persist native-flush {size} B p50 us",
            wp["native-flush"][size]["p50_us"],
            f"raw WRITE+FLUSH pair {size}", raw.get(f"write_flush_pair/{size}"),
            "<= 1.05")
        if "read-after-write" in wp:
            row(f"write+persist native-flush {size} B p50 us",
                wp["native-flush"][size]["p50_us"],
                f"our read-after-write {size}",
                wp["read-after-write"][size]["p50_us"], "< 1.00")
    for size in ("64", "4096"):
        row(f"write+persist native-flush {size} B p50 us",
            wp["native-flush"][size]["p50_us"],
            f"raw WRITE+FLUSH pair {size}, {gap} us apart",
            raw.get(f"write_flush_pair_apart/{size}"), "")
    for size in ("64", "4096"):
        if raw.get(f"write_flush_pair/{size}") is not None:
            row(f"raw WRITE+FLUSH pair {size} B p50 us",
                raw[f"write_flush_pair/{size}"], f"raw WRITE+READ pair {size}",
                raw[f"write_read_pair/{size}"], "")
for method, against, raw_value in (
        ("native-flush", "none: FLUSH alone has no raw figure", None),
        ("read-after-write", "ib_read_lat 64", raw["ib_read_lat/64"]),
        ("persist-rpc", "2 x ib_send_lat 64", twice(raw["ib_send_lat/64"]))):
    if method in ours["persist_only_64"]:
        row(f"persist alone {method} 64 B p50 us",
            ours["persist_only_64"][method]["p50_us"], against, raw_value, "")
for size in ("65536", "1048576"):
    for method in wp:
        row(f"write+persist {method} {size} B p50 us", wp[method][size]["p50_us"],
            f"ib_write_lat {size} + ib_read_lat 64",
            plus(raw[f"ib_write_lat/{size}"], raw["ib_read_lat/64"]), "")
row("stream write 1 MiB, persisted, MB/s", ours["stream"]["write_mb_s"],
    "ib_write_bw 1 MiB", raw["ib_write_bw/1048576"], ">= 0.95")
row("stream read sealed 1 MiB MB/s", ours["stream"]["read_mb_s"],
    "ib_read_bw 1 MiB", raw["ib_read_bw/1048576"], "")
for size in ("64", "4096", "65536", "1048576"):
    row(f"read sealed {size} B p50 us", ours["read"][size]["p50_us"],
        f"ib_read_lat {size}", raw[f"ib_read_lat/{size}"],
        "<= 1.10" if size in ("64", "4096") else "")
if as_json:
    print(json.dumps({"debian": debian, "rounds": rounds, "poll_us": poll_us,
                      "rows": rows, "raw": raw,
                      "chunkbench": ours}, indent=2))
    sys.exit(0)
print(f"Debian {debian}; medians of {rounds} rounds; "
      f"poll_us {poll_us or 'default'}")
print(f"{'figure':46} {'ours':>10} {'raw':>10} {'ratio':>7}  target   raw figure")
for r in rows:
    print(f"{r['figure']:46} {fmt(r['ours'], '10.1f'):>10} "
          f"{fmt(r['raw'], '10.1f'):>10} {fmt(r['ratio'], '7.2f'):>7}  "
          f"{r['target']:8} {r['against']}")
t = ours["threads"]
for kind, label in (("write_persist", "write+persist persist-rpc"), ("read", "read sealed")):
    f = t[kind]
    print(f"{int(t['connections'])} connections at once, {label} {int(t['op_bytes'])} B: "
          f"p50 {f['p50_us']:.1f} us, p99 {f['p99_us']:.1f} us, "
          f"{f['ops_s']:.0f} ops/s, {f['mb_s']:.1f} MB/s")
print(f"alloc+seal+free: {ours['alloc_seal_free_per_s']:.0f} per s")
PY
}

if [ "$report" = 1 ]; then
	[ -f "$bdir/bench/bench.0.ours" ] || {
		echo "bench.sh: no earlier run in $bdir/bench" >&2
		exit 1
	}
	tabulate "$bdir/bench/bench"
	exit 0
fi
if [ "$inside" = 1 ]; then
	# Each round's outputs stay in $bdir/bench for a second look.
	work=$repo/$bdir/bench
	rm -rf "$work"
	mkdir -p "$work"
	for ((r = 0; r < rounds; r++)); do
		measure "$work/bench.$r"
	done
	tabulate "$work/bench"
	exit 0
fi
args=(--iters "$iters" --rounds "$rounds")
args+=(--poll-us "$poll_us")
[ "$json" = 1 ] && args+=(--json)
"$repo/deploy/install-deps.sh" >/dev/null
if [ "$bdir" = build-deb13 ]; then
	# Debian 13 from a Debian 12 host: built in its root, run in its guest.
	[ "$(id -u)" = 0 ] || {
		echo "bench.sh: --debian 13 here needs root (debootstrap, chroot)" >&2
		exit 1
	}
	root=$("$repo/deploy/vm/debian13-root")
	"$repo/deploy/vm/in-root" "$root" sh -c "cmake -S . -B $bdir \
		-DCHUNKD_WERROR=ON >/dev/null && cmake --build $bdir \
		-j $(nproc) >/dev/null"
	exec "$repo/deploy/vm/run" --debian 13 -q deploy/bench.sh --inside \
		--build-dir "$bdir" "${args[@]}"
fi
cmake -S . -B build -DCHUNKD_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
if [ -n "$(ls /sys/class/infiniband 2>/dev/null)" ] && [ -c "$dax" ]; then
	exec "$0" --inside "${args[@]}"
fi
exec "$repo/deploy/vm/run" -q deploy/bench.sh --inside "${args[@]}"
