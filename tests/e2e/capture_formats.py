#!/usr/bin/env python3
"""callrecd reads capture files itself (classic pcap parsed from big reads,
anything else through libpcap). The same packets written as classic pcap in
either byte order, with micro- or nanosecond timestamps, and as pcapng must
import to the same calls (tshark writes the pcapng); a capture cut inside its
last record, and one whose record length is corrupt, import what comes before,
warn, count callrec_capture_errors_total, and account for every packet read.

usage: capture_formats.py BUILD CAPTURE [CALLRECD ARGS...]
CAPTURE: classic pcap, little-endian, us. With --set import.direct_io=yes
every capture parsed here must also say it was read with O_DIRECT."""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

build, src, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
direct = "import.direct_io=yes" in extra
callrecd = os.path.join(build, "app", "callrecd")
callrec = os.path.join(build, "app", "callrec")
data = open(src, "rb").read()
assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4, "test input must be LE microsecond pcap"
hdr, recs = data[:24], []
off = 24
while off + 16 <= len(data):
    sec, usec, cap, wire = struct.unpack("<IIII", data[off:off + 16])
    recs.append((sec, usec, cap, wire, data[off + 16:off + 16 + cap]))
    off += 16 + cap


def classic(big_endian=False, nsec=False, recs=recs):
    e = ">" if big_endian else "<"
    magic, vmaj, vmin, tz, sig, snap, link = struct.unpack("<IHHiIII", hdr)
    out = [struct.pack(e + "IHHiIII", 0xA1B23C4D if nsec else 0xA1B2C3D4, vmaj, vmin, tz, sig, snap, link)]
    for sec, usec, cap, wire, pkt in recs:
        out.append(struct.pack(e + "IIII", sec, usec * 1000 if nsec else usec, cap, wire) + pkt)
    return b"".join(out)


def ng_block(e, btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def pcapng(big_endian=False, tsres=6, ifaces=((1, 65535),), pick=lambda i: 0, extra=None,
           recs=recs, ts_of=None):
    """pcapng written here: byte order, if_tsresol (10^-tsres), interfaces
    (link type, snaplen), which interface each packet names, and blocks
    inserted before packet i (extra: {i: bytes})"""
    e = ">" if big_endian else "<"
    out = [ng_block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for link, snap in ifaces:
        opts = struct.pack(e + "HHB3x", 9, 1, tsres) + struct.pack(e + "HH", 0, 0)
        out.append(ng_block(e, 1, struct.pack(e + "HHI", link, 0, snap) + opts))
    for i, (sec, usec, cap, wire, pkt) in enumerate(recs):
        if extra and i in extra:
            out.append(extra[i](e))
        link = ifaces[pick(i)][0] if pick(i) < len(ifaces) else 1
        if link == 113:  # the Ethernet frame as Linux cooked capture v1
            pkt = struct.pack(">HHH8sH", 0, 1, 6, pkt[6:12] + b"\0\0", struct.unpack(">H", pkt[12:14])[0]) + pkt[14:]
        elif link == 101:  # raw IP
            pkt = pkt[14:]
        cap, wire = len(pkt), wire - 14 + len(pkt) - (cap - 14)
        ts = (sec * 1000000 + usec) * 10 ** (tsres - 6)
        if ts_of and i in ts_of:
            ts = ts_of[i]
        out.append(ng_block(e, 6, struct.pack(e + "IIIII", pick(i), ts >> 32, ts & 0xFFFFFFFF, cap, wire)
                            + pkt))
    return b"".join(out)


def run(tmp, name, blob=None, path=None):
    if path is None:
        path = os.path.join(tmp, name + ".cap")
        open(path, "wb").write(blob)
    store, prom = os.path.join(tmp, name + ".s"), os.path.join(tmp, name + ".prom")
    r = subprocess.run([callrecd, "--pcap", path, "--store", store, "--metrics-file", prom] + extra,
                       capture_output=True, text=True, timeout=300)
    m = re.search(r"received (\d+) packets, accounted (\d+)", r.stderr)
    assert r.returncode == 0 and m and m.group(1) == m.group(2), (name, r.returncode, r.stderr[-2000:])
    d = re.search(r"^capture: (\d+) bytes, (\d+) read with O_DIRECT$", r.stderr, re.M)
    # read whole with O_DIRECT when asked (every file here is parsed by callrecd)
    assert d and int(d.group(2)) == (int(d.group(1)) if direct else 0), (name, d and d.group(0))
    errs = int(float(re.search(r"^callrec_capture_errors_total (\S+)$", open(prom).read(), re.M).group(1)))
    c = subprocess.run([callrec, "calls", "--store", store, "--json"], capture_output=True, text=True,
                       check=True)
    calls = sorted((j["call_id"], j["start"], j["end"], j["state"],
                    tuple(sorted((s["ssrc"], s["packets"], s["first"], s["last"], s["max_jitter_ms"])
                                 for s in j["streams"])))
                   for j in map(json.loads, c.stdout.splitlines()))
    return int(m.group(1)), errs, calls, r.stderr


fails = 0
with tempfile.TemporaryDirectory() as tmp:
    n0, e0, ref, _ = run(tmp, "le_us", path=src)
    assert n0 == len(recs) and e0 == 0 and ref, (n0, len(recs), e0)
    ng = os.path.join(tmp, "ng.pcapng")
    subprocess.run(["editcap", "-F", "pcapng", src, ng], check=True)
    for name, blob, path in (("be_us", classic(big_endian=True), None),
                             ("le_ns", classic(nsec=True), None),
                             ("be_ns", classic(big_endian=True, nsec=True), None),
                             ("pcapng", None, ng)):
        n, e, calls, _ = run(tmp, name, blob, path)
        ok = n == n0 and e == 0 and calls == ref
        fails += not ok
        print("%-4s %-7s %d packets, %d calls%s" % ("ok" if ok else "FAIL", name, n, len(calls),
                                                  "" if ok else "\n  %r\n  %r" % (calls, ref)))
    # pcapng parsed by callrecd itself: byte orders, timestamp units, two
    # interfaces of different snapshot lengths (mergecap of two taps: libpcap
    # stops at the second), blocks it skips (an unknown one, one too large
    # to hold); each is the same calls, no error
    two = ((1, 65535), (1, 262144))
    big = lambda e: ng_block(e, 4, b"\1" * 400000)  # a name resolution block
    for name, blob in (("ng_le_us", pcapng()), ("ng_be_ns", pcapng(big_endian=True, tsres=9)),
                       ("ng_2ifs", pcapng(ifaces=two, pick=lambda i: i % 2)),
                       ("ng_skip", pcapng(extra={3: lambda e: ng_block(e, 0x40000BAD, b"x" * 64),
                                                 7: big}))):
        n, e, calls, _ = run(tmp, name, blob)
        ok = n == n0 and e == 0 and calls == ref
        fails += not ok
        print("%-4s %-7s %d packets, %d calls, %d errors" % ("ok" if ok else "FAIL", name, n, len(calls), e))
    # interfaces of other link types (Linux cooked, raw IP: a merge of an
    # "any" capture and a tap's): their packets are rewritten as the first
    # interface's type, the same calls
    mixed = ((1, 65535), (113, 65535), (101, 65535))
    n, e, calls, _ = run(tmp, "ng_mixed", pcapng(ifaces=mixed, pick=lambda i: i % 3))
    ok = n == n0 and e == 0 and calls == ref
    fails += not ok
    print("%-4s ng_mixed %d packets, %d calls, %d errors" % ("ok" if ok else "FAIL", n, len(calls), e))
    # ... and the other way round (a raw IP port: every header stripped); a
    # packet naming no interface is a capture error, the rest imports
    n, e, calls, err = run(tmp, "ng_badif", pcapng(ifaces=tuple(reversed(mixed)),
                                                   pick=lambda i: 7 if i == 9 else i % 3))
    ok = n == n0 - 1 and e == 1 and len(calls) == len(ref)
    fails += not ok
    print("%-4s ng_badif %d of %d packets, %d capture error(s)" % ("ok" if ok else "FAIL", n, n0, e))
    # a damaged timestamp (beyond 2106, where classic pcap's 32-bit seconds
    # end) on one RTP packet: that packet is a capture error; before, its
    # time overflowed the stream's arithmetic (UBSan: signed overflow)
    rtp_i = next(i for i, r in enumerate(recs) if len(r[4]) > 200 and i > 100)
    n, e, calls, _ = run(tmp, "ng_badts", pcapng(ts_of={rtp_i: 0xFFFFFFFFFFFFFFF0}))
    ok = n == n0 - 1 and e == 1 and len(calls) == len(ref)
    fails += not ok
    print("%-4s ng_badts %d of %d packets, %d capture error(s)" % ("ok" if ok else "FAIL", n, n0, e))
    ng_all = pcapng()
    n, e, calls, err = run(tmp, "ng_cut", ng_all[:len(ng_all) - 40])
    ok = n == n0 - 1 and e == 1 and "cut short" in err
    fails += not ok
    print("%-4s ng_cut  %d of %d packets, %d capture error(s)" % ("ok" if ok else "FAIL", n, n0, e))
    # damaged pcapng (seeded byte changes in the first 300 blocks' headers
    # and lengths): never a crash, every packet read is accounted (run checks)
    import random
    rnd = random.Random(1)
    small = bytearray(pcapng(recs=recs[:300], ifaces=two, pick=lambda i: i % 2))
    bad_runs = 0
    for k in range(16):
        blob = bytearray(small)
        for _ in range(1 + k % 4):
            at = rnd.randrange(0, 2000) if k % 2 else rnd.randrange(len(blob))
            blob[at] = rnd.choice((0, 0xFF, 0x7F, 0x80, rnd.randrange(256)))
        path = os.path.join(tmp, "ng_damaged.cap")
        open(path, "wb").write(blob)
        r = subprocess.run([callrecd, "--pcap", path, "--store", os.path.join(tmp, "dmg%d" % k)] + extra,
                           capture_output=True, text=True, timeout=300)
        m = re.search(r"received (\d+) packets, accounted (\d+)", r.stderr)
        # imported with every packet read accounted, or refused with a reason
        ok = (r.returncode == 0 and m and m.group(1) == m.group(2)) or \
             (r.returncode in (1, 2) and "capture" in r.stderr)
        if not ok:
            bad_runs += 1
            print("FAIL ng_damaged%d: exit %d\n%s" % (k, r.returncode, r.stderr[-1500:]))
    fails += bad_runs
    if not bad_runs:
        print("ok   ng_damaged 16 damaged files: no crash, every packet read accounted")
    # cut inside the last record: everything before it, one error
    full = classic()
    n, e, calls, err = run(tmp, "cut", full[:len(full) - len(recs[-1][4]) // 2])
    ok = n == len(recs) - 1 and e == 1 and "cut short" in err
    fails += not ok
    print("%-4s cut     %d of %d packets, %d capture error(s)" % ("ok" if ok else "FAIL", n, len(recs), e))
    # a corrupt record length halfway: the packets before it, one error
    half = len(recs) // 2
    bad = classic(recs=recs[:half]) + struct.pack("<IIII", 0, 0, 0x7FFFFFFF, 60) + b"\0" * 60
    n, e, calls, err = run(tmp, "corrupt_len", bad)
    ok = n == half and e == 1 and "corrupt" in err
    fails += not ok
    print("%-4s badlen  %d of %d packets, %d capture error(s)" % ("ok" if ok else "FAIL", n, half, e))
    # records over 64 KiB (a capture of GRO'd segments): each packet a
    # chain of mbufs attached to its parts of the read buffer, in classic
    # pcap and pcapng; the same calls, every packet accounted
    giant = (b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" +
             struct.pack(">BBHHHBBH4s4s", 0x45, 0, 0, 1, 0x4000, 64, 6, 0, bytes([10, 9, 9, 1]),
                         bytes([10, 9, 9, 2])) +
             struct.pack(">HHIIBBHHH", 5060, 5060, 1, 0, 0x50, 0x18, 65535, 0, 0) + b"A" * 99946)
    sec, usec = recs[50][0], recs[50][1]
    recs_g = recs[:50] + [(sec, usec, len(giant), len(giant), giant)] * 2 + recs[50:]
    for name, blob in (("giant", classic(recs=recs_g)),
                       ("ng_giant", pcapng(recs=recs_g, ifaces=((1, 262144),)))):
        n, e, calls, _ = run(tmp, name, blob)
        ok = n == n0 + 2 and e == 0 and calls == ref
        fails += not ok
        print("%-4s %-8s %d packets (2 of %d bytes), %d calls, %d errors" % (
            "ok" if ok else "FAIL", name, n, len(giant), len(calls), e))
    # an empty capture (header only)
    n, e, calls, _ = run(tmp, "empty", hdr)
    ok = n == 0 and e == 0 and calls == []
    fails += not ok
    print("%-4s empty   %d packets" % ("ok" if ok else "FAIL", n))
sys.exit(1 if fails else 0)
