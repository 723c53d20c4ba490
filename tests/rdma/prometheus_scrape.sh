#!/bin/sh
# A real Prometheus (Debian's prometheus package) scrapes a chunkd that
# served a known run of operations, for a few intervals; its query API
# must show chunkd's series with the values that run produces, and
# promtool must accept the exposition itself.
#
# The run: chunkdemo stores 16 chunks of 64 KiB through one connection and
# reads each back through a second (alloc, write+persist, seal, open, read,
# free), then chunkfile stores a file of 10000 bytes and keeps it, and
# chunkctl verify scrubs it.
#
# Usage: tests/rdma/prometheus_scrape.sh BUILD_DIR
set -eu
build=$1
addr=10.0.2.15
port=7560
metrics=127.0.0.1:19470
prom=127.0.0.1:19090
dir=$(mktemp -d /dev/shm/chunkd-prometheus-XXXXXX)
chunkd_pid=
prom_pid=
cleanup() {
	[ -z "$prom_pid" ] || kill "$prom_pid" 2>/dev/null || true
	[ -z "$chunkd_pid" ] || kill "$chunkd_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "prometheus_scrape: $*"
	exit 1
}
command -v prometheus >/dev/null && command -v promtool >/dev/null ||
	fail "prometheus and promtool are not installed (deploy/install-deps.sh)"

"$build/server/chunkd" --pool "$dir/pool" --pool-size 64M --listen "$addr" \
	--port "$port" --admin-socket "$dir/admin.sock" \
	--metrics-listen "$metrics" --log-level warn &
chunkd_pid=$!
for _ in $(seq 300); do
	curl -sf "http://$metrics/metrics" >/dev/null 2>&1 && break
	kill -0 "$chunkd_pid" 2>/dev/null || fail "chunkd did not start"
	sleep 0.1
done

"$build/client/tools/chunkdemo" --port "$port" --chunks 16 --size 65536 \
	"$addr" >"$dir/demo.out" || fail "chunkdemo failed: $(cat "$dir/demo.out")"
head -c 10000 /dev/urandom >"$dir/file"
"$build/client/examples/chunkfile" --port "$port" put "$addr" "$dir/file" \
	>/dev/null
"$build/client/tools/chunkctl" --socket "$dir/admin.sock" verify >/dev/null ||
	fail "chunkctl verify failed"

curl -sf "http://$metrics/metrics" >"$dir/exposition"
promtool check metrics <"$dir/exposition" ||
	fail "promtool check metrics refused the exposition"
echo "promtool accepts the exposition ($(grep -vc '^#' "$dir/exposition") samples)"

cat >"$dir/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: chunkd
    static_configs:
      - targets: ['$metrics']
YML
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
	--web.listen-address="$prom" --log.level=warn >"$dir/prometheus.log" 2>&1 &
prom_pid=$!

# The value of an instant query's first series, or "none".
query() {
	curl -sf --data-urlencode "query=$1" "http://$prom/api/v1/query" |
		python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")' 2>/dev/null || echo none
}

# A few intervals: at least 5 scrapes, all of them up.
scrapes=none
for _ in $(seq 180); do
	scrapes=$(query 'sum_over_time(up{job="chunkd"}[10m])')
	[ "$scrapes" != none ] && [ "${scrapes%.*}" -ge 5 ] && break
	kill -0 "$prom_pid" 2>/dev/null ||
		fail "prometheus stopped: $(cat "$dir/prometheus.log")"
	sleep 0.5
done
[ "$scrapes" != none ] && [ "${scrapes%.*}" -ge 5 ] ||
	fail "Prometheus has $scrapes successful scrapes of chunkd, not 5"
failed=$(query 'count_over_time(up{job="chunkd"}[10m]) - sum_over_time(up{job="chunkd"}[10m])')
[ "$failed" = 0 ] || fail "$failed scrapes failed"
echo "Prometheus scraped chunkd $scrapes times, none failed"

# Each query and the value the run must give it, asked all at once below
# (a python and a curl per query took a third of this test in the guest).
expect() {
	printf '%s\t%s\n' "$1" "$2" >>"$dir/expected"
}
expect 'chunkd_requests_total{type="HELLO"}' 3
expect 'chunkd_requests_total{type="ALLOC"}' 17
expect 'chunkd_requests_total{type="SEAL"}' 17
expect 'chunkd_requests_total{type="OPEN"}' 16
expect 'chunkd_requests_total{type="FREE"}' 16
expect 'sum(chunkd_request_errors_total)' 0
expect 'chunkd_malformed_frames_total' 0
expect 'chunkd_granted_bytes_total' $((16 * 65536 + 12288))
expect 'chunkd_sealed_bytes_total' $((16 * 65536 + 10000))
expect 'chunkd_persist_requests_total{method="persist-rpc"}' 17
expect 'chunkd_sessions_offered_total{method="persist-rpc"}' 3
expect 'chunkd_sessions_offered_total{method="native-flush"}' 0
expect 'chunkd_chunks{state="sealed"}' 1
expect 'chunkd_chunks{state="open"}' 0
expect 'chunkd_pool_used_bytes' 12288
expect 'chunkd_sessions' 0
expect 'chunkd_auth_refusals_total' 0
expect 'chunkd_scrub_runs_total' 1
expect 'chunkd_scrub_checked_chunks_total' 1
expect 'chunkd_scrub_checked_bytes_total' 10000
expect 'chunkd_scrub_mismatches_total' 0
expect 'chunkd_scrub_running' 0
expect 'chunkd_request_duration_seconds_count{op="alloc"}' 17
expect 'chunkd_request_duration_seconds_count{op="seal"}' 17
expect 'chunkd_request_duration_seconds_bucket{op="seal",le="+Inf"}' 17
# The pool's chunk area, as chunkctl status tells it.
area=$("$build/client/tools/chunkctl" --socket "$dir/admin.sock" --json status |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["pool"]["area"])')
expect 'chunkd_pool_size_bytes' "$area"
expect 'chunkd_pool_free_bytes' $((area - 12288))
python3 - "http://$prom/api/v1/query" "$dir/expected" <<'PY' || exit 1
import json, sys, urllib.parse, urllib.request
url, expected = sys.argv[1], sys.argv[2]
direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
for line in open(expected):
    query, want = line.rstrip("\n").split("\t")
    try:
        with direct.open(url, urllib.parse.urlencode(
                {"query": query}).encode(), timeout=10) as reply:
            result = json.load(reply)["data"]["result"]
        got = result[0]["value"][1] if result else "none"
    except Exception as e:
        got = f"unanswered ({e})"
    if got != want:
        print(f"prometheus_scrape: {query} is {got}, not {want}")
        sys.exit(1)
    print(f"  {query} = {got}")
PY
echo "prometheus_scrape: passed"
