#!/usr/bin/env bash
# README command 2: set up, build (Release and AddressSanitizer trees), run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --asan
status=0
echo "== unit and fuzz-replay tests under AddressSanitizer (build-asan/)"
(cd build-asan && ctest -L unit --output-on-failure -j "$(nproc)") || status=1
echo "== all tests on the Release build (build/)"
(cd build && ctest --output-on-failure -j "$(nproc)") || status=1
exit $status
