#!/usr/bin/env bash
# [store] lz4_min_saving: incompressible audio (random bytes) is stored
# without lz4 after the first block that saved too little, tried again after
# 16, 32, 64... blocks (so a few tries in all), and exports the
# same WAV as a store that compressed every block; compressible audio (digital
# silence) keeps every block compressed.
set -euo pipefail
B=$1 GEN=$2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
head -c 240000 /dev/urandom >"$T/noise.ul"
python3 - "$T/silence.ul" <<'PY'
import sys; open(sys.argv[1], "wb").write(b"\xff" * 240000)
PY
metric() { sed -n "s/^$1{worker=\"0\"} //p" "$2"; }
for a in noise silence; do
  python3 "$GEN" "$T/$a.pcap" 40 30 "$T/$a.ul" >/dev/null
done
# noise, default policy: blocks stored as they are; always compress: none
"$B/app/callrecd" --quiet --pcap "$T/noise.pcap" --store "$T/n" --metrics-file "$T/n.prom"
"$B/app/callrecd" --quiet --pcap "$T/noise.pcap" --store "$T/n0" --metrics-file "$T/n0.prom" \
  --set store.lz4_min_saving=0
raw=$(metric callrec_worker_blocks_uncompressed_total "$T/n.prom")
raw0=$(metric callrec_worker_blocks_uncompressed_total "$T/n0.prom")
total=$(sed -n 's/^callrec_store_blocks_total //p' "$T/n.prom")
tries=$((total - raw))
echo "noise: $raw of $total blocks stored without lz4, $tries tried (lz4_min_saving=0: $raw0 without)"
[ "$raw" -gt 0 ] && [ "$raw0" = 0 ]
# rests of 16, 32, 64 blocks: tries at blocks 0, 17, 50, 115, ... (a fixed
# rest of 16 tried every 17th block: 7 of 115)
[ "$total" -ge 100 ] && [ "$tries" -ge 2 ] && [ "$tries" -le 4 ]
cid=$(sqlite3 "$T/n/index.sqlite" "SELECT call_id FROM calls ORDER BY start_ns LIMIT 1 OFFSET 20")
"$B/app/callrec" export --store "$T/n" --call-id "$cid" --out "$T/n.wav"
"$B/app/callrec" export --store "$T/n0" --call-id "$cid" --out "$T/n0.wav"
cmp "$T/n.wav" "$T/n0.wav"
"$B/app/callrec" fsck --store "$T/n" >/dev/null
# silence compresses: lz4 is never skipped
"$B/app/callrecd" --quiet --pcap "$T/silence.pcap" --store "$T/s" --metrics-file "$T/s.prom"
[ "$(metric callrec_worker_blocks_uncompressed_total "$T/s.prom")" = 0 ]
echo "lz4 skip ok"
