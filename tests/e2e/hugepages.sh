#!/usr/bin/env bash
# Offline import on hugepages (what a server with scripts/hugepages.sh gets)
# and on 4 KiB pages: the same calls, streams and counters. CI machines have
# no hugepages, so the test reserves some for itself (root) and gives them
# back; it runs alone (a parallel import could find them gone).
# usage: hugepages.sh BUILD PCAP
set -euo pipefail
build=$1 pcap=$2
f=/proc/sys/vm/nr_hugepages
if [ "$(id -u)" != 0 ] || [ ! -w $f ]; then echo "SKIP: reserving hugepages needs root"; exit 77; fi
old=$(cat $f)
tmp=$(mktemp -d)
trap 'echo "$old" > $f; rm -rf "$tmp"' EXIT
echo $((old + 300)) > $f
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
size=$(awk '/Hugepagesize/ {print $2}' /proc/meminfo)
if [ $((free * size / 1024)) -lt 500 ]; then echo "SKIP: the kernel gave only $free hugepages"; exit 77; fi
run() { # NAME [ENV...]
  local n=$1; shift
  env "$@" "$build/app/callrecd" --pcap "$pcap" --store "$tmp/$n" --metrics-file "$tmp/$n.prom" \
    >/dev/null 2>"$tmp/$n.err"
  "$build/app/callrec" calls --store "$tmp/$n" --json > "$tmp/$n.calls"
  grep -E '^callrec_(packets_total|packets_received_total|streams|calls)' "$tmp/$n.prom" | sort > "$tmp/$n.counts"
}
run huge
run small CALLREC_NO_HUGEPAGES=1
grep -q "DPDK memory: hugepages" "$tmp/huge.err" || { echo "FAIL: the import did not take the free hugepages"; cat "$tmp/huge.err"; exit 1; }
grep -q "DPDK memory: 4 KiB pages" "$tmp/small.err" || { echo "FAIL: CALLREC_NO_HUGEPAGES ignored"; exit 1; }
[ -s "$tmp/huge.calls" ] || { echo "FAIL: no calls imported"; exit 1; }
grep -q 'fate="RTP"} [1-9]' "$tmp/huge.counts" || { echo "FAIL: no RTP recorded"; cat "$tmp/huge.counts"; exit 1; }
diff "$tmp/huge.calls" "$tmp/small.calls" || { echo "FAIL: calls differ"; exit 1; }
diff "$tmp/huge.counts" "$tmp/small.counts" || { echo "FAIL: counters differ"; exit 1; }
echo "OK: $(wc -l < "$tmp/huge.calls") calls, same on hugepages and 4 KiB pages"
