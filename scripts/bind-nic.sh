#!/usr/bin/env bash
# Bind (or give back) the NIC ports callrecd records from, with DPDK's
# dpdk-devbind.py (package dpdk). Run as root.
#   scripts/bind-nic.sh status
#   scripts/bind-nic.sh bind PCI [PCI...] [--driver vfio-pci|uio_pci_generic]
#   scripts/bind-nic.sh unbind PCI [PCI...] --driver KERNEL_DRIVER (ixgbe, i40e, ice)
# Intel ixgbe/i40e/ice need vfio-pci (IOMMU on: intel_iommu=on iommu=pt, or
# "enable_unsafe_noiommu_mode" without one). NVIDIA mlx5 ports stay on the
# kernel driver (mlx5 is bifurcated): do not bind them, pass -a PCI to EAL.
# A port bound here disappears from the kernel: never bind the management NIC.
set -euo pipefail
devbind=$(command -v dpdk-devbind.py || command -v dpdk-devbind || true)
[ -n "$devbind" ] || { echo "bind-nic.sh: dpdk-devbind.py not found (apt-get install dpdk)" >&2; exit 1; }
cmd=${1:-status}; shift || true
driver=vfio-pci
pcis=()
while [ $# -gt 0 ]; do
  case "$1" in
    --driver) driver=$2; shift ;;
    *) pcis+=("$1") ;;
  esac
  shift
done
case "$cmd" in
  status) exec "$devbind" --status-dev net ;;
  bind|unbind)
    [ "$(id -u)" = 0 ] || { echo "bind-nic.sh: run as root" >&2; exit 1; }
    [ ${#pcis[@]} -gt 0 ] || { echo "bind-nic.sh: name the PCI address(es), e.g. 0000:3b:00.0" >&2; exit 2; }
    for p in "${pcis[@]}"; do
      if [ -e "/sys/bus/pci/devices/$p/driver" ] && \
         [ "$(basename "$(readlink "/sys/bus/pci/devices/$p/driver")")" = mlx5_core ] && [ "$cmd" = bind ]; then
        echo "bind-nic.sh: $p is mlx5: leave it on mlx5_core and pass -a $p to EAL" >&2; exit 2
      fi
      if ip -o link 2>/dev/null | grep -q "$(ls "/sys/bus/pci/devices/$p/net" 2>/dev/null | head -1):.*state UP" && \
         ip route 2>/dev/null | grep -q "dev $(ls "/sys/bus/pci/devices/$p/net" 2>/dev/null | head -1) "; then
        echo "bind-nic.sh: $p carries routes (a management port?): refusing" >&2; exit 2
      fi
    done
    [ "$driver" = vfio-pci ] && modprobe vfio-pci 2>/dev/null || true
    [ "$driver" = uio_pci_generic ] && modprobe uio_pci_generic 2>/dev/null || true
    "$devbind" --bind="$driver" "${pcis[@]}"
    "$devbind" --status-dev net ;;
  *) echo "usage: $0 status | bind PCI... [--driver D] | unbind PCI... --driver D" >&2; exit 2 ;;
esac
