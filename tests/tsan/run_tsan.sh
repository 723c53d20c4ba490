#!/usr/bin/env bash
# Runs tsan_datapath and chunkbench, both built with ThreadSanitizer,
# against a chunkd of the same build with a 1 s lease (so the library's
# renewer works throughout), on a DRAM pool offering both persistence
# methods. Fails on any data race (TSan halts the process) or failure.
#   run_tsan.sh CHUNKD CHUNKCTL TSAN_DATAPATH CHUNKBENCH
set -euo pipefail
chunkd=$1 chunkctl=$2 datapath=$3 chunkbench=$4
addr=${CHUNKD_TEST_ADDR:-10.0.2.15}
port=7560
pool=/dev/shm/chunkd-tsan-$$.pool
log=/dev/shm/chunkd-tsan-$$.log
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

"$chunkd" --pool "$pool" --pool-size 128M --listen "$addr" --port "$port" \
	--admin-socket "$pool.sock" --lease-ttl-ms 1000 \
	--direct-write-to-pmem 2>"$log" &
pid=$!
cleanup() {
	kill "$pid" 2>/dev/null || true
	rm -f "$pool" "$pool.sock" "$log"
}
trap cleanup EXIT
for _ in $(seq 1 500); do
	grep -q ready "$log" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.02
done
if ! grep -q ready "$log"; then
	cat "$log"
	echo "run_tsan: chunkd did not start"
	exit 1
fi

status=0
"$datapath" "$addr" "$port" || status=1
echo "== chunkbench: every figure, two threads, both methods"
if ! "$chunkbench" --port "$port" --iters 20 --threads 2 "$addr" >/dev/null; then
	echo "run_tsan: chunkbench failed"
	status=1
fi
"$chunkctl" --socket "$pool.sock" status >/dev/null || status=1
kill "$pid"
if ! wait "$pid"; then
	echo "run_tsan: chunkd did not exit cleanly"
	status=1
fi
if grep -q ThreadSanitizer "$log"; then
	cat "$log"
	status=1
fi
exit "$status"
