#!/usr/bin/env bash
# Runs one libFuzzer target from its seed corpus, in a fresh work corpus,
# and prints one summary line: executions, and coverage at start and end.
#   run_fuzz.sh NAME FUZZER SEEDS WORK [libFuzzer options...]
set -euo pipefail
name=$1 fuzzer=$2 seeds=$3 work=$4
shift 4
rm -rf "$work"
mkdir -p "$work"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$fuzzer" -print_final_stats=1 "$@" "$work" "$seeds" >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
	cat "$log"
	echo "fuzz: $name: failed (status $status)"
	exit "$status"
fi
# "#123 INITED cov: 45 ft: 67 ..." and "#4567 DONE cov: 89 ...".
start=$(sed -nE 's/.*INITED cov: ([0-9]+).*/\1/p' "$log" | head -n 1)
end=$(sed -nE 's/.*DONE +cov: ([0-9]+).*/\1/p' "$log" | tail -n 1)
runs=$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$log" | tail -n 1)
seeded=$(ls "$seeds" | wc -l)
found=$(ls "$work" | wc -l)
echo "fuzz: $name: $runs executions from $seeded seeds; coverage ${start:-?} edges at start, ${end:-?} at the end; $found new inputs"
