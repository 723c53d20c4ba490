#!/usr/bin/env bash
# deploy/test.sh: build chunkd and run every test. See --help.
set -euo pipefail

usage() {
	cat <<'HELP'
Usage: deploy/test.sh [OPTIONS]

Installs missing dependencies (deploy/install-deps.sh), builds with warnings
as errors, runs the host tests, then the rdma suite: on this host when it has
an RDMA device and device-DAX, otherwise inside the soft-RoCE guest
(deploy/vm/run). Ends with one line "test.sh: N passed, M failed".

Options:
      --sanitize     build with clang, ASan and UBSan (in build-asan/), and
                     run the libFuzzer targets from their seed corpora: the
                     protocol decoder for 10 million executions, the admin
                     socket's lines, the config and secrets parsers for 30 s
                     each
      --tsan         build with clang and ThreadSanitizer (in build-tsan/)
                     and run only the data path under it (label tsan:
                     tests/tsan; Criterion's runner cannot start under TSan)
      --host-only    skip the rdma suite (and with --tsan, everything)
  -B, --build-dir D  build folder (default: build, or build-asan)
  -h, --help         show this help

Environment:
  CHUNKD_TEST_ON=host|guest  where the rdma suite runs (default: decided as
                             above)
  CHUNKD_TEST_ADDR           address the rdma tests listen on (default
                             10.0.2.15 in the guest; on a host, the IPv4
                             address of the rxe device's interface)
  CHUNKD_TEST_DAX            device-DAX node (default /dev/dax0.0)
HELP
}

sanitize=0
tsan=0
host_only=0
build_dir=""
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--sanitize) sanitize=1; shift ;;
	--tsan) tsan=1; shift ;;
	--host-only) host_only=1; shift ;;
	-B | --build-dir) build_dir=${2:?--build-dir needs a value}; shift 2 ;;
	*) echo "test.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

"$repo/deploy/install-deps.sh"

cmake_args=(-DCHUNKD_WERROR=ON)
if [ "$sanitize" = 1 ]; then
	build_dir=${build_dir:-build-asan}
	cmake_args+=(-DCMAKE_C_COMPILER=clang "-DCHUNKD_SANITIZE=address;undefined"
		-DCHUNKD_FUZZ=ON)
	# Leaks, overflows and undefined behaviour all fail the test.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
elif [ "$tsan" = 1 ]; then
	build_dir=${build_dir:-build-tsan}
	cmake_args+=(-DCMAKE_C_COMPILER=clang -DCHUNKD_SANITIZE=thread)
	export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
else
	build_dir=${build_dir:-build}
fi

echo "== configure and build ($build_dir)"
cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

passed=0
failed=0

# Runs ctest (through an optional launcher such as deploy/vm/run) and adds
# its counts to the totals. Returns ctest's status.
run_ctest() {
	local log status
	log=$(mktemp)
	set +e
	"$@" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	set -e
	# "100% tests passed, 0 tests failed out of 19"
	local line total bad
	line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
	rm -f "$log"
	if [ -z "$line" ]; then
		echo "test.sh: ctest reported no result" >&2
		failed=$((failed + 1))
		return 1
	fi
	bad=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
	total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
	passed=$((passed + total - bad))
	failed=$((failed + bad))
	return "$status"
}

# Whether the rdma suite can run on this host: an RDMA device and the DAX node.
host_has_rdma() {
	[ -n "$(ls /sys/class/infiniband 2>/dev/null)" ] &&
		[ -c "${CHUNKD_TEST_DAX:-/dev/dax0.0}" ]
}

# The IPv4 address of the first rxe device's interface.
host_rdma_addr() {
	local netdev
	netdev=$(rdma link show | awk '$(NF - 1) == "netdev" { print $NF; exit }')
	ip -4 -o addr show dev "$netdev" | awk '{ split($4, a, "/"); print a[1]; exit }'
}

ctest_args=(--test-dir "$build_dir" --output-on-failure --no-tests=error)
status=0

# The suite that needs an RDMA device: under TSan, only the data path.
suite=rdma
suite_args=()
if [ "$tsan" = 1 ]; then
	suite=tsan
	suite_args=(-V) # its scenarios, one line each
fi

# Runs one label with ctest -V, prints the lines of its log that match
# pattern (the whole log when it fails) and keeps them in $summary.
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
run_label_verbose() {
	local label=$1 pattern=$2 log
	log=$(mktemp)
	if run_ctest ctest "${ctest_args[@]}" -L "$label" -V >"$log"; then
		grep -oE "($pattern).*" "$log" >"$summary" || true
		cat "$summary"
	else
		status=1
		cat "$log"
		: >"$summary"
	fi
	rm -f "$log"
}

run_host_tests() {
	echo "== host tests"
	run_ctest ctest "${ctest_args[@]}" -LE 'rdma|crash|fuzz|tsan' || status=1

	echo "== crash harness"
	# Its counts; the whole log only when it fails.
	run_label_verbose crash 'Test #|crash images checked|damaged records|tests passed'
	crash_images=$(grep -oE 'crash images checked: [0-9]+' "$summary" | awk '{ n += $4 } END { print n + 0 }')
	echo "crash harness: $crash_images crash images checked"
}

if [ "$tsan" = 0 ]; then
	run_host_tests
fi

if [ "$sanitize" = 1 ]; then
	echo "== fuzzing, from seed corpora written by the encoders"
	# "fuzz: proto: N executions from S seeds; coverage ..."
	run_label_verbose fuzz 'fuzz: [a-z]+: |tests passed'
fi

if [ "$host_only" = 0 ]; then
	where=${CHUNKD_TEST_ON:-}
	if [ -z "$where" ]; then
		if host_has_rdma; then where=host; else where=guest; fi
	fi
	case $where in
	host)
		export CHUNKD_TEST_ADDR=${CHUNKD_TEST_ADDR:-$(host_rdma_addr)}
		echo "== $suite tests on this host (address $CHUNKD_TEST_ADDR)"
		run_ctest ctest "${ctest_args[@]}" -L "$suite" "${suite_args[@]}" || status=1
		;;
	guest)
		echo "== $suite tests in the soft-RoCE guest (deploy/vm/run)"
		run_ctest "$repo/deploy/vm/run" --timeout 2400 \
			ctest "${ctest_args[@]}" -L "$suite" "${suite_args[@]}" || status=1
		;;
	*)
		echo "test.sh: CHUNKD_TEST_ON must be host or guest" >&2
		exit 2
		;;
	esac
fi

echo "test.sh: $passed passed, $failed failed"
exit "$status"
