#!/usr/bin/env bash
# Captures read with O_DIRECT (native AIO into the mirrored read ring,
# lib/engine/cr_capin.c) import to exactly what reading through the page
# cache (and libpcap) gives: the same calls, streams and audio, every packet accounted, on
# a capture more than twice the ring (records across its end, regions read
# again; 200 KB records across it too), in classic pcap and pcapng, with 1
# and 2 workers; a file whose size
# is a whole number of regions (the end found by a read past it); and a direct
# read that fails (--fault dio:N: EIO) is read again through the page cache,
# said once, and nothing is lost.
set -euo pipefail
B=$1 GEN=$2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
head -c 8192 /dev/zero >"$T/probe"
python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT))' "$T/probe" ||
	{ echo "SKIP: $T refuses O_DIRECT"; exit 77; }
sox -n -r 8000 -c 1 -t ul "$T/a.ul" synth 4 pinknoise vol 0.3
python3 "$GEN" "$T/c.pcap" 40 12 "$T/a.ul" >/dev/null
editcap -F pcapng "$T/c.pcap" "$T/c.pcapng"
size=$(stat -c %s "$T/c.pcap")
[ "$size" -gt $((9 << 20)) ] || { echo "capture of $size bytes: not over twice the 4 MiB ring"; exit 1; }

# run NAME CAPTURE ARGS...: import; prints "packets direct_bytes calls_md5"
run() {
	local n=$1 cap=$2; shift 2
	"$B/app/callrecd" --pcap "$cap" --store "$T/$n" "$@" >"$T/$n.log" 2>&1 ||
		{ cat "$T/$n.log"; exit 1; }
	local rx acc d md
	read -r rx acc < <(sed -n 's/^received \([0-9]*\) packets, accounted \([0-9]*\)$/\1 \2/p' "$T/$n.log")
	[ -n "$rx" ] && [ "$rx" = "$acc" ] || { echo "$n: received $rx, accounted $acc"; exit 1; }
	d=$(sed -n 's/^capture: [0-9]* bytes, \([0-9]*\) read with O_DIRECT$/\1/p' "$T/$n.log")
	md=$("$B/app/callrec" calls --store "$T/$n" --json | md5sum | cut -c1-32)
	echo "$rx $d $md"
}
fails=0
check() { # what got expected
	if [ "$2" = "$3" ]; then echo "ok   $1: $2"; else echo "FAIL $1: $2, expected $3"; fails=$((fails + 1)); fi
}

read -r n0 d0 m0 < <(run page "$T/c.pcap" --set import.direct_io=no)
check "page cache: O_DIRECT bytes" "$d0" 0
# what independent readers see: libpcap (a pcap variant callrecd leaves to
# it) gives the same calls; capinfos the packets; 40 calls of 2 streams
editcap -F modpcap "$T/c.pcap" "$T/c.modpcap"
read -r nl dl ml < <(run libpcap "$T/c.modpcap")
check "libpcap: packets, calls" "$nl $ml" "$n0 $m0"
check "page cache: packets (capinfos)" "$n0" "$(capinfos -Mc "$T/c.pcap" | awk '/packets:/{print $NF}')"
check "page cache: calls and streams" \
	"$(sqlite3 "$T/page/index.sqlite" "select count(*) from calls; select count(*) from streams" | tr '\n' ' ')" "40 80 "
read -r n1 d1 m1 < <(run direct "$T/c.pcap" --set import.direct_io=yes)
check "direct: packets, O_DIRECT bytes, calls" "$n1 $d1 $m1" "$n0 $size $m0"
# auto reads this one (under 32 MiB) through the page cache
read -r n2 d2 m2 < <(run auto "$T/c.pcap")
check "auto: packets, O_DIRECT bytes, calls" "$n2 $d2 $m2" "$n0 0 $m0"
read -r n3 d3 m3 < <(run direct2 "$T/c.pcap" --set import.direct_io=yes --workers 2)
check "direct, 2 workers: packets, O_DIRECT bytes, calls" "$n3 $d3 $m3" "$n0 $size $m0"
ngsize=$(stat -c %s "$T/c.pcapng")
read -r n4 d4 m4 < <(run ngpage "$T/c.pcapng" --set import.direct_io=no)
read -r n5 d5 m5 < <(run ngdirect "$T/c.pcapng" --set import.direct_io=yes)
check "pcapng direct: packets, O_DIRECT bytes, calls" "$n5 $d5 $m5" "$n4 $ngsize $m4"
check "pcapng: the same calls as classic pcap" "$n4 $m4" "$n0 $m0"

# the same audio: every call exported from both stores is what the store
# libpcap's reader filled holds (records across the ring's end included)
for cid in $("$B/app/callrec" calls --store "$T/page" --json | python3 -c '
import json, sys
print(" ".join(json.loads(l)["call_id"] for l in sys.stdin))'); do
	"$B/app/callrec" export --store "$T/libpcap" --call-id "$cid" --out "$T/l.wav" 2>/dev/null
	for st in page direct; do
		"$B/app/callrec" export --store "$T/$st" --call-id "$cid" --out "$T/x.wav" 2>/dev/null
		cmp -s "$T/l.wav" "$T/x.wav" ||
			{ echo "FAIL $st: export of $cid differs"; fails=$((fails + 1)); }
	done
done
echo "exports compared"

# a failed direct read: read again through the page cache, said once
read -r n6 d6 m6 < <(run fault "$T/c.pcap" --set import.direct_io=yes --fault dio:3)
check "failed direct read: packets, calls" "$n6 $m6" "$n0 $m0"
warned=$(grep -c "direct read failed" "$T/fault.log" || true)
check "failed direct read: warnings" "$warned" 1
[ "$d6" -lt "$size" ] || { echo "FAIL fault: all $d6 bytes read directly"; fails=$((fails + 1)); }

# a block too large to hold (12 MB, of a kind callrecd skips) in the middle:
# passed over, its whole regions unread (past the 4 MiB read ahead), in
# both modes
python3 - "$T/c.pcapng" "$T/skip.pcapng" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
off = n = 0
while n < 2000:  # past the section header, the interface and ~2000 packets
    off += struct.unpack("<I", d[off + 4:off + 8])[0]
    n += 1
body = b"\x5a" * (12 << 20)
blk = struct.pack("<II", 0x40000BAD, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
open(sys.argv[2], "wb").write(d[:off] + blk + d[off:])
EOF
read -r n8 d8 m8 < <(run skip_page "$T/skip.pcapng" --set import.direct_io=no)
check "skipped block, page cache: packets, calls" "$n8 $m8" "$n0 $m0"
read -r n9 d9 m9 < <(run skip_direct "$T/skip.pcapng" --set import.direct_io=yes)
check "skipped block, direct: packets, calls" "$n9 $m9" "$n0 $m0"
[ "$d9" -lt $((ngsize + (12 << 20) - (5 << 20))) ] ||
	{ echo "FAIL skipped block: $d9 bytes read directly, its regions were read"; fails=$((fails + 1)); }

# records of 200,000 bytes (chains of mbufs, one per 64 KiB part) every
# ~600 KB, one across the ring's end (its chain attached through the second
# view): every packet accounted, the same calls (RTP records across the end
# are checked by the exports above)
python3 - "$T/c.pcap" "$T/giant.pcap" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
out, off, last = [d[:24]], 24, 24
frame = b"\x02" * 12 + b"\x88\xb5" + bytes(range(256)) * 781 + b"\0" * 50
size, seam, across = 24, 8 << 20, 0  # the ring's end, 8 MiB into the file
while off + 16 <= len(d):
    sec, usec, cap, wire = struct.unpack("<IIII", d[off:off + 16])
    out.append(d[off:off + 16 + cap])
    off += 16 + cap
    size += 16 + cap
    if off - last > 600000 or (not across and seam - 150000 <= size < seam - 16):
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
        across |= size < seam < size + 16 + len(frame)
        size += 16 + len(frame)
        last = off
assert across, "no record across the ring's end"
open(sys.argv[2], "wb").write(b"".join(out))
EOF
gcount=$(capinfos -Mc "$T/giant.pcap" | awk '/packets:/{print $NF}')
read -r n10 d10 m10 < <(run giant_direct "$T/giant.pcap" --set import.direct_io=yes)
read -r n11 d11 m11 < <(run giant_page "$T/giant.pcap" --set import.direct_io=no)
check "200 KB records, direct: packets, calls" "$n10 $m10" "$gcount $m0"
check "200 KB records, page cache: packets, calls" "$n11 $m11" "$gcount $m0"
[ "$gcount" -gt $((n0 + 15)) ] || { echo "FAIL: only $((gcount - n0)) giant records"; fails=$((fails + 1)); }

# a whole number of 256 KiB regions: one more record (not IP) pads it
python3 - "$T/c.pcap" "$T/whole.pcap" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
R = 256 << 10
cap = -(len(d) + 16) % R
cap += R if cap < 60 else 0
frame = b"\x02" * 12 + b"\x88\xb5" + b"\0" * (cap - 14)
sec, usec = struct.unpack("<II", d[24:32])
open(sys.argv[2], "wb").write(d + struct.pack("<IIII", sec, usec, cap, cap) + frame)
EOF
wsize=$(stat -c %s "$T/whole.pcap")
check "padded size a multiple of 256 KiB" $((wsize % 262144)) 0
read -r n7 d7 m7 < <(run whole "$T/whole.pcap" --set import.direct_io=yes)
check "whole regions: packets, O_DIRECT bytes, calls" "$n7 $d7 $m7" "$((n0 + 1)) $wsize $m0"
[ "$fails" = 0 ]
