#!/usr/bin/env python3
"""On-demand pause/resume on a generated call: by the recording SIP header
(INFO X-Record), by SIP INFO DTMF and by RFC 4733 DTMF sequences. Each paused
span must be in the index with its trigger, start and end within 20 ms of the
trigger, no packet of it stored (NOT_RECORDED counts exactly tshark's packets
inside the spans, within one packet per boundary) and export as silence.
A second run where the policy forbids on-demand changes records everything
and counts the refusals (metrics). usage: ondemand.py BUILD GEN_CALL"""
import json, os, re, struct, subprocess, sys, tempfile, wave
from datetime import datetime, timezone

build, gen = sys.argv[1:3]
T0 = 1767225600.0 + 1.02  # the generator's media start
ev = {"hdr": [(10, "pause"), (20, "resume")], "info": [(30, "*"), (30.2, "1"), (35, "*"), (35.2, "2")],
      "rfc": [(42, "*1"), (48, "*2")]}
want = [(T0 + 10, T0 + 20, "sip"), (T0 + 30.2, T0 + 35.2, "dtmf"), (T0 + 42.2, T0 + 48.2, "dtmf")]
tmp = tempfile.mkdtemp()
pcap, store = tmp + "/c.pcap", tmp + "/s"
# a steady tone: any zero sample in the export is audio not recorded
payload = tmp + "/tone.ul"
subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-t", "ul", payload, "synth", "30", "sine", "440",
                "vol", "0.5"], check=True)
env = dict(os.environ, GEN_EVENTS=",".join("%s:%s:%s" % (t, k, a) for k, l in ev.items() for t, a in l))
subprocess.run([sys.executable, gen, pcap, "1", payload], check=True, env=env, capture_output=True)
open(tmp + "/c.ini", "w").write("[ondemand]\ndtmf_pause = *1\ndtmf_resume = *2\n")
log = subprocess.run([build + "/app/callrecd", "--pcap", pcap, "--store", store, "--config", tmp + "/c.ini"],
                     check=True, capture_output=True, text=True).stderr
not_rec = int(re.search(r"NOT_RECORDED +(\d+)", log).group(1))
call = json.loads(subprocess.run([build + "/app/callrec", "calls", "--store", store, "--json"], check=True,
                                 capture_output=True, text=True).stdout.splitlines()[0])
show = json.loads(subprocess.run([build + "/app/callrec", "show", "--store", store, "--call-id", call["call_id"],
                                  "--json"], check=True, capture_output=True, text=True).stdout)
ts = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
spans = [(ts(s["from"]), ts(s["to"]), s["by"]) for s in show["not_recorded_spans"]]
print("spans:", [(round(a - T0, 3), round(b - T0, 3), w) for a, b, w in spans])
assert len(spans) == 3, spans
for (a, b, w), (ea, eb, ew) in zip(spans, want):
    assert w == ew and abs(a - ea) <= 0.02 and abs(b - eb) <= 0.02, ((a, b, w), (ea, eb, ew))
# tshark: RTP packets (both ways) inside the spans
rows = subprocess.run(["tshark", "-r", pcap, "-Y", "udp.port >= 40000", "-T", "fields", "-e", "frame.time_epoch"],
                      check=True, capture_output=True, text=True).stdout.split()
inside = sum(1 for t in map(float, rows) if any(a <= t < b for a, b, _ in spans))
print("NOT_RECORDED %d, tshark packets inside the spans %d" % (not_rec, inside))
assert abs(not_rec - inside) <= 2 * 2 * len(spans), (not_rec, inside)
# export: silence inside every span (20 ms margin), audio around
subprocess.run([build + "/app/callrec", "export", "--store", store, "--call-id", call["call_id"], "--out",
                tmp + "/o.wav"], check=True, capture_output=True)
w = wave.open(tmp + "/o.wav")
rate, n = w.getframerate(), w.getnframes()
pcm = struct.unpack("<%dh" % (2 * n), w.readframes(n))
start = min(ts(s["first"]) for s in show["streams"])
for a, b, _ in spans:
    i, j = int((a - start + 0.02) * rate), int((b - start - 0.02) * rate)
    loud = sum(1 for k in range(2 * i, 2 * j) if pcm[k])
    assert loud == 0, "%d non-zero samples inside the span %.2f-%.2f" % (loud, a - T0, b - T0)
    before = sum(abs(pcm[k]) for k in range(2 * max(0, i - rate), 2 * (i - int(0.04 * rate))))
    assert before > 0, "no audio before the span"
# the policy may forbid it: nothing paused, every trigger refused and counted
open(tmp + "/n.ini", "w").write("[ondemand]\ndtmf_pause = *1\ndtmf_resume = *2\n"
                                 "[policy]\ndefault = record ondemand=no\n")
log = subprocess.run([build + "/app/callrecd", "--pcap", pcap, "--store", tmp + "/n", "--config", tmp + "/n.ini",
                      "--metrics-file", tmp + "/m.prom"], check=True, capture_output=True, text=True).stderr
assert "NOT_RECORDED" not in log, log
assert "refused by its recording policy" in log, "refusals are not logged"
m = open(tmp + "/m.prom").read()
refused = float(re.search(r"^callrec_ondemand_refused_total (\S+)", m, re.M).group(1))
print("refused on-demand requests:", refused)
assert refused >= 4, refused  # header pause/resume, two DTMF sequences (SIP INFO, RFC 4733)
# a call the policy skips, started on demand 20 s in: without look-back its
# audio starts at the start; with lookback_s = 10 the 10 s before it are kept
env = dict(os.environ, GEN_EVENTS="20:hdr:start")
subprocess.run([sys.executable, gen, tmp + "/lb.pcap", "0.5", payload], check=True, env=env,
               capture_output=True)
for lb, want in ((0, 1000), (10, 2000)):
    open(tmp + "/lb.ini", "w").write("[policy]\ndefault = skip\n[ondemand]\nlookback_s = %d\n" % lb)
    log = subprocess.run([build + "/app/callrecd", "--pcap", tmp + "/lb.pcap", "--store", tmp + "/lb%d" % lb,
                          "--config", tmp + "/lb.ini"], check=True, capture_output=True, text=True).stderr
    rtp = int(re.search(r"^  RTP +(\d+)", log, re.M).group(1))
    nr = int(re.search(r"NOT_RECORDED +(\d+)", log).group(1))
    print("lookback %d s: %d packets recorded, %d not" % (lb, rtp, nr))
    # cut to the packet at the look-back edge, whatever the chunk size (one
    # packet a direction on the boundary either way); also with 4 KB chunks
    assert want - 2 <= rtp <= want + 2 and rtp + nr == 3000, (lb, rtp, nr)
    if lb:
        log4 = subprocess.run([build + "/app/callrecd", "--pcap", tmp + "/lb.pcap", "--store",
                               tmp + "/lb4k", "--config", tmp + "/lb.ini", "--set", "limits.chunk_kb=4"],
                              check=True, capture_output=True, text=True).stderr
        rtp4 = int(re.search(r"^  RTP +(\d+)", log4, re.M).group(1))
        assert rtp4 == rtp, (rtp4, rtp)
subprocess.run(["rm", "-rf", tmp])
print("on-demand ok")
