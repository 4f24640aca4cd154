#!/usr/bin/env bash
# The command-line contract: bad arguments get a clear message and exit 2.
set -u
B=$1 D=$2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail=0
expect() { # code, then the command
  local want=$1; shift
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [ $rc != "$want" ] || { [ "$want" = 2 ] && ! [ -s "$T/err" ]; }; then
    echo "FAIL (rc $rc, want $want): $*"; cat "$T/err"; fail=1
  else
    echo "ok   (rc $rc): $* -> $(head -c 100 "$T/err" | head -1)"
  fi
}
printf "[port]\nnb_rxd = 12\n" > "$T/bad.ini"
printf "[general]\nworkers = many\n" > "$T/badcfg.ini"
expect 2 "$B/app/callrecd"
expect 2 "$B/app/callrecd" --bogus
expect 2 "$B/app/callrecd" --pcap "$D" --store "$T/s" --workers 0
expect 2 "$B/app/callrecd" --pcap "$T/missing.pcap" --store "$T/s"
expect 2 "$B/app/callrecd" --pcap "$D"
expect 2 "$B/app/callrecd" --pcap "$D" --store "$T/s" --profile "$T/bad.ini"
expect 2 "$B/app/callrecd" --pcap "$D" --store "$T/s" --config "$T/badcfg.ini"
printf "[port]\nrx_queues = lots\n" > "$T/badq.ini"; printf "[port]\nrx_queues = 3\n" > "$T/q3.ini"
expect 2 "$B/app/callrecd" --pcap "$D" --store "$T/s" --profile "$T/badq.ini"
# live, 3 queues for 2 workers: run to completion takes one per worker
expect 2 "$B/app/callrecd" --no-huge --no-shconf --no-pci -m 256 --lcores '(0-2)@(0,1)' \
  --file-prefix=cli$$ --no-telemetry --vdev=net_null0 -- --store "$T/s2" --workers 2 --profile "$T/q3.ini"
head -c 100 "$D" > "$T/trunc.pcap"; printf 'garbage' > "$T/junk.pcap"
expect 2 "$B/app/callrecd" --pcap "$T/junk.pcap" --store "$T/s"
expect 0 "$B/app/callrecd" --quiet --pcap "$T/trunc.pcap" --store "$T/s"
expect 0 "$B/app/callrecd" --quiet --pcap "$D" --store "$T/s"
expect 2 "$B/app/callrec"
expect 2 "$B/app/callrec" frobnicate
expect 2 "$B/app/callrec" calls
expect 2 "$B/app/callrec" calls --store "$T/s" --since yesterday
expect 2 "$B/app/callrec" show --store "$T/s"
expect 2 "$B/app/callrec" export --store "$T/s" --call-id x
expect 2 "$B/app/callrec" export --store "$T/s" --call-id x --out "$T/o" --channels quad
expect 1 "$B/app/callrec" calls --store "$T/nostore"
expect 0 "$B/app/callrec" calls --store "$T/s" --since 2000-01-01T00:00:00Z --until 2100-01-01
expect 2 "$B/app/callrecd" --check --set policy.rule.1="from:1 -> maybe"
expect 2 "$B/app/callrecd" --check --set general.workers=0
expect 2 "$B/app/callrecd" --check --set store.lz4_min_saving=100
expect 2 "$B/app/callrecd" --check --set import.direct_io=maybe
expect 2 "$B/app/callrecd" --check --set store.lz4_acceleration=70000
expect 2 "$B/app/callrecd" --check --set nodot=1
expect 0 "$B/app/callrecd" --check --set group.vip.members=1001 --set retention.legal=3650 \
  --set policy.rule.5="group:vip -> record class=legal"
printf '[general]\nworkerz = 2\n' >"$T/typo.ini"
expect 2 "$B/app/callrecd" --check --config "$T/typo.ini"
printf '[polcy]\ndefault = skip\n' >"$T/typo.ini"
expect 2 "$B/app/callrecd" --check --config "$T/typo.ini"
expect 0 "$B/app/callrecd" --check --config "$(dirname "$0")/../../etc/callrec.ini"
# the configuration reference names every key callrecd knows
doc="$(dirname "$0")/../../docs/configuration.md"
while read -r k; do
  k=${k%\*}
  [ -z "$k" ] || grep -q -- "$k" "$doc" || { echo "docs/configuration.md lacks the key $k"; fail=1; }
done < <("$B/app/callrecd" --help-config | awk -F' [|] ' 'NR > 2 {print $2}')
expect 2 "$B/app/callrec" stats
expect 2 "$B/app/callrec" ctl
expect 2 "$B/app/callrec" ctl snooze --call-id x --store "$T/s"
expect 2 "$B/app/callrec" ctl pause --store "$T/s"
expect 1 "$B/app/callrec" ctl pause --call-id x --store "$T/s"
printf '[ondemand]\ndtmf_pause = *X1\n' >"$T/od.ini"
expect 2 "$B/app/callrecd" --check --config "$T/od.ini"
printf '[policy]\ndefault = record ondemand=maybe\n' >"$T/od.ini"
expect 2 "$B/app/callrecd" --check --config "$T/od.ini"
expect 0 "$B/app/callrec" stats --store "$T/s" --json
expect 1 "$B/app/callrec" stats --metrics 127.0.0.1:1
expect 2 "$B/app/callrec" fsck
expect 2 "$B/app/callrec" fsck --store "$T/s" --repair --rebuild-index
expect 2 "$B/app/callrec" fsck --store "$T/s" --out "$T/x"
expect 1 "$B/app/callrec" fsck --store "$T/nostore"
expect 0 "$B/app/callrec" fsck --store "$T/s"
expect 2 "$B/app/callrec" retention --store "$T/s" --now someday
expect 2 "$B/app/callrec" retention --store "$T/s" --call-id x
expect 2 "$B/app/callrec" hold --store "$T/s"
expect 1 "$B/app/callrec" hold --store "$T/s" --call-id no-such-call
printf '[retention]\ndefault = 0\n' >"$T/bad.ini"
expect 2 "$B/app/callrec" retention --store "$T/s" --config "$T/bad.ini"
printf '[retention]\nquota = lots\n' >"$T/bad.ini"
expect 2 "$B/app/callrec" retention --store "$T/s" --config "$T/bad.ini"
expect 2 "$B/app/callrecd" --pcap "$D" --store "$T/s" --fault write:0
expect 2 "$B/app/callrecd" --pcap "$D" --store "$T/s" --fault dio:0
expect 2 "$B/app/callrecd" --pcap "$D" --store "$T/s" --fault write:3:EPERM
expect 2 "$B/app/callrecd" --pcap "$D" --store "$T/s" --config "$T/bad.ini"
exit $fail
