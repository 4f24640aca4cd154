#!/usr/bin/env python3
"""DTMF reported by callrec equals what the captures hold: RFC 4733 digits
per stream (with 180 ms durations and times for the realcalls capture, whose
MANIFEST lists when each key was pressed) and SIP INFO digits per call."""
import glob
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime

build, shared = sys.argv[1], sys.argv[2]
# file glob -> (call-level digits in time order, {stream src: digits}, [(src, digit, t_rel_s, dur_ms)])
EXPECT = {
    "pcaps/10_*": ("6789123", {"192.168.105.172:4376": "6789123"}, []),
    "pcaps/11_*": ("1342", {}, []),
    "realcalls/bs_dtmf_pcmu.pcap": ("159*D0#7A3C82B46",
                                    {"198.51.100.10:16794": "159*D0#7A", "198.51.100.20:20938": "3C82B46"},
                                    [("198.51.100.10:16794", "1", 4.03, 180), ("198.51.100.10:16794", "A", 8.82, 180),
                                     ("198.51.100.20:20938", "3", 17.02, 180), ("198.51.100.20:20938", "6", 20.62, 180)]),
}


def t(x):
    return datetime.strptime(x, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


fails = 0
for g, (call_digits, per_stream, timed) in EXPECT.items():
    pcap = glob.glob(os.path.join(shared, g))[0]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([os.path.join(build, "app", "callrecd"), "--quiet", "--pcap", pcap, "--store", tmp], check=True)
        calls = [json.loads(l) for l in subprocess.run([os.path.join(build, "app", "callrec"), "calls", "--store", tmp,
                 "--json"], capture_output=True, text=True, check=True).stdout.splitlines() if l.strip()]
    errs = []
    got = [c for c in calls if c["dtmf"]]
    if len(got) != 1 or "".join(d["digit"] for d in got[0]["dtmf"]) != call_digits:
        errs.append(f"call digits {[''.join(d['digit'] for d in c['dtmf']) for c in got]} != {call_digits}")
    else:
        c = got[0]
        t0 = t(c["start"])
        for s in c["streams"]:
            want = per_stream.get(s["src"], "")
            have = "".join(d["digit"] for d in s["dtmf"])
            if have != want:
                errs.append(f"{s['src']}: {have!r} != {want!r}")
        for src, digit, rel, dur in timed:
            s = next(s for s in c["streams"] if s["src"] == src)
            d = next((d for d in s["dtmf"] if d["digit"] == digit), None)
            if d is None or abs(t(d["time"]) - t0 - rel) > 0.1 or abs(d["duration_ms"] - dur) > 25:
                errs.append(f"{src} {digit}: {d} not at {rel}s/{dur}ms")
    print(("ok   " if not errs else "FAIL ") + os.path.basename(pcap), "; ".join(errs))
    fails += bool(errs)
sys.exit(1 if fails else 0)
