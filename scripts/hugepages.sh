#!/usr/bin/env bash
# Reserve hugepages for callrecd and mount hugetlbfs (run as root).
#   scripts/hugepages.sh [SIZE_GB] [--1g] [--node N]
# Default: 2 GiB of 2 MiB pages on every NUMA node that has CPUs; --1g uses
# 1 GiB pages (needs the CPU flag pdpe1gb; reserve them at boot with
# "default_hugepagesz=1G hugepagesz=1G hugepages=N" for reliability).
# Sizing: docs/operations.md ("Sizing"). Idempotent; prints what is reserved.
set -euo pipefail
gb=2 size_kb=2048 node=
while [ $# -gt 0 ]; do
  case "$1" in
    --1g) size_kb=1048576 ;;
    --node) node=$2; shift ;;
    [0-9]*) gb=$1 ;;
    *) echo "usage: $0 [SIZE_GB] [--1g] [--node N]" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "hugepages.sh: run as root" >&2; exit 1; }
if [ "$size_kb" = 1048576 ] && ! grep -q pdpe1gb /proc/cpuinfo; then
  echo "hugepages.sh: this CPU has no 1 GiB pages (pdpe1gb)" >&2; exit 1
fi
pages=$(( gb * 1048576 / size_kb ))
nodes=${node:-$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | sed 's/.*node//' | tr '\n' ' ')}
if [ -z "$nodes" ]; then
  echo "$pages" > /sys/kernel/mm/hugepages/hugepages-${size_kb}kB/nr_hugepages
else
  for n in $nodes; do
    f=/sys/devices/system/node/node$n/hugepages/hugepages-${size_kb}kB/nr_hugepages
    [ -w "$f" ] && echo "$pages" > "$f"
  done
fi
mnt=/dev/hugepages
[ "$size_kb" = 1048576 ] && mnt=/dev/hugepages-1G
mkdir -p "$mnt"
mountpoint -q "$mnt" || mount -t hugetlbfs -o pagesize=$([ "$size_kb" = 1048576 ] && echo 1G || echo 2M) nodev "$mnt"
for f in /sys/devices/system/node/node*/hugepages/hugepages-${size_kb}kB/nr_hugepages; do
  [ -f "$f" ] && echo "$(echo "$f" | cut -d/ -f6): $(cat "$f") x ${size_kb} kB pages"
done
[ -d /sys/devices/system/node/node0 ] || \
  echo "$(cat /sys/kernel/mm/hugepages/hugepages-${size_kb}kB/nr_hugepages) x ${size_kb} kB pages"
echo "mounted on $mnt; fewer than asked means memory is fragmented: reserve at boot"
