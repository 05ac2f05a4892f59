#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the dependencies, builds weft (release) and shows it at work: parallel fib and
# skynet on all cores, then the core benchmarks beside oneTBB and Boost.Fiber.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
echo "=== weft-demo ==="
build/release/tools/weft-demo "$@"
echo "=== core benchmarks: weft beside oneTBB / Boost.Fiber / Boost.Context, same run ==="
echo "(the full suite with tables and charts: tools/bench-report)"
build/release/bench/weft_bench_core --benchmark_filter='^BM_(switch|yield_pingpong|spawn_join|fib)/' \
  --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
