#!/usr/bin/env bash
# Builds and runs the test suite. Usage: tools/test.sh [PRESET...]
# Presets: release debug tsan asan release-clang aarch64 (default: release release-clang tsan
# asan; aarch64 cross-builds and runs the suite under qemu-aarch64-static).
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
