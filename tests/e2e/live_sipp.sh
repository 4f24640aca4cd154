#!/usr/bin/env bash
# Live end-to-end test: SIPp calls between two network namespaces of our own,
# bridged in a third; callrecd records from the bridge with DPDK's
# net_af_packet PMD while dumpcap captures the same bridge as the oracle.
# Then: every RTP stream tshark finds in dumpcap's file is in callrec's index
# with the same packet count and loss; calls and users match.
# Needs root and iproute2; exits 77 (skipped) otherwise.
# With "rtc" as the second argument: run to completion, the bridge read by two
# af_packet queues (the kernel's symmetric fanout hash), one per worker.
set -euo pipefail
BUILD=$1 MODE=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "needs root: skipped"; exit 77; }
command -v sipp >/dev/null && command -v dumpcap >/dev/null && command -v ip >/dev/null \
  || { echo "sipp/dumpcap/ip missing: skipped"; exit 77; }
S=crt$$                      # unique names: tests may run in parallel
SW=${S}sw A=${S}a B=${S}b
W=$(mktemp -d /tmp/callrec-live.XXXXXX)
cleanup() {
  set +e
  [ -n "${CRPID:-}" ] && kill -INT $CRPID 2>/dev/null
  [ -n "${DCPID:-}" ] && kill $DCPID 2>/dev/null
  for ns in $A $B $SW; do ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del $ns 2>/dev/null; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
ip netns add $SW; ip netns add $A; ip netns add $B
ip -n $SW link add br0 type bridge
ip -n $SW link set br0 up
ip -n $SW link set lo up
i=0
for ns in $A $B; do
  i=$((i+1))
  ip link add ${S}p$i type veth peer name eth0 netns $ns
  ip link set ${S}p$i netns $SW
  ip -n $SW link set ${S}p$i master br0 up
  ip -n $ns addr add 198.51.100.$((129+i))/24 dev eth0
  ip -n $ns link set eth0 up
  ip -n $ns link set lo up
done
AIP=198.51.100.130 BIP=198.51.100.131
sox -n -r 8000 -c 1 -t ul "$W/tone.ul" synth 10 sine 440 vol 0.3
for f in uac uas; do
  sed -e "s#RTPFILE#$W/tone.ul#; s#CALLDUR#3000#" "$HERE/sipp/$f.xml" > "$W/$f.xml"
done
# metrics on the recorder's namespace loopback
printf '[telemetry]\nlisten = 127.0.0.1:9464\n' > "$W/live.ini"
VDEV=net_af_packet0,iface=br0,framecnt=4096 PROFILE="$HERE/../../drivers-config/af_packet.ini"
if [ "$MODE" = rtc ]; then
  VDEV=$VDEV,qpairs=2
  sed 's/^rx_queues = .*/rx_queues = workers/' "$PROFILE" > "$W/rtc.ini"; PROFILE=$W/rtc.ini
fi
# oracle capture and the recorder, both on the bridge
ip netns exec $SW dumpcap -q -i br0 -w "$W/oracle.pcap" 2>"$W/dumpcap.err" & DCPID=$!
ip netns exec $SW "$BUILD/app/callrecd" --no-huge --no-shconf --no-pci -m 512 --lcores '(0-2)@(0,1)' \
  --file-prefix=$S --no-telemetry --log-level=user1:error \
  --vdev=$VDEV -- --store "$W/store" --workers 2 \
  --config "$W/live.ini" --profile "$PROFILE" \
  > "$W/callrecd.out" 2>&1 & CRPID=$!
sleep 3
if ! kill -0 $CRPID 2>/dev/null; then
  wait $CRPID; echo "callrecd exited early (rc $?):"; cat "$W/callrecd.out"; CRPID=; exit 1
fi
ip netns exec $B sipp -sf "$W/uas.xml" -i $BIP -p 5060 -mi $BIP -mp 7000 -m 2 -nostdin \
  -trace_err > "$W/uas.out" 2>&1 & UAS=$!
sleep 0.5
ip netns exec $A sipp -sf "$W/uac.xml" $BIP:5060 -s bob -i $AIP -p 5060 -mi $AIP -mp 6000 \
  -r 1 -m 2 -l 1 -nostdin -trace_err -timeout 60s > "$W/uac.out" 2>&1
wait $UAS || true
sleep 1
# scrape while running: the format passes promtool, the fates add up to what
# was received, and both calls are counted
ip netns exec $SW curl -sf http://127.0.0.1:9464/metrics > "$W/metrics.txt" \
  || { echo "no /metrics"; exit 1; }
promtool check metrics < "$W/metrics.txt" || { echo "promtool rejects /metrics"; exit 1; }
python3 - "$W/metrics.txt" <<'PY' || exit 1
import re, sys
t = open(sys.argv[1]).read()
rx = int(re.search(r"^callrec_packets_received_total (\d+)", t, re.M).group(1))
fates = sum(int(v) for v in re.findall(r'^callrec_packets_total\{fate="[A-Z_]+"\} (\d+)', t, re.M))
calls = int(float(re.search(r"^callrec_calls_total (\S+)", t, re.M).group(1)))
print("metrics: received %d, fates sum %d, calls %d" % (rx, fates, calls))
sys.exit(0 if rx == fates and rx > 0 and calls == 2 else 1)
PY
if [ "$MODE" = rtc ]; then
  # the workers took every packet from their own queues (the main lcore
  # polled no port). Which queue a flow lands on is the kernel's fanout hash:
  # with a handful of flows all may land on one (case E of dpdk_engine_vdev
  # spreads a call over both workers deterministically).
  python3 - "$W/metrics.txt" <<'PY' || exit 1
import re, sys
t = open(sys.argv[1]).read()
q = [int(v) for v in re.findall(r'^callrec_worker_rx_packets_total\{worker="\d+"\} (\d+)', t, re.M)]
rx = int(re.search(r"^callrec_packets_received_total (\d+)", t, re.M).group(1))
print("run to completion: packets by worker queue", q, "of", rx)
sys.exit(0 if len(q) == 2 and sum(q) == rx and rx > 0 else 1)
PY
fi
ip netns exec $SW curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9464/nope | grep -q 404
ip netns exec $SW "$BUILD/app/callrec" stats --metrics 127.0.0.1:9464 --json | python3 -c '
import json,sys; l=json.loads(sys.stdin.read())["live"]; assert l["calls"] == 2 and l["received"] > 0, l'

kill -INT $CRPID; wait $CRPID; rc=$?; CRPID=
kill $DCPID; wait $DCPID || true; DCPID=
cat "$W/callrecd.out"
[ $rc = 0 ] || { echo "callrecd exit $rc"; exit 1; }
"$BUILD/app/callrec" calls --store "$W/store" --json > "$W/calls.json"
python3 - "$W/oracle.pcap" "$W/calls.json" <<'PY'
import json, subprocess, sys, re
sys.path.insert(0, "%s" % __import__("os").path.dirname(__import__("os").path.abspath(sys.argv[0])))
pcap, calls = sys.argv[1], [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
out = subprocess.run(["tshark", "-r", pcap, "-q", "-o", "rtp.heuristic_rtp:TRUE", "-z", "rtp,streams"],
                     capture_output=True, text=True).stdout
ours = {(s["src"], s["dst"], s["ssrc"]): s for c in calls for s in c["streams"]}
n = errs = 0
for line in out.splitlines():
    m = re.match(r"\s*[\d.]+\s+[\d.]+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+.*?\s(\d+)\s+(-?\d+)\s+\(", line)
    if not m:
        continue
    n += 1
    k = (f"{m.group(1)}:{m.group(2)}", f"{m.group(3)}:{m.group(4)}", int(m.group(5), 16))
    s = ours.get(k)
    if s is None or s["packets"] != int(m.group(6)) or s["lost"] != int(m.group(7)):
        errs += 1
        print("MISMATCH", k, "tshark", m.group(6), m.group(7), "callrec", s and (s["packets"], s["lost"]))
calls_ok = sum(1 for c in calls if c["state"] == "completed" and len(c["streams"]) == 2)
print(f"live: {n} streams seen by tshark, {errs} mismatches, {calls_ok} completed calls with 2 streams")
sys.exit(0 if n == 4 and errs == 0 and calls_ok == 2 else 1)
PY
