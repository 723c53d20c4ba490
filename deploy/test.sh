#!/usr/bin/env bash
# deploy/test.sh: build chunkd and run every test. See --help.
set -euo pipefail

usage() {
	cat <<'HELP'
Usage: deploy/test.sh [OPTIONS]

Installs missing dependencies (deploy/install-deps.sh), builds with warnings
as errors, runs the host tests, then the rdma suite: on this host when it has
an RDMA device and device-DAX, otherwise inside the soft-RoCE guest
(deploy/vm/run). On a Debian 12 host, a second leg follows (not with
--sanitize or --tsan): the same build, host tests and rdma suite on Debian
13, built in build-deb13 inside the Debian 13 root of deploy/vm/debian13-root
(chrooted, as root) and run in a guest booting Debian 13's kernel
(deploy/vm/run --debian 13). On a Debian 13 host the one leg runs natively.
Prints each leg's counts, and ends with one line "test.sh: N passed, M
failed" over both.

Options:
      --sanitize     build with clang, ASan and UBSan (in build-asan/), and
                     run the libFuzzer targets from their seed corpora: the
                     protocol decoder for 10 million executions, the admin
                     socket's lines, the config and secrets parsers for 20 s
                     each
      --tsan         build with clang and ThreadSanitizer (in build-tsan/)
                     and run only the data path under it (label tsan:
                     tests/tsan; Criterion's runner cannot start under TSan)
      --host-only    skip the rdma suite (and with --tsan, everything)
      --debian N     on a Debian 12 host, run only the leg of Debian N (12
                     or 13)
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
legs=""
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--sanitize) sanitize=1; shift ;;
	--tsan) tsan=1; shift ;;
	--host-only) host_only=1; shift ;;
	-B | --build-dir) build_dir=${2:?--build-dir needs a value}; shift 2 ;;
	--debian) legs=${2:?--debian needs 12 or 13}; shift 2 ;;
	*) echo "test.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# Which legs run: Debian 12's here and then Debian 13's in its root, on a
# Debian 12 host; the host's own alone elsewhere and under the sanitizers.
host_debian=$(cut -d. -f1 /etc/debian_version 2>/dev/null || echo 0)
if [ -z "$legs" ]; then
	if [ "$host_debian" = 12 ] && [ "$sanitize" = 0 ] && [ "$tsan" = 0 ]; then
		legs="12 13"
	else
		legs=here
	fi
fi
case $legs in
"12 13" | here) ;;
12) [ "$host_debian" = 12 ] || { echo "test.sh: --debian 12 needs a Debian 12 host" >&2; exit 2; } ;;
13) [ "$host_debian" = 12 ] && [ "$sanitize" = 0 ] && [ "$tsan" = 0 ] ||
	{ echo "test.sh: --debian 13 is the second leg of a Debian 12 host, without the sanitizers" >&2; exit 2; } ;;
*) echo "test.sh: --debian takes 12 or 13" >&2; exit 2 ;;
esac

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

build_here() {
	echo "== configure and build ($build_dir)"
	cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
	cmake --build "$build_dir" -j "$(nproc)"
}

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

# The rdma suite: on this host, or in the guest.
# Runs the rdma suite's command; under the sanitizers the kill loop kills
# 5 times per pool, not 20 (tests/rdma/test_kill_loop.c says why).
kill_cycles() {
	if [ "$sanitize" = 1 ]; then
		CHUNKD_KILL_CYCLES=${CHUNKD_KILL_CYCLES:-5} run_ctest "$@"
	else
		run_ctest "$@"
	fi
}

run_rdma_suite() {
	local where=${CHUNKD_TEST_ON:-}
	if [ -z "$where" ]; then
		if host_has_rdma; then where=host; else where=guest; fi
	fi
	case $where in
	host)
		export CHUNKD_TEST_ADDR=${CHUNKD_TEST_ADDR:-$(host_rdma_addr)}
		echo "== $suite tests on this host (address $CHUNKD_TEST_ADDR)"
		kill_cycles ctest "${ctest_args[@]}" -L "$suite" "${suite_args[@]}" || status=1
		;;
	guest)
		echo "== $suite tests in the soft-RoCE guest (deploy/vm/run)"
		kill_cycles "$repo/deploy/vm/run" --timeout 2400 \
			ctest "${ctest_args[@]}" -L "$suite" "${suite_args[@]}" || status=1
		;;
	*)
		echo "test.sh: CHUNKD_TEST_ON must be host or guest" >&2
		exit 2
		;;
	esac
}

# This host's leg: build, host tests, fuzzing, the rdma suite.
leg_here() {
	build_here
	if [ "$tsan" = 0 ]; then
		run_host_tests
	fi
	if [ "$sanitize" = 1 ]; then
		echo "== fuzzing, from seed corpora written by the encoders"
		# "fuzz: proto: N executions from S seeds; coverage ..."
		run_label_verbose fuzz 'fuzz: [a-z]+: |tests passed'
	fi
	if [ "$host_only" = 0 ]; then
		run_rdma_suite
	fi
}

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian 13's leg from a Debian 12 host: this script, chrooted in the
# Debian 13 root, builds build-deb13 and runs its host tests; then the rdma
# suite runs in a guest that boots Debian 13's kernel over that root.
leg_debian13() {
	local root log line
	echo "== Debian 13: its root (deploy/vm/debian13-root)"
	if ! root=$(as_root "$repo/deploy/vm/debian13-root"); then
		echo "test.sh: no Debian 13 root; the Debian 13 leg fails" >&2
		failed=$((failed + 1))
		status=1
		return
	fi
	echo "== Debian 13: build and host tests in $root (build-deb13)"
	log=$(mktemp)
	set +e
	as_root "$repo/deploy/vm/in-root" "$root" deploy/test.sh --host-only \
		-B build-deb13 2>&1 | tee "$log"
	[ "${PIPESTATUS[0]}" = 0 ] || status=1
	set -e
	# "test.sh: 181 passed, 0 failed"
	line=$(grep -E '^test.sh: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
	rm -f "$log"
	if [ -z "$line" ]; then
		echo "test.sh: the Debian 13 build or host tests reported no result" >&2
		failed=$((failed + 1))
		status=1
	else
		passed=$((passed + $(awk '{ print $2 }' <<<"$line")))
		failed=$((failed + $(awk '{ print $4 }' <<<"$line")))
	fi
	if [ "$host_only" = 0 ]; then
		echo "== Debian 13: rdma tests in a guest booting Debian 13's kernel"
		run_ctest as_root "$repo/deploy/vm/run" --debian 13 --timeout 2400 \
			ctest --test-dir build-deb13 --output-on-failure --no-tests=error \
			-L rdma || status=1
	fi
}

counts=()
for leg in $legs; do
	before_passed=$passed
	before_failed=$failed
	case $leg in
	here | 12) leg_here ;;
	13) leg_debian13 ;;
	esac
	[ "$leg" = here ] && continue
	counts+=("Debian $leg: $((passed - before_passed)) passed, $((failed - before_failed)) failed")
done
for line in "${counts[@]}"; do
	echo "test.sh: $line"
done
echo "test.sh: $passed passed, $failed failed"
exit "$status"
