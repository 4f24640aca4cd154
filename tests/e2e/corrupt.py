#!/usr/bin/env python3
"""Corrupt 2 % of the packet bytes of real captures (record headers kept, so
the file still reads) and run the real callrecd on each: it must exit 0, and
its report must account for every packet (received == accounted). Run under
the ASan+UBSan build in CI, so any memory error or UB aborts the test."""
import os
import random
import re
import struct
import subprocess
import sys
import tempfile

build, files = sys.argv[1], sys.argv[2:]
fails = 0
for path in files:
    data = bytearray(open(path, "rb").read())
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        continue  # pcapng: skip, the record walk below is for classic pcap
    for seed in (1, 2, 3):
        rnd = random.Random(seed)
        buf = bytearray(data)
        off = 24
        while off + 16 <= len(buf):
            caplen = struct.unpack("<I", buf[off + 8:off + 12])[0]
            start, end = off + 16, min(off + 16 + caplen, len(buf))
            for i in range(start, end):
                if rnd.random() < 0.02:
                    buf[i] = rnd.randrange(256)
            off = end
        with tempfile.TemporaryDirectory() as tmp:
            f = os.path.join(tmp, "c.pcap")
            open(f, "wb").write(buf)
            r = subprocess.run([os.path.join(build, "app", "callrecd"), "--pcap", f,
                                "--store", os.path.join(tmp, "s"), "--workers", "2"],
                               capture_output=True, text=True, timeout=300)
            m = re.search(r"received (\d+) packets, accounted (\d+)", r.stderr)
            ok = r.returncode == 0 and m and m.group(1) == m.group(2)
            if not ok:
                fails += 1
                print(f"FAIL {os.path.basename(path)} seed {seed}: rc {r.returncode}\n{r.stderr[-3000:]}")
    print(f"ok   {os.path.basename(path)}")
sys.exit(1 if fails else 0)
