#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the test suite. Usage: tools/test.sh [PRESET...]
# Presets: release debug tsan asan release-clang aarch64 (default: release release-clang tsan
# asan; aarch64 cross-builds and runs the suite under qemu-aarch64-static).
# Every preset runs even when an earlier one failed; the last lines say, per build, passed
# or failed and the seconds it took, then the total. Exits 1 if any build failed.
set -uo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release release-clang tsan asan)
jobs=$(nproc)
summary=()
failed=0
start=$(date +%s)
for p in "${presets[@]}"; do
  echo "=== test: $p ==="
  t0=$(date +%s)
  if cmake --preset "$p" >/dev/null && cmake --build --preset "$p" -j "$jobs" &&
    ctest --preset "$p" -j "$jobs"; then
    result=passed
  else
    result=FAILED
    failed=$((failed + 1))
  fi
  summary+=("$(printf 'test: %-14s %-7s %5d s' "$p" "$result" $(($(date +%s) - t0)))")
done
printf '%s\n' "${summary[@]}"
printf 'test: total %d s, %d of %d builds passed\n' $(($(date +%s) - start)) \
  $((${#presets[@]} - failed)) ${#presets[@]}
[ "$failed" = 0 ]
