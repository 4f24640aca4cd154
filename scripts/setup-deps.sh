#!/usr/bin/env bash
# Install every Debian 12 package callrec needs to build, test and demo.
# Idempotent: re-running only installs what is missing.
set -euo pipefail

PKGS=(
  # build
  build-essential pkg-config meson ninja-build clang libclang-rt-14-dev
  # data path
  dpdk libdpdk-dev libpcap-dev libnuma-dev
  # codecs, storage, index, crypto
  libspandsp-dev libopus-dev libopusenc-dev liblz4-dev libbcg729-dev
  libopencore-amrnb-dev libopencore-amrwb-dev libsqlite3-dev libssl-dev
  # independent oracles and real peers used by the tests
  tshark sox ffmpeg sip-tester iproute2 python3 python3-numpy sqlite3 curl
  # promtool, the reference checker of the metrics format
  prometheus
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer once, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
APT="$SUDO apt-get -o DPkg::Lock::Timeout=300 -y -q"
$APT update
$APT install --no-install-recommends "${missing[@]}"
echo "setup-deps: done"
