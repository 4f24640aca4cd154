#!/usr/bin/env python3
"""Write a pcap of N concurrent G.711 calls of SECONDS each (SIP INVITE/200/
ACK, RTP both ways every 20 ms with real audio bytes from a file, BYE/200),
starts staggered by 10 ms, in time order; written as it goes (1.2 M packets
for 200 calls x 60 s in about 20 s). For the import benchmark of issue 5.
usage: gen_load.py OUT.pcap CALLS SECONDS PAYLOAD_FILE [LOSS_PCT]"""
import random
import struct
import sys

out, calls, secs, payload = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
loss = float(sys.argv[5]) / 100 if len(sys.argv) > 5 else 0.0
rnd = random.Random(5)
audio = open(payload, "rb").read()
# each direction of each call its own audio (the file from its own offset,
# with its own byte mapping): streams sharing bytes would let lz4 find one in
# another and flatter storage (both directions of a call carried the same
# bytes until 2026-11: stored bytes were half of what real calls store)
audios = {}


def stream_audio(k, d):
    if (k, d) not in audios:
        key = ((2 * k + d) * 37 + 11) & 0xFF
        audios[(k, d)] = audio.translate(bytes(b ^ key for b in range(256)))
    return audios[(k, d)]
T0 = 1767225600.0
f = open(out, "wb")
f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
ETH = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
count = 0


def put(t, src, sp, dst, dp, pl):
    global count
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(pl), 0, 0, 64, 17, 0, src, dst)
    b = ETH + ip + struct.pack("!HHHH", sp, dp, 8 + len(pl), 0) + pl
    sec = int(t)
    f.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(b), len(b)) + b)
    count += 1


def addr(k, side):
    return bytes([10, (k >> 8) & 255, k & 255, side])


def sip(t, k, a2b, first, tag, cseq, sdp_port=None):
    a, b = addr(k, 1), addr(k, 2)
    body = ""
    if sdp_port:
        ip = "10.%d.%d.%d" % ((k >> 8) & 255, k & 255, 1 if a2b else 2)
        body = ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\n"
                % (ip, ip, sdp_port))
    m = ("%s\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK%d\r\nFrom: <sip:u%d@a>;tag=a%d\r\n"
         "To: <sip:2002@b>%s\r\nCall-ID: load-%d@bench\r\nCSeq: %s\r\n" % (first, k, k, k, tag, k, cseq))
    m += ("Content-Type: application/sdp\r\n" if body else "") + "Content-Length: %d\r\n\r\n%s" % (len(body), body)
    put(t, a if a2b else b, 5060, b if a2b else a, 5060, m.encode())


ticks = int(secs * 50)
stagger = 0.01
total_ticks = ticks + int(calls * stagger / 0.02) + 2
for g in range(total_ticks):
    now = T0 + g * 0.02
    for k in range(calls):
        i = g - int(k * stagger / 0.02)  # this call's frame number
        if i == 0:
            sip(now - 0.012, k, 1, "INVITE sip:2002@b SIP/2.0", "", "1 INVITE", 40000)
            sip(now - 0.008, k, 0, "SIP/2.0 200 OK", ";tag=b", "1 INVITE", 50000)
            sip(now - 0.004, k, 1, "ACK sip:2002@b SIP/2.0", ";tag=b", "1 ACK")
        if 0 <= i < ticks:
            for d, (sp, dp, ssrc) in enumerate(((40000, 50000, 0x10000 + k), (50000, 40000, 0x20000 + k))):
                if loss and rnd.random() < loss:
                    continue  # lost on the way to the tap
                o = (k * 997 + d * (len(audio) // 2) + i * 160) % (len(audio) - 160)
                rtp = (struct.pack("!BBHII", 0x80, 0, i & 0xffff, (i * 160) & 0xffffffff, ssrc)
                       + stream_audio(k, d)[o:o + 160])
                put(now + d * 0.0005, addr(k, 1 + d), sp, addr(k, 2 - d), dp, rtp)
        if i == ticks:
            sip(now, k, 1, "BYE sip:2002@b SIP/2.0", ";tag=b", "2 BYE")
            sip(now + 0.002, k, 0, "SIP/2.0 200 OK", ";tag=b", "2 BYE")
f.close()
print("%s: %d packets, %d calls x %.0f s" % (out, count, calls, secs))
