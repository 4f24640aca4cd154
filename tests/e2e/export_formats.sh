#!/usr/bin/env bash
# callrec export in every format: WAV stereo/mono and Ogg Opus, checked with
# ffprobe (an independent reader): codec, channels, duration within 60 ms of
# the call's RTP span; bad arguments exit 2.
set -euo pipefail
B=$1 PCAP=$2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$B/app/callrecd" --quiet --pcap "$PCAP" --store "$T/s"
cid=$("$B/app/callrec" calls --store "$T/s" --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["call_id"])')
"$B/app/callrec" export --store "$T/s" --call-id "$cid" --out "$T/a.wav"
"$B/app/callrec" export --store "$T/s" --call-id "$cid" --out "$T/m.wav" --channels mono
"$B/app/callrec" export --store "$T/s" --call-id "$cid" --out "$T/o.opus" --format opus
probe() { ffprobe -v error -show_entries stream=codec_name,channels:format=duration -of default=nw=1 "$1" | tr '\n' ' '; }
a=$(probe "$T/a.wav"); m=$(probe "$T/m.wav"); o=$(probe "$T/o.opus")
echo "wav: $a"; echo "mono: $m"; echo "opus: $o"
[[ $a == *"codec_name=pcm_s16le channels=2"* ]]
[[ $m == *"codec_name=pcm_s16le channels=1"* ]]
[[ $o == *"codec_name=opus channels=2"* ]]
span=$("$B/app/callrec" calls --store "$T/s" --json | python3 -c '
import json,sys
from datetime import datetime
c=json.loads(sys.stdin.readline())
t=lambda x: datetime.strptime(x,"%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
print(max(t(s["last"]) for s in c["streams"]) - min(t(s["first"]) for s in c["streams"]) + 0.02)')
for f in "$T/a.wav" "$T/o.opus"; do
  d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")
  python3 -c "import sys; d,s=$d,$span; sys.exit(0 if abs(d-s) <= 0.06 + (0.01 if '$f'.endswith('opus') else 0) else 1)" \
    || { echo "duration $d vs span $span"; exit 1; }
done
# RTP without its signalling (SIP filtered out): each endpoint pair is a
# synthetic "rtp:A-B" call that shows and exports by that id (static PTs)
tshark -r "$PCAP" -Y '!sip' -w "$T/rtponly.pcap" -F pcap 2>/dev/null
"$B/app/callrecd" --quiet --pcap "$T/rtponly.pcap" --store "$T/r"
rid=$("$B/app/callrec" calls --store "$T/r" --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["call_id"])')
[[ $rid == rtp:* ]] || { echo "expected an unsignalled call, got $rid"; exit 1; }
"$B/app/callrec" show --store "$T/r" --call-id "$rid" | grep -q unsignalled
"$B/app/callrec" export --store "$T/r" --call-id "$rid" --out "$T/r.wav"
[ "$(stat -c %s "$T/r.wav")" -gt 100000 ] || { echo "unsignalled export too short"; exit 1; }
set +e
"$B/app/callrec" export --store "$T/s" --call-id "$cid" --out "$T/x" --format mp3 2>/dev/null; [ $? = 2 ] || exit 1
"$B/app/callrec" export --store "$T/s" --call-id nope --out "$T/x" 2>/dev/null; [ $? = 1 ] || exit 1
echo "export formats ok"
