#!/usr/bin/env bash
# SIGHUP reloads the recording policy of a running callrecd without dropping
# calls: a call injected before the reload is recorded by the default, one
# after it is skipped by the new rule; the counters and the index agree.
# Live traffic: captures replayed into a veth pair in a namespace of our own,
# callrecd on net_af_packet at the other end.
set -euo pipefail
BUILD=$1 A=$2 C=$3
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces): skipped"; exit 77; }
S=crh$$; NS=${S}ns; W=$(mktemp -d)
cleanup() {
  [ -n "${CRPID:-}" ] && kill -INT $CRPID 2>/dev/null && wait $CRPID 2>/dev/null
  ip netns pids $NS 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del $NS 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
ip netns add $NS || { echo "cannot create a network namespace: skipped"; exit 77; }
ip -n $NS link add v0 type veth peer name v1
for i in v0 v1 lo; do ip -n $NS link set $i up; done
# /metrics behind a bearer token (required off loopback, optional on it)
printf 'tok-%s-0123456789abcdef\n' $$ > "$W/token"; chmod 600 "$W/token"
printf '[policy]\ndefault = record\n[telemetry]\nlisten = 127.0.0.1:9465\ntoken_file = %s\n[timeouts]\nrtp_s = 2\n' "$W/token" > "$W/c.ini"
ip netns exec $NS "$BUILD/app/callrecd" --no-huge --no-shconf --no-pci -m 512 --lcores '(0-1)@(0,1)' \
  --file-prefix=$S --log-level=user1:error \
  --vdev=net_af_packet0,iface=v1,framecnt=4096 -- --store "$W/store" --config "$W/c.ini" \
  --profile "$HERE/../../drivers-config/af_packet.ini" > "$W/callrecd.out" 2>&1 & CRPID=$!
sleep 3
kill -0 $CRPID || { cat "$W/callrecd.out"; exit 1; }
# phase 0: a steady tone call in real time, paused and resumed over the
# control socket: afterwards its export must be silent exactly over the span
sox -n -r 8000 -c 1 -t ul "$W/tone.ul" synth 10 sine 440 vol 0.5
python3 "$HERE/../../bench/gen_call.py" "$W/tone.pcap" 0.14 "$W/tone.ul" >/dev/null
ip netns exec $NS python3 "$HERE/inject.py" v0 "$W/tone.pcap" 1 & INJ=$!
sleep 3.5
"$BUILD/app/callrec" ctl pause --call-id bench-call@192.0.2.10 --store "$W/store"
sleep 2
"$BUILD/app/callrec" ctl resume --call-id bench-call@192.0.2.10 --store "$W/store"
wait $INJ
sleep 1
# phase 1, on demand over the control socket: pause and resume the call while it runs
ip netns exec $NS python3 "$HERE/inject.py" v0 "$A" 5 & INJ=$!
sleep 2
cid=6d59ecbca1a4731a
"$BUILD/app/callrec" ctl pause --call-id $cid --store "$W/store"
sleep 1.5
"$BUILD/app/callrec" ctl resume --call-id $cid --store "$W/store"
set +e; "$BUILD/app/callrec" ctl pause --call-id no-such-call --store "$W/store"; rc=$?; set -e
[ $rc = 1 ] || { echo "ctl on an unknown call: $rc"; exit 1; }
[ "$(stat -c %a "$W/store/ctl.sock")" = 660 ] || { echo "control socket not 0660"; exit 1; }
wait $INJ
sleep 1
printf '[policy]\ndefault = record\nrule.1 = from:101 -> skip\n[telemetry]\nlisten = 127.0.0.1:9465\ntoken_file = %s\n[timeouts]\nrtp_s = 2\n' "$W/token" > "$W/c.ini"
kill -HUP $CRPID
sleep 2
ip netns exec $NS python3 "$HERE/inject.py" v0 "$C" 20
sleep 1
# a quiet link still moves time on: the streams end by their 2 s timeout
sleep 4
code=$(ip netns exec $NS curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9465/metrics)
[ "$code" = 401 ] || { echo "/metrics without the token: HTTP $code, expected 401"; exit 1; }
code=$(ip netns exec $NS curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong-token-0123456789" http://127.0.0.1:9465/metrics)
[ "$code" = 401 ] || { echo "/metrics with a wrong token: HTTP $code, expected 401"; exit 1; }
ip netns exec $NS curl -sf -H "Authorization: Bearer $(cat "$W/token")" http://127.0.0.1:9465/metrics > "$W/m.txt"
grep -q '^callrec_active_streams{worker="0"} 0$' "$W/m.txt" \
  || { echo "streams still active on a quiet link"; grep active_streams "$W/m.txt"; exit 1; }
# the same counters over DPDK's telemetry socket (/callrec/... commands)
python3 - /var/run/dpdk/$S/dpdk_telemetry.v2 <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.recv(4096)
out = {}
for cmd in ("/callrec/fates", "/callrec/calls", "/callrec/store", "/callrec/workers"):
    s.send(cmd.encode())
    out[cmd] = json.loads(s.recv(65536).decode())[cmd]
f = out["/callrec/fates"]
print("telemetry:", out["/callrec/calls"], "received", f["received"])
assert f["received"] == sum(v for k, v in f.items() if k != "received") > 0, f
assert out["/callrec/calls"]["calls"] == 3 and out["/callrec/calls"]["not_recorded"] == 1
PY
kill -INT $CRPID; wait $CRPID; rc=$?; CRPID=
cat "$W/callrecd.out"
[ $rc = 0 ] || { echo "callrecd exit $rc"; exit 1; }
grep -q "SIGHUP: reloaded" "$W/callrecd.out"
# the audit log names the control-socket peer and the reload, and its chain holds
"$BUILD/app/callrec" audit --store "$W/store" --json > "$W/audit.json"
grep -q '"actor":"ctl:uid=[0-9]*,pid=[0-9]*","action":"ctl-pause"' "$W/audit.json" \
  || { echo "no ctl audit line"; cat "$W/audit.json"; exit 1; }
grep -q '"action":"config-reload"' "$W/audit.json" || { echo "no config-reload audit line"; exit 1; }
grep -q '"action":"start"' "$W/audit.json" || { echo "no start audit line"; exit 1; }
! grep -q "$(cat "$W/token")" "$W/callrecd.out" || { echo "the token is in the log"; exit 1; }
q() { sqlite3 "$W/store/index.sqlite" "$1"; }
echo "calls: $(q "SELECT from_user, record, rule, (SELECT COUNT(*) FROM chunks k WHERE k.call_uid=c.uid) FROM calls c" | tr '\n' ' ')"
[ "$(q "SELECT record||rule FROM calls WHERE from_user='alice'")" = "1default" ]
"$BUILD/app/callrec" show --store "$W/store" --call-id 6d59ecbca1a4731a | tee "$W/show.txt" | grep "Not recorded"
grep -q "Not recorded (pause by control)" "$W/show.txt"
"$BUILD/app/callrec" show --store "$W/store" --call-id bench-call@192.0.2.10 --json > "$W/tone.json"
"$BUILD/app/callrec" export --store "$W/store" --call-id bench-call@192.0.2.10 --out "$W/tone.wav"
python3 - "$W/tone.json" "$W/tone.wav" <<'PY'
import json, struct, sys, wave
from datetime import datetime, timezone
c = json.load(open(sys.argv[1]))
ts = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
start = min(ts(s["first"]) for s in c["streams"])
sp = c["not_recorded_spans"]
assert len(sp) == 1 and sp[0]["by"] == "control", sp
a, b = ts(sp[0]["from"]) - start, ts(sp[0]["to"]) - start
w = wave.open(sys.argv[2])
n, r = w.getnframes(), w.getframerate()
pcm = struct.unpack("<%dh" % (2 * n), w.readframes(n))
for ch in (0, 1):
    zeros = [k for k in range(n) if pcm[2 * k + ch] == 0]
    runs, s0 = [], None
    for k in range(n):
        z = pcm[2 * k + ch] == 0
        if z and s0 is None:
            s0 = k
        if (not z or k == n - 1) and s0 is not None:
            if k - s0 > r * 0.1:
                runs.append((s0 / r, k / r))
            s0 = None
    assert len(runs) == 1, (ch, runs)
    da, db = runs[0][0] - a, runs[0][1] - b
    print("channel %d: span %.3f-%.3f s, silence %.3f-%.3f s (%+.0f / %+.0f ms)" % (ch, a, b, runs[0][0],
          runs[0][1], da * 1000, db * 1000))
    # the span's edges are the signalling owner's packet clock when the command
    # took effect (within 20 ms); the silence edges in the export fall on the
    # next 20 ms packet, placed by RTP time (the injector's timing jitters)
    assert abs(da) <= 0.045 and abs(db) <= 0.045, "boundary beyond 20 ms + one packet"
PY
grep -q '^callrec_ondemand_total{by="control"} 4$' "$W/m.txt"
[ "$(q "SELECT record||rule FROM calls WHERE from_user='101'")" = "0rule.1" ]
[ "$(q "SELECT COUNT(*) FROM chunks k JOIN calls c ON k.call_uid=c.uid WHERE c.from_user='alice'")" -gt 0 ]
[ "$(q "SELECT COUNT(*) FROM chunks k JOIN calls c ON k.call_uid=c.uid WHERE c.from_user='101'")" = 0 ]
grep -q '^callrec_calls_not_recorded_total 1$' "$W/m.txt"
echo "live reload ok"
