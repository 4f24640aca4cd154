#!/usr/bin/env python3
"""G.711 export is bit-exact: for each stream of a loss-free PCMU/PCMA call,
tshark extracts the RTP payload bytes, sox decodes them to 16-bit PCM, and
that must equal, sample for sample, the exported channel over the stream's
span (callrec's timeline puts the stream at its first packet's arrival)."""
import os
import struct
import subprocess
import sys
import tempfile
import wave
import json

build, pcap = sys.argv[1], sys.argv[2]
fails = 0
with tempfile.TemporaryDirectory() as tmp:
    store = os.path.join(tmp, "s")
    subprocess.run([os.path.join(build, "app", "callrecd"), "--quiet", "--pcap", pcap, "--store", store], check=True)
    calls = [json.loads(l) for l in subprocess.run([os.path.join(build, "app", "callrec"), "calls", "--store", store, "--json"],
             capture_output=True, text=True, check=True).stdout.splitlines() if l.strip()]
    for c in calls:
        wav = os.path.join(tmp, "c.wav")
        subprocess.run([os.path.join(build, "app", "callrec"), "export", "--store", store, "--call-id", c["call_id"],
                        "--out", wav], check=True, capture_output=True)
        with wave.open(wav) as w:
            assert w.getframerate() == 8000
            pcm = struct.unpack("<%dh" % (w.getnframes() * 2), w.readframes(w.getnframes()))
        t_start = min(s["first"] for s in c["streams"])
        for s in c["streams"]:
            if s["codec"] not in ("PCMU", "PCMA") or s["lost"] != 0:
                continue
            ip, port = s["src"].rsplit(":", 1)
            out = subprocess.run(["tshark", "-r", pcap, "-Y", f"rtp.ssrc=={s['ssrc']} && ip.src=={ip} && udp.srcport=={port} && rtp.p_type=={s['payload_type']}",
                                  "-T", "fields", "-e", "rtp.payload"], capture_output=True, text=True, check=True).stdout
            raw = b"".join(bytes.fromhex(l.replace(":", "")) for l in out.split())
            rawf = os.path.join(tmp, "p.raw")
            open(rawf, "wb").write(raw)
            dec = subprocess.run(["sox", "-t", "ul" if s["codec"] == "PCMU" else "al", "-r", "8000", "-c", "1", rawf,
                                  "-t", "s16", "-e", "signed", "-b", "16", "-L", "-"], capture_output=True, check=True).stdout
            ref = struct.unpack("<%dh" % (len(dec) // 2), dec)
            ch = 0 if s["direction"] == "caller" else 1
            # the stream starts where its first packet arrived, relative to the call's first packet
            from datetime import datetime
            def ts(x):
                return datetime.strptime(x, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
            off = round((ts(s["first"]) - ts(t_start)) * 8000)
            best = None
            for d in range(off - 16, off + 17):  # ms rounding of the JSON times
                if d < 0:
                    continue
                seg = pcm[2 * d + ch::2][:len(ref)]
                if len(seg) == len(ref) and all(a == b for a, b in zip(seg, ref)):
                    best = d
                    break
            ok = best is not None
            fails += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {os.path.basename(pcap)} {s['src']}->{s['dst']} {s['codec']}: "
                  f"{len(ref)} samples {'bit-exact' if ok else 'differ'} vs tshark+sox")
sys.exit(1 if fails else 0)
