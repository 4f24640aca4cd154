#!/usr/bin/env bash
# Newcomer's first run: install dependencies, build, record the bundled sample
# capture (a real baresip call, PCMU with DTMF both ways) and list its calls.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
[ -d build ] || meson setup build
ninja -C build
store=$(mktemp -d /tmp/callrec-demo.XXXXXX)
echo "== callrecd: importing tests/data/sample-pcmu-dtmf.pcap into $store"
./build/app/callrecd --pcap tests/data/sample-pcmu-dtmf.pcap --store "$store"
echo "== callrec calls"
./build/app/callrec calls --store "$store"
echo "== callrec calls --json"
./build/app/callrec calls --store "$store" --json
