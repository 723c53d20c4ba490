#!/usr/bin/env bash
# deploy/softroce.sh: turn an Ethernet interface of this host into a RoCE
# device with soft-RoCE (rdma_rxe). See --help.
set -euo pipefail

usage() {
	cat <<'HELP'
Usage: deploy/softroce.sh [--netdev IFACE] [--name NAME]

Loads the soft-RoCE driver (rdma_rxe) and the RDMA connection manager's user
interface (rdma_ucm), creates an rxe device on IFACE and prints the device's
name. Idempotent: when IFACE already carries an rxe device, prints its name.
Needs root and a kernel built with rdma_rxe.

Options:
  -n, --netdev IFACE  the interface to use (default: that of the default route)
      --name NAME     the name of a new device (default: rxe0)
  -h, --help          show this help

Where this kernel has no RDMA support (containers, minimal VMs), use
deploy/vm/run instead: it runs a command in a small QEMU guest that has
soft-RoCE and device-DAX.
HELP
}

die() {
	echo "softroce: $*" >&2
	exit 1
}

netdev=""
name=rxe0
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	-n | --netdev) netdev=${2:?--netdev needs a value}; shift 2 ;;
	--name) name=${2:?--name needs a value}; shift 2 ;;
	*) echo "softroce: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done

command -v rdma >/dev/null || die "the rdma tool is missing: run deploy/install-deps.sh"

if [ ! -d /sys/module/rdma_rxe ] && ! modprobe rdma_rxe 2>/dev/null; then
	die "this kernel ($(uname -r)) has no soft-RoCE driver (rdma_rxe), so RDMA cannot run on this host; use deploy/vm/run CMD to run CMD in a guest that has it"
fi
modprobe rdma_ucm 2>/dev/null || [ -d /sys/module/rdma_ucm ] ||
	die "cannot load rdma_ucm (librdmacm needs it): $(uname -r) lacks it; use deploy/vm/run"

if [ -z "$netdev" ]; then
	netdev=$(ip route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
	[ -n "$netdev" ] || die "no default route to pick an interface from; pass --netdev"
fi
[ -d "/sys/class/net/$netdev" ] || die "no interface named $netdev"

# "link rxe0/1 state ACTIVE physical_state LINK_UP netdev eth0"
existing=$(rdma link show | awk -v nd="$netdev" '$NF == nd && $(NF - 1) == "netdev" { split($2, a, "/"); print a[1]; exit }')
if [ -n "$existing" ]; then
	echo "$existing"
	exit 0
fi
rdma link add "$name" type rxe netdev "$netdev" ||
	die "rdma link add $name type rxe netdev $netdev failed"
echo "$name"
