#!/usr/bin/env python3
"""RFC 3389 comfort noise is exported as noise at the level the CN packets
give, not as silence. tshark finds the CN packets (PT 13) and the gaps they
cover; the exported WAV must hold noise within 4 dB of the level there."""
import json, math, subprocess, sys, tempfile, wave, struct
from datetime import datetime

build, pcap = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp()
store = tmp + "/s"
subprocess.run([build + "/app/callrecd", "--quiet", "--pcap", pcap, "--store", store], check=True)
calls = [json.loads(l) for l in subprocess.run([build + "/app/callrec", "calls", "--store", store, "--json"],
         check=True, capture_output=True, text=True).stdout.splitlines()]
call = [c for c in calls if c["state"] != "unsignalled"][0]
ts = lambda x: datetime.strptime(x, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
start = min(ts(s["first"]) for s in call["streams"])
out = subprocess.run([build + "/app/callrec", "export", "--store", store, "--call-id", call["call_id"],
                      "--out", tmp + "/o.wav"], check=True, capture_output=True, text=True).stderr
print(out.strip())
w = wave.open(tmp + "/o.wav")
rate, n = w.getframerate(), w.getnframes()
pcm = struct.unpack("<%dh" % (2 * n), w.readframes(n))
rows = subprocess.run(["tshark", "-r", pcap, "-o", "rtp.heuristic_rtp:TRUE", "-Y", "rtp", "-T", "fields",
                       "-e", "rtp.ssrc", "-e", "frame.time_epoch", "-e", "rtp.p_type", "-e", "rtp.payload"],
                      check=True, capture_output=True, text=True).stdout.splitlines()
pk = {}
for r in rows:
    s, t, pt, pl = r.split("\t")
    pk.setdefault(s, []).append((float(t), int(pt), pl.replace(":", "")))
checked = 0
for s, v in pk.items():
    for i in range(len(v) - 1):
        t, pt, pl = v[i]
        if pt != 13 or v[i + 1][0] - t < 0.3:
            continue
        level = int(pl[:2], 16) & 0x7F
        want = 23170 * 10 ** (-level / 20)
        a, b = int((t - start + 0.04) * rate), int((v[i + 1][0] - start - 0.04) * rate)
        rms = max(math.sqrt(sum(pcm[2 * k + ch] ** 2 for k in range(a, b)) / (b - a)) for ch in (0, 1))
        db = 20 * math.log10(rms / want) if rms > 0 else -99
        print("CN -%d dBov for %.2f s: rms %.1f, want %.1f (%+.1f dB)" % (level, v[i + 1][0] - t, rms, want, db))
        if abs(db) > 4:
            sys.exit("comfort noise level wrong")
        checked += 1
if checked == 0:
    sys.exit("no CN gap found")
subprocess.run(["rm", "-rf", tmp])
print("comfort noise ok")
