#!/usr/bin/env bash
# Installs the Debian 12 packages epmdns needs (only those missing), then builds.
# Usage: scripts/setup.sh [--asan]   (--asan also builds the sanitizer tree build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  libc-ares-dev libldns-dev libssl-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  bind9 bind9-dnsutils knot-dnsutils knot python3-dnspython
  erlang-base erlang-dev erlang-common-test erlang-eunit erlang-tools erlang-ssl openssl rebar3
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
if [ "${1:-}" = "--asan" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEPMDNS_SANITIZE=ON >/dev/null
  cmake --build build-asan -j "$jobs"
fi
