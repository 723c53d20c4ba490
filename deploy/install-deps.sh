#!/usr/bin/env bash
# Installs every build, run and test dependency of chunkd on a Debian 12 or
# Debian 13 host.
# Non-interactive and idempotent: packages already present are left alone, and
# apt is only consulted when something is missing.
set -euo pipefail

case ${1:-} in
-h | --help)
	cat <<'HELP'
Usage: deploy/install-deps.sh

Installs with apt-get (as root, or through sudo) the Debian packages chunkd
needs to build, run and test on Debian 12 or 13: the compilers, the
libraries, rdma-core and perftest, ndctl, etcd, Prometheus, systemd's and
man's checkers, and what the soft-RoCE test guest needs (qemu, busybox,
debootstrap for the Debian 13 root).
Packages already installed are left alone; apt is consulted only when one
is missing. Takes no other option.
HELP
	exit 0
	;;
"") ;;
*)
	echo "install-deps.sh: unknown argument $1 (see --help)" >&2
	exit 2
	;;
esac

packages=(
	# build; dpkg-dev and file for CPack's Debian packages
	build-essential cmake pkg-config clang clang-format dpkg-dev file
	# libraries (DESIGN.md, "Dependencies")
	libibverbs-dev librdmacm-dev libpmem-dev libevent-dev libcriterion-dev
	libisal-dev libinih-dev libjansson-dev libsodium-dev
	# sd_notify for the service unit (deploy/systemd)
	libsystemd-dev
	# RDMA user space and tools
	rdma-core ibverbs-providers ibverbs-utils rdmacm-utils perftest iproute2
	# pmem namespaces in the guest
	ndctl
	# the soft-RoCE test guest (deploy/vm/run), and the Debian 13 root it
	# boots for the second test leg (deploy/vm/debian13-root)
	qemu-system-x86 busybox-static cpio kmod xz-utils debootstrap
	# deploy/bench.sh tabulates with it
	python3
	# cluster mode: the replicated table in etcd, reached over HTTP
	etcd-server etcd-client libcurl4-openssl-dev curl
	# operations' tests: a real Prometheus and promtool for the metrics,
	# systemd-analyze for the unit, man for the manual pages
	prometheus systemd man-db
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
else
	sudo=
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# --no-install-recommends keeps qemu from pulling in a desktop's worth of packages.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
