#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the test suite. Usage: tools/test.sh [PRESET...]
# Presets: release debug tsan asan release-clang (default: release release-clang tsan asan).
set -euo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release release-clang tsan asan)
jobs=$(nproc)
for p in "${presets[@]}"; do
  echo "=== test: $p ==="
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p" -j "$jobs"
  ctest --preset "$p" -j "$jobs"
done
