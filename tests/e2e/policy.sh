#!/usr/bin/env bash
# Recording policy end to end: a rule skips one number, another records one
# into a second retention class; the skipped call stores no audio at all (and
# no segment of its class), `callrec show` names the deciding rule, the
# recorded call exports; `callrecd --check` accepts the file and rejects bad
# ones with the section and key. With the 50-call capture (when present):
# audio for exactly the recorded calls.
set -euo pipefail
B=$1 A=$2 C=$3 LOAD=${4:-}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cat >"$T/p.ini" <<'INI'
[retention]
default = 90
legal = 3650/3650
[policy]
default = record
rule.10 = from:101 -> skip
rule.20 = group:vip -> record class=legal
rule.30 = from:load2* -> skip
[group.vip]
members = alice
INI
"$B/app/callrecd" --check --config "$T/p.ini"
for bad in 'rule.1 = from:1 -> perhaps' 'rule.1 = group:nobody -> skip' 'rule.1 = to:1 -> record class=forever'; do
  printf '[policy]\n%s\n' "$bad" >"$T/bad.ini"
  set +e; msg=$("$B/app/callrecd" --check --config "$T/bad.ini" 2>&1); rc=$?; set -e
  [ $rc = 2 ] && [[ $msg == *"[policy] rule.1"* ]] || { echo "bad config: rc $rc: $msg"; exit 1; }
done
S=$T/s
for p in "$A" "$C"; do
  "$B/app/callrecd" --pcap "$p" --store "$S" --config "$T/p.ini" --metrics-file "$T/m.prom" \
    >"$T/run.log" 2>&1
done
# the final metrics: valid for promtool, fates add up, the skip counted
promtool check metrics < "$T/m.prom"
python3 - "$T/m.prom" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rx = int(re.search(r"^callrec_packets_received_total (\d+)", t, re.M).group(1))
fates = sum(int(v) for v in re.findall(r'^callrec_packets_total\{fate="[A-Z_]+"\} (\d+)', t, re.M))
skipped = float(re.search(r"^callrec_calls_not_recorded_total (\S+)", t, re.M).group(1))
assert rx == fates > 0 and skipped == 1, (rx, fates, skipped)
PY
q() { sqlite3 "$S/index.sqlite" "$1"; }
skipped=$(q "SELECT call_id FROM calls WHERE from_user='101'")
kept=$(q "SELECT call_id FROM calls WHERE from_user='alice'")
[ "$(q "SELECT COUNT(*) FROM chunks k JOIN calls c ON k.call_uid=c.uid WHERE c.from_user='101'")" = 0 ]
[ "$(q "SELECT COUNT(*) FROM chunks k JOIN calls c ON k.call_uid=c.uid WHERE c.from_user='alice'")" -gt 0 ]
# the skipped call's RTP is counted, by name, and none of it is in any chunk
grep -q "NOT_RECORDED" "$T/run.log"
"$B/app/callrec" show --store "$S" --call-id "$skipped" | grep -q "Policy:   not recorded by rule.10"
"$B/app/callrec" show --store "$S" --call-id "$kept" | grep -q "Policy:   recorded by rule.20, retention class 1"
"$B/app/callrec" show --store "$S" --call-id "$skipped" --json | python3 -c '
import json,sys; c=json.loads(sys.stdin.read()); assert c["recorded"] is False and c["policy_rule"]=="rule.10", c'
set +e; "$B/app/callrec" export --store "$S" --call-id "$skipped" --out "$T/x.wav" 2>/dev/null; rc=$?; set -e
[ $rc = 1 ] || { echo "export of a skipped call: $rc"; exit 1; }
"$B/app/callrec" export --store "$S" --call-id "$kept" --out "$T/k.wav"
# classes never share a segment: alice's audio is in class-1 segments only
[ "$(q "SELECT COUNT(*) FROM chunks k JOIN calls c ON k.call_uid=c.uid WHERE c.from_user='alice' AND k.segment NOT LIKE '%-c1-%'")" = 0 ]
[ "$(q "SELECT COUNT(*) FROM segments WHERE rclass=1 AND rel LIKE '%-c1-%'")" -ge 1 ]
"$B/app/callrec" fsck --store "$S" >/dev/null
if [ -n "$LOAD" ] && [ -r "$LOAD" ]; then
  "$B/app/callrecd" --quiet --pcap "$LOAD" --store "$T/l" --config "$T/p.ini"
  python3 - "$T/l/index.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT c.from_user, c.rule, (SELECT COUNT(*) FROM chunks k WHERE k.call_uid=c.uid) "
                  "FROM calls c").fetchall()
bad = [r for r in rows if (r[0].startswith("load2")) != (r[2] == 0) or
       (r[0].startswith("load2") and r[1] != "rule.30")]
print("%d calls, %d skipped by rule.30, %d with audio" % (len(rows), sum(r[1] == "rule.30" for r in rows),
      sum(r[2] > 0 for r in rows)))
assert len(rows) == 50 and not bad, bad
PY
fi
echo "policy ok"
