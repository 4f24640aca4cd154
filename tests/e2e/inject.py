#!/usr/bin/env python3
"""Send the frames of a pcap out of a network interface (raw AF_PACKET),
SPEEDUP times faster than captured: a live recorder on the other end of a
veth sees them as traffic. usage: inject.py IFACE PCAP [SPEEDUP]"""
import socket, struct, sys, time

iface, path = sys.argv[1], sys.argv[2]
speed = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
data = open(path, "rb").read()
magic = struct.unpack_from("<I", data, 0)[0]
if magic in (0xA1B2C3D4, 0xA1B23C4D):
    end, nsec = "<", magic == 0xA1B23C4D
elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
    end, nsec = ">", magic == 0x4D3CB2A1
else:
    sys.exit("not a pcap file (pcapng: convert with editcap -F pcap)")
link = struct.unpack_from(end + "I", data, 20)[0]
if link != 1:
    sys.exit("link type %d: only Ethernet captures can be injected" % link)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
off, t0, w0, n = 24, None, time.monotonic(), 0
while off + 16 <= len(data):
    sec, frac, incl, _ = struct.unpack_from(end + "IIII", data, off)
    off += 16
    frame = data[off:off + incl]
    off += incl
    t = sec + frac / (1e9 if nsec else 1e6)
    if t0 is None:
        t0 = t
    delay = (t - t0) / speed - (time.monotonic() - w0)
    if delay > 0:
        time.sleep(delay)
    s.send(frame)
    n += 1
print("inject: %d frames from %s on %s" % (n, path, iface))
