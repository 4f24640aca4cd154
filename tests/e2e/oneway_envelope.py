#!/usr/bin/env python3
"""pcaps 01-09 carry the same FreeSWITCH prompt in different codecs; the L16
streams in 08 are a lossless reference. Export every call, take its audio
channel, and correlate 10 ms RMS envelopes with the reference (best lag within
300 ms). Codecs we cannot decode (iLBC, Speex) must be reported as stored but
not decodable, never dropped. Needs numpy (/usr/bin/python3)."""
import glob
import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

build, shared = sys.argv[1], sys.argv[2]
MIN_R = float(os.environ.get("MIN_ENV_CORR", "0.90"))


def export_calls(pcap, tmp):
    store = tempfile.mkdtemp(dir=tmp)
    subprocess.run([os.path.join(build, "app", "callrecd"), "--quiet", "--pcap", pcap, "--store", store], check=True)
    calls = [json.loads(l) for l in subprocess.run([os.path.join(build, "app", "callrec"), "calls", "--store", store,
             "--json"], capture_output=True, text=True, check=True).stdout.splitlines() if l.strip()]
    res = []
    for c in calls:
        # these captures are one-way by construction: the recorder must say so
        if c["state"] in ("completed", "answered") and c["streams"] and not c.get("one_way_audio"):
            sys.exit("%s: call %s not reported as one-way audio" % (pcap, c["call_id"]))
        out = os.path.join(tmp, "x.wav")
        r = subprocess.run([os.path.join(build, "app", "callrec"), "export", "--store", store, "--call-id",
                            c["call_id"], "--out", out], capture_output=True, text=True)
        codec = c["streams"][0]["codec"] if c["streams"] else "?"
        if r.returncode != 0:
            res.append((c, codec, None, r.stderr.strip()))
            continue
        with wave.open(out) as w:
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels()).astype(float)
            rate = w.getframerate()
        # the one audio channel: the callee (FreeSWITCH) sends, SIPp receives
        ch = int(np.argmax([np.abs(x[:, i]).sum() for i in range(x.shape[1])]))
        res.append((c, codec, (x[:, ch], rate), ""))
    return res


def envelope(sig, rate):
    n = rate // 100
    k = len(sig) // n
    return np.sqrt((sig[:k * n].reshape(k, n) ** 2).mean(axis=1))


def corr(a, b, maxlag=30):
    best = -1
    for lag in range(-maxlag, maxlag + 1):
        x, y = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
        m = min(len(x), len(y))
        if m < 100:
            continue
        x, y = x[:m] - x[:m].mean(), y[:m] - y[:m].mean()
        d = np.sqrt((x * x).sum() * (y * y).sum())
        if d > 0:
            best = max(best, (x * y).sum() / d)
    return best


with tempfile.TemporaryDirectory() as tmp:
    ref = None
    for c, codec, audio, _ in export_calls(glob.glob(os.path.join(shared, "pcaps", "08_*"))[0], tmp):
        if audio and c["streams"][0]["ssrc"] == 0x043DA974:  # L16/8000/2
            ref = envelope(*audio)
    assert ref is not None, "L16 reference stream not exported"
    fails = 0
    for f in sorted(glob.glob(os.path.join(shared, "pcaps", "0[1-9]_*"))):
        for c, codec, audio, err in export_calls(f, tmp):
            name = os.path.basename(f)[:24]
            if audio is None:
                ok = codec.upper() in ("ILBC", "SPEEX") and "no decodable audio" in err
                fails += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {name} {codec}: stored, not decodable ({err})")
                continue
            r = corr(envelope(*audio), ref)
            ok = r >= MIN_R
            fails += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name} {codec} ssrc {c['streams'][0]['ssrc']:#x}: envelope r = {r:.4f}")
    sys.exit(1 if fails else 0)
