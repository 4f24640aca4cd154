#!/usr/bin/env bash
# Install dependencies, build with ASan+UBSan, run every test (unit,
# end-to-end against tshark), and print the totals as "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh || exit 1
dir=${BUILD_DIR:-build-test}
if [ ! -d "$dir" ]; then
  CC=${CC:-gcc} meson setup "$dir" -Dsanitize=true || exit 1
fi
ninja -C "$dir" || exit 1
# DPDK keeps some allocations until exit by design; leaks are checked on the
# pure modules by the unit tests' own run, not on EAL-owned memory.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
meson test -C "$dir" --print-errorlogs --num-processes 2
rc=$?
log="$dir/meson-logs/testlog.json"
if [ -f "$log" ]; then
  python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(f"{p} passed, {f} failed" + (f", {s} skipped" if s else ""))
PY
fi
exit $rc
