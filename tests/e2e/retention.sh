#!/usr/bin/env bash
# Retention on a simulated clock: three imports of different ages (2011, a
# copy of 2026's sample moved 400 days back, 2026); with 365 days of retention
# exactly the segments of the too-old ones go, except the held call's; its
# release lets it go at the next pass; calls left without audio leave the
# index; a quota deletes oldest first but never inside min_days; the dry run
# deletes nothing.
set -euo pipefail
B=$1 OLD=$2 NEW=$3
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
S=$T/s
# an empty store (the cleaner's first pass on a new install): nothing to do
mkdir -p "$T/empty" && sqlite3 "$T/empty/index.sqlite" "CREATE TABLE x(y)"
"$B/app/callrec" retention --store "$T/empty" --json | grep -q '"segments":0'
editcap -t -$((400 * 86400)) "$NEW" "$T/moved.pcap" >/dev/null
for p in "$OLD" "$T/moved.pcap" "$NEW"; do
  "$B/app/callrecd" --quiet --pcap "$p" --store "$S"
done
q() { sqlite3 "$S/index.sqlite" "$1"; }
segs() { find "$S/segments" -name '*.seg' | sed "s|$S/||" | sort; }
year_segs() { segs | grep "^segments/$1/" || true; }
old_call=$("$B/app/callrec" calls --store "$S" --json | python3 -c '
import json,sys
print([json.loads(l) for l in sys.stdin if json.loads(l)["start"].startswith("2011")][0]["call_id"])')
for y in 2011 2025 2026; do [ -n "$(year_segs $y)" ] || exit 1; done
before=$(segs)
cat >"$T/r.ini" <<'INI'
[retention]
default = 365
INI
NOW=2026-11-26T12:00:00Z
"$B/app/callrec" hold --store "$S" --call-id "$old_call"

# dry run: reports, deletes nothing
"$B/app/callrec" retention --store "$S" --config "$T/r.ini" --now $NOW --dry-run
[ "$(segs)" = "$before" ]

# the 2025 import expires (data and meta), the held 2011 call stays
out=$("$B/app/callrec" retention --store "$S" --config "$T/r.ini" --now $NOW --json)
echo "$out"
[ -z "$(year_segs 2025)" ] || { echo "2025 segments left"; exit 1; }
[ -n "$(year_segs 2011)" ] || { echo "held 2011 segments deleted"; exit 1; }
[ "$(year_segs 2026)" = "$(echo "$before" | grep '^segments/2026/')" ]
python3 -c "import json,sys; r=json.loads(sys.argv[1]); assert r['held'] >= 1 and r['expired'] >= 1 and r['calls'] >= 1, r" "$out"
"$B/app/callrec" export --store "$S" --call-id "$old_call" --out "$T/held.wav"
[ "$(q "SELECT COUNT(*) FROM calls WHERE start_ns BETWEEN 1.7e18 AND 1.79e18")" = 0 ]
[ "$(q "SELECT COUNT(*) FROM segments WHERE rel LIKE 'segments/2025/%'")" = 0 ]
"$B/app/callrec" fsck --store "$S" >/dev/null

# released: the next pass deletes it, and its call rows
"$B/app/callrec" hold --store "$S" --call-id "$old_call" --release
"$B/app/callrec" retention --store "$S" --config "$T/r.ini" --now $NOW
[ -z "$(year_segs 2011)" ] || { echo "released 2011 segments left"; exit 1; }
[ "$(q "SELECT COUNT(*) FROM calls WHERE call_id='$old_call'")" = 0 ]
[ -n "$(year_segs 2026)" ]

# quota: nothing expires (100 years), min_days 1: what is younger than a day stays
for p in "$OLD" "$T/moved.pcap"; do "$B/app/callrecd" --quiet --pcap "$p" --store "$S"; done
printf '[retention]\ndefault = 36500/1\nquota = 1K\n' >"$T/q.ini"
out=$("$B/app/callrec" retention --store "$S" --config "$T/q.ini" --now 2026-11-26T06:00:00Z --json)
echo "$out"
[ -z "$(year_segs 2011)$(year_segs 2025)" ] || { echo "quota left old segments"; segs; exit 1; }
[ -n "$(year_segs 2026)" ] || { echo "quota deleted data inside min_days"; exit 1; }
python3 -c "import json,sys; r=json.loads(sys.argv[1]); assert r['quota'] >= 2 and r['over_quota'], r" "$out"
"$B/app/callrec" fsck --store "$S" >/dev/null

# A call older than the cutoff whose audio shares a segment with a newer call:
# the segment stays (its last packet is inside retention), so the call's rows
# stay with it and it still exports. The old sample is moved to start 18 s
# after the new one ends, into the same segment.
S2=$T/s2
d=$(python3 -c 'import datetime as D; u=D.timezone.utc
print((D.datetime(2026,11,26,5,11,0,tzinfo=u)-D.datetime(2011,7,28,12,54,46,556175,tzinfo=u)).total_seconds())')
editcap -t "$d" "$OLD" "$T/later.pcap" >/dev/null
mergecap -F pcap -w "$T/two.pcap" "$NEW" "$T/later.pcap"
"$B/app/callrecd" --quiet --pcap "$T/two.pcap" --store "$S2"
q2() { sqlite3 "$S2/index.sqlite" "$1"; }
[ "$(q2 "SELECT COUNT(DISTINCT segment) FROM chunks")" = 1 ] || { echo "expected one data segment"; exit 1; }
first=$(q2 "SELECT call_id FROM calls ORDER BY start_ns LIMIT 1")
# cutoff 10 s after the first call's end, before the second starts
now=$(q2 "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', end_ns / 1e9 + 10 + 365 * 86400, 'unixepoch') FROM calls ORDER BY start_ns LIMIT 1")
"$B/app/callrec" retention --store "$S2" --config "$T/r.ini" --now "$now"
[ "$(q2 "SELECT COUNT(*) FROM calls")" = 2 ] || { echo "a call with audio left was purged"; exit 1; }
"$B/app/callrec" export --store "$S2" --call-id "$first" --out "$T/first.wav"
echo "retention ok"
