#!/usr/bin/env python3
"""Storage and export bench (issue 'hear every call'): import a generated
G.711 call of MINUTES with the real callrecd, report stored bytes per
call-minute next to the raw RTP payload bytes, and the wall time of
`callrec export` (best of 5). Prints a human table and one JSON line.
usage: store_export_bench.py BUILD_DIR [MINUTES=5] [PAYLOAD_FILE]"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

build = sys.argv[1]
minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
here = os.path.dirname(os.path.abspath(__file__))
with tempfile.TemporaryDirectory() as tmp:
    payload = sys.argv[3] if len(sys.argv) > 3 else None
    if payload is None:
        # speech-like audio: sox-synthesised, mu-law (independent of our code)
        payload = os.path.join(tmp, "speech.ul")
        subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-t", "ul", payload, "synth", "30",
                        "pinknoise", "tremolo", "3", "90", "vol", "0.4"], check=True)
    pcap = os.path.join(tmp, "call.pcap")
    subprocess.run([sys.executable, os.path.join(here, "gen_call.py"), pcap, str(minutes), payload],
                   check=True, capture_output=True)
    store = os.path.join(tmp, "store")
    t0 = time.time()
    subprocess.run([os.path.join(build, "app", "callrecd"), "--quiet", "--pcap", pcap, "--store", store], check=True)
    import_s = time.time() - t0
    seg_bytes = sum(os.path.getsize(f) for f in glob.glob(os.path.join(store, "segments", "**", "*.seg"), recursive=True))
    c = json.loads(subprocess.run([os.path.join(build, "app", "callrec"), "calls", "--store", store, "--json"],
                                  capture_output=True, text=True, check=True).stdout.splitlines()[0])
    payload_bytes = sum(s["payload_bytes"] for s in c["streams"])
    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([os.path.join(build, "app", "callrec"), "export", "--store", store, "--call-id", c["call_id"],
                        "--out", os.path.join(tmp, "x.wav")], check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    call_min = c["duration_s"] / 60
    rep = {"codec": "PCMU", "call_minutes": round(call_min, 3), "packets": sum(s["packets"] for s in c["streams"]),
           "raw_payload_bytes": payload_bytes, "stored_bytes": seg_bytes,
           "stored_per_call_minute": round(seg_bytes / call_min), "raw_payload_per_call_minute": round(payload_bytes / call_min),
           "stored_vs_payload": round(seg_bytes / payload_bytes, 4), "export_s": round(best, 4), "import_wall_s": round(import_s, 3)}
    print(f"call {call_min:.2f} min, {rep['packets']} packets")
    print(f"stored  {seg_bytes:>10} bytes  ({rep['stored_per_call_minute']} per call-minute)")
    print(f"payload {payload_bytes:>10} bytes  ({rep['raw_payload_per_call_minute']} per call-minute)  ratio {rep['stored_vs_payload']}")
    print(f"export to WAV: {best * 1000:.1f} ms (best of 5)")
    print(json.dumps(rep))
