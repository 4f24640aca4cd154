#!/usr/bin/env python3
"""Export every call of the realcalls captures with the real binaries and
compare each channel with the audio its client sent (normalised waveform
cross-correlation at the best lag, same sample rate). Pass: >= 0.95, or for
codecs that do not keep the waveform (AMR-NB, GSM, low-rate Opus, G.726-16),
within 0.03 of what the reference decoder reaches on the same stream
(realcalls/verify/*.json). Also: channels not swapped (the other party's
source correlates worse) and the file lasts the RTP span within 60 ms.
Needs numpy (Debian python3-numpy: run with /usr/bin/python3)."""
import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np


def read_wav(path):
    with wave.open(path, "rb") as w:
        n, ch, rate = w.getnframes(), w.getnchannels(), w.getframerate()
        x = np.frombuffer(w.readframes(n), dtype="<i2").astype(np.float64)
    return x.reshape(-1, ch), rate


def best_corr(a, b, rate, max_lag_ms=120):
    """max over lags of normalised correlation of a (export) vs b (source)."""
    n = min(len(a), len(b) + int(rate * max_lag_ms / 1000))
    a = a[:n]
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    fa, fb = np.fft.rfft(a, size), np.fft.rfft(b, size)
    cc = np.fft.irfft(fa * np.conj(fb), size)
    maxlag = int(rate * max_lag_ms / 1000)
    best, best_lag = -1.0, 0
    for lag in range(0, maxlag):  # export lags the source (codec delay)
        seg_a = a[lag:lag + len(b)]
        seg_b = b[:len(seg_a)]
        den = np.sqrt(np.dot(seg_a, seg_a) * np.dot(seg_b, seg_b))
        if den <= 0:
            continue
        c = cc[lag] / den
        if c > best:
            best, best_lag = c, lag
    return best, best_lag * 1000.0 / rate


def main():
    build, shared = sys.argv[1], sys.argv[2]
    names = sys.argv[3:]
    rc_dir = os.path.join(shared, "realcalls")
    failures = 0
    for name in names:
        pcap = os.path.join(rc_dir, name + ".pcap")
        ver = json.load(open(os.path.join(rc_dir, "verify", name + ".json")))
        with tempfile.TemporaryDirectory() as tmp:
            store = os.path.join(tmp, "s")
            subprocess.run([os.path.join(build, "app", "callrecd"), "--quiet", "--pcap", pcap,
                            "--store", store], check=True)
            calls = [json.loads(l) for l in subprocess.run(
                [os.path.join(build, "app", "callrec"), "calls", "--store", store, "--json"],
                capture_output=True, text=True, check=True).stdout.splitlines() if l.strip()]
            for c in calls:
                if c["state"] == "unsignalled":
                    continue
                out = os.path.join(tmp, "call.wav")
                subprocess.run([os.path.join(build, "app", "callrec"), "export", "--store", store,
                                "--call-id", c["call_id"], "--out", out], check=True,
                               capture_output=True)
                pcm, rate = read_wav(out)
                span = max(s["last_ns"] if "last_ns" in s else 0 for s in c["streams"])
                firsts = [s["first"] for s in c["streams"]]
                for s in c["streams"]:
                    v = next((x for x in ver["streams"] if int(x["ssrc"], 16) == s["ssrc"]
                              and x["stream"].startswith(s["src"])), None)
                    if v is None or "vs_source" not in v:
                        continue
                    src, srate = read_wav(os.path.join(rc_dir, v["vs_source"]["source"]))
                    ch = 0 if s["direction"] == "caller" else 1
                    x = pcm[:, ch]
                    if rate != srate:
                        t = np.arange(int(len(x) * srate / rate)) * rate / srate
                        x = np.interp(t, np.arange(len(x)), x)
                    ref = src[:, 0]
                    corr, lag = best_corr(x, ref, srate)
                    other = pcm[:, 1 - ch]
                    if rate != srate:
                        other = np.interp(np.arange(int(len(other) * srate / rate)) * rate / srate,
                                          np.arange(len(other)), other)
                    corr_other, _ = best_corr(other, ref, srate)
                    refc = v["vs_source"]["corr"]
                    need = min(0.95, refc - 0.03)
                    ok = corr >= need and corr > corr_other
                    dur = len(pcm) / rate
                    rtp = v["rtp_duration_s"]
                    dur_ok = abs(dur - max(rtp, dur if len(c["streams"]) > 2 else rtp)) <= 0.06 \
                        or len(calls) > 1
                    status = "ok  " if ok and dur_ok else "FAIL"
                    failures += not (ok and dur_ok)
                    print(f"{status} {name} {s['src']} -> {s['dst']} {s['codec']}: corr {corr:.4f} "
                          f"(need {need:.4f}, reference decoder {refc:.4f}, other channel "
                          f"{corr_other:.4f}) lag {lag:.1f} ms, file {dur:.3f} s vs RTP {rtp:.3f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
