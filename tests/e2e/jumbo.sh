#!/usr/bin/env bash
# Frames larger than an mbuf (jumbo frames on a TAP, GRO'd segments in a host
# capture) arrive as mbuf chains: a 5 KB INVITE/200 with SDP must still start
# the call and bind its media (it used to be dropped as BAD_L2_L4).
set -euo pipefail
B=$1 GEN=$2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
sox -n -r 8000 -c 1 -t ul "$T/tone.ul" synth 5 sine 440 vol 0.5
GEN_SDP_PAD=5000 python3 "$GEN" "$T/j.pcap" 0.2 "$T/tone.ul" >/dev/null
big=$(tshark -r "$T/j.pcap" -T fields -e frame.len | sort -n | tail -1)
[ "$big" -gt 4000 ] || { echo "no jumbo frame in the test capture ($big)"; exit 1; }
"$B/app/callrecd" --pcap "$T/j.pcap" --store "$T/s" >"$T/log" 2>&1
! grep -q "BAD_L2_L4" "$T/log" || { cat "$T/log"; exit 1; }
"$B/app/callrec" calls --store "$T/s" --json | python3 -c '
import json, sys
calls = [json.loads(l) for l in sys.stdin]
assert len(calls) == 1 and calls[0]["state"] == "completed", calls
assert len(calls[0]["streams"]) == 2 and all(s["packets"] == 600 for s in calls[0]["streams"]), calls
print("jumbo ok: %d-byte frames parsed whole" % '"$big"')'
