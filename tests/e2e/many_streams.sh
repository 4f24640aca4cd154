#!/usr/bin/env bash
# More streams end in one tick than a worker frees per pass (256): each must be
# reported once and counted once in the quality histograms. The tick used to
# report and count the ones past the 256th again in every pass (a 200-call
# import counted 544 MOS values for 400 streams; 30,000 ending streams made
# 1.8 M index records).
set -euo pipefail
B=$1 GEN=$2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
sox -n -r 8000 -c 1 -t ul "$T/a.ul" synth 3 pinknoise vol 0.3
python3 "$GEN" "$T/l.pcap" 300 1 "$T/a.ul" >/dev/null
"$B/app/callrecd" --pcap "$T/l.pcap" --store "$T/s" --metrics-file "$T/m.prom" >"$T/log" 2>&1 ||
	{ cat "$T/log"; exit 1; }
streams=$(sqlite3 "$T/s/index.sqlite" "select count(*) from streams")
mos=$(awk '/^callrec_stream_mos_count /{print $2}' "$T/m.prom")
jit=$(awk '/^callrec_stream_jitter_seconds_count /{print $2}' "$T/m.prom")
recs=$(sed -n 's/.*stream records \([0-9]*\),.*/\1/p' "$T/log")
echo "streams $streams, MOS values $mos, jitter values $jit, stream records $recs"
[ "$streams" = 600 ] && [ "$mos" = 600 ] && [ "$jit" = 600 ] || exit 1
# one record when a stream starts being stored, one when it ends (1 s calls)
[ "$recs" -le 1200 ] || exit 1

# A worker that cannot map chunk memory (--fault slabs:1: one slab of 128
# chunk buffers for ~200 concurrent streams): the streams past it lose their
# packets to STORE_NOMEM, by name, said on each stream; nothing else is lost.
"$B/app/callrecd" --pcap "$T/l.pcap" --store "$T/n" --metrics-file "$T/n.prom" --fault slabs:1 \
	>"$T/nlog" 2>&1 || { cat "$T/nlog"; exit 1; }
fate() { awk -v f="fate=\"$1\"}" '$1 == "callrec_packets_total{" f {print $2}' "$T/n.prom"; }
nomem=$(fate STORE_NOMEM) rtp=$(fate RTP)
rx=$(sed -n 's/^received \([0-9]*\) packets, accounted \([0-9]*\)$/\1 \2/p' "$T/nlog")
q() { sqlite3 "$T/n/index.sqlite" "$1"; }
lost=$(q "select sum(store_lost) from streams")
stored=$(q "select sum(n_pkts) from chunks")
pkts=$(q "select sum(packets) from streams")
echo "slabs:1: received/accounted $rx, RTP $rtp, STORE_NOMEM $nomem; index: packets $pkts, stored $stored, store_lost $lost"
set -- $rx
[ "$1" = "$2" ] && [ "$nomem" -gt 0 ] && [ "$lost" = "$nomem" ] && [ "$stored" = "$rtp" ] &&
	[ $((stored + lost)) = "$pkts" ] || exit 1
