#!/usr/bin/env python3
"""Write a pcap with one realistic SIP call: INVITE/180/200/ACK, RTP both ways
for the given minutes (20 ms frames, real audio payloads taken from a file of
the codec's bytes, looped), BYE/200. Deterministic for a given seed.
usage: gen_call.py OUT.pcap MINUTES PAYLOAD_FILE [PT=0]
GEN_EVENTS="T:hdr:ACTION,T:info:DIGIT,T:rfc:DIGITS" adds on-demand triggers
from the caller, T seconds into the media: a SIP INFO carrying the recording
header (X-Record: ACTION), a SIP INFO DTMF digit, RFC 4733 digits (PT 101,
replacing the caller's audio packets while they sound)."""
import os
import random
import struct
import sys

out, minutes, payload_file = sys.argv[1], float(sys.argv[2]), sys.argv[3]
pt = int(sys.argv[4]) if len(sys.argv) > 4 else 0
audio = open(payload_file, "rb").read()
rnd = random.Random(7)
A, B = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 20])
T0 = 1767225600.0
frames = []


def udp(t, src, sp, dst, dp, pl):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(pl), 0, 0, 64, 17, 0, src, dst)
    u = struct.pack("!HHHH", sp, dp, 8 + len(pl), 0)
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    frames.append((t, eth + ip + u + pl))


def sip(t, a2b, text):
    udp(t, A if a2b else B, 5060, B if a2b else A, 5060, text.replace("\n", "\r\n").encode())


hdr = ("Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\nFrom: <sip:1001@192.0.2.10>;tag=a\n"
       "To: <sip:2002@192.0.2.20>{tt}\nCall-ID: bench-call@192.0.2.10\nCSeq: {cs}\n")
sdp = ("v=0\no=- 1 1 IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\nm=audio {port} RTP/AVP {pt} 101\n"
       "a=rtpmap:101 telephone-event/8000\n")
pad = int(os.environ.get("GEN_SDP_PAD", "0"))  # bytes of a= lines: jumbo frames


def msg(first, tt, cs, body=None, extra="", ctype="application/sdp"):
    if body and ctype == "application/sdp" and pad:
        body += "".join("a=x-pad:%s\n" % ("p" * 60) for _ in range(pad // 70))
    s = first + "\n" + hdr.format(tt=tt, cs=cs) + extra
    if body:
        b = body.replace("\n", "\r\n")
        return s + f"Content-Type: {ctype}\nContent-Length: {len(b)}\n\n" + body
    return s + "Content-Length: 0\n\n"
events = [e.split(":", 2) for e in os.environ.get("GEN_EVENTS", "").split(",") if e]
rfc = {}  # caller packet index -> (digit, packet number within the digit)
cseq = 3
for at, kind, arg in events:
    at = float(at)
    if kind in ("hdr", "info"):
        body = None if kind == "hdr" else f"Signal={arg}\nDuration=160\n"
        extra = f"X-Record: {arg}\n" if kind == "hdr" else ""
        sip(T0 + 1.02 + at, 1, msg("INFO sip:2002@192.0.2.20 SIP/2.0", ";tag=b", f"{cseq} INFO",
                                   body, extra, "application/dtmf-relay"))
        sip(T0 + 1.03 + at, 0, msg("SIP/2.0 200 OK", ";tag=b", f"{cseq} INFO"))
        cseq += 1
    elif kind == "rfc":
        for k, d in enumerate(arg):
            first = int(round((at + k * 0.2) / 0.02))
            for j in range(8):  # 160 ms per digit, the last 3 packets are the end
                rfc[first + j] = (d, j)
sip(T0, 1, msg("INVITE sip:2002@192.0.2.20 SIP/2.0", "", "1 INVITE", sdp.format(ip="192.0.2.10", port=40000, pt=pt)))
sip(T0 + 0.01, 0, msg("SIP/2.0 180 Ringing", ";tag=b", "1 INVITE"))
sip(T0 + 1.0, 0, msg("SIP/2.0 200 OK", ";tag=b", "1 INVITE", sdp.format(ip="192.0.2.20", port=50000, pt=pt)))
sip(T0 + 1.01, 1, msg("ACK sip:2002@192.0.2.20 SIP/2.0", ";tag=b", "1 ACK"))
n = int(minutes * 60 * 50)
for d, (src, sp, dst, dp, ssrc, off) in enumerate(((A, 40000, B, 50000, 0x1111, 0), (B, 50000, A, 40000, 0x2222, 80000))):
    for i in range(n):
        t = T0 + 1.02 + i * 0.02 + rnd.uniform(0, 0.002)
        o = (off + i * 160) % max(1, len(audio) - 160)
        rtp = struct.pack("!BBHII", 0x80, pt, i & 0xffff, (i * 160) & 0xffffffff, ssrc) + audio[o:o + 160]
        if d == 0 and i in rfc:
            dg, j = rfc[i]
            ev = "0123456789*#".index(dg)
            start = i - j
            end = 0x80 if j >= 5 else 0
            rtp = struct.pack("!BBHIIBBH", 0x80, 101 | (0x80 if j == 0 else 0), i & 0xffff,
                              (start * 160) & 0xffffffff, ssrc, ev, end | 10, min(j + 1, 6) * 160)
        udp(t, src, sp, dst, dp, rtp)
te = T0 + 1.02 + n * 0.02 + 0.01
sip(te, 1, msg("BYE sip:2002@192.0.2.20 SIP/2.0", ";tag=b", f"{cseq} BYE"))
sip(te + 0.005, 0, msg("SIP/2.0 200 OK", ";tag=b", f"{cseq} BYE"))
frames.sort(key=lambda f: f[0])
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for t, b in frames:
        sec = int(t)
        f.write(struct.pack("<IIII", sec, int(round((t - sec) * 1e6)), len(b), len(b)))
        f.write(b)
print(f"{out}: {len(frames)} packets, {n} RTP frames per direction, payload {2 * n * 160} bytes")
